"""The interview engine: from the answers so far, the next question or the decision.

Pure and channel independent: no clock (``today`` is passed in), no I/O. Each call takes a
:class:`ConversationState` and returns a :class:`Turn` with a new state; the state passed in is
never changed.

The flow: year group (or date of birth), reasons, the circumstances this pack's rules mention,
plan dates and hours, school closures, the steps, then the people the policy says must agree,
be consulted or be told. As soon as a reason to stop is certain from the facts already given,
the engine stops and gives the decision (must not proceed) with the policy's clause and what can
be done instead. Once decided (may proceed, or not yet), the user may go on to write the plan.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date
from typing import Any

from conversations import plan_writing
from conversations.answers import (
    AnswerError,
    is_none,
    is_skip,
    json_literal,
    normalise,
    parse_choice,
    parse_closures,
    parse_date,
    parse_hours,
    parse_multi_choice,
    parse_optional_date,
    parse_year_group,
    parse_yes_no,
    words,
)
from conversations.questions import (
    CHECKLIST_QUESTIONS,
    Facts,
    Question,
    QuestionPlan,
    question_plan,
    requirement_phrase,
)
from conversations.state import (
    AnswerRecord,
    Choice,
    ConversationState,
    Progress,
    Reply,
    Turn,
    case_data,
)
from conversations.wording import (
    answer_text,
    answers_summary,
    capitalised,
    citation_text,
    closures_text,
    decision_citation,
    decision_text,
    uk_date,
    year_label,
)
from rules.calendar import year_group_for
from rules.evaluator import evaluate
from rules.models import ROLE_LABELS, Case, Decision, Reason

OFFER_PLAN = "offer_plan"
_FINISHED_PHASES = frozenset({"decided", "plan", "plan_done", "stopped"})
_ALL_QUESTIONS: dict[str, Question] = {**CHECKLIST_QUESTIONS, **plan_writing.PLAN_QUESTIONS}

HELP_TEXT = (
    "Answer the question in your own words: yes/no, a date (12/01/2026, 12 Jan, next Monday), a choice by "
    "its name or number, hours like 12.5 or 12h30. You can also type:\n"
    "• back: undo your last answer\n"
    "• change <question>: e.g. 'change end date', 'change consent' or 'change 3'\n"
    "• summary: your answers so far\n"
    "• why: the policy clause behind the question\n"
    "• skip: where a question can be skipped\n"
    "• stop: pause (your answers are kept); restart: begin again"
)

_COMMANDS = {
    "back": "back", "undo": "back", "go back": "back", "previous": "back",
    "summary": "summary", "summarise": "summary", "summarize": "summary", "show answers": "summary",
    "my answers": "summary", "answers": "summary",
    "why": "why", "why?": "why", "why do you ask": "why", "why is this needed": "why",
    "help": "help", "?": "help", "commands": "help",
    "restart": "restart", "start again": "restart", "start over": "restart", "reset": "restart",
    "stop": "stop", "pause": "stop",
}
_CHANGE = re.compile(r"^(?:change|edit|correct|fix|go back to|redo|amend)\b\s*(.*)$")
_PLAN_WORDS = frozenset({"plan", "yes", "y", "write", "write the plan", "write plan", "start", "ok", "okay", "go",
                         "yes please", "start the plan", "continue", "carry on"})


# =========================================================================== public API
def start_conversation(policy_id: str, today: date, closures: Sequence[tuple[date, date]] = ()) -> Turn:
    """Begin a check under ``policy_id``; ``closures`` are the school's configured term holidays
    and INSET days (inclusive ranges), added to any the user gives."""
    work = _Work(
        ConversationState(policy=policy_id, closures=[(first, last) for first, last in closures], started_on=today),
        today,
    )
    pack = work.pack
    work.say(
        f"Let's check a part-time timetable against the {pack.title} ({pack.publisher}). I'll ask only what "
        "matters for this pupil under this policy. Type 'help' at any time."
    )
    work.settle()
    return work.turn()


def respond(state: ConversationState, text: str, today: date) -> Turn:
    """Take one message: an answer to the pending question, or a command."""
    work = _Work(state, today)
    work.handle(str(text if text is not None else ""))
    return work.turn()


def shown_decision(state: ConversationState) -> Decision | None:
    """The decision that a turn ending in ``state`` gave (its :attr:`Turn.decision`): set once
    the checklist is decided, None before. It follows from the answers alone, so a stored
    conversation need not keep it."""
    work = _Work(state, state.started_on or date.min)  # no part of the decision depends on today
    return work.shown_decision if work.phase in _FINISHED_PHASES else None


def apply_fact(state: ConversationState, fact: str, value: Any, today: date) -> Turn:
    """Record a checklist fact given later ("the Virtual School agreed today") and re-evaluate.

    ``value`` is the contract value (``"agreed"``, ``True``, ``"2026-01-12"``, a list of reasons)
    or text as a person would type it. Raises ``ValueError`` for an unknown fact or a value that
    is not valid for it. A fact that does not apply to this pupil under this policy is not stored;
    the reply says so.
    """
    question = CHECKLIST_QUESTIONS.get(fact)
    if question is None:
        raise ValueError(f"unknown fact {fact!r}")
    if isinstance(value, str):
        text = value
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = json.dumps(value, default=str)
    work = _Work(state, today)
    parsed = work.parse(question, text)
    work.log(fact, text, True)
    if not work.qplan.applies(fact, work.facts):
        work.say(f"{capitalised(question.title)} does not apply to this pupil under this policy, so it was not "
                 "recorded.", error=True)
        work.reask_or_conclude()
        return work.turn()
    work.record(question, parsed)
    work.say(f"Recorded: {question.title}: {answer_text(question, parsed)}.")
    work.settle(announce=True)
    return work.turn()


# =========================================================================== the work of one turn
class _Work:
    """A mutable working copy of the state for one turn, with the replies being built."""

    def __init__(self, state: ConversationState, today: date) -> None:
        self.policy = state.policy
        self.qplan: QuestionPlan = question_plan(state.policy)
        self.pack = self.qplan.pack
        self.today = today
        self.phase = state.phase
        self.answers: dict[str, Any] = dict(state.answers)
        self.history: list[str] = list(state.history)
        self.pending = state.pending
        self.plan: dict[str, Any] = dict(state.plan)
        self.closures = list(state.closures)
        self.paused = state.paused
        self.started_on = state.started_on
        self.version = state.version
        self.replies: list[Reply] = []
        self.records: list[AnswerRecord] = []
        self._facts: Facts | None = None
        self._case: Case | None = None
        self._case_built = False
        self._decision: Decision | None = None

    # ----------------------------------------------------------------------- derived, cached
    def changed(self) -> None:
        self._facts = None
        self._case = None
        self._case_built = False
        self._decision = None

    @property
    def facts(self) -> Facts:
        if self._facts is None:
            self._facts = Facts.of(self.answers)
        return self._facts

    @property
    def case(self) -> Case | None:
        """The Case from the answers so far (validated once per change), None before any reason."""
        if not self._case_built:
            self._case_built = True
            self._case = None
            if self.answers.get("reasons"):
                self._case = Case.model_validate(case_data(self.policy, self.answers, self.closures))
        return self._case

    @property
    def decision(self) -> Decision | None:
        if self._decision is None and self.case is not None:
            self._decision = evaluate(self.case, self.pack)
        return self._decision

    @property
    def shown_decision(self) -> Decision | None:
        """The decision as given to the user. After an early stop only the reasons that are
        certain are kept (with the notes): what the unasked questions would show is unknown."""
        decision = self.decision
        if decision is None or self.phase != "stopped" or self.next_checklist_question() is None:
            return decision
        reasons = [
            r for r in decision.reasons
            if r.severity == "info" or (r.severity == "stop" and self.stop_is_certain(r))
        ]
        return decision.model_copy(update={"reasons": reasons})

    # ----------------------------------------------------------------------- output
    def say(self, text: str, *, error: bool = False, **fields: Any) -> None:
        self.replies.append(Reply(text=text, error=error, **fields))

    def log(self, fact: str | None, raw: str, accepted: bool) -> None:
        self.records.append(AnswerRecord(fact=fact, raw_text=raw, accepted=accepted))

    def state(self) -> ConversationState:
        return ConversationState.model_construct(
            version=self.version, policy=self.policy, phase=self.phase, answers=self.answers, history=self.history,
            pending=self.pending, plan=self.plan, closures=self.closures, paused=self.paused,
            started_on=self.started_on,
        )

    def turn(self) -> Turn:
        finished = self.phase in _FINISHED_PHASES
        return Turn.model_construct(
            state=self.state(), replies=self.replies, finished=finished,
            decision=self.shown_decision if finished else None, answer_log=self.records,
        )

    # ----------------------------------------------------------------------- asking
    def ask(self, question_id: str, *, error: str | None = None) -> None:
        self.pending = question_id
        if question_id == OFFER_PLAN:
            self.offer_plan(error=error)
            return
        question = _ALL_QUESTIONS[question_id]
        if question.phase == "plan":
            decision = self.decision
            assert decision is not None
            text = plan_writing.question_text(question_id, self.plan, self.answers, decision)
            prompt = text
            why = plan_writing.why(question_id, self.pack, self.qplan.written_plan_citation)
            done = sum(1 for h in self.history if h.startswith("write."))
            asked = done + 1
            total = max(asked, done + plan_writing.remaining(self.plan, self.answers, decision))
            label = f"plan question {asked} of about {total}"
        else:
            text, prompt, why = self.checklist_text(question)
            answered = [q for q in self.qplan.order(self.answers) if q in self.answers]
            asked = answered.index(question_id) + 1 if question_id in answered else len(answered) + 1
            total = max(asked, len(answered) + self.qplan.estimate_remaining(self.facts))
            label = f"question {asked} of about {total}"
        body = f"{capitalised(label)}: {text}"
        if error:
            body, prompt = f"{error}\n{body}", f"{error} {prompt}"
        self.say(
            body, error=bool(error), fact=question.fact, kind=question.kind,
            choices=[Choice(value=o.value, label=o.label) for o in question.options], why=why,
            question_id=question_id, progress=Progress(asked=asked, estimated_total=total, label=label),
            prompt=prompt, skip=Choice(value=question.skip.value, label=question.skip.label) if question.skip else None,
        )

    def checklist_text(self, question: Question) -> tuple[str, str, Any]:
        """The question as said in a message, the question as a form asks it (see
        ``Reply.prompt``), and the clause it comes from."""
        why = self.qplan.why(question.id, self.facts)
        text = question.text
        if question.id.startswith("consultations."):
            role = question.id.partition(".")[2]
            label = ROLE_LABELS[role]
            rule = self.qplan.consultee_rules(self.facts).get(role)
            if rule is not None:
                lead = f"Under this policy {label} {requirement_phrase(rule.requirement)}."
            else:
                lead = f"Under this policy, agreement from {label} can stand in for the parent's consent."
            text = f"{capitalised(lead)} " + text.format(label=label)
        elif question.id == "calendar.closures" and self.closures:
            text = (f"The school's calendar already has these closures: {closures_text(self.closures)}. "
                    "Are there any other weekdays the school is closed during the plan (INSET days, extra "
                    "holidays)?")
        elif question.id == "plan.end_date" and self.pack.maximum is not None:
            unit = "school weeks" if self.pack.maximum.counted_in == "school_weeks" else "weeks"
            text += f" This policy allows at most {self.pack.maximum.weeks:g} {unit}."
        prompt = text
        if question.kind == "multi_choice":
            text += "\n" + "\n".join(f"{n}. {o.label}" for n, o in enumerate(question.options, 1))
        elif question.kind == "choice" and question.id != "pupil.year_group":
            text += " (" + " / ".join(o.label for o in question.options) + ")"
        if question.hint:
            text += f" ({question.hint})"
            if question.kind in ("number", "text"):  # how to type it; pickers and buttons need no hint
                prompt += f" ({question.hint})"
        if question.id in self.answers:
            earlier = f" Your answer was: {answer_text(question, self.answers[question.id])}."
            text, prompt = text + earlier, prompt + earlier
        return text, prompt, why

    def complain(self, message: str) -> None:
        """Say what is wrong; the question still awaiting an answer is asked again with it."""
        if self.pending is not None:
            self.ask(self.pending, error=message)
        else:
            self.say(message, error=True)

    def reask_or_conclude(self) -> None:
        """Ask the pending question again, or say where things stand."""
        if self.pending is not None:
            self.ask(self.pending)
        elif self.phase == "stopped":
            decision = self.shown_decision
            self.say(decision_text(decision, self.pack), why=decision_citation(decision, self.pack))
        elif self.phase == "plan_done":
            self.say(plan_writing.plan_summary(self.plan) + "\n\nThe plan is written. Reply 'change <question>' "
                     "to edit it, or 'summary'.")
        else:
            self.settle()

    # ----------------------------------------------------------------------- the checklist
    def parse(self, question: Question, text: str) -> Any:
        """The answer as the fact's contract value (JSON ready); None for a skipped fact."""
        fact = question.id
        if question.skip is not None and words(text) in question.skip.keys:  # its button's label, typed
            text = question.skip.value
        literal = json_literal(text)
        skipped = is_skip(text) or is_none(text) or literal is None
        if skipped and not question.skippable:
            raise AnswerError("This one is needed to check the timetable; it can't be skipped.")
        if fact == "pupil.year_group":
            return None if skipped else parse_year_group(text)
        if skipped and fact not in ("calendar.closures",):
            return None
        if fact == "pupil.date_of_birth":
            born = parse_date(text, self.today)
            if born >= self.today:
                raise AnswerError("A date of birth must be in the past.")
            if not 2 <= (self.today - born).days / 365.25 <= 21:
                raise AnswerError(f"{uk_date(born)} would make the pupil {int((self.today - born).days / 365.25)}; "
                                  "please check the date of birth.")
            return born.isoformat()
        if fact == "reasons":
            return parse_multi_choice(text, question.options)
        if fact in ("plan.start_date", "plan.end_date"):
            day = parse_optional_date(text, self.today, prefer_future=True)
            if day is None:
                return None
            start = self.answers.get("plan.start_date")
            if fact == "plan.end_date" and start and day < date.fromisoformat(start):
                raise AnswerError(f"The end date {uk_date(day)} is before the start date {uk_date(start)}.")
            return day.isoformat()
        if fact == "plan.hours_per_week":
            return parse_hours(text)
        if fact == "calendar.closures":
            return parse_closures(text, self.today)
        if question.kind == "yes_no":
            return parse_yes_no(text)
        if fact == "steps.parent_consent" and normalise(text) in {"no", "n", "nope"}:
            raise AnswerError("Do you mean the parent or carer refused, or that consent is not given yet? "
                              "Reply 'refused' or 'not yet'.")
        return parse_choice(text, question.options)

    def record(self, question: Question, value: Any) -> None:
        self.answers[question.id] = value
        if question.id in self.history:
            self.history.remove(question.id)
        self.history.append(question.id)
        self.changed()

    def forget(self, question_id: str) -> None:
        self.answers.pop(question_id, None)
        if question_id in self.history:
            self.history.remove(question_id)
        self.changed()

    def prune(self) -> list[str]:
        """Drop answers that no longer apply (after a change); return what was dropped."""
        dropped: list[str] = []
        start, end = self.answers.get("plan.start_date"), self.answers.get("plan.end_date")
        if start and end and end < start:
            self.forget("plan.end_date")
            dropped.append("plan.end_date")
        for question_id in self.qplan.order(self.answers):
            if question_id in self.answers and not self.qplan.applies(question_id, self.facts):
                self.forget(question_id)
                dropped.append(question_id)
        for question_id in list(self.answers):
            if not self.qplan.knows(question_id):
                self.forget(question_id)
        return dropped

    def next_checklist_question(self) -> str | None:
        facts = self.facts
        for question_id in self.qplan.order(self.answers):
            if question_id not in self.answers and self.qplan.applies(question_id, facts):
                return question_id
        return None

    def certain_stop(self) -> Reason | None:
        """A reason to stop that no answer still to come can undo."""
        decision = self.decision
        if decision is None or decision.outcome != "must_not_proceed":
            return None
        for reason in decision.stops():
            if self.stop_is_certain(reason):
                return reason
        return None

    def stop_is_certain(self, reason: Reason) -> bool:
        code = reason.code
        if code in self.qplan.stop_codes or code in (
            "reason_ruled_out", "parent_consent_refused", "risk_unmitigated", "consultee_agreement_declined",
        ):
            return True
        if code == "end_date_missing":
            return "plan.end_date" in self.answers
        if code == "plan_too_long":
            maximum = self.pack.maximum
            return "plan.end_date" in self.answers and (
                (maximum is not None and maximum.counted_in == "weeks") or "calendar.closures" in self.answers
            )
        if code == "reason_not_exceptional":
            return self.no_reason_can_be_accepted()
        return self.next_checklist_question() is None

    def no_reason_can_be_accepted(self) -> bool:
        """Whether every reason given is beyond acceptance, whatever circumstances are still to come."""
        facts = self.facts
        reasons = facts.reasons or frozenset()
        ruled_out = {r.reason for r in self.pack.reasons.ruled_out}
        for accepted in self.pack.reasons.accepted:
            if accepted.reason not in reasons or accepted.reason in ruled_out:
                continue
            when = accepted.requires
            if when.reasons_any and reasons.isdisjoint(when.reasons_any):
                continue
            if when.year_groups and facts.year_group_resolved and facts.year_group not in when.year_groups:
                continue
            if when.year_groups and not facts.year_group_resolved:
                return False
            if when.circumstances_any and all(
                f"circumstances.{c}" in self.answers and self.answers[f"circumstances.{c}"] is not True
                for c in when.circumstances_any
            ):
                continue
            return False
        return True

    def settle(self, *, announce: bool = False) -> None:
        """After a checklist fact changed: the next question, or the decision."""
        dropped = self.prune()
        if dropped:
            names = "; ".join(_ALL_QUESTIONS[q].title for q in dropped)
            self.say(f"With that answer these no longer apply, so I've set them aside: {names}.")
        if self.certain_stop() is not None:
            self.decide(early=True)
            return
        next_id = self.next_checklist_question()
        if next_id is not None:
            if self.phase != "checklist" and announce:
                self.say("That brings up another question.")
            self.phase = "checklist"
            self.ask(next_id)
            return
        decision = self.decision
        if self.phase in ("plan", "plan_done") and decision is not None and decision.outcome != "must_not_proceed":
            if announce:
                self.say(decision_text(decision, self.pack), why=decision_citation(decision, self.pack))
            self.reask_or_conclude()
            return
        self.decide()

    def decide(self, *, early: bool = False) -> None:
        decision = self.decision
        assert decision is not None
        if decision.outcome == "must_not_proceed":
            self.phase = "stopped"
            self.pending = None
            decision = self.shown_decision
            self.say(decision_text(decision, self.pack, early=early), why=decision_citation(decision, self.pack))
            return
        text = decision_text(decision, self.pack, early=early)
        why = decision_citation(decision, self.pack)
        self.phase = "decided"
        self.say(text, why=why)
        self.ask(OFFER_PLAN)

    def offer_plan(self, *, error: str | None = None) -> None:
        started = any(key in self.plan for key in ("first_name", "starting_hours"))
        text = ("Shall we carry on writing the plan? Reply 'plan' to continue, or 'summary'." if started
                else "Shall we write the plan now? Reply 'plan' to start, or 'summary'.")
        if error:
            text = f"{error}\n{text}"
        self.say(text, error=bool(error), kind="choice", question_id=OFFER_PLAN,
                 choices=[Choice(value="plan", label="Write the plan"), Choice(value="summary", label="Summary")])

    # ----------------------------------------------------------------------- plan writing
    def start_plan(self) -> None:
        case = self.case
        if case is None or case.plan.start_date is None:
            self.say("The timetable needs a start date before the plan can be written.")
            self.phase = "checklist"
            self.ask("plan.start_date")
            return
        self.phase = "plan"
        self.continue_plan()

    def continue_plan(self) -> None:
        decision = self.decision
        assert decision is not None
        next_id = plan_writing.next_question(self.plan, self.answers, decision)
        if next_id is not None:
            self.ask(next_id)
            return
        self.finish_plan()

    def finish_plan(self) -> None:
        decision, case = self.decision, self.case
        assert decision is not None and case is not None
        self.plan["review_dates"] = self.plan.get("review_dates") or [
            d.isoformat() for d in plan_writing.proposed_review_dates(self.answers, decision)]
        try:
            timetable = plan_writing.build(self.plan, case, decision)
        except ValueError as error:
            self.say(f"The timetable could not be built: {error}.", error=True)
            self.plan.pop("starting_hours", None)
            self.ask("write.starting_hours")
            return
        self.plan["full_time_hours"] = plan_writing.full_time_hours(self.plan, decision)
        self.plan["timetable"] = timetable.model_dump(mode="json")
        self.plan["weeks"] = plan_writing.weekly_summary(timetable)
        self.phase = "plan_done"
        self.pending = None
        self.say(plan_writing.plan_summary(self.plan) + "\n\nThe plan is written. Reply 'change <question>' to edit "
                 "any part, or 'summary' to see everything.")

    def answer_plan_question(self, text: str) -> None:
        question_id = self.pending
        assert question_id is not None
        decision, case = self.decision, self.case
        assert decision is not None and case is not None
        plan = dict(self.plan)
        try:
            notes = plan_writing.record(question_id, text, plan, self.answers, decision, case, self.today)
        except AnswerError as error:
            self.log(None, text, False)
            self.ask(question_id, error=str(error))
            return
        self.log(None, text, True)
        self.plan = plan
        self.history.append(question_id)
        for note in notes:
            self.say(note)
        self.continue_plan()

    # ----------------------------------------------------------------------- one message
    def handle(self, text: str) -> None:
        if self.paused:
            self.paused = False
            if self.command(text) is None:
                self.log(None, text, True)
                self.say("Welcome back. Carrying on where we left off.")
                self.reask_or_conclude()
                return
        command = self.command(text)
        if command is not None:
            self.log(None, text, True)
            self.run(*command)
            return
        if self.phase == "checklist":
            self.answer_checklist_question(text)
        elif self.phase == "decided":
            self.answer_offer(text)
        elif self.phase == "plan":
            self.answer_plan_question(text)
        elif self.phase == "stopped":
            self.log(None, text, False)
            self.say("This timetable can't go ahead as proposed, so there is no plan to write. You can 'change' "
                     "an answer, see the 'summary' or 'restart'.")
        else:
            self.log(None, text, False)
            self.say("The plan is written. Reply 'summary' to see it, 'change <question>' to edit it, or 'restart' "
                     "for a new check.")

    def answer_checklist_question(self, text: str) -> None:
        question_id = self.pending
        if question_id not in CHECKLIST_QUESTIONS or not self.qplan.applies(question_id, self.facts):
            question_id = self.next_checklist_question()  # a state saved under an older pack
        if question_id is None:
            self.settle()
            return
        question = CHECKLIST_QUESTIONS[question_id]
        try:
            value = self.parse(question, text)
        except AnswerError as error:
            self.log(question.fact, text, False)
            self.ask(question_id, error=str(error))
            return
        self.log(question.fact, text, True)
        self.record(question, value)
        self.pending = None
        if question_id == "plan.start_date" and value and self.answers.get("pupil.year_group", "") is None:
            born = self.answers.get("pupil.date_of_birth")
            if born:
                group = year_group_for(date.fromisoformat(born), date.fromisoformat(value))
                self.say(f"On {uk_date(value)} the pupil will be in {year_label(group)}." if group else
                         f"On {uk_date(value)} the pupil is outside Reception to Year 11.")
        self.settle()

    def answer_offer(self, text: str) -> None:
        cleaned = normalise(text)
        if cleaned in _PLAN_WORDS:
            self.log(None, text, True)
            self.start_plan()
        elif cleaned in {"no", "n", "not now", "later", "no thanks"}:
            self.log(None, text, True)
            self.say("That's fine: the check is kept. Reply 'plan' whenever you want to write the plan.")
            self.pending = OFFER_PLAN
        else:
            self.log(None, text, False)
            self.ask(OFFER_PLAN, error="I didn't follow that.")

    # ----------------------------------------------------------------------- commands
    def command(self, text: str) -> tuple[str, str] | None:
        cleaned = normalise(text)
        if cleaned in _COMMANDS:
            return _COMMANDS[cleaned], ""
        match = _CHANGE.match(cleaned)
        if match:
            target = match.group(1).strip()
            if self.resolve(target) is None and self.phase == "plan" and self.pending in _ALL_QUESTIONS \
                    and _ALL_QUESTIONS[self.pending].kind == "text":
                return None  # free text that happens to start with "change"
            return "change", target
        return None

    def run(self, name: str, argument: str) -> None:
        if name == "back":
            self.back()
        elif name == "summary":
            self.summary()
        elif name == "why":
            self.why()
        elif name == "help":
            self.say(HELP_TEXT)
            self.reask_or_conclude()
        elif name == "restart":
            fresh = start_conversation(self.policy, self.today, self.closures)
            records = self.records
            self.__init__(fresh.state, self.today)  # type: ignore[misc]
            self.records = records
            self.say("Starting again.")
            self.replies.extend(fresh.replies)
        elif name == "stop":
            self.paused = True
            self.say("Paused. Your answers are kept; send any message to carry on.")
        elif name == "change":
            self.change(argument)

    def back(self) -> None:
        if self.phase in ("plan", "plan_done"):
            plan_ids = [h for h in self.history if h.startswith("write.")]
            if not plan_ids:
                self.phase = "decided"
                self.say("Back to the decision.")
                self.ask(OFFER_PLAN)
                return
            question_id = plan_ids[-1]
            index = len(self.history) - 1 - self.history[::-1].index(question_id)
            del self.history[index]
            plan = dict(self.plan)
            plan_writing.forget(question_id, plan)
            plan.pop("timetable", None)
            plan.pop("weeks", None)
            self.plan = plan
            self.phase = "plan"
            self.ask(question_id)
            return
        checklist_ids = [h for h in self.history if h in CHECKLIST_QUESTIONS]
        if not checklist_ids:
            self.say("There's nothing to go back to yet.")
            self.reask_or_conclude()
            return
        question_id = checklist_ids[-1]
        self.forget(question_id)
        self.phase = "checklist"
        self.ask(question_id)

    def resolve(self, target: str) -> str | list[str] | None:
        """The question ``target`` names: a fact path, a question number, or words of the question."""
        cleaned = target.strip().strip("'\"").lower()
        if not cleaned:
            return None
        if cleaned in _ALL_QUESTIONS:
            return cleaned
        if f"write.{cleaned}" in _ALL_QUESTIONS:
            return f"write.{cleaned}"
        number = re.fullmatch(r"(?:question\s*|number\s*)?#?(\d{1,3})", cleaned)
        if number:
            index = int(number.group(1))
            answered = self.numbered()
            return answered[index - 1] if 1 <= index <= len(answered) else None
        candidates = self.change_candidates()
        found = self._match(cleaned, candidates)
        if found is None:
            others = [q for q in _ALL_QUESTIONS.values() if q not in candidates]
            found = self._match(cleaned, others)
        return found

    @staticmethod
    def _match(cleaned: str, candidates: list[Question]) -> str | list[str] | None:
        key = words(cleaned).replace(" ", "_")
        exact = [q for q in candidates if q.id.rpartition(".")[2] == key or words(q.title) == words(cleaned)]
        if len(exact) == 1:
            return exact[0].id
        wanted = set(words(cleaned).split()) - {"the", "a", "my", "answer", "to", "about", "of", "date"} or set(
            words(cleaned).split())
        scored: list[tuple[int, str]] = []
        for question in candidates:
            haystack = set(words(question.title).split()) | set(question.keywords) | set(
                words(question.id.rpartition(".")[2]).split())
            text_words = set(words(question.text).split())
            score = 2 * len(wanted & haystack) + len(wanted & text_words)
            if wanted <= haystack | text_words and score:
                scored.append((score, question.id))
        if not scored:
            return None
        best = max(s for s, _ in scored)
        top = [q for s, q in scored if s == best]
        return top[0] if len(top) == 1 else top

    def numbered(self) -> list[str]:
        """Answered questions numbered as the summary shows them: in the order of the interview."""
        order = [q for q in self.qplan.order(self.answers) if q in self.answers]
        order += [q for q in plan_writing.PLAN_ORDER if q in self.history]
        return order

    def change_candidates(self) -> list[Question]:
        """Questions that could be changed now: answered ones first, then others that apply."""
        seen: list[Question] = []
        for question_id in dict.fromkeys(self.history):
            if question_id in _ALL_QUESTIONS:
                seen.append(_ALL_QUESTIONS[question_id])
        for question_id in self.qplan.order(self.answers):
            question = CHECKLIST_QUESTIONS[question_id]
            if question not in seen and self.qplan.applies(question_id, self.facts):
                seen.append(question)
        return seen

    def change(self, target: str) -> None:
        found = self.resolve(target)
        if found is None or isinstance(found, list):
            if isinstance(found, list):
                options = ", ".join(f"'{_ALL_QUESTIONS[q].title}'" for q in found[:6])
                message = f"Which one? {options}. Reply e.g. 'change {_ALL_QUESTIONS[found[0]].title}'."
            elif target:
                message = f"I couldn't find a question matching {target!r}."
            else:
                message = "Which answer? Reply e.g. 'change end date' or 'change 3'."
            listing = answers_summary(self.answers, self.numbered(), [])
            self.say(listing)
            self.complain(message)
            return
        question = _ALL_QUESTIONS[found]
        if question.phase == "plan":
            decision = self.decision
            if self.phase not in ("decided", "plan", "plan_done") or decision is None:
                self.complain("That is part of writing the plan, which comes after the check.")
                return
            if not plan_writing.applies(found, self.plan, self.answers, decision):
                self.complain(f"{capitalised(question.title)} is not needed for this plan.")
                return
            plan = dict(self.plan)
            if plan_writing.plan_key(found) == "short_term_targets":
                plan.pop("short_term_targets", None)
                self.history = [h for h in self.history if h != found]
            else:
                plan_writing.forget(found, plan)
                if found in self.history:
                    self.history.remove(found)
            plan.pop("timetable", None)
            plan.pop("weeks", None)
            self.plan = plan
            self.phase = "plan"
            self.ask(found)
            return
        if not self.qplan.applies(found, self.facts):
            self.complain(f"{capitalised(question.title)} does not apply to this pupil under this policy.")
            return
        self.phase = "checklist"
        self.ask(found)

    def summary(self) -> None:
        parts = [f"Your answers ({self.pack.title}):", answers_summary(self.answers, self.numbered(), self.closures)]
        if self.phase in _FINISHED_PHASES and self.shown_decision is not None:
            parts.append(decision_text(self.shown_decision, self.pack))
        if self.plan:
            parts.append(plan_writing.plan_summary(self.plan))
        self.say("\n\n".join(parts))
        if self.pending is not None:
            self.ask(self.pending)

    def why(self) -> None:
        if self.pending is not None and self.pending != OFFER_PLAN:
            question = _ALL_QUESTIONS[self.pending]
            if question.phase == "plan":
                citation = plan_writing.why(self.pending, self.pack, self.qplan.written_plan_citation)
            else:
                citation = self.qplan.why(self.pending, self.facts)
            if citation is not None:
                self.say(f"I ask because of the {citation_text(citation, self.pack)}", why=citation)
            else:
                self.say("This question helps complete the check.")
            self.ask(self.pending)
            return
        decision = self.shown_decision
        if decision is None:
            self.say("Nothing to explain yet.")
            self.reask_or_conclude()
            return
        lines = []
        severities = ("stop",) if decision.outcome == "must_not_proceed" else ("outstanding",)
        for reason in decision.reasons:
            if reason.severity in severities and reason.citation is not None:
                lines.append(f"• {reason.message}\n  {citation_text(reason.citation, self.pack)}")
        self.say("The decision rests on:\n" + "\n".join(lines) if lines else "Every requirement of the policy is met.",
                 why=decision_citation(decision, self.pack))
        if self.pending is not None:
            self.ask(self.pending)
