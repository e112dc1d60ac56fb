"""The checklist questions, and which of them matter for this pupil under this policy.

The pack and the contract's fact vocabulary drive the interview: a circumstance is asked only
when some rule of the pack mentions it (in a ``when`` of its steps, consultees, stops, advice,
next steps, consent substitutes or reason conditions) and could still change which rules apply;
a step only when one of the pack's rules for it applies to the answers so far; a consultation
only for a role the policy names for this pupil. Each question's ``why`` is the citation of the
clause that makes it necessary.

The per-pack part (:class:`QuestionPlan`) is worked out once per pack and cached.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any, Literal

from conversations.answers import Option
from rules.calendar import year_group_for
from rules.models import (
    BOOLEAN_STEPS,
    CIRCUMSTANCES,
    REASONS_FOR_TIMETABLE,
    ROLE_LABELS,
    ROLES,
    YEAR_GROUPS,
    Citation,
)
from rules.packs import Pack, When, load_pack

Kind = Literal["yes_no", "date", "choice", "multi_choice", "number", "text"]
Phase = Literal["checklist", "plan"]


@dataclass(frozen=True)
class Question:
    """One question: the fact it fills (None for plan writing), how it is answered, its wording."""

    id: str
    fact: str | None
    kind: Kind
    text: str
    options: tuple[Option, ...] = ()
    skippable: bool = False
    hint: str = ""
    phase: Phase = "checklist"
    keywords: tuple[str, ...] = ()
    short: str = ""
    #: The answer for "not known", "not decided yet" or "none" on a skippable question, for clients
    #: that offer it as a button (a date picker or yes/no buttons cannot give it); None where one of
    #: the options says so. Its value is one the parsers read as a skip or as none.
    skip: Option | None = None

    @property
    def title(self) -> str:
        """A short name for summaries and "change" lists."""
        return self.short or self.id


# --------------------------------------------------------------------------- wording
YEAR_GROUP_OPTIONS: tuple[Option, ...] = tuple(
    Option("R", "Reception", ("rec", "fs2")) if y == "R" else Option(y, f"Year {y[1:]}", (f"yr {y[1:]}",))
    for y in YEAR_GROUPS
)

REASON_OPTIONS: tuple[Option, ...] = (
    Option("physical_health", "Physical health", ("physical", "illness", "injury")),
    Option("mental_health", "Mental health", ("mental", "anxiety")),
    Option("semh", "Social, emotional and mental health needs (SEMH)", ("semh", "social emotional mental health")),
    Option("reintegration", "Reintegration after absence", ("reintegration", "return", "returning")),
    Option("transition", "Transition (a new school or phase)", ("transition", "new school")),
    Option("behaviour", "Behaviour", ("behavior", "behaviour that challenges")),
    Option("send_placement", "SEND: the EHCP setting cannot meet need while a new placement is sought",
           ("send", "send placement", "new placement", "placement")),
    Option("not_school_ready", "Reception child not yet school-ready", ("not school ready", "school readiness")),
    Option("other", "Other", ()),
)
assert tuple(o.value for o in REASON_OPTIONS) == REASONS_FOR_TIMETABLE

DONT_KNOW = Option("skip", "Don't know")
NOT_DECIDED = Option("skip", "Not decided yet")
CONSENT_OPTIONS: tuple[Option, ...] = (
    Option("given", "Given (signed)", ("yes", "y", "signed", "agreed", "consented", "given")),
    Option("refused", "Refused", ("refuse", "declined", "they refused", "does not agree", "disagreed")),
    Option("not_yet", "Not yet", ("not yet", "pending", "waiting", "awaiting", "not asked", "no not yet")),
)
RISK_OPTIONS: tuple[Option, ...] = (
    Option("not_done", "Not done yet", ("not done", "no", "n", "not yet", "none")),
    Option("no_concerns", "Done: no concerns", ("no concerns", "done no concerns", "fine", "clear")),
    Option("concerns_mitigated", "Done: concerns, all mitigated", ("mitigated", "concerns mitigated")),
    Option("concerns_unmitigated", "Done: concerns not yet mitigated",
           ("unmitigated", "not mitigated", "concerns not mitigated", "concerns")),
)
CONSULTATION_OPTIONS: tuple[Option, ...] = (
    Option("not_contacted", "Not contacted yet", ("not contacted", "no", "n", "not yet", "none")),
    Option("consulted", "Consulted", ("consult", "informed", "told", "contacted", "notified")),
    Option("agreed", "Agreed", ("agree", "yes", "y", "they agreed", "approved")),
    Option("declined", "Declined / does not agree",
           ("decline", "refused", "they refused", "disagreed", "disagree", "does not agree", "objected")),
)

CIRCUMSTANCE_TEXT: dict[str, str] = {
    "looked_after": "Is the pupil a looked-after child (in the care of a local authority)?",
    "previously_looked_after": (
        "Was the pupil previously looked after (left care through adoption, a special guardianship "
        "order or a child arrangements order)?"
    ),
    "child_protection_plan": "Is the pupil on a Child Protection plan?",
    "child_in_need_plan": "Is the pupil on a Child in Need plan?",
    "ehcp": "Does the pupil have an Education, Health and Care Plan (EHCP)?",
    "medical_needs": "Does the pupil have medical needs?",
    "too_unwell_for_school": "Has a consultant confirmed that the pupil is currently too unwell to attend school?",
    "early_help": "Is Early Help or a family support worker involved with the family?",
    "youth_justice": "Is the pupil known to the Youth Justice Service?",
}
CIRCUMSTANCE_SHORT: dict[str, str] = {
    "looked_after": "looked after",
    "previously_looked_after": "previously looked after",
    "child_protection_plan": "Child Protection plan",
    "child_in_need_plan": "Child in Need plan",
    "ehcp": "EHCP",
    "medical_needs": "medical needs",
    "too_unwell_for_school": "too unwell for school",
    "early_help": "Early Help involved",
    "youth_justice": "known to Youth Justice",
}
STEP_TEXT: dict[str, str] = {
    "alternatives_exhausted": (
        "Has the school already tried the other options (support, referrals, Early Help / Team Around the Child)?"
    ),
    "needs_assessment": "Has an assessment of need shown that the timetable will benefit the pupil?",
    "planning_meeting_held": (
        "Has the planning meeting (implementation / reintegration / multi-agency meeting) been held?"
    ),
    "written_plan": "Has the written support / reintegration plan been completed?",
    "headteacher_signed": "Has the headteacher signed the plan?",
    "healthcare_plan": "Is there an Individual Healthcare Plan (or a medical plan agreed with health professionals)?",
    "ehcp_review_called": "Has an early or interim review of the EHCP been called?",
}
STEP_SHORT: dict[str, str] = {
    "alternatives_exhausted": "other options tried",
    "needs_assessment": "assessment of need",
    "planning_meeting_held": "planning meeting held",
    "written_plan": "written plan",
    "headteacher_signed": "headteacher signed",
    "healthcare_plan": "healthcare plan",
    "ehcp_review_called": "EHCP review called",
}


def _circumstance_question(name: str) -> Question:
    return Question(
        id=f"circumstances.{name}", fact=f"circumstances.{name}", kind="yes_no", text=CIRCUMSTANCE_TEXT[name],
        skippable=True, hint="yes or no", keywords=tuple(name.split("_")), short=CIRCUMSTANCE_SHORT[name],
        skip=DONT_KNOW,
    )


def _step_question(name: str) -> Question:
    return Question(
        id=f"steps.{name}", fact=f"steps.{name}", kind="yes_no", text=STEP_TEXT[name], skippable=True,
        hint="yes or no", keywords=tuple(name.split("_")), short=STEP_SHORT[name], skip=DONT_KNOW,
    )


def _consultation_question(role: str) -> Question:
    return Question(
        id=f"consultations.{role}", fact=f"consultations.{role}", kind="choice",
        text="Where are things with {label}?", options=CONSULTATION_OPTIONS, skippable=True,
        keywords=tuple(role.split("_")), short=ROLE_LABELS[role],
    )


CHECKLIST_QUESTIONS: dict[str, Question] = {
    q.id: q
    for q in (
        Question(
            id="pupil.year_group", fact="pupil.year_group", kind="choice", text="Which year group is the pupil in?",
            options=YEAR_GROUP_OPTIONS, skippable=True,
            hint="e.g. Y5 or Reception; 'skip' if you don't know and I'll ask the date of birth",
            keywords=("year", "group"), short="year group", skip=Option("skip", "Don't know: ask the date of birth"),
        ),
        Question(
            id="pupil.date_of_birth", fact="pupil.date_of_birth", kind="date",
            text="What is the pupil's date of birth? I'll work out the year group from it.", skippable=True,
            hint="e.g. 01/05/2016", keywords=("birth", "dob", "born"), short="date of birth", skip=DONT_KNOW,
        ),
        Question(
            id="reasons", fact="reasons", kind="multi_choice",
            text="Why is a part-time timetable being considered? Choose one or more.", options=REASON_OPTIONS,
            hint="numbers or names, separated by commas", keywords=("reason", "reasons", "why"), short="reasons",
        ),
        *(_circumstance_question(name) for name in CIRCUMSTANCES),
        Question(
            id="plan.start_date", fact="plan.start_date", kind="date",
            text="When would the part-time timetable start?", skippable=True,
            hint="e.g. 12/01/2026 or next Monday; 'skip' if not decided yet",
            keywords=("start", "begin", "starts"), short="start date", skip=NOT_DECIDED,
        ),
        Question(
            id="plan.end_date", fact="plan.end_date", kind="date",
            text="When will it end, with the pupil back full time?", skippable=True,
            hint="a date, or 'none' if no end date has been set", keywords=("end", "finish", "ends"),
            short="end date", skip=Option("none", "No end date set yet"),
        ),
        Question(
            id="plan.hours_per_week", fact="plan.hours_per_week", kind="number",
            text="How many hours a week will the pupil be in school at the start?", skippable=True,
            hint="e.g. 12.5 or 12h30; 'skip' if not decided", keywords=("hours", "hour", "week"),
            short="hours a week", skip=NOT_DECIDED,
        ),
        Question(
            id="calendar.closures", fact="calendar.closures", kind="text",
            text=(
                "Is the school closed on any weekdays during the plan, besides weekends and bank holidays "
                "(term holidays, INSET days)?"
            ),
            skippable=True, hint="'none', or dates and ranges such as 16/02/2026-20/02/2026, 03/04/2026",
            keywords=("closures", "closure", "closed", "holidays", "inset"), short="school closures",
            skip=Option("none", "No other closures"),
        ),
        Question(
            id="steps.parent_consent", fact="steps.parent_consent", kind="choice",
            text="Has the parent or carer given consent?", options=CONSENT_OPTIONS, skippable=True,
            keywords=("consent", "parent", "carer"), short="parent consent",
        ),
        Question(
            id="steps.risk_assessment", fact="steps.risk_assessment", kind="choice",
            text="Has the risk assessment been done, and what did it find?", options=RISK_OPTIONS, skippable=True,
            keywords=("risk", "assessment"), short="risk assessment",
        ),
        *(_step_question(name) for name in BOOLEAN_STEPS),
        *(_consultation_question(role) for role in ROLES),
    )
}

CIRCUMSTANCE_IDS = tuple(f"circumstances.{name}" for name in CIRCUMSTANCES)
STEP_IDS = tuple(f"steps.{name}" for name in BOOLEAN_STEPS)
CONSULTATION_IDS = tuple(f"consultations.{role}" for role in ROLES)


# --------------------------------------------------------------------------- what is known
@dataclass
class Facts:
    """What the answers so far establish, in the shape the pack's conditions need."""

    answers: Mapping[str, Any]
    year_group: str | None = None
    year_group_resolved: bool = False
    reasons: frozenset[str] | None = None
    true_circumstances: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, answers: Mapping[str, Any]) -> Facts:
        year_group: str | None = None
        resolved = False
        if "pupil.year_group" in answers:
            year_group = answers["pupil.year_group"]
            if year_group is not None:
                resolved = True
            elif "pupil.date_of_birth" in answers:
                born = answers["pupil.date_of_birth"]
                if born is None:
                    resolved = True
                elif "plan.start_date" in answers:
                    start = answers["plan.start_date"]
                    year_group = year_group_for(date.fromisoformat(born), date.fromisoformat(start)) if start else None
                    resolved = True
        reasons = answers.get("reasons")
        return cls(
            answers=answers,
            year_group=year_group,
            year_group_resolved=resolved,
            reasons=frozenset(reasons) if reasons else None,
            true_circumstances=frozenset(c for c in CIRCUMSTANCES if answers.get(f"circumstances.{c}") is True),
        )

    def could_hold(self, when: When, circumstances: frozenset[str] | None = None) -> bool:
        """Whether ``when`` holds, or might once the facts still unknown are given."""
        present = self.true_circumstances if circumstances is None else circumstances
        if when.circumstances_any and present.isdisjoint(when.circumstances_any):
            return False
        if when.reasons_any and self.reasons is not None and self.reasons.isdisjoint(when.reasons_any):
            return False
        return not (when.year_groups and self.year_group_resolved and self.year_group not in when.year_groups)


