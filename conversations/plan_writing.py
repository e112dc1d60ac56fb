"""The second phase: writing the plan once the check allows the timetable (now or once steps are done).

Plan questions fill ``state.plan``, not the Case (their ``fact`` is None): the pupil's name, the
graduated weekly timetable (sessions rising week by week to full time), where the pupil will be
and with whom when not in school, the work set and how it is marked, the long-term outcome and at
least three short-term targets (Derbyshire: "A minimum of three short targets can then be set to
support the progress towards this long-term outcome."), success criteria, the named lead, and the
review dates from the decision. The keys match the document generator's ``PlanDocumentData``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from pydantic import ValidationError

from conversations.answers import (
    AnswerError,
    normalise,
    parse_date,
    parse_hours,
    parse_text,
    parse_yes_no,
)
from conversations.questions import Question
from conversations.timetable import WEEKDAY_NAMES, GraduatedTimetable, RegisterCode, build_graduated_timetable
from conversations.wording import hours, uk_date, year_label
from rules.calendar import calendar_for, year_group_for
from rules.models import Case, Citation, Decision
from rules.packs import Pack, load_pack
from rules.reviews import review_dates_problem

MINIMUM_TARGETS = 3


def _q(id_: str, kind: str, text: str, short: str, keywords: tuple[str, ...], hint: str = "") -> Question:
    return Question(id=f"write.{id_}", fact=None, kind=kind, text=text, phase="plan", short=short,
                    keywords=keywords, hint=hint)


PLAN_QUESTIONS: dict[str, Question] = {
    q.id: q
    for q in (
        _q("first_name", "text", "Let's write the plan. What is the pupil's first name?", "first name",
           ("first", "name", "forename")),
        _q("last_name", "text", "And their last name?", "last name", ("last", "surname", "family")),
        _q("date_of_birth", "date", "What is their date of birth?", "date of birth (plan)", ("birth", "dob")),
        _q("full_time_hours", "number",
           "The policy sets no full-time hours for this pupil. How many hours a week is full time for them?",
           "full-time hours", ("full", "time"), "e.g. 25"),
        _q("starting_hours", "number",
           "How many hours a week will they be in school in the first week? Each week then adds more, "
           "up to full time ({full}) in the last week.",
           "starting hours", ("starting", "timetable", "sessions"), "e.g. 10 or 12h30"),
        _q("where_when_not_in_school", "text", "When they are not in school, where will the pupil be?",
           "where when not in school", ("where", "location", "home")),
        _q("with_whom_when_not_in_school", "text", "Who will be with them then (supervising them)?",
           "with whom", ("whom", "who", "supervise", "supervision")),
        _q("off_site_education", "yes_no",
           "Is that time approved education off site, arranged by the school and supervised (alternative "
           "provision or tuition, say)? Then those sessions are marked B in the register; otherwise C2, "
           "authorised absence.",
           "off-site education", ("off-site", "offsite", "alternative", "provision", "tuition", "register", "code"),
           "yes or no"),
        _q("work_set", "text", "What work will be set for the time out of school?", "work set",
           ("work", "set", "homework")),
        _q("work_marking", "text", "How will that work be marked and returned?", "work marking",
           ("marking", "marked", "feedback")),
        _q("long_term_outcome", "text",
           "What is the long-term outcome (for example: attending full time, settled in class, by the end date)?",
           "long-term outcome", ("outcome", "long", "goal", "aim")),
        _q("short_term_targets", "text", "Short-term target {number} of at least 3: what is it?",
           "short-term targets", ("targets", "target", "short"),
           "one target, or several on separate lines or separated by ';'"),
        _q("success_criteria", "text",
           "How will you know it is working? Give the success criteria (separate several with ';').",
           "success criteria", ("success", "criteria")),
        _q("named_lead", "text", "Who is the named lead for the plan (name and role)?", "named lead",
           ("lead", "named", "responsible")),
        _q("review_dates", "yes_no", "Reviews fall on {dates} under this policy. Keep these dates?",
           "review dates", ("review", "reviews"), "yes, or give your own dates separated by commas"),
    )
}
PLAN_ORDER: tuple[str, ...] = tuple(PLAN_QUESTIONS)


def plan_key(question_id: str) -> str:
    return question_id.removeprefix("write.")


def proposed_review_dates(answers: Mapping[str, Any], decision: Decision) -> list[date]:
    """The policy's review dates that fall within the plan. The decision's run to the policy's
    latest end date; those after the plan's own end date would never be held, and the saved plan
    leaves them out, so they are not offered either."""
    end = answers.get("plan.end_date")
    if isinstance(end, str):
        try:
            end = date.fromisoformat(end)
        except ValueError:
            end = None
    return [d for d in decision.review_dates if not isinstance(end, date) or d <= end]


def applies(question_id: str, plan: Mapping[str, Any], answers: Mapping[str, Any], decision: Decision) -> bool:
    if question_id == "write.date_of_birth":
        return not answers.get("pupil.date_of_birth")
    if question_id == "write.full_time_hours":
        return decision.full_time_hours is None
    if question_id == "write.review_dates":
        return bool(proposed_review_dates(answers, decision))
    return True


def is_answered(question_id: str, plan: Mapping[str, Any]) -> bool:
    key = plan_key(question_id)
    if key == "short_term_targets":
        return len(plan.get(key, [])) >= MINIMUM_TARGETS
    return key in plan


def next_question(plan: Mapping[str, Any], answers: Mapping[str, Any], decision: Decision) -> str | None:
    for question_id in PLAN_ORDER:
        if applies(question_id, plan, answers, decision) and not is_answered(question_id, plan):
            return question_id
    return None


def remaining(plan: Mapping[str, Any], answers: Mapping[str, Any], decision: Decision) -> int:
    count = 0
    for question_id in PLAN_ORDER:
        if not applies(question_id, plan, answers, decision):
            continue
        if plan_key(question_id) == "short_term_targets":
            count += max(0, MINIMUM_TARGETS - len(plan.get("short_term_targets", [])))
        elif not is_answered(question_id, plan):
            count += 1
    return count


def full_time_hours(plan: Mapping[str, Any], decision: Decision) -> float | None:
    return decision.full_time_hours if decision.full_time_hours is not None else plan.get("full_time_hours")


def question_text(question_id: str, plan: Mapping[str, Any], answers: Mapping[str, Any], decision: Decision) -> str:
    question = PLAN_QUESTIONS[question_id]
    text = question.text
    if question_id == "write.starting_hours":
        full = full_time_hours(plan, decision)
        text = text.format(full=hours(full) if full is not None else "full time")
        if answers.get("plan.hours_per_week") is not None:
            text += f" Reply 'same' for the {hours(answers['plan.hours_per_week'])} you gave."
    elif question_id == "write.short_term_targets":
        text = text.format(number=len(plan.get("short_term_targets", [])) + 1)
    elif question_id == "write.review_dates":
        text = text.format(dates=", ".join(uk_date(d) for d in proposed_review_dates(answers, decision)))
    if question.hint:
        text += f" ({question.hint})"
    return text


def why(question_id: str, pack: Pack, written_plan_citation: Citation | None) -> Citation | None:
    if question_id == "write.review_dates":
        return pack.reviews.citation
    if question_id in ("write.starting_hours", "write.full_time_hours"):
        return (pack.full_time_hours[0].citation if pack.full_time_hours else None) or written_plan_citation
    return written_plan_citation or pack.end_date.citation


def _split_items(text: str) -> list[str]:
    return [item.strip(" -•*\t") for item in re.split(r"\s*(?:\n|;)\s*", text) if item.strip(" -•*\t")]


def own_review_dates_problem(dates: list[date], case: Case, decision: Decision) -> str | None:
    """Why a school's own review dates cannot replace the policy's for this case (reviews less
    often than the policy asks, a date outside the plan or on a closed day); None if they can."""
    if case.plan is None or case.plan.start_date is None:
        return None
    return review_dates_problem(
        dates, proposed=decision.review_dates, start=case.plan.start_date, end=case.plan.end_date,
        calendar=calendar_for(case),
        cadence=load_pack(case.policy).reviews)


def record(
    question_id: str, text: str, plan: dict[str, Any], answers: Mapping[str, Any], decision: Decision,
    case: Case, today: date,
) -> list[str]:
    """Put the answer into ``plan`` (a copy the caller owns); return notes to show. Raises
    :class:`AnswerError` for an answer that cannot be used."""
    key = plan_key(question_id)
    notes: list[str] = []
    if key in ("first_name", "last_name"):
        plan[key] = parse_text(text, minimum=1)
    elif key == "date_of_birth":
        born = parse_date(text, today)
        if born >= today:
            raise AnswerError("A date of birth must be in the past.")
        plan[key] = born.isoformat()
        mismatch = year_group_mismatch(born, case, today)
        if mismatch:
            notes.append(mismatch)
    elif key == "full_time_hours":
        value = parse_hours(text)
        if value < 5:
            raise AnswerError("Full time must be at least 5 hours a week.")
        plan[key] = value
    elif key == "starting_hours":
        full = full_time_hours(plan, decision)
        given = answers.get("plan.hours_per_week")
        if given is not None and normalise(text) in {"same", "yes", "y", "as before", "the same"}:
            value = float(given)
        else:
            value = parse_hours(text)
        if full is not None and value > full:
            raise AnswerError(f"{hours(value)} is more than full time ({hours(full)}).")
        plan[key] = value
        try:
            timetable = build(plan, case, decision)
        except ValueError as error:
            plan.pop(key, None)
            raise AnswerError(str(error)) from None
        notes.append(describe_timetable(timetable))
    elif key == "off_site_education":
        plan[key] = parse_yes_no(text)
    elif key == "short_term_targets":
        items = _split_items(parse_text(text))
        plan[key] = [*plan.get(key, []), *items]
        count = len(plan[key])
        if count < MINIMUM_TARGETS:
            notes.append(f"Target {count} noted.")
    elif key == "success_criteria":
        plan[key] = _split_items(parse_text(text))
    elif key == "review_dates":
        try:
            keep = parse_yes_no(text)
        except AnswerError:
            keep = None
        if keep:
            plan[key] = [d.isoformat() for d in proposed_review_dates(answers, decision)]
        elif keep is False:
            raise AnswerError("Then give the review dates you want, separated by commas.")
        else:
            parts = [p for p in re.split(r"\s*(?:,|;|\n|\band\b)\s*", text) if p.strip()]
            try:
                dates = sorted({parse_date(p, today, prefer_future=True) for p in parts})
            except AnswerError as error:
                raise AnswerError(f"{error} Reply yes to keep the policy's review dates.") from None
            if not dates:
                raise AnswerError("Reply yes to keep the policy's review dates, or give your own.")
            problem = own_review_dates_problem(dates, case, decision)
            if problem:
                raise AnswerError(f"{problem} Reply yes to keep the policy's review dates, or give dates at least "
                                  "that often.")
            plan[key] = [d.isoformat() for d in dates]
    else:
        plan[key] = parse_text(text)
    return notes


def year_group_mismatch(born: date, case: Case, today: date) -> str | None:
    """A note when the date of birth puts the pupil in another year group than the check was
    given (on the plan's start date): a typing slip in either changes the full-time hours, but a
    pupil may also be taught out of their year group, so it is said, not refused."""
    given = case.pupil.year_group
    on = case.plan.start_date or today
    expected = year_group_for(born, on)
    if given is None or expected == given:
        return None
    would_be = year_label(expected) if expected else "outside Reception to Year 11"
    return (f"Born on {uk_date(born)}, the pupil would be {'in ' if expected else ''}{would_be} on {uk_date(on)}, "
            f"but the check was given {year_label(given)}, which sets full time. If they are taught out of their "
            "year group, carry on; if not, reply 'change date of birth' or 'change year group'.")


def forget(question_id: str, plan: dict[str, Any]) -> None:
    """Undo the latest answer to ``question_id`` (one target at a time)."""
    key = plan_key(question_id)
    if key == "short_term_targets" and plan.get(key):
        plan[key] = plan[key][:-1]
        if not plan[key]:
            del plan[key]
    else:
        plan.pop(key, None)
    if key in ("starting_hours", "full_time_hours"):
        plan.pop("timetable", None)


def away_arrangement(plan: Mapping[str, Any]) -> tuple[str, str]:
    """Where, and with whom, the written plan has the pupil when not in school: what its
    timetable's sessions out of school say."""
    return (plan.get("where_when_not_in_school", "Home"), plan.get("with_whom_when_not_in_school", "Parent/carer"))


def away_register_code(plan: Mapping[str, Any]) -> RegisterCode:
    """The register code of the written plan's time out of school: B for approved, supervised
    education off site, else C2 (authorised absence, since August 2024)."""
    return "B" if plan.get("off_site_education") is True else "C2"


def build(plan: Mapping[str, Any], case: Case, decision: Decision) -> GraduatedTimetable:
    """The graduated timetable from the plan's dates and the starting hours."""
    start, end = case.plan.start_date, case.plan.end_date
    full = full_time_hours(plan, decision)
    if start is None or end is None:
        raise ValueError("the timetable needs both a start date and an end date")
    if full is None:
        raise ValueError("full-time hours are not known")
    calendar = calendar_for(case)
    away_location, away_with_whom = away_arrangement(plan)
    return build_graduated_timetable(
        start, end, float(plan["starting_hours"]), float(full), calendar.is_school_day,
        away_location=away_location, away_with_whom=away_with_whom, away_register_code=away_register_code(plan),
    )


#: Full time where the policy gives no hours for the pupil's year group (a plan made outside the
#: interview, without them): the most any year group has.
DEFAULT_FULL_TIME_HOURS = 25.0


def plan_timetable(stored: Mapping[str, Any] | None, case: Case | None,
                   decision: Decision | None) -> GraduatedTimetable | None:
    """A saved plan's graduated timetable: the one stored with it (``stored`` is the plan's
    ``timetable_json``), or, for a plan saved without one, one worked out from its case (start,
    end, hours, the school's closures) rising steadily to full time. None without the dates."""
    kept = (stored or {}).get("timetable")
    if isinstance(kept, dict) and kept:
        try:
            return GraduatedTimetable.model_validate(kept)
        except ValidationError:
            pass
    if case is None or case.plan.start_date is None:
        return None
    end = case.plan.end_date or (decision.latest_end_date if decision else None)
    if end is None:
        return None
    full_time = (decision.full_time_hours if decision else None) or DEFAULT_FULL_TIME_HOURS
    hours_now = min(case.plan.hours_per_week if case.plan.hours_per_week is not None else full_time / 2, full_time)
    try:
        return build_graduated_timetable(case.plan.start_date, end, hours_now, full_time,
                                         calendar_for(case).is_school_day)
    except ValueError:
        return None


def _week_sessions(week: Any, session_hours: tuple[float, float]) -> str:
    by_day: dict[int, list[str]] = {}
    for session in week.sessions:
        if session.in_school:
            length = session_hours[0] if session.half == "am" else session_hours[1]
            part = session.half
            if session.hours < length - 1e-9:
                part += f" ({hours(round(session.hours, 2))})"
            by_day.setdefault(session.weekday, []).append(part)
    if not by_day:
        return "no sessions in school"
    return ", ".join(f"{WEEKDAY_NAMES[day][:3]} {'+'.join(halves)}" for day, halves in sorted(by_day.items()))


def describe_timetable(timetable: GraduatedTimetable) -> str:
    lines = [f"Here is the timetable, rising to full time ({hours(timetable.full_time_hours)}):"]
    for number, week in enumerate(timetable.weeks, 1):
        closed = f"; closed {', '.join(uk_date(d) for d in week.closed_days)}" if week.closed_days else ""
        lines.append(
            f"Week {number} (from {uk_date(week.week_beginning)}): {hours(round(week.hours, 2))}, "
            f"{week.percent_of_full_time:g}% of full time: {_week_sessions(week, timetable.session_hours)}{closed}"
        )
    lines.append("To change it, reply 'change starting hours'.")
    return "\n".join(lines)


def weekly_summary(timetable: GraduatedTimetable) -> list[dict[str, Any]]:
    return [
        {"week_beginning": w.week_beginning.isoformat(), "hours": round(w.hours, 2),
         "percent_of_full_time": w.percent_of_full_time}
        for w in timetable.weeks
    ]


def plan_summary(plan: Mapping[str, Any]) -> str:
    name = " ".join(p for p in (plan.get("first_name"), plan.get("last_name")) if p)
    lines = [f"Plan for {name}:" if name else "The plan so far:"]

    def line(label: str, key: str) -> None:
        if plan.get(key):
            value = plan[key]
            lines.append(f"• {label}: {'; '.join(value) if isinstance(value, list) else value}")

    if plan.get("date_of_birth"):
        lines.append(f"• Date of birth: {uk_date(plan['date_of_birth'])}")
    if plan.get("weeks"):
        weeks = ", ".join(f"{hours(w['hours'])} ({w['percent_of_full_time']:g}%)" for w in plan["weeks"])
        lines.append(f"• Weekly hours: {weeks}")
    elif plan.get("starting_hours") is not None:
        lines.append(f"• Starting hours: {hours(plan['starting_hours'])} a week")
    line("When not in school", "where_when_not_in_school")
    line("With", "with_whom_when_not_in_school")
    if "off_site_education" in plan:
        lines.append("• Register code out of school: " + ("B (approved education off site)"
                                                          if plan["off_site_education"] else "C2 (authorised absence)"))
    line("Work set", "work_set")
    line("Marking", "work_marking")
    line("Long-term outcome", "long_term_outcome")
    if plan.get("short_term_targets"):
        lines.append("• Short-term targets:")
        lines += [f"  {n}. {t}" for n, t in enumerate(plan["short_term_targets"], 1)]
    line("Success criteria", "success_criteria")
    line("Named lead", "named_lead")
    if plan.get("review_dates"):
        lines.append("• Reviews: " + ", ".join(uk_date(d) for d in plan["review_dates"]))
    return "\n".join(lines)
