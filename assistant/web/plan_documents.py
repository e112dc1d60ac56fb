"""Fill :class:`assistant.documents.PlanDocumentData` from a stored plan.

What the interview's plan-writing part recorded (``plan.timetable_json["written"]``) is used as
it is; anything not written yet is shown as "to be agreed" rather than invented.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from assistant.documents import Person, PlanDocumentData, cited_reasons, consultee_lines
from assistant.services.plans import CLOSURE_ROUTES
from assistant.web.plan_views import PlanDetail
from rules import load_pack
from rules.models import Consultee
from rules.packs import Pack
from storage.models import PlanStatus

TO_BE_AGREED = "To be agreed at the planning meeting"


def _text(written: dict[str, Any], key: str, default: str = TO_BE_AGREED) -> str:
    value = written.get(key)
    if isinstance(value, list | tuple):
        value = "; ".join(str(v) for v in value if str(v).strip())
    value = str(value).strip() if value is not None else ""
    return value or default


def _items(written: dict[str, Any], key: str, minimum: int) -> tuple[str, ...]:
    value = written.get(key) or ()
    if isinstance(value, str):
        value = [part for part in value.replace("\n", ";").split(";")]
    items = [str(v).strip() for v in value if str(v).strip()]
    while len(items) < minimum:
        items.append(f"{TO_BE_AGREED} ({len(items) + 1})")
    return tuple(items)


def _people(written: dict[str, Any]) -> tuple[Person, ...]:
    people = []
    for entry in written.get("professionals") or ():
        if isinstance(entry, dict) and entry.get("name"):
            people.append(Person(name=str(entry["name"]), role=str(entry.get("role") or ""),
                                 organisation=str(entry.get("organisation") or "")))
        elif isinstance(entry, str) and entry.strip():
            people.append(Person(name=entry.strip(), role=""))
    return tuple(people)


def document_data(detail: PlanDetail, *, lead_name: str, prepared_on: date,
                  school_closures: Sequence[tuple[date, date]] = ()) -> PlanDocumentData | None:
    """The documents' data for a plan, or None when it has no dates to make a timetable from."""
    timetable, decision, case = detail.timetable, detail.decision, detail.case
    if timetable is None or decision is None or case is None:
        return None
    written = detail.written
    consultations = {c.role: c for c in detail.consultations}
    consultees: list[Consultee] = [
        c.model_copy(update={"status": consultations[c.role].status}) if c.role in consultations else c
        for c in decision.consultees
    ]
    try:
        pack: Pack | None = load_pack(detail.plan.policy_id)
    except Exception:
        pack = None
    title = pack.title if pack is not None else detail.plan.policy_id
    agreement = pack.consent.agreement_form if pack is not None else ()
    agreement_citation = pack.consent.agreement_form_citation if pack is not None else None
    pupil = detail.pupil
    return PlanDocumentData(
        plan_id=f"plan-{detail.plan.id}",
        pupil_name=f"{pupil.first_name} {pupil.last_name}".strip() or "Pupil",
        date_of_birth=pupil.date_of_birth,
        upn=pupil.upn or "",
        year_group=detail.summary.year_group or "Not recorded",
        school_name=detail.school.name,
        prepared_on=prepared_on,
        meeting_date=written.get("meeting_date") or None,
        policy_id=detail.plan.policy_id,
        policy_title=decision.policy_title or title,
        parent_agreement=agreement,
        parent_agreement_source=f"{title}, {agreement_citation.section}" if agreement_citation else "",
        outcome=decision.outcome,
        reasons=cited_reasons(decision.reasons),
        consultees=consultee_lines(consultees),
        timetable_reasons=tuple(case.reasons),
        other_reason=_text(written, "other_reason", ""),
        circumstances=tuple(k for k, v in case.circumstances.model_dump().items() if v),
        circumstances_asked=tuple(sorted(case.circumstances.model_fields_set)),
        timetable=timetable,
        full_time_hours=timetable.full_time_hours,
        end_date=timetable.end,
        review_dates=tuple(r.due_on for r in detail.reviews if r.due_on is not None) or tuple(decision.review_dates),
        school_closures=tuple(school_closures),
        reviews_held=tuple((r.due_on, r.held_on) for r in detail.reviews
                           if r.due_on is not None and r.held_on is not None),
        where_when_not_in_school=_text(written, "where_when_not_in_school"),
        with_whom_when_not_in_school=_text(written, "with_whom_when_not_in_school"),
        arrival_and_departure=_text(written, "arrival_and_departure", ""),
        educational_focus_in_school=_text(written, "educational_focus_in_school", ""),
        work_set=_text(written, "work_set"),
        work_marking=_text(written, "work_marking"),
        long_term_outcome=_text(written, "long_term_outcome", "A full-time return to school"),
        short_term_targets=_items(written, "short_term_targets", 3),
        success_criteria=_items(written, "success_criteria", 1),
        support_in_school=_text(written, "support_in_school", ""),
        support_for_parents=_text(written, "support_for_parents", ""),
        exit_strategy=_text(written, "exit_strategy", ""),
        named_lead=_text(written, "named_lead", lead_name or TO_BE_AGREED),
        named_lead_role=_text(written, "named_lead_role", ""),
        headteacher_name=_text(written, "headteacher_name", ""),
        parents=_items(written, "parents", 0),
        professionals=_people(written),
        welfare_monitoring=_text(written, "welfare_monitoring", ""),
        closed_on=detail.plan.closed_on if detail.plan.status == PlanStatus.CLOSED else None,
        closure=CLOSURE_ROUTES.get(detail.plan.closure_route or "", ""),
        closure_route=detail.plan.closure_route or "",
    )
