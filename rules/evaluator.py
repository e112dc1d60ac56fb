"""The evaluator: one Case and one policy pack in, one Decision out.

Deterministic and pure: it never reads the clock; every date comes in the case. Each reason it
gives carries the citation of the clause in the pack that produced it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rules.calendar import (
    SchoolCalendar,
    calendar_for,
    compulsory_school_age_ends,
    compulsory_school_age_starts,
    end_of_calendar_weeks,
    year_group_for,
)
from rules.models import (
    CIRCUMSTANCES,
    ROLE_LABELS,
    Case,
    Citation,
    Consultee,
    Decision,
    NextStep,
    Note,
    Reason,
    trusted,
)
from rules.packs import ConsulteeRule, Pack, StepRule, When, load_pack

_STRENGTH = {"agree": 3, "consult": 2, "inform": 1}
_SEVERITY_ORDER = {"stop": 0, "outstanding": 1, "info": 2}

# The national layer: no local document states these, so they are notes, not cited reasons.
NATIONAL_REGISTER_NOTE = Note(
    code="register_code_c2",
    message=(
        "Record the sessions missed under the part-time timetable with attendance code C2 "
        "(authorised); use B only for approved off-site educational activity."
    ),
    source="DfE, Working together to improve school attendance (school attendance codes from August 2024)",
)

# Where a pack is silent on full-time hours for a year group, these figures (the LGSCO / DfE
# guide that the local documents themselves repeat) are used for planning, and the decision says so.
NATIONAL_FULL_TIME_HOURS: dict[str, float] = {
    "R": 21.0,
    "Y1": 21.0,
    "Y2": 21.0,
    "Y3": 23.5,
    "Y4": 23.5,
    "Y5": 23.5,
    "Y6": 23.5,
    "Y7": 24.0,
    "Y8": 24.0,
    "Y9": 24.0,
    "Y10": 24.0,
    "Y11": 25.0,
}


def _label(role: str) -> str:
    text = ROLE_LABELS[role]
    return text[0].upper() + text[1:]


_REASONS: dict[tuple[str, str, str, int], Reason] = {}
_NEXT_STEPS: dict[int, NextStep] = {}


def _reason(code: str, severity: str, message: str, citation: Citation | None) -> Reason:
    # Most reasons are the same words and clause every time; they are built once and shared.
    # Citations live as long as their (cached) pack, so their identity is a stable key.
    key = (code, severity, message, id(citation))
    reason = _REASONS.get(key)
    if reason is None:
        reason = trusted(Reason, code=code, severity=severity, message=message, citation=citation)
        if len(_REASONS) < 20_000:
            _REASONS[key] = reason
    return reason


_CONSULTEES: dict[tuple[str, int, str, bool], Consultee] = {}


def _consultee(
    role: str, rule: ConsulteeRule, status: str, label: str, before_start: bool, satisfied: bool
) -> Consultee:
    key = (role, id(rule), status, before_start)
    consultee = _CONSULTEES.get(key)
    if consultee is None:
        consultee = trusted(
            Consultee,
            role=role,
            requirement=rule.requirement,
            status=status,
            citation=rule.citation,
            label=label,
            needed_before_start=before_start,
            satisfied=satisfied,
        )
        if len(_CONSULTEES) < 20_000:
            _CONSULTEES[key] = consultee
    return consultee


def _next_step(rule: object, code: str, message: str, citation: Citation | None) -> NextStep:
    step = _NEXT_STEPS.get(id(rule))
    if step is None:
        step = _NEXT_STEPS[id(rule)] = trusted(NextStep, code=code, message=message, citation=citation)
    return step


@dataclass(frozen=True, slots=True)
class _Applicable:
    """What a pack asks of one kind of pupil: everything that depends only on the circumstances,
    the reasons and the year group, worked out once and reused for every case like it."""

    fixed_reasons: tuple[Reason, ...]
    consent_substitutes: tuple[tuple[str, str], ...]
    steps: tuple[StepRule, ...]
    consultees: tuple[tuple[str, bool, ConsulteeRule], ...]
    advice: tuple[Reason, ...]
    next_steps: tuple[NextStep, ...]


_APPLICABLE: dict[tuple[int, frozenset[str], tuple[str, ...], str | None], _Applicable] = {}


def _applicable(
    pack: Pack, circumstances: frozenset[str], given: tuple[str, ...], year_group: str | None
) -> _Applicable:
    key = (id(pack), circumstances, given, year_group)
    found = _APPLICABLE.get(key)
    if found is None:
        found = _work_out_applicable(pack, circumstances, given, year_group)
        if len(_APPLICABLE) < 50_000:
            _APPLICABLE[key] = found
    return found


def _work_out_applicable(
    pack: Pack, circumstances: frozenset[str], given: tuple[str, ...], year_group: str | None
) -> _Applicable:
    given_reasons = frozenset(given)

    def holds(when: When) -> bool:
        return when.holds(circumstances, given_reasons, year_group)

    fixed: list[Reason] = []
    # Circumstances that rule a timetable out.
    for stop in pack.stops:
        if holds(stop.when):
            fixed.append(_reason(stop.code, "stop", f"{stop.message} {stop.instead}".strip(), stop.citation))

    # The reasons for the timetable.
    ruled_out = {r.reason: r for r in pack.reasons.ruled_out}
    accepted = {r.reason: r for r in pack.reasons.accepted}
    unlisted: list[str] = []
    any_accepted = False
    for reason in given:
        if reason in ruled_out:
            rule = ruled_out[reason]
            fixed.append(_reason("reason_ruled_out", "stop", f"{rule.message} {rule.instead}".strip(), rule.citation))
            continue
        acceptance = accepted.get(reason)
        if acceptance is not None and (holds(acceptance.requires) or pack.reasons.unlisted == "accept"):
            any_accepted = True
            continue
        unlisted.append(reason)
        if acceptance is not None and acceptance.requires_message:
            fixed.append(_reason("reason_conditions_not_met", "info", acceptance.requires_message, acceptance.citation))
    if unlisted and pack.reasons.unlisted == "stop_unless_another_accepted":
        named = ", ".join(r.replace("_", " ") for r in unlisted)
        severity = "info" if any_accepted else "stop"
        message = pack.reasons.unlisted_message.format(reasons=named)
        fixed.append(_reason("reason_not_exceptional", severity, message, pack.reasons.unlisted_citation))

    # The first rule that holds for each step names the clause that asks for it.
    steps: list[StepRule] = []
    seen_steps: set[str] = set()
    for step in pack.steps:
        if step.step not in seen_steps and holds(step.when):
            seen_steps.add(step.step)
            steps.append(step)

    # Each role once, with the strongest requirement that applies.
    strongest: dict[str, tuple[int, bool, ConsulteeRule]] = {}
    for rule in pack.consultees:
        if not holds(rule.when):
            continue
        strength = _STRENGTH[rule.requirement]
        current = strongest.get(rule.role)
        if current is None:
            strongest[rule.role] = (strength, rule.before_start, rule)
        else:
            before = current[1] or rule.before_start
            strongest[rule.role] = (
                (strength, before, rule) if strength > current[0] else (current[0], before, current[2])
            )

    # A pack may give one step under two conditions (an EHCP ticked, or a reason that implies
    # one): it is one step still.
    next_steps: list[NextStep] = []
    for step in pack.next_steps:
        if holds(step.when) and all(s.code != step.code for s in next_steps):
            next_steps.append(_next_step(step, step.code, step.message, step.citation))
    for _, _, rule in strongest.values():
        if rule.requirement == "inform" and not rule.before_start:
            next_steps.append(
                _next_step(
                    rule, f"inform_{rule.role}", f"Tell {ROLE_LABELS[rule.role]} about the timetable.", rule.citation
                )
            )
    return _Applicable(
        fixed_reasons=tuple(fixed),
        consent_substitutes=tuple((s.role, s.status) for s in pack.consent.substitutes if holds(s.when)),
        steps=tuple(steps),
        consultees=tuple((role, before, rule) for role, (_, before, rule) in strongest.items()),
        advice=tuple(_reason(a.code, "info", a.message, a.citation) for a in pack.advice if holds(a.when)),
        next_steps=tuple(next_steps),
    )


def evaluate(case: Case, pack: Pack | None = None) -> Decision:
    """Decide whether the timetable in ``case`` may proceed under its policy."""
    pack = pack or load_pack(case.policy)
    notes: list[Note] = [NATIONAL_REGISTER_NOTE]

    # --- the facts ---------------------------------------------------------------------------
    start = case.plan.start_date
    end = case.plan.end_date
    year_group = case.pupil.year_group
    dob = case.pupil.date_of_birth
    if year_group is None and dob is not None and start is not None:
        year_group = year_group_for(dob, start)
    facts = case.circumstances
    circumstances = frozenset(name for name in CIRCUMSTANCES if getattr(facts, name))
    applicable = _applicable(pack, circumstances, case.reasons, year_group)
    consultations = case.consultations
    steps = case.steps
    reasons: list[Reason] = list(applicable.fixed_reasons)

    # --- parental consent ----------------------------------------------------------------------
    consent = pack.consent
    if steps.parent_consent == "refused":
        message = f"{consent.refused_message} {consent.instead}".strip()
        reasons.append(_reason("parent_consent_refused", "stop", message, consent.refused_citation))
    elif steps.parent_consent != "given":
        substituted = any(consultations.get(role) == status for role, status in applicable.consent_substitutes)
        if not substituted:
            reasons.append(_reason("parent_consent_missing", "outstanding", consent.missing_message, consent.citation))

    # --- risk assessment -----------------------------------------------------------------------
    risk = pack.risk_assessment
    if steps.risk_assessment == "not_done":
        reasons.append(_reason("risk_assessment_missing", "outstanding", risk.missing_message, risk.citation))
    elif steps.risk_assessment == "concerns_unmitigated":
        reasons.append(
            _reason("risk_unmitigated", risk.unmitigated, risk.unmitigated_message, risk.unmitigated_citation)
        )

    # --- other steps ---------------------------------------------------------------------------
    for step in applicable.steps:
        if not getattr(steps, step.step):
            reasons.append(_reason(step.code or f"{step.step}_missing", "outstanding", step.message, step.citation))

    # --- who must agree, be consulted or be informed -------------------------------------------
    consultees: list[Consultee] = []
    for role, before_start, rule in applicable.consultees:
        status = consultations.get(role, "not_contacted")
        requirement = rule.requirement
        label = _label(role)
        if requirement == "agree":
            satisfied = status == "agreed"
            if status == "declined":
                reasons.append(
                    _reason(
                        "consultee_agreement_declined",
                        "stop",
                        f"{label} has not agreed, and the timetable cannot go ahead without their agreement.",
                        rule.citation,
                    )
                )
            elif not satisfied:
                reasons.append(
                    _reason(
                        "consultee_agreement_missing",
                        "outstanding",
                        f"{label} must agree before the timetable starts.",
                        rule.citation,
                    )
                )
        elif requirement == "consult":
            satisfied = status in ("consulted", "agreed", "declined")
            if status == "declined":
                reasons.append(
                    _reason(
                        "consultee_disagrees",
                        "info",
                        f"{label} was consulted and does not support the timetable; record how their "
                        "view was taken into account.",
                        rule.citation,
                    )
                )
            elif not satisfied:
                reasons.append(
                    _reason(
                        "consultee_not_consulted",
                        "outstanding" if before_start else "info",
                        f"{label} must be consulted before the timetable starts.",
                        rule.citation,
                    )
                )
        else:
            satisfied = status != "not_contacted"
            if not satisfied and before_start:
                reasons.append(
                    _reason(
                        "consultee_not_informed",
                        "outstanding",
                        f"{label} must be told before the timetable starts.",
                        rule.citation,
                    )
                )
        consultees.append(_consultee(role, rule, status, label, before_start, satisfied))

    # --- dates: end date, maximum, reviews -----------------------------------------------------
    calendar = calendar_for(case)
    latest_end_date: date | None = None
    school_days_in_plan: int | None = None
    maximum = pack.maximum
    if start is None:
        reasons.append(
            _reason(
                "start_date_missing",
                "outstanding",
                "The plan has no start date yet; the end date and reviews are counted from it.",
                pack.end_date.citation,
            )
        )
    else:
        if maximum is not None:
            if maximum.counted_in == "school_weeks":
                latest_end_date = calendar.end_of_school_weeks(start, maximum.weeks)
            else:
                latest_end_date = end_of_calendar_weeks(start, maximum.weeks)
        if end is not None:
            school_days_in_plan = calendar.school_days_between(start, end)
    if end is None:
        reasons.append(_reason("end_date_missing", "stop", pack.end_date.message, pack.end_date.citation))
    elif latest_end_date is not None and maximum is not None and end > latest_end_date:
        too_long = (
            calendar.school_days_between(latest_end_date, end) > 1 if maximum.counted_in == "school_weeks" else True
        )
        if too_long:
            unit = "school weeks" if maximum.counted_in == "school_weeks" else "weeks"
            weeks = f"{maximum.weeks:g}"
            message = (
                f"The plan ends on {end.isoformat()}, after the latest end date "
                f"{latest_end_date.isoformat()} ({weeks} {unit} from the start). "
                f"{maximum.message}"
            ).strip()
            reasons.append(_reason("plan_too_long", "stop", message, maximum.citation))
            # What the document offers instead: its extension route, else its escalation.
            route = pack.extension or pack.escalation
            if route is not None:
                reasons.append(_reason(route.code, "info", route.message, route.citation))

    review_dates: list[date] = []
    if start is not None:
        horizon = latest_end_date or end
        if horizon is not None:
            review_dates = proposed_review_dates(calendar, start, horizon, pack)

    # --- full-time hours -----------------------------------------------------------------------
    band = pack.hours_band_for(year_group)
    full_time_hours: float | None
    hours_citation: Citation | None = None
    if band is not None:
        full_time_hours = band.hours
        hours_citation = band.citation
        basis = f"{pack.title}: {band.citation.section}" if band.citation else pack.title
    elif year_group is not None:
        full_time_hours = NATIONAL_FULL_TIME_HOURS[year_group]
        silence = pack.silent_on.get("full_time_hours", "The document sets no hours for this year group.")
        basis = f"{silence} National guide figures (LGSCO / DfE) are used."
    else:
        full_time_hours = None
        basis = "Year group unknown: give pupil.year_group, or a date of birth and a start date."
    hours = case.plan.hours_per_week
    percent = round(100 * hours / full_time_hours, 1) if hours is not None and full_time_hours else None
    if hours is not None and full_time_hours is not None and hours >= full_time_hours:
        reasons.append(
            _reason(
                "not_reduced",
                "info",
                f"{hours:g} hours a week is not less than full time ({full_time_hours:g} h) for "
                f"{year_group}; this would not be a part-time timetable.",
                hours_citation or pack.full_time_citation or pack.end_date.citation,
            )
        )

    # --- compulsory school age -----------------------------------------------------------------
    of_compulsory_age: bool | None = None
    if dob is not None and start is not None:
        begins, ends = compulsory_school_age_starts(dob), compulsory_school_age_ends(dob)
        of_compulsory_age = begins <= start <= ends
        if not of_compulsory_age:
            when = (
                f"reaches compulsory school age on {begins.isoformat()}"
                if start < begins
                else f"left compulsory school age on {ends.isoformat()}"
            )
            message = f"On {start.isoformat()} the pupil is not of compulsory school age (the pupil {when})."
            notes.append(
                Note(
                    code="outside_compulsory_school_age",
                    message=message,
                    source="Education Act 1996, s.8; Education (Start of Compulsory School Age) Order 1998",
                )
            )
            if pack.scope is not None:
                reasons.append(
                    _reason(
                        "outside_compulsory_school_age",
                        "info",
                        f"{message} {pack.scope.message}",
                        pack.scope.citation,
                    )
                )
    elif year_group is not None and year_group != "R":
        of_compulsory_age = True

    # --- advice and what follows agreement -----------------------------------------------------
    reasons.extend(applicable.advice)
    next_steps = list(applicable.next_steps)

    reasons.sort(key=lambda r: _SEVERITY_ORDER[r.severity])
    if any(r.severity == "stop" for r in reasons):
        outcome = "must_not_proceed"
    elif any(r.severity == "outstanding" for r in reasons):
        outcome = "not_yet"
    else:
        outcome = "may_proceed"

    return trusted(
        Decision,
        policy=pack.id,
        outcome=outcome,
        reasons=reasons,
        consultees=consultees,
        full_time_hours=full_time_hours,
        latest_end_date=latest_end_date,
        review_dates=review_dates,
        policy_title=pack.title,
        pupil_year_group=year_group,
        full_time_hours_basis=basis,
        full_time_hours_citation=hours_citation,
        latest_end_date_citation=maximum.citation if maximum else None,
        review_dates_citation=pack.reviews.citation,
        maximum_weeks=maximum.weeks if maximum else None,
        maximum_counted_in=maximum.counted_in if maximum else None,
        school_days_in_plan=school_days_in_plan,
        percent_of_full_time=percent,
        compulsory_school_age=of_compulsory_age,
        next_steps=next_steps,
        notes=notes,
    )


def proposed_review_dates(calendar: SchoolCalendar, start: date, horizon: date, pack: Pack) -> list[date]:
    """Review dates on the pack's cadence, each the last school day of its period, up to the
    horizon (the latest end date where the pack sets one, else the plan's end date)."""
    cadence = pack.reviews
    dates: list[date] = []
    n = 1
    while True:
        weeks = cadence.every_weeks * n
        if cadence.counted_in == "school_weeks":
            due = calendar.end_of_school_weeks(start, weeks)
        else:
            due = calendar.last_school_day_on_or_before(end_of_calendar_weeks(start, weeks))
        if due > horizon or n > 52:
            break
        if due >= start and (not dates or due > dates[-1]):
            dates.append(due)
        n += 1
    if not dates and calendar.school_days_between(start, horizon):
        dates.append(calendar.last_school_day_on_or_before(horizon))
    return dates
