"""Running a :class:`conversations.queries.TimetableQuery` against the plans a person may see.

Scope comes from the person's role (``assistant.services.auth.visible_school_ids``): an EWO or
LA officer sees the schools of their local authority, school staff their own school, an admin
everything, anyone else nothing. A school named in the query is matched (forgivingly, with
rapidfuzz) only among the schools in scope, so a name outside it is simply "not found".

Every plan returned is a read of a child's data and is written to the audit log; a count is
audited as one read of the query.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from rapidfuzz import fuzz, process
from sqlmodel import col, select

from assistant.services.auth import visible_school_ids
from assistant.services.plans import past_its_end_date, past_the_maximum
from conversations.queries import CIRCUMSTANCE_LABELS, TimetableQuery
from rules.models import ROLE_LABELS
from storage.db import SessionFactory
from storage.models import Consultation, Plan, PlanStatus, Pupil, Review, School, User
from storage.uow import UnitOfWork, as_unit_of_work

OPEN_STATUSES: tuple[str, ...] = (PlanStatus.DRAFT.value, PlanStatus.AWAITING.value, PlanStatus.ACTIVE.value)
SCHOOL_NAME_SIMILARITY = 80
#: A school is chosen only if it matches by this much better than the next; else the person is asked.
SCHOOL_NAME_MARGIN = 5
MAX_ROWS = 50


def plan_url(base_url: str, plan_id: int) -> str:
    return f"{base_url.rstrip('/')}/plans/{plan_id}"


def pupil_label(pupil: Pupil | None) -> str:
    """First name and initial: enough to recognise the child, no more (data minimisation)."""
    if pupil is None:
        return "(pupil)"
    initial = f" {pupil.last_name[:1]}." if pupil.last_name else ""
    return f"{pupil.first_name}{initial}"


@dataclass(frozen=True, slots=True)
class TimetableRow:
    plan_id: int
    pupil: str
    school: str
    status: str
    start_date: date | None
    end_date: date | None
    latest_end_date: date | None
    next_review: date | None
    review_overdue: bool
    circumstances: tuple[str, ...]
    url: str
    #: Open after its end date (closing it, or an extension, is overdue).
    past_end_date: bool = False


@dataclass(frozen=True, slots=True)
class TimetableQueryResult:
    query: TimetableQuery
    heading: str
    count: int
    rows: tuple[TimetableRow, ...] = ()
    truncated: bool = False
    #: Set when the query named a school the person cannot see or that does not exist, or
    #: (``school_ambiguous``) one that several of theirs answer to equally well.
    school_not_found: str | None = None
    school_suggestions: tuple[str, ...] = ()
    school_ambiguous: bool = False


@dataclass(frozen=True, slots=True)
class ReviewDue:
    row: TimetableRow
    due_on: date
    overdue: bool


@dataclass(frozen=True, slots=True)
class AgreementOutstanding:
    row: TimetableRow
    role: str
    role_label: str
    status: str


@dataclass(frozen=True, slots=True)
class HomeSummary:
    """What the App Home tab shows a person."""

    plans: tuple[TimetableRow, ...] = ()
    reviews_due: tuple[ReviewDue, ...] = ()
    agreements_outstanding: tuple[AgreementOutstanding, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- helpers
def _circumstances(plan: Plan) -> tuple[str, ...]:
    facts = (plan.case_json or {}).get("circumstances") or {}
    return tuple(name for name, value in facts.items() if value is True)


def _last_day(plan: Plan) -> date | None:
    """The plan's last day under the timetable: its end date, or the day it closed if earlier."""
    if plan.status == "closed" and plan.closed_on is not None:
        return min(plan.closed_on, plan.end_date) if plan.end_date is not None else plan.closed_on
    return plan.end_date


def _over(plan: Plan, query: TimetableQuery) -> bool:
    today = query.today
    if query.over_weeks is not None:
        if plan.start_date is None:
            return False
        end = _last_day(plan) or today
        return (end - plan.start_date) > timedelta(weeks=query.over_weeks)
    return past_the_maximum(plan, today)


def _matches(plan: Plan, query: TimetableQuery, reviews: Sequence[Review]) -> bool:
    case = plan.case_json or {}
    if query.ending_within and not query.ending_within.contains(_last_day(plan)):
        return False
    pending = [r.due_on for r in reviews if r.held_on is None and r.due_on is not None]
    if query.review_overdue and not any(d < query.today for d in pending):
        return False
    if query.review_due_within and not any(query.review_due_within.contains(d) for d in pending):
        return False
    if query.over_maximum and not _over(plan, query):
        return False
    if query.past_end_date and not past_its_end_date(plan, query.today):
        return False
    if query.circumstance and query.circumstance not in _circumstances(plan):
        return False
    if query.reason and query.reason not in (case.get("reasons") or []):
        return False
    return not (query.year_group and (case.get("pupil") or {}).get("year_group") != query.year_group)


