"""What the plan, risk assessment, LA notification, calendar and register export are made from.

Plain pydantic models, independent of the database and of the web layer: whoever calls the
generators fills a :class:`PlanDocumentData` from a stored plan and its Decision.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from conversations.timetable import GraduatedTimetable, Session, timetable_until
from rules.models import Consultee, Reason

Outcome = Literal["may_proceed", "not_yet", "must_not_proceed"]

OUTCOME_LABELS: dict[str, str] = {
    "may_proceed": "May proceed",
    "not_yet": "Not yet: steps outstanding",
    "must_not_proceed": "Must not proceed as proposed",
}
REQUIREMENT_LABELS: dict[str, str] = {
    "agree": "Must agree",
    "consult": "Must be consulted",
    "inform": "Must be informed",
}
STATUS_LABELS: dict[str, str] = {
    "not_contacted": "Not yet contacted",
    "consulted": "Consulted",
    "agreed": "Agreed",
    "declined": "Declined",
}
TIMETABLE_REASON_LABELS: dict[str, str] = {
    "physical_health": "Physical health",
    "mental_health": "Mental health",
    "semh": "Social, emotional and mental health",
    "reintegration": "Reintegration",
    "transition": "Transition",
    "behaviour": "Behaviour",
    "send_placement": "SEND: awaiting a placement that can meet need",
    "not_school_ready": "Not yet ready for full-time school",
    "other": "Other",
}
CIRCUMSTANCE_LABELS: dict[str, str] = {
    "looked_after": "Looked after child",
    "previously_looked_after": "Previously looked after child",
    "child_protection_plan": "Child protection plan",
    "child_in_need_plan": "Child in need plan",
    "ehcp": "Education, Health and Care Plan",
    "medical_needs": "Medical needs",
    "too_unwell_for_school": "Too unwell to attend school (consultant confirmed)",
    "early_help": "Early Help / family support involved",
    "youth_justice": "Known to youth justice",
}

_MODEL = ConfigDict(frozen=True, extra="forbid")


class CitedReason(BaseModel):
    """One reason behind the decision, with the policy passage it rests on."""

    model_config = _MODEL

    message: str
    document: str
    section: str
    quote: str
    severity: Literal["stop", "outstanding", "info"] = "info"
    code: str = ""


class ConsulteeLine(BaseModel):
    """Someone the policy says must agree, be consulted or be informed."""

    model_config = _MODEL

    role: str
    label: str = ""
    requirement: Literal["agree", "consult", "inform"]
    status: Literal["not_contacted", "consulted", "agreed", "declined"] = "not_contacted"
    name: str = ""

    @property
    def display_name(self) -> str:
        label = self.label or self.role.replace("_", " ")
        label = label[:1].upper() + label[1:]
        return f"{label} ({self.name})" if self.name else label


class Person(BaseModel):
    """Someone who takes part in, or signs, the plan."""

    model_config = _MODEL

    name: str
    role: str
    organisation: str = ""


class IdentifiedRisk(BaseModel):
    """A row of the risk assessment: the hazard, who may be harmed, how it is managed."""

    model_config = _MODEL

    risk: str
    mitigation: str
    by_whom: str = ""
    satisfies_requirements: bool | None = None


class PlanDocumentData(BaseModel):
    """Everything the generated documents show for one pupil's part-time timetable."""

    model_config = _MODEL

    # Identification.
    plan_id: str = ""
    pupil_name: str = Field(min_length=1)
    date_of_birth: date | None = None
    upn: str = ""
    year_group: str = Field(min_length=1)
    school_name: str = Field(min_length=1)
    prepared_on: date | None = None
    meeting_date: date | None = None

    # The policy and what it says about this proposal.
    policy_id: str = ""
    policy_title: str = Field(min_length=1)
    #: The school's closures now (its LA's and its own), first and last day: the sessions for the
    #: register leave them out, though the timetable was written before they were known.
    school_closures: tuple[tuple[date, date], ...] = ()
    #: The reviews already held: (the day it was due, the day it was held).
    reviews_held: tuple[tuple[date, date], ...] = ()
    #: What the policy says the parent's agreement form must state (first person), and where.
    parent_agreement: tuple[str, ...] = ()
    parent_agreement_source: str = ""
    outcome: Outcome
    reasons: tuple[CitedReason, ...] = ()
    consultees: tuple[ConsulteeLine, ...] = ()
    timetable_reasons: tuple[str, ...] = ()
    other_reason: str = ""
    circumstances: tuple[str, ...] = ()
    #: The circumstances the check asked about (answered yes or no); None: not known, so an
    #: absent one reads as "No", as the case's facts have it.
    circumstances_asked: tuple[str, ...] | None = None

    # The timetable.
    timetable: GraduatedTimetable
    full_time_hours: float = Field(gt=0)
    end_date: date
    review_dates: tuple[date, ...] = ()
    where_when_not_in_school: str = Field(min_length=1)
    with_whom_when_not_in_school: str = Field(min_length=1)
    arrival_and_departure: str = ""
    educational_focus_in_school: str = ""

    # Where the plan has closed: its last day under the timetable, and how it ended, in words.
    closed_on: date | None = None
    closure: str = ""
    closure_route: str = ""

    # Education while not in school.
    work_set: str = Field(min_length=1)
    work_marking: str = Field(min_length=1)

    # Outcomes.
    long_term_outcome: str = Field(min_length=1)
    short_term_targets: tuple[str, ...] = Field(min_length=3)
    success_criteria: tuple[str, ...] = Field(min_length=1)
    support_in_school: str = ""
    support_for_parents: str = ""
    exit_strategy: str = ""

    # People.
    named_lead: str = Field(min_length=1)
    named_lead_role: str = ""
    headteacher_name: str = ""
    parents: tuple[str, ...] = ()
    professionals: tuple[Person, ...] = ()

    # Risk assessment.
    risk_assessment_date: date | None = None
    risk_factors_identified: tuple[str, ...] = ()
    risks: tuple[IdentifiedRisk, ...] = ()
    welfare_monitoring: str = ""
    inclusion_and_belonging: str = ""
    social_emotional_development: str = ""

    def timetable_as_run(self) -> GraduatedTimetable | None:
        """The timetable as it ran, for a plan closed before its end date (None: closed before
        its first session); else the timetable."""
        return timetable_until(self.timetable, self.closed_on) if self.closed_on else self.timetable

    def sessions_in_force(self) -> Iterator[Session]:
        """The timetable's sessions, up to the day the plan closed where it has: after that
        day the pupil is no longer on the timetable (back full time, elsewhere, or gone). None on
        a day the school is now closed (``school_closures``: a holiday or INSET day recorded
        after the plan was written), when nobody is marked in the register."""
        ran = self.timetable_as_run()
        sessions = ran.all_sessions() if ran is not None else iter(())
        if not self.school_closures:
            return sessions
        return (s for s in sessions if not any(start <= s.day <= end for start, end in self.school_closures))

    @field_validator("short_term_targets", "success_criteria")
    @classmethod
    def _no_blank_items(cls, items: tuple[str, ...]) -> tuple[str, ...]:
        cleaned = tuple(item.strip() for item in items)
        if any(not item for item in cleaned):
            raise ValueError("items must not be blank")
        return cleaned

    @model_validator(mode="after")
    def _dates_and_hours_agree(self) -> PlanDocumentData:
        if self.end_date < self.timetable.start:
            raise ValueError(
                f"end_date {self.end_date.isoformat()} is before the timetable starts "
                f"({self.timetable.start.isoformat()})"
            )
        if abs(self.full_time_hours - self.timetable.full_time_hours) > 0.01:
            raise ValueError(
                f"full_time_hours {self.full_time_hours:g} differs from the timetable's "
                f"{self.timetable.full_time_hours:g}"
            )
        return self

    @property
    def start_date(self) -> date:
        return self.timetable.start

    @property
    def starting_hours(self) -> float:
        """The hours a week the timetable starts at: the first week's pattern, which a start
        mid-week or a bank holiday cuts short in that week only."""
        return self.timetable.first_week.planned_hours

    @property
    def first_week_hours(self) -> float:
        return self.timetable.first_week.hours

    @property
    def outcome_label(self) -> str:
        return OUTCOME_LABELS[self.outcome]

    @property
    def slug(self) -> str:
        """A stable identifier for file names and calendar UIDs."""
        base = self.plan_id or f"{self.school_name}-{self.pupil_name}-{self.start_date.isoformat()}"
        return re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-") or "plan"

    @property
    def pupil_initials(self) -> str:
        return "".join(part[0].upper() for part in self.pupil_name.split() if part[:1].isalpha())

    def has(self, circumstance: str) -> bool:
        return circumstance in self.circumstances

    def circumstance(self, circumstance: str) -> str:
        """Yes, No, or "Not asked" for one the policy's checklist never asked about: a form sent
        to the LA must not say No to what nobody answered."""
        if circumstance in self.circumstances:
            return "Yes"
        if self.circumstances_asked is not None and circumstance not in self.circumstances_asked:
            return "Not asked"
        return "No"


def cited_reasons(reasons: Iterable[Reason]) -> tuple[CitedReason, ...]:
    """The Decision's reasons, each with its citation, as the documents show them."""
    return tuple(
        CitedReason(
            message=reason.message,
            document=reason.citation.document,
            section=reason.citation.section,
            quote=reason.citation.quote,
            severity=reason.severity,
            code=reason.code,
        )
        for reason in reasons
    )


def consultee_lines(consultees: Iterable[Consultee]) -> tuple[ConsulteeLine, ...]:
    """The Decision's consultees as the documents show them."""
    return tuple(
        ConsulteeLine(
            role=consultee.role,
            label=consultee.label,
            requirement=consultee.requirement,
            status=consultee.status,
        )
        for consultee in consultees
    )
