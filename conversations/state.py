"""What a conversation is (its state) and what one turn gives back (replies, the decision).

``ConversationState`` is plain JSON data: the web and Slack layers store
``state.model_dump(mode="json")`` and load it back with ``ConversationState.model_validate``.
Answers are kept by the contract's dotted fact path with JSON values (dates as ISO strings), so
that :meth:`ConversationState.to_case` gives the contract Case directly.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from rules.models import Case, Citation, Decision

Phase = Literal["checklist", "decided", "plan", "plan_done", "stopped"]
ReplyKind = Literal["yes_no", "date", "choice", "multi_choice", "number", "text"]


class IncompleteCase(ValueError):
    """The answers so far do not make a contract Case yet (no reason has been given)."""


class Choice(BaseModel):
    value: str
    label: str


class Progress(BaseModel):
    asked: int
    estimated_total: int
    label: str  # "question 5 of about 14"


class Reply(BaseModel):
    """One message to the user. A question carries its fact path, kind, choices and why."""

    text: str
    fact: str | None = None
    kind: ReplyKind | None = None
    choices: list[Choice] = Field(default_factory=list)
    why: Citation | None = None
    question_id: str | None = None
    progress: Progress | None = None
    error: bool = False
    #: A question as a form asks it, for clients that show progress and choices themselves: no
    #: "Question 3 of about 20", no listed choices, a typing hint only where the answer is typed;
    #: after a refused answer it begins with what was wrong.
    prompt: str | None = None
    #: The answer for "not known", "not decided yet" or "none" ("No end date set yet"), where no
    #: choice says so: a date picker or yes/no buttons cannot give it.
    skip: Choice | None = None


class AnswerRecord(BaseModel):
    """One message received, as it should be stored: what it answered and whether it was taken."""

    fact: str | None
    raw_text: str
    accepted: bool


class ConversationState(BaseModel):
    """Everything needed to carry on the conversation; JSON round-trips.

    ``phase``: ``checklist`` (asking the facts), ``decided`` (the check is done and the timetable
    may proceed or may once steps are done; the plan can be written), ``plan`` (writing the plan),
    ``plan_done``, ``stopped`` (the timetable must not proceed as proposed). ``paused`` is set by
    the ``stop`` command; any later message resumes with the pending question.
    """

    model_config = ConfigDict(extra="ignore")

    version: int = 1
    policy: str
    phase: Phase = "checklist"
    answers: dict[str, Any] = Field(default_factory=dict)
    history: list[str] = Field(default_factory=list)
    pending: str | None = None
    plan: dict[str, Any] = Field(default_factory=dict)
    closures: list[tuple[date, date]] = Field(default_factory=list)
    paused: bool = False
    started_on: date | None = None

    def to_case(self) -> Case:
        """The contract Case from the answers so far (facts not answered are left out)."""
        return Case.model_validate(case_data(self.policy, self.answers, self.closures))


def case_data(policy: str, answers: dict[str, Any], closures: list[tuple[date, date]]) -> dict[str, Any]:
    """The Case as JSON data: ``answers`` nested by fact path, skipped (None) facts left out, the
    school's configured closures first."""
    data: dict[str, Any] = {"policy": policy}
    for fact, value in answers.items():
        if value is None:
            continue
        group, _, name = fact.partition(".")
        if not name:
            data[group] = value
        else:
            data.setdefault(group, {})[name] = value
    if "reasons" not in data:
        raise IncompleteCase("no reason for the timetable has been given yet")
    configured = [{"from": first.isoformat(), "to": last.isoformat()} for first, last in closures]
    if configured:
        calendar = data.setdefault("calendar", {})
        calendar["closures"] = configured + list(calendar.get("closures", []))
    return data


def case_changes(policy: str, before: dict[str, Any], after: dict[str, Any],
                 closures: list[tuple[date, date]]) -> dict[str, Any]:
    """What answering again changed in the Case: dotted paths (``plan.end_date``,
    ``circumstances.looked_after``, ``reasons``) with their new values, None for a fact no longer
    given. Lists (reasons, closures) count as one value. Empty when nothing in the Case changed."""
    old, new = _flat(case_data(policy, before, closures)), _flat(case_data(policy, after, closures))
    return {path: new.get(path) for path in sorted(old.keys() | new.keys()) if old.get(path) != new.get(path)}


def _flat(data: dict[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for group, value in data.items():
        if isinstance(value, dict):
            flat.update({f"{group}.{name}": item for name, item in value.items()})
        else:
            flat[group] = value
    return flat


class Turn(BaseModel):
    """The outcome of one message: the new state and what to say.

    The last reply is the question now awaiting an answer (or the decision). ``decision`` is set,
    and ``finished`` is True, once the checklist has been decided.
    """

    state: ConversationState
    replies: list[Reply]
    finished: bool
    decision: Decision | None
    answer_log: list[AnswerRecord] = Field(default_factory=list)