def _statuses(query: TimetableQuery) -> tuple[str, ...] | None:
    if query.status == "any":
        return None
    if query.status == "open":
        return OPEN_STATUSES
    return (query.status,)


def _row(plan: Plan, pupil: Pupil | None, school: School | None, reviews: Sequence[Review], today: date,
         base_url: str) -> TimetableRow:
    pending = sorted(r.due_on for r in reviews if r.held_on is None and r.due_on is not None)
    return TimetableRow(
        plan_id=plan.id or 0, pupil=pupil_label(pupil), school=school.name if school else "",
        status=plan.status, start_date=plan.start_date, end_date=plan.end_date,
        latest_end_date=plan.latest_end_date, next_review=pending[0] if pending else None,
        review_overdue=bool(pending and pending[0] < today), circumstances=_circumstances(plan),
        url=plan_url(base_url, plan.id or 0), past_end_date=past_its_end_date(plan, today),
    )


def _load(unit: UnitOfWork, school_ids: list[int] | None, statuses: tuple[str, ...] | None
          ) -> list[tuple[Plan, Pupil | None, School | None, list[Review]]]:
    query = select(Plan, Pupil, School).join(Pupil, col(Pupil.id) == col(Plan.pupil_id), isouter=True).join(
        School, col(School.id) == col(Plan.school_id), isouter=True)
    if school_ids is not None:
        query = query.where(col(Plan.school_id).in_(school_ids))
    if statuses is not None:
        query = query.where(col(Plan.status).in_(list(statuses)))
    found = list(unit.session.exec(query.order_by(col(Plan.end_date).nulls_last(), col(Plan.id))))
    plan_ids = [plan.id for plan, _, _ in found]
    reviews: dict[int, list[Review]] = {}
    if plan_ids:
        for review in unit.session.exec(select(Review).where(col(Review.plan_id).in_(plan_ids))):
            reviews.setdefault(review.plan_id, []).append(review)
    return [(plan, pupil, school, reviews.get(plan.id or 0, [])) for plan, pupil, school in found]


def _match_school(unit: UnitOfWork, name: str, school_ids: list[int] | None) -> tuple[School | None, tuple[str, ...]]:
    query = select(School)
    if school_ids is not None:
        query = query.where(col(School.id).in_(school_ids))
    schools = list(unit.session.exec(query.order_by(col(School.name))))
    if not schools:
        return None, ()
    names = [s.name for s in schools]
    for school in schools:
        if school.name.casefold() == name.casefold():
            return school, ()
    # Compared on the words that tell schools apart: "Primary" alone would match every primary.
    wanted = _distinctive(name) or name.casefold()
    ranked = process.extract(wanted, [_distinctive(n) or n.casefold() for n in names], scorer=fuzz.WRatio,
                             limit=len(names))
    good = [(names[i], score, i) for _, score, i in ranked if score >= SCHOOL_NAME_SIMILARITY]
    if good and (len(good) == 1 or good[0][1] - good[1][1] >= SCHOOL_NAME_MARGIN):
        return schools[good[0][2]], ()
    if good:
        # As alike by their own words ("St Mary's"): the shared ones may still tell ("Catholic").
        tied = [(n, i) for n, score, i in good if good[0][1] - score < SCHOOL_NAME_MARGIN]
        typed = set(_words(name))
        holding_all = [(n, i) for n, i in tied if typed <= set(_words(n))]
        if len(holding_all) == 1:
            return schools[holding_all[0][1]], ()
        raise AmbiguousSchool(tuple(n for n, _ in tied))
    return None, tuple(names[i] for _, score, i in ranked[:3] if score >= 50)


class AmbiguousSchool(LookupError):
    """Several schools answer to the name as well as each other: the person must say which."""

    def __init__(self, names: tuple[str, ...]) -> None:
        super().__init__(", ".join(names))
        self.names = names


#: Words many school names share: on their own they tell no school from another.
_GENERIC_SCHOOL_WORDS = frozenset((
    "primary", "school", "academy", "infant", "infants", "junior", "juniors", "college", "high", "secondary",
    "federation", "nursery", "first", "middle", "upper", "lower", "community", "church", "england", "ce", "c",
    "of", "e", "rc", "catholic", "cofe", "methodist", "voluntary", "aided", "controlled", "trust", "the", "and",
    "free", "foundation", "all-through", "through", "all", "sch",
))


def _words(name: str) -> list[str]:
    return re.findall(r"[\w'-]+", name.casefold())


def _distinctive(name: str) -> str:
    return " ".join(w for w in _words(name) if w not in _GENERIC_SCHOOL_WORDS)


