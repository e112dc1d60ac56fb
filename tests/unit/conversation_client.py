"""A scripted client for the interview engine: it answers each question from a contract Case's
facts by the question's fact path, as the external acceptance client does, and an oracle for
which facts the rules could use for that case."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from conversations import ConversationState, Turn, respond, start_conversation
from rules import Case, evaluate, load_pack
from rules.calendar import year_group_for
from rules.models import CIRCUMSTANCES

# What a client says for a fact the case leaves out (absent means false / not done / none).
ABSENT_ANSWERS: dict[str, str] = {
    "circumstances": "no",
    "steps.parent_consent": "not_yet",
    "steps.risk_assessment": "not_done",
    "steps": "no",
    "consultations": "not_contacted",
    "pupil": "skip",
    "plan.end_date": "none",
    "plan": "skip",
    "calendar": "none",
}


def answer_for(case: dict[str, Any], fact: str) -> str:
    """The text a machine client sends for ``fact``: the case's value, or the absent answer."""
    group, _, name = fact.partition(".")
    if fact == "reasons":
        return ", ".join(case["reasons"])
    value = (case.get(group) or {}).get(name)
    if value is None or value == []:
        return ABSENT_ANSWERS.get(fact) or ABSENT_ANSWERS[group]
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def drive(case: dict[str, Any], today: date, *, limit: int = 80) -> tuple[Turn, list[str]]:
    """Answer questions from ``case`` until the check is finished; return the last turn and the
    facts asked, in order. Fails on any answer the engine refuses."""
    turn = start_conversation(case["policy"], today)
    asked: list[str] = []
    for _ in range(limit):
        if turn.finished:
            return turn, asked
        question = turn.replies[-1]
        assert question.fact is not None, f"the last reply is not a question: {question.text!r}"
        asked.append(question.fact)
        state = ConversationState.model_validate(turn.state.model_dump(mode="json"))
        turn = respond(state, answer_for(case, question.fact), today)
        assert not turn.replies[-1].error, turn.replies[-1].text
    raise AssertionError(f"not finished after {limit} answers; asked {asked}")


def usable_facts(case_data: dict[str, Any]) -> set[str]:
    """The facts the rules could use for this case: a question about anything else is wasted."""
    case = Case.model_validate(case_data)
    pack = load_pack(case.policy)
    decision = evaluate(case, pack)
    year_group = case.pupil.year_group
    if year_group is None and case.pupil.date_of_birth and case.plan.start_date:
        year_group = year_group_for(case.pupil.date_of_birth, case.plan.start_date)
    reasons = frozenset(case.reasons)
    usable = {"pupil.year_group", "reasons", "plan.start_date", "plan.end_date", "plan.hours_per_week",
              "steps.parent_consent", "steps.risk_assessment"}
    if case.pupil.year_group is None:
        usable.add("pupil.date_of_birth")
    if case.plan.start_date is not None:
        usable.add("calendar.closures")

    def could_hold_without_circumstances(when: Any) -> bool:
        if when.reasons_any and reasons.isdisjoint(when.reasons_any):
            return False
        return not (when.year_groups and year_group not in when.year_groups)

    whens = [rule.when for rule in (*pack.steps, *pack.consultees, *pack.stops, *pack.advice, *pack.next_steps)]
    whens += [s.when for s in pack.consent.substitutes]
    whens += [a.requires for a in pack.reasons.accepted if a.reason in reasons]
    for when in whens:
        if could_hold_without_circumstances(when):
            usable.update(f"circumstances.{c}" for c in when.circumstances_any)
    circumstances = frozenset(c for c in CIRCUMSTANCES if getattr(case.circumstances, c))
    for rule in pack.steps:
        if rule.when.holds(circumstances, reasons, year_group):
            usable.add(f"steps.{rule.step}")
    usable.update(f"consultations.{c.role}" for c in decision.consultees)
    for substitute in pack.consent.substitutes:
        if substitute.when.holds(circumstances, reasons, year_group):
            usable.add(f"consultations.{substitute.role}")
    return usable
