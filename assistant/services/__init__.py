"""Service layer: use cases over the rules core and storage, one transaction each."""

from assistant.services.plans import (
    PlanError,
    PupilDetails,
    acknowledge_reminder,
    close_plan,
    create_plan,
    current_decision,
    get_plan,
    record_consultee_reply,
    record_la_notification,
    record_review,
    record_step,
    update_timetable,
)

__all__ = [
    "PlanError",
    "PupilDetails",
    "acknowledge_reminder",
    "close_plan",
    "create_plan",
    "current_decision",
    "get_plan",
    "record_consultee_reply",
    "record_la_notification",
    "record_review",
    "record_step",
    "update_timetable",
]