# --------------------------------------------------------------------------- use cases
def run_timetable_query(
    uow: UnitOfWork | SessionFactory, user: User, query: TimetableQuery, *, base_url: str,
    channel: str = "slack", limit: int = MAX_ROWS,
) -> TimetableQueryResult:
    """The plans ``user`` may see that match ``query`` (or just how many), audited."""
    unit = as_unit_of_work(uow)
    with unit:
        scope = visible_school_ids(unit.session, user)
        heading = query.describe()
        if query.school_name:
            try:
                school, suggestions = _match_school(unit, query.school_name, scope)
            except AmbiguousSchool as ambiguous:
                return TimetableQueryResult(query=query, heading=heading, count=0, school_not_found=query.school_name,
                                            school_suggestions=ambiguous.names, school_ambiguous=True)
            if school is None:
                return TimetableQueryResult(query=query, heading=heading, count=0,
                                            school_not_found=query.school_name, school_suggestions=suggestions)
            scope = [school.id] if school.id is not None else []
            heading = query.model_copy(update={"school_name": school.name}).describe()
        if scope is not None and not scope:
            return TimetableQueryResult(query=query, heading=heading, count=0)
        matching = [
            (plan, pupil, school, reviews) for plan, pupil, school, reviews in _load(unit, scope, _statuses(query))
            if _matches(plan, query, reviews)
        ]
        detail = {"via": channel, "query": heading, "count": len(matching)}
        if query.count_only:
            unit.audit.record("read", "timetable_query", None, actor_user_id=user.id, detail=detail)
            unit.commit()
            return TimetableQueryResult(query=query, heading=heading, count=len(matching))
        shown = matching[:limit]
        rows = tuple(_row(plan, pupil, school, reviews, query.today, base_url)
                     for plan, pupil, school, reviews in shown)
        for plan, _, _, _ in shown:
            unit.audit.record("read", "plan", plan.id, actor_user_id=user.id, school_id=plan.school_id,
                              detail={"via": channel, "query": heading})
        unit.commit()
        return TimetableQueryResult(query=query, heading=heading, count=len(matching), rows=rows,
                                    truncated=len(matching) > limit)


def home_summary(
    uow: UnitOfWork | SessionFactory, user: User, *, today: date, base_url: str, channel: str = "slack_home",
    review_horizon: timedelta = timedelta(days=14), limit: int = 20,
) -> HomeSummary:
    """A person's open plans, the reviews due soon or overdue, and agreements still outstanding."""
    unit = as_unit_of_work(uow)
    with unit:
        scope = visible_school_ids(unit.session, user)
        if scope is not None and not scope:
            return HomeSummary()
        loaded = _load(unit, scope, OPEN_STATUSES)
        if user.role in ("staff",):
            # Teaching staff see the plans they lead; a DSL or headteacher sees the school's.
            loaded = [item for item in loaded if item[0].lead_user_id == user.id] or loaded
        rows = {plan.id: _row(plan, pupil, school, reviews, today, base_url) for plan, pupil, school, reviews in loaded}
        reviews_due: list[ReviewDue] = []
        for plan, _, _, reviews in loaded:
            for review in reviews:
                if review.held_on is None and review.due_on is not None and review.due_on <= today + review_horizon:
                    reviews_due.append(ReviewDue(rows[plan.id], review.due_on, review.due_on < today))
        reviews_due.sort(key=lambda r: r.due_on)
        agreements: list[AgreementOutstanding] = []
        plan_ids = [plan.id for plan, _, _, _ in loaded]
        if plan_ids:
            consultations = unit.session.exec(
                select(Consultation).where(col(Consultation.plan_id).in_(plan_ids), Consultation.requirement == "agree",
                                           col(Consultation.status).not_in(["agreed"]))
                .order_by(col(Consultation.plan_id), col(Consultation.role)))
            for consultation in consultations:
                agreements.append(AgreementOutstanding(
                    rows[consultation.plan_id], consultation.role,
                    ROLE_LABELS.get(consultation.role, consultation.role.replace("_", " ")), consultation.status))
        shown = list(rows.values())[:limit]
        reviews_due, agreements = reviews_due[:limit], agreements[:limit]
        # Every plan whose pupil is named anywhere on the page is a read, not only the first list's.
        named = {row.plan_id for row in shown} | {r.row.plan_id for r in reviews_due}
        named |= {a.row.plan_id for a in agreements}
        school_of = {p.id: p.school_id for p, _, _, _ in loaded}
        for plan_id in sorted(named):
            unit.audit.record("read", "plan", plan_id, actor_user_id=user.id, school_id=school_of[plan_id],
                              detail={"via": channel})
        unit.commit()
        return HomeSummary(plans=tuple(shown), reviews_due=tuple(reviews_due),
                           agreements_outstanding=tuple(agreements))


def describe_circumstances(names: Sequence[str]) -> str:
    return ", ".join(CIRCUMSTANCE_LABELS.get(n, n).replace(" pupils", "") for n in names)
