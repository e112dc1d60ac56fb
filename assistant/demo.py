"""Demo data: one local authority per policy pack, schools, a user for every role, and plans at
every stage (awaiting agreement, active, review overdue, closed, and one proposed for longer than
the policy allows). Fictional people only.

Loading is idempotent: users are updated, and a school's demo plans are added only when the
school has no plans yet. Every demo account has the password :data:`DEMO_PASSWORD`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlmodel import Session, select

from assistant.services import plans as plan_service
from assistant.services.auth import hash_password
from assistant.services.conversations import SharedUnitOfWork
from conversations.timetable import build_graduated_timetable
from rules import Case, Decision, evaluate, load_pack
from rules.calendar import calendar_for, england_bank_holidays
from storage.models import Plan, User
from storage.repositories import DirectoryRepository

DEMO_PASSWORD = "timetable-demo-2026"
DEMO_DOMAIN = "example.org"


@dataclass(frozen=True)
class DemoSchool:
    name: str
    slug: str


@dataclass(frozen=True)
class DemoAuthority:
    policy_id: str
    name: str
    slug: str
    schools: tuple[DemoSchool, ...]


AUTHORITIES: tuple[DemoAuthority, ...] = (
    DemoAuthority("derby-city", "Derby City Council", "derby-city", (
        DemoSchool("Oak Primary", "oak"), DemoSchool("Riverside Academy", "riverside"))),
    DemoAuthority("derbyshire", "Derbyshire County Council", "derbyshire", (
        DemoSchool("Peak View Primary", "peakview"), DemoSchool("Dales Secondary School", "dales"))),
    DemoAuthority("bath-wells-mat", "Bath and Wells Multi Academy Trust", "bathwells", (
        DemoSchool("Mendip Primary", "mendip"), DemoSchool("Chew Valley Academy", "chewvalley"))),
    DemoAuthority("achieving-for-children", "Achieving for Children", "afc", (
        DemoSchool("Kingston Park Primary", "kingstonpark"), DemoSchool("Richmond Bridge School", "richmondbridge"))),
)
SCHOOL_ROLES = (("staff", "Class teacher"), ("dsl", "Designated Safeguarding Lead"), ("headteacher", "Headteacher"))
FIRST_NAMES = ("Amelia", "Noah", "Isla", "Leo", "Maya", "Oscar", "Ruby", "Theo", "Zara", "Freddie", "Ava", "Kai")
LAST_NAMES = ("Hart", "Okafor", "Byrne", "Kowalski", "Singh", "Mensah", "Evans", "Nguyen", "Ahmed", "Clarke",
              "Novak", "Reid")
#: Distinct fictional pupils (a first name and a surname, never the same pair twice in 144).
PUPILS = tuple((FIRST_NAMES[i % 12], LAST_NAMES[(i + i // 12) % 12]) for i in range(144))
STAGES = ("awaiting", "active", "review_overdue", "closed", "too_long")


@dataclass(frozen=True)
class DemoLogin:
    email: str
    role: str
    where: str


@dataclass
class DemoResult:
    logins: list[DemoLogin]
    plans_created: int
    password: str = DEMO_PASSWORD


def _email(local: str, slug: str) -> str:
    return f"{local}@{slug}.{DEMO_DOMAIN}"


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def demo_term_holidays(school_year: int) -> list[tuple[date, date, str]]:
    """Typical English term holidays for the school year starting in September ``school_year``
    (half terms, Christmas, Easter around Good Friday, summer), carried in the demo plans' own
    cases. They are deliberately not configured as the demo LAs' closures, so a check run in the
    demo gives exactly what ``ptt check`` gives for the same answers; real LAs and schools
    configure theirs with ``ptt closures``."""

    def week_of(day: date) -> tuple[date, date]:
        monday = day - timedelta(days=day.weekday())
        return monday, monday + timedelta(days=4)

    spring = school_year + 1
    good_friday = min(d for d in england_bank_holidays(spring) if d.month in (3, 4) and d.weekday() == 4)
    spring_bank_holiday = max(d for d in england_bank_holidays(spring) if d.month == 5)
    october = week_of(date(school_year, 10, 28))
    february = week_of(date(spring, 2, 17))
    may = week_of(spring_bank_holiday)
    return [
        (*october, "October half term"),
        (week_of(date(school_year, 12, 22))[0], week_of(date(spring, 1, 1))[1], "Christmas holidays"),
        (*february, "February half term"),
        (good_friday - timedelta(days=4), good_friday + timedelta(days=10), "Easter holidays"),
        (*may, "May half term"),
        (date(spring, 7, 22), date(spring, 8, 31), "Summer holidays"),
    ]


def _demo_closures(around: date) -> list[tuple[date, date, str]]:
    year = around.year if around.month >= 9 else around.year - 1
    return demo_term_holidays(year - 1) + demo_term_holidays(year) + demo_term_holidays(year + 1)


def _case(policy_id: str, *, start: date, end: date, year_group: str, circumstances: dict[str, bool],
          reasons: list[str], consultations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "policy": policy_id,
        "pupil": {"year_group": year_group},
        "circumstances": circumstances,
        "reasons": reasons,
        "plan": {"start_date": start.isoformat(), "end_date": end.isoformat(), "hours_per_week": 12.5},
        "steps": {"parent_consent": "given", "risk_assessment": "no_concerns", "alternatives_exhausted": True,
                  "needs_assessment": True, "planning_meeting_held": True, "written_plan": True,
                  "headteacher_signed": True, "healthcare_plan": True, "ehcp_review_called": True},
        "consultations": consultations or {},
        "calendar": {"closures": [
            {"from": first.isoformat(), "to": last.isoformat()}
            for first, last, _ in _demo_closures(start)
            if last >= start - timedelta(days=7) and first <= end + timedelta(days=90)
        ]},
    }


def _settle(data: dict[str, Any], *, hold_back: str | None = None) -> tuple[Case, Decision]:
    """Agree every consultee the policy asks for (except ``hold_back``, left "consulted"), and
    evaluate."""
    for _ in range(4):
        case = Case.model_validate(data)
        decision = evaluate(case)
        wanted = {c.role: ("consulted" if c.role == hold_back else "agreed") for c in decision.consultees}
        if all(data["consultations"].get(role) == status for role, status in wanted.items()):
            return case, decision
        data["consultations"] = {**data["consultations"], **wanted}
    case = Case.model_validate(data)
    return case, evaluate(case)


def _written(first: str, lead: str) -> dict[str, Any]:
    return {
        "first_name": first,
        "where_when_not_in_school": "At home",
        "with_whom_when_not_in_school": "Parent or carer",
        "work_set": "Reading, English and maths work set on the class page each day (about an hour).",
        "work_marking": "The class teacher marks it every Friday and talks it through with the pupil.",
        "long_term_outcome": f"{first} attends full time and feels settled in class.",
        "short_term_targets": ["Arrive by 8:50 each morning", "Stay for the whole morning session",
                               "Join one lunchtime club a week"],
        "success_criteria": ["No missed sessions for two weeks", "Fewer than two calls home a week"],
        "named_lead": lead,
    }


def _plan_case(auth: DemoAuthority, stage: str, today: date, index: int) -> tuple[Case, Decision]:
    """A case under this authority's policy that lands at ``stage``."""
    pack = load_pack(auth.policy_id)
    looked_after = stage == "awaiting"
    circumstances = {"looked_after": looked_after, "medical_needs": stage in ("active", "closed")}
    reasons = ["mental_health"] if stage != "review_overdue" else ["semh"]
    year = ("Y3", "Y5", "Y8", "Y10")[index % 4]
    if stage == "awaiting":
        start = _monday(today) + timedelta(days=7)
        end = start + timedelta(days=25)
    elif stage == "active":
        start = _monday(today)
        end = start + timedelta(days=25)
    elif stage == "too_long":  # proposed for longer than the policy allows: must not proceed as it stands
        start = _monday(today) + timedelta(days=7)
        end = start + timedelta(weeks=12, days=4)
    else:
        # Far enough back that the first review has passed (every policy reviews within 6 weeks).
        weeks_back = max(3, int(pack.reviews.every_weeks) + 1)
        start = _monday(today) - timedelta(weeks=weeks_back)
        end = _monday(today) + timedelta(days=11) if stage == "review_overdue" else _monday(today) + timedelta(days=4)
    data = _case(auth.policy_id, start=start, end=end, year_group=year, circumstances=circumstances,
                 reasons=reasons)
    hold = "virtual_school" if looked_after else None
    case, decision = _settle(data, hold_back=hold)
    if stage == "awaiting" and decision.outcome == "may_proceed":  # no agreement needed under this policy
        data["steps"]["parent_consent"] = "not_yet"
        case, decision = _settle(data, hold_back=hold)
    if stage not in ("awaiting", "too_long") and decision.outcome != "may_proceed" and decision.latest_end_date:
        data["plan"]["end_date"] = min(end, decision.latest_end_date).isoformat()
        case, decision = _settle(data, hold_back=hold)
    return case, decision


