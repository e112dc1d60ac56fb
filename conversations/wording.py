"""How answers, decisions and citations read in the chat (plain text, channel independent)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from conversations.questions import CHECKLIST_QUESTIONS, Question
from rules.models import ROLE_LABELS, Citation, Decision, Reason
from rules.packs import Pack


def uk_date(value: date | str) -> str:
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return day.strftime("%d/%m/%Y")


def long_date(value: date | str) -> str:
    """A date as the plan page and the plan's history write it: "4 Dec 2026" (the chat keeps
    dd/mm/yyyy, the form its answers are typed in)."""
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return f"{day.day} {day:%b %Y}"


def capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def consultee_label(role: str) -> str:
    """A consultee role as a sentence or a table cell begins with it: "The Virtual School"."""
    return capitalised(ROLE_LABELS.get(role, role.replace("_", " ")))


def year_label(year_group: str) -> str:
    return "Reception" if year_group == "R" else f"Year {year_group.removeprefix('Y')}"


def hours(value: float) -> str:
    return f"{value:g} h"


def answer_text(question: Question, value: Any) -> str:
    """An answer as the user would read it back."""
    if value is None:
        if question.id == "plan.end_date":
            return "no end date"
        return "skipped"
    if question.kind == "yes_no":
        return "yes" if value else "no"
    if question.kind == "date":
        return uk_date(value)
    if question.kind == "number":
        return hours(value)
    if question.id == "calendar.closures":
        return closures_text(value) or "none"
    labels = {o.value: o.label for o in question.options}
    if isinstance(value, list):
        return "; ".join(labels.get(v, v) for v in value)
    return labels.get(value, str(value))


def closures_text(closures: list[Mapping[str, str]] | list[tuple[date, date]]) -> str:
    parts = []
    for closure in closures:
        first, last = (closure["from"], closure["to"]) if isinstance(closure, Mapping) else closure
        parts.append(uk_date(first) if first == last else f"{uk_date(first)}–{uk_date(last)}")
    return ", ".join(parts)


def citation_text(citation: Citation, pack: Pack) -> str:
    return f"{pack.title}, “{citation.section}”: “{citation.quote}”"


def _reason_line(reason: Reason) -> str:
    section = reason.citation.section if reason.citation else ""
    return f"• {reason.message}" + (f" ({section})" if section else "")


HEADLINES = {
    "may_proceed": "the part-time timetable may go ahead.",
    "not_yet": "not yet. It may go ahead once these are done:",
    "must_not_proceed": "this part-time timetable must not go ahead as proposed.",
}


#: What to do about a stop that is a step not taken yet rather than a bar: the check is made
#: again when the answer changes.
REMEDIES = {
    "end_date_missing": "This can change: once an end date is agreed, reply 'change end date' to give it.",
    "plan_too_long": "An earlier end date, within the policy's limit, would change this: reply 'change end date'.",
}


def decision_text(decision: Decision, pack: Pack, *, early: bool = False) -> str:
    """The decision in a few lines: the outcome, why (with the clause), who must be involved,
    full time, the latest end date and the review dates."""
    lines = [f"Decision under the {pack.title}: {HEADLINES[decision.outcome]}"]
    if decision.outcome == "must_not_proceed":
        if early:
            lines[0] += " I can stop here: your answers already settle this."
        lines += [_reason_line(r) for r in decision.stops()]
        lines += [REMEDIES[code] for code in dict.fromkeys(r.code for r in decision.stops()) if code in REMEDIES]
        lines.append("If an answer was wrong, reply 'back' or 'change <question>'.")
        return "\n".join(lines)
    lines += [_reason_line(r) for r in decision.outstanding()]
    if decision.consultees:
        lines.append("Who must be involved:")
        for consultee in decision.consultees:
            label = consultee.label or capitalised(ROLE_LABELS[consultee.role])
            requirement = {"agree": "must agree", "consult": "must be consulted", "inform": "must be told"}[
                consultee.requirement
            ]
            status = consultee.status.replace("_", " ")
            tick = "done" if consultee.satisfied else "to do"
            lines.append(f"• {label} {requirement} ({status}: {tick})")
    facts = []
    if decision.full_time_hours is not None:
        group = f" in {year_label(decision.pupil_year_group)}" if decision.pupil_year_group else ""
        facts.append(f"Full time{group} is {hours(decision.full_time_hours)} a week.")
    if decision.latest_end_date is not None:
        facts.append(f"Latest end date: {uk_date(decision.latest_end_date)}.")
    if decision.review_dates:
        facts.append("Reviews: " + ", ".join(uk_date(d) for d in decision.review_dates) + ".")
    if facts:
        lines.append(" ".join(facts))
    notes = [r for r in decision.reasons if r.severity == "info"]
    if notes:
        lines.append("Also note:")
        lines += [_reason_line(r) for r in notes]
    return "\n".join(lines)


def decision_citation(decision: Decision, pack: Pack) -> Citation | None:
    for severity in ("stop", "outstanding", "info"):
        for reason in decision.reasons:
            if reason.severity == severity and reason.citation is not None:
                return reason.citation
    return pack.maximum.citation if pack.maximum else pack.reviews.citation


def answers_summary(answers: Mapping[str, Any], history: list[str], closures: list[tuple[date, date]]) -> str:
    lines = []
    if closures:
        lines.append(f"• School closures already configured: {closures_text(closures)}")
    number = 0
    for question_id in history:
        question = CHECKLIST_QUESTIONS.get(question_id)
        if question is None or question_id not in answers:
            continue
        number += 1
        lines.append(f"{number}. {capitalised(question.title)}: {answer_text(question, answers[question_id])}")
    return "\n".join(lines) if lines else "No answers yet."
