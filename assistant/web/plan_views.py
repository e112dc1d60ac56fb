"""Read models for the plan pages, the LA view and the API: stored plans with what a reader
needs beside them (pupil, school, the next review, whether it runs past the policy maximum).

Reading only: every change goes through :mod:`assistant.services.plans`. Callers pass the
school ids the user may see (:func:`assistant.services.auth.visible_school_ids`) and audit
what they show.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError
from sqlmodel import Session, col, select

from assistant.documents.data import CIRCUMSTANCE_LABELS, TIMETABLE_REASON_LABELS
from assistant.services.plans import past_the_maximum
from conversations.plan_writing import plan_timetable
from conversations.timetable import GraduatedTimetable
from rules import Case, Decision
from storage.errors import NotFoundError
from storage.models import (
    Consultation,
    LocalAuthority,
    Plan,
    PlanStatus,
    PlanVersion,
    Pupil,
    Review,
    School,
    User,
)

STATUS_LABELS: dict[str, str] = {
    "draft": "Must not proceed as proposed",
    "awaiting": "Awaiting agreement",
    "active": "Active",
    "closed": "Closed",
}
STATUSES: tuple[str, ...] = tuple(s.value for s in PlanStatus)
DUE_FILTERS: dict[str, str] = {
    "review_overdue": "Review overdue",
    "review_soon": "Review due in the next 14 days",
    "ending_soon": "Ending in the next 14 days",
    "agreement_missing": "Agreement still needed",
    "over_maximum": "Past the policy maximum",
}
SOON = timedelta(days=14)


@dataclass
class PlanSummary:
    id: int
    version: int
    school_id: int
    school_name: str
    pupil_id: int
    pupil_name: str
    upn: str
    year_group: str
    policy_id: str
    status: str
    outcome: str | None
    start_date: date | None
    end_date: date | None
    latest_end_date: date | None
    hours_per_week: float | None
    full_time_hours: float | None
    over_maximum: bool
    next_review: date | None
    overdue_reviews: list[date]
    circumstances: list[str]
    reasons: list[str]
    agreements_missing: list[str]
    lead_user_id: int | None
    #: A closed plan's last day under the timetable, and how it ended.
    closed_on: date | None = None
    closure_route: str | None = None

    @property
    def status_label(self) -> str:
        return STATUS_LABELS.get(self.status, self.status)

    @property
    def review_overdue(self) -> bool:
        return bool(self.overdue_reviews)

    @property
    def percent_of_full_time(self) -> float | None:
        if self.hours_per_week is None or not self.full_time_hours:
            return None
        return round(100 * self.hours_per_week / self.full_time_hours, 1)

    @property
    def pupil_initials(self) -> str:
        return "".join(part[0].upper() for part in self.pupil_name.split() if part[:1].isalpha())

    @property
    def circumstance_labels(self) -> list[str]:
        return [CIRCUMSTANCE_LABELS.get(c, c) for c in self.circumstances]

    @property
    def reason_labels(self) -> list[str]:
        return [TIMETABLE_REASON_LABELS.get(r, r) for r in self.reasons]

    def is_due(self, due: str, today: date) -> bool:
        if due == "review_overdue":
            return self.review_overdue
        if due == "review_soon":
            return self.next_review is not None and today <= self.next_review <= today + SOON
        if due == "ending_soon":
            return (self.status != "closed" and self.end_date is not None
                    and today <= self.end_date <= today + SOON)
        if due == "agreement_missing":
            return bool(self.agreements_missing)
        if due == "over_maximum":
            return self.over_maximum
        return True

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "status": self.status,
            "outcome": self.outcome,
            "policy": self.policy_id,
            "school": {"id": self.school_id, "name": self.school_name},
            "pupil": {"name": self.pupil_name, "upn": self.upn or None, "year_group": self.year_group or None},
            "start_date": _iso(self.start_date),
            "end_date": _iso(self.end_date),
            "latest_end_date": _iso(self.latest_end_date),
            "hours_per_week": self.hours_per_week,
            "full_time_hours": self.full_time_hours,
            "percent_of_full_time": self.percent_of_full_time,
            "over_maximum": self.over_maximum,
            "next_review": _iso(self.next_review),
            "review_overdue": self.review_overdue,
            "circumstances": self.circumstances,
            "reasons": self.reasons,
            "agreements_missing": self.agreements_missing,
            "closed_on": _iso(self.closed_on),
            "closure_route": self.closure_route,
        }


@dataclass
class PlanDetail:
    summary: PlanSummary
    plan: Plan
    pupil: Pupil
    school: School
    decision: Decision | None
    case: Case | None
    consultations: list[Consultation]
    reviews: list[Review]
    history: list[PlanVersion]
    authors: dict[int, str]
    timetable: GraduatedTimetable | None
    written: dict[str, Any] = field(default_factory=dict)

    @property
    def in_force_at_some_time(self) -> bool:
        """Whether the timetable ever ran: active now, or active in some version before it closed
        (a proposal withdrawn before it was agreed never did, and has nothing for the register)."""
        return self.plan.status == PlanStatus.ACTIVE or (
            self.plan.status == PlanStatus.CLOSED
            and any((version.snapshot_json or {}).get("status") == PlanStatus.ACTIVE for version in self.history))

    @property
    def held_reviews(self) -> list[Review]:
        return [r for r in self.reviews if r.held_on is not None]

    @property
    def scheduled_reviews(self) -> list[Review]:
        return [r for r in self.reviews if r.held_on is None]


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def _case(plan: Plan) -> Case | None:
    try:
        return Case.model_validate(plan.case_json)
    except ValidationError:
        return None


def _decision(plan: Plan) -> Decision | None:
    if not plan.decision_json:
        return None
    try:
        return Decision.model_validate(plan.decision_json)
    except ValidationError:
        return None


def _year_group(plan: Plan) -> str:
    pupil = (plan.case_json or {}).get("pupil") or {}
    year = pupil.get("year_group") or (plan.decision_json or {}).get("pupil_year_group")
    return str(year or "")


def summarise(plan: Plan, pupil: Pupil, school: School, reviews: Sequence[Review],
              consultations: Sequence[Consultation], today: date) -> PlanSummary:
    case = plan.case_json or {}
    decision = plan.decision_json or {}
    open_plan = plan.status != PlanStatus.CLOSED
    held_for = {r.due_on for r in reviews if r.held_on is not None}
    scheduled = sorted(r.due_on for r in reviews
                       if r.held_on is None and r.due_on is not None and r.due_on not in held_for)
    overdue = [d for d in scheduled if d < today] if open_plan else []
    upcoming = [d for d in scheduled if d >= today]
    over_max = past_the_maximum(plan, today)
    circumstances = [k for k, v in (case.get("circumstances") or {}).items() if v]
    missing = [c.role for c in consultations
               if c.requirement == "agree" and c.status != "agreed"] if open_plan else []
    return PlanSummary(
        id=plan.id or 0, version=plan.version, school_id=school.id or 0, school_name=school.name,
        pupil_id=pupil.id or 0, pupil_name=f"{pupil.first_name} {pupil.last_name}".strip(),
        upn=pupil.upn or "", year_group=_year_group(plan), policy_id=plan.policy_id, status=plan.status,
        outcome=decision.get("outcome"), start_date=plan.start_date, end_date=plan.end_date,
        latest_end_date=plan.latest_end_date,
        hours_per_week=(case.get("plan") or {}).get("hours_per_week"),
        full_time_hours=decision.get("full_time_hours"), over_maximum=over_max,
        next_review=(upcoming[0] if upcoming and open_plan else None), overdue_reviews=overdue,
        circumstances=circumstances, reasons=list(case.get("reasons") or []),
        agreements_missing=missing, lead_user_id=plan.lead_user_id,
        closed_on=None if open_plan else plan.closed_on, closure_route=None if open_plan else plan.closure_route,
    )


def list_plans(session: Session, school_ids: Sequence[int] | None, today: date, *,
               status: str | None = None, school_id: int | None = None) -> list[PlanSummary]:
    """The plans of these schools (None: all), newest first, with what the lists show."""
    query = select(Plan)
    if school_ids is not None:
        query = query.where(col(Plan.school_id).in_(list(school_ids)))
    if school_id is not None:
        query = query.where(Plan.school_id == school_id)
    if status:
        query = query.where(Plan.status == status)
    plans = list(session.exec(query.order_by(col(Plan.id).desc())))
    if not plans:
        return []
    plan_ids = [p.id for p in plans]
    pupils = {p.id: p for p in session.exec(select(Pupil).where(col(Pupil.id).in_({p.pupil_id for p in plans})))}
    schools = {s.id: s for s in session.exec(select(School).where(col(School.id).in_({p.school_id for p in plans})))}
    reviews: dict[int, list[Review]] = defaultdict(list)
    for review in session.exec(select(Review).where(col(Review.plan_id).in_(plan_ids))):
        reviews[review.plan_id].append(review)
    consultations: dict[int, list[Consultation]] = defaultdict(list)
    for row in session.exec(select(Consultation).where(col(Consultation.plan_id).in_(plan_ids))):
        consultations[row.plan_id].append(row)
    return [summarise(p, pupils[p.pupil_id], schools[p.school_id], reviews[p.id], consultations[p.id], today)
            for p in plans]


def filter_plans(plans: Sequence[PlanSummary], today: date, *, due: str | None = None,
                 circumstance: str | None = None) -> list[PlanSummary]:
    chosen = list(plans)
    if due:
        chosen = [p for p in chosen if p.is_due(due, today)]
    if circumstance:
        chosen = [p for p in chosen if circumstance in p.circumstances]
    return chosen


def written_plan(plan: Plan) -> dict[str, Any]:
    """What the plan-writing part of the interview recorded (targets, work set, …)."""
    data = plan.timetable_json or {}
    written = data.get("written")
    return dict(written) if isinstance(written, dict) else {}


def load_detail(session: Session, plan_id: int, today: date) -> PlanDetail:
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFoundError("plan", plan_id)
    pupil = session.get(Pupil, plan.pupil_id)
    school = session.get(School, plan.school_id)
    assert pupil is not None and school is not None
    consultations = list(session.exec(
        select(Consultation).where(Consultation.plan_id == plan.id).order_by(col(Consultation.role))))
    reviews = list(session.exec(
        select(Review).where(Review.plan_id == plan.id).order_by(col(Review.due_on), col(Review.id))))
    history = list(session.exec(
        select(PlanVersion).where(PlanVersion.plan_id == plan.id).order_by(col(PlanVersion.version).desc())))
    author_ids = {v.changed_by for v in history if v.changed_by} | {r.recorded_by for r in reviews if r.recorded_by}
    if plan.lead_user_id:
        author_ids.add(plan.lead_user_id)
    authors = {u.id: (u.display_name or u.email)
               for u in session.exec(select(User).where(col(User.id).in_(author_ids)))} if author_ids else {}
    case, decision = _case(plan), _decision(plan)
    return PlanDetail(
        summary=summarise(plan, pupil, school, reviews, consultations, today), plan=plan, pupil=pupil,
        school=school, decision=decision, case=case, consultations=consultations, reviews=reviews,
        history=history, authors=authors, timetable=plan_timetable(plan.timetable_json, case, decision),
        written=written_plan(plan),
    )


def timetable_grid(timetable: GraduatedTimetable) -> list[tuple[Any, list[Any]]]:
    """Rows of the am/pm × weekday grid: each week with its ten cells (a session, or None
    where the day is closed or outside the plan)."""
    rows = []
    for week in timetable.weeks:
        cells = {(s.weekday, s.half): s for s in week.sessions}
        rows.append((week, [cells.get((day, half)) for day in range(5) for half in ("am", "pm")]))
    return rows


def school_label(session: Session, school_id: int | None) -> str:
    if school_id is None:
        return ""
    school = session.get(School, school_id)
    return school.name if school else ""


def la_for(session: Session, user: User) -> LocalAuthority | None:
    la_id = user.la_id
    if la_id is None and user.school_id is not None:
        school = session.get(School, user.school_id)
        la_id = school.la_id if school else None
    return session.get(LocalAuthority, la_id) if la_id is not None else None