def _timetable(case: Case, decision: Decision) -> dict[str, Any] | None:
    if case.plan.start_date is None or case.plan.end_date is None:
        return None
    calendar = calendar_for(case)
    full = decision.full_time_hours or 25.0
    try:
        timetable = build_graduated_timetable(case.plan.start_date, case.plan.end_date,
                                              min(case.plan.hours_per_week or 10.0, full), full,
                                              calendar.is_school_day)
    except ValueError:
        return None
    return timetable.model_dump(mode="json")


def load_demo(session_factory: Callable[[], Session], *, today: date | None = None) -> DemoResult:
    """Load (or refresh) the demo data and return the logins."""
    today = today or date.today()
    password_hash = hash_password(DEMO_PASSWORD)
    logins: list[DemoLogin] = []
    created = 0
    with session_factory() as session:
        directory = DirectoryRepository(session)
        admin = directory.upsert_user(f"admin@ptt.{DEMO_DOMAIN}", "admin", display_name="Demo Administrator",
                                      password_hash=password_hash)
        logins.append(DemoLogin(admin.email, "admin", "everything"))
        pupil_index = 0
        for auth in AUTHORITIES:
            la = directory.get_or_create_la(auth.policy_id, name=auth.name)
            la.name = auth.name
            for local, role, title in (("ewo", "ewo", "Education Welfare Officer"),
                                       ("la.officer", "la_officer", "Inclusion Officer")):
                user = directory.upsert_user(_email(local, auth.slug), role, la_id=la.id,
                                             display_name=f"{auth.name} {title}", password_hash=password_hash)
                logins.append(DemoLogin(user.email, role, auth.name))
            for school_number, spec in enumerate(auth.schools):
                school = directory.get_or_create_school(spec.name, la.id)
                users: dict[str, User] = {}
                for role, title in SCHOOL_ROLES if school_number == 0 else SCHOOL_ROLES[:1]:
                    user = directory.upsert_user(
                        _email(role, spec.slug), role, school_id=school.id, la_id=la.id,
                        display_name=f"{title}, {spec.name}", password_hash=password_hash)
                    users[role] = user
                    logins.append(DemoLogin(user.email, role, spec.name))
                has_plans = session.exec(select(Plan.id).where(Plan.school_id == school.id)).first() is not None
                if has_plans:
                    continue
                stages = STAGES if school_number == 0 else STAGES[1:2]
                for stage in stages:
                    first, last = PUPILS[pupil_index % len(PUPILS)]
                    pupil_index += 1
                    lead = users.get("dsl") or users["staff"]
                    create_demo_plan(session, auth, stage, today, pupil_index, school.id,  # type: ignore[arg-type]
                                      (first, last), lead)
                    created += 1
        session.commit()
    return DemoResult(logins=logins, plans_created=created)


def create_demo_plan(session: Session, auth: DemoAuthority, stage: str, today: date, index: int,
                      school_id: int, name: tuple[str, str], lead: User) -> int:
    """Create one plan that lands at ``stage``; returns its id."""
    case, decision = _plan_case(auth, stage, today, index)
    first, last = name
    timetable = _timetable(case, decision)
    written = _written(first, f"{lead.display_name}")
    created_on = min(today, case.plan.start_date or today) - timedelta(days=3)
    created_at = datetime.combine(created_on, time(9, 0), UTC)
    unit = SharedUnitOfWork(session)
    plan = plan_service.create_plan(
        unit, case=case, decision=decision, school_id=school_id,
        pupil=plan_service.PupilDetails(first_name=first, last_name=last,
                                        date_of_birth=date(today.year - 8 - index % 6, 1 + index % 12, 10)),
        actor_user_id=lead.id, timetable={"timetable": timetable, "written": {**written, "last_name": last}},
        now=created_at,
    )
    if stage == "closed":
        plan_service.close_plan(unit, plan.id, route="returned_full_time", actor_user_id=lead.id,  # type: ignore[arg-type]
                                closed_on=today - timedelta(days=1), note="Back to full time after the last review.")
    return plan.id  # type: ignore[return-value]