@dataclass(frozen=True)
class Condition:
    """A ``when`` somewhere in the pack, with the clause it comes from."""

    when: When
    citation: Citation
    reason: str | None = None  # for a reason's ``requires``: the reason it conditions


_STRENGTH = {"agree": 3, "consult": 2, "inform": 1}


class QuestionPlan:
    """Which questions one pack can ask, in order, and why each is asked."""

    def __init__(self, pack: Pack) -> None:
        self.pack = pack
        conditions: list[Condition] = []
        for stop in pack.stops:
            conditions.append(Condition(stop.when, stop.citation))
        if pack.reasons.unlisted != "accept":
            for accepted in pack.reasons.accepted:
                conditions.append(Condition(accepted.requires, accepted.citation, accepted.reason))
        for substitute in pack.consent.substitutes:
            conditions.append(Condition(substitute.when, pack.consent.citation))
        for rule in (*pack.steps, *pack.consultees, *pack.advice, *pack.next_steps):
            conditions.append(Condition(rule.when, rule.citation))
        self.conditions = tuple(c for c in conditions if c.when.circumstances_any)
        self.circumstances = tuple(
            name for name in CIRCUMSTANCES if any(name in c.when.circumstances_any for c in self.conditions)
        )
        self.steps = tuple(name for name in BOOLEAN_STEPS if any(rule.step == name for rule in pack.steps))
        roles = [rule.role for rule in pack.consultees]
        roles += [substitute.role for substitute in pack.consent.substitutes]
        self.roles = tuple(dict.fromkeys(roles))
        self.stop_codes = frozenset(stop.code for stop in pack.stops)
        band = pack.full_time_hours[0] if pack.full_time_hours else None
        self.hours_citation = band.citation if band else None
        self.maximum_citation = pack.maximum.citation if pack.maximum else None
        self.fixed_citations: dict[str, Citation | None] = {
            "pupil.year_group": self.hours_citation or (pack.scope.citation if pack.scope else None)
            or pack.reviews.citation,
            "pupil.date_of_birth": (pack.scope.citation if pack.scope else None) or self.hours_citation,
            "reasons": pack.reasons.unlisted_citation
            or next((r.citation for r in (*pack.reasons.ruled_out, *pack.reasons.accepted)), None)
            or pack.end_date.citation,
            "plan.start_date": self.maximum_citation or pack.reviews.citation,
            "plan.end_date": pack.end_date.citation,
            "plan.hours_per_week": self.hours_citation or pack.end_date.citation,
            "calendar.closures": (
                self.maximum_citation
                if pack.maximum and pack.maximum.counted_in == "school_weeks"
                else pack.reviews.citation
            ),
            "steps.parent_consent": pack.consent.citation,
            "steps.risk_assessment": pack.risk_assessment.citation,
        }
        written = next((rule for rule in pack.steps if rule.step == "written_plan"), None)
        self.written_plan_citation = written.citation if written else None
        self._standard_order = (
            "pupil.year_group", "pupil.date_of_birth", "reasons",
            *(f"circumstances.{c}" for c in self.circumstances),
            "plan.start_date", "plan.end_date", "plan.hours_per_week", "calendar.closures",
            "steps.parent_consent", "steps.risk_assessment",
            *(f"steps.{s}" for s in self.steps),
            *(f"consultations.{r}" for r in self.roles),
        )
        # When the year group comes from a date of birth it needs the start date: ask it next.
        early = list(self._standard_order)
        early.remove("plan.start_date")
        early.insert(early.index("reasons"), "plan.start_date")
        self._early_start_order = tuple(early)

    # ----------------------------------------------------------------------- order
    def order(self, answers: Mapping[str, Any]) -> tuple[str, ...]:
        if "pupil.year_group" in answers and answers["pupil.year_group"] is None:
            return self._early_start_order
        return self._standard_order

    def knows(self, question_id: str) -> bool:
        return question_id in self._standard_order

    # ----------------------------------------------------------------------- relevance
    def why(self, question_id: str, facts: Facts) -> Citation | None:
        """The clause that makes the question necessary now (None when it does not apply)."""
        if question_id in self.fixed_citations:
            if question_id == "pupil.date_of_birth" and not (
                "pupil.year_group" in facts.answers and facts.answers["pupil.year_group"] is None
            ):
                return None
            if question_id == "calendar.closures" and not facts.answers.get("plan.start_date"):
                return None
            if question_id == "plan.hours_per_week" and facts.year_group_resolved:
                band = self.pack.hours_band_for(facts.year_group)
                if band is not None:
                    return band.citation
            return self.fixed_citations[question_id] or self.pack.end_date.citation
        group, _, name = question_id.partition(".")
        if group == "circumstances":
            return self._circumstance_why(name, facts)
        if group == "steps":
            return self._step_why(name, facts)
        if group == "consultations":
            return self._consultation_why(name, facts)
        return None

    def applies(self, question_id: str, facts: Facts) -> bool:
        if question_id in ("pupil.year_group", "reasons", "plan.start_date", "plan.end_date",
                           "plan.hours_per_week", "steps.parent_consent", "steps.risk_assessment"):
            return True
        return self.why(question_id, facts) is not None

    def _circumstance_why(self, name: str, facts: Facts) -> Citation | None:
        """A circumstance matters when some condition naming it could hold, and the earlier
        circumstances answered yes do not already make that condition hold."""
        if name not in self.circumstances or facts.reasons is None:
            return None
        earlier: set[str] = set()
        for other in CIRCUMSTANCES:
            if other == name:
                break
            if other in facts.true_circumstances:
                earlier.add(other)
        for condition in self.conditions:
            when = condition.when
            if name not in when.circumstances_any or not earlier.isdisjoint(when.circumstances_any):
                continue
            if condition.reason is not None and condition.reason not in facts.reasons:
                continue
            if facts.could_hold(when, frozenset({name})):
                return condition.citation
        return None

    def _step_why(self, name: str, facts: Facts) -> Citation | None:
        for rule in self.pack.steps:
            if rule.step == name and facts.could_hold(rule.when):
                return rule.citation
        return None

    def consultee_rules(self, facts: Facts) -> dict[str, Any]:
        """Role → the strongest consultee rule that holds (as the evaluator picks it)."""
        strongest: dict[str, Any] = {}
        for rule in self.pack.consultees:
            if not facts.could_hold(rule.when):
                continue
            current = strongest.get(rule.role)
            if current is None or _STRENGTH[rule.requirement] > _STRENGTH[current.requirement]:
                strongest[rule.role] = rule
        return strongest

    def _consultation_why(self, role: str, facts: Facts) -> Citation | None:
        rule = self.consultee_rules(facts).get(role)
        if rule is not None:
            return rule.citation
        if facts.answers.get("steps.parent_consent") != "given":
            for substitute in self.pack.consent.substitutes:
                if substitute.role == role and facts.could_hold(substitute.when):
                    return self.pack.consent.citation
        return None

    # ----------------------------------------------------------------------- estimates
    def estimate_remaining(self, facts: Facts) -> int:
        """About how many checklist questions are still to come (for "question 5 of about 14")."""
        remaining = 0
        for question_id in self.order(facts.answers):
            if question_id in facts.answers:
                continue
            unknown_yet = (question_id.startswith("circumstances.") and facts.reasons is None) or (
                question_id == "calendar.closures" and "plan.start_date" not in facts.answers
            )
            remaining += unknown_yet or self.applies(question_id, facts)
        return remaining


@cache
def question_plan(policy_id: str) -> QuestionPlan:
    return QuestionPlan(load_pack(policy_id))


def requirement_phrase(requirement: str) -> str:
    return {"agree": "must agree", "consult": "must be consulted", "inform": "must be told"}[requirement]
