"""Policy packs: one YAML file per policy document, validated when loaded.

A pack is data, not code: a fifth local authority needs a new YAML file in ``rules/packs/`` (or
in a directory named by ``PTT_EXTRA_PACKS``), never new Python. Every rule names a citation key;
the citation holds the section heading and a short quote copied verbatim from the document.
Where a document is silent the pack says so under ``silent_on`` rather than inventing a rule.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.models import (
    BOOLEAN_STEPS,
    YEAR_GROUPS,
    Circumstance,
    Citation,
    ConsultationStatus,
    ReasonForTimetable,
    Requirement,
    Role,
    YearGroup,
)

PACKS_DIRECTORY = Path(__file__).parent / "packs"

_FROZEN = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class PackError(ValueError):
    """A pack file that does not hold together: a missing citation, an unknown fact."""


class UnknownPolicy(LookupError):
    def __init__(self, policy_id: str, known: list[str]) -> None:
        super().__init__(f"unknown policy {policy_id!r}; known policies: {', '.join(known)}")
        self.policy_id = policy_id
        self.known = known


class CitedQuote(BaseModel):
    model_config = _FROZEN

    section: str
    quote: str


class When(BaseModel):
    """A condition on the case; all parts must hold; an empty condition always holds."""

    model_config = _FROZEN

    circumstances_any: tuple[Circumstance, ...] = ()
    reasons_any: tuple[ReasonForTimetable, ...] = ()
    year_groups: tuple[YearGroup, ...] = ()

    def holds(self, circumstances: frozenset[str], reasons: frozenset[str], year_group: str | None) -> bool:
        if self.circumstances_any and circumstances.isdisjoint(self.circumstances_any):
            return False
        if self.reasons_any and reasons.isdisjoint(self.reasons_any):
            return False
        return not (self.year_groups and year_group not in self.year_groups)


ALWAYS = When()


class CitedRule(BaseModel):
    model_config = _FROZEN

    cite: str
    citation: Citation | None = None  # resolved from ``cite`` when the pack loads


class AcceptedReason(CitedRule):
    reason: ReasonForTimetable
    requires: When = ALWAYS
    requires_message: str = ""


class RuledOutReason(CitedRule):
    reason: ReasonForTimetable
    message: str
    instead: str = ""


class ReasonsPolicy(BaseModel):
    model_config = _FROZEN

    accepted: tuple[AcceptedReason, ...] = ()
    ruled_out: tuple[RuledOutReason, ...] = ()
    # What a reason the document does not list means: ``accept`` where the document's list is
    # open ("not an exhaustive list"), ``stop_unless_another_accepted`` where only the listed
    # exceptional circumstances justify a timetable.
    unlisted: Literal["accept", "stop_unless_another_accepted"] = "accept"
    unlisted_cite: str | None = None
    unlisted_citation: Citation | None = None
    unlisted_message: str = ""


class ConsentSubstitute(BaseModel):
    """Someone whose agreement stands in for a parent's where the document says so."""

    model_config = _FROZEN

    when: When
    role: Role
    status: ConsultationStatus = "agreed"


class ConsentRule(CitedRule):
    refused_cite: str
    refused_citation: Citation | None = None
    refused_message: str = "The parent or carer has refused consent, so the timetable cannot go ahead."
    instead: str = ""
    missing_message: str = "Signed consent from the parent or carer is needed before the timetable starts."
    substitutes: tuple[ConsentSubstitute, ...] = ()
    #: What the parent's signed agreement form must say, where the document prescribes it, in the
    #: first person as the form puts it; ``agreement_form_cite`` names the clause.
    agreement_form: tuple[str, ...] = ()
    agreement_form_cite: str = ""
    agreement_form_citation: Citation | None = None


class RiskAssessmentRule(CitedRule):
    missing_message: str = "A risk assessment must be completed before the timetable starts."
    unmitigated: Literal["stop", "outstanding"]
    unmitigated_cite: str
    unmitigated_citation: Citation | None = None
    unmitigated_message: str


class StepRule(CitedRule):
    step: str
    when: When = ALWAYS
    code: str = ""
    message: str

    @model_validator(mode="after")
    def _known_step(self) -> StepRule:
        if self.step not in BOOLEAN_STEPS:
            raise ValueError(f"unknown step {self.step!r}; steps are {', '.join(BOOLEAN_STEPS)}")
        return self


class ConsulteeRule(CitedRule):
    role: Role
    requirement: Requirement
    when: When = ALWAYS
    # Whether the timetable must wait for it. Notices sent after agreement are next steps.
    before_start: bool = True


class EndDateRule(CitedRule):
    message: str = "The plan has no end date; the timetable must have a time limit."


class MaximumRule(CitedRule):
    weeks: float = Field(gt=0)
    counted_in: Literal["school_weeks", "weeks"]
    message: str = ""


class ReviewRule(CitedRule):
    every_weeks: float = Field(gt=0)
    counted_in: Literal["school_weeks", "weeks"]
    summary: str = ""


class HoursBand(CitedRule):
    year_groups: tuple[YearGroup, ...]
    hours: float


class NextStepRule(CitedRule):
    code: str
    message: str
    when: When = ALWAYS


class StopRule(CitedRule):
    code: str
    message: str
    when: When
    instead: str = ""


class AdviceRule(CitedRule):
    code: str
    message: str
    when: When = ALWAYS


class ScopeRule(CitedRule):
    """What the document says of pupils outside compulsory school age."""

    message: str


class Pack(BaseModel):
    model_config = _FROZEN

    id: str
    title: str
    publisher: str
    document: str
    dated: str
    kind: Literal["local_authority", "trust"]
    summary: str = ""
    citations: dict[str, CitedQuote]
    silent_on: dict[str, str] = Field(default_factory=dict)
    reasons: ReasonsPolicy
    consent: ConsentRule
    risk_assessment: RiskAssessmentRule
    steps: tuple[StepRule, ...] = ()
    consultees: tuple[ConsulteeRule, ...] = ()
    end_date: EndDateRule
    maximum: MaximumRule | None = None
    extension: AdviceRule | None = None
    escalation: NextStepRule | None = None
    reviews: ReviewRule
    full_time_hours: tuple[HoursBand, ...] = ()
    #: The passage the ``not_reduced`` reason cites for a year group the document gives no hours
    #: for (what a part-time timetable must return to): required unless the bands cover them all.
    full_time_cite: str = ""
    full_time_citation: Citation | None = None
    next_steps: tuple[NextStepRule, ...] = ()
    stops: tuple[StopRule, ...] = ()
    advice: tuple[AdviceRule, ...] = ()
    scope: ScopeRule | None = None

    def cite(self, key: str) -> Citation:
        try:
            quoted = self.citations[key]
        except KeyError:
            raise PackError(f"{self.id}: no citation named {key!r}") from None
        return Citation(document=self.document, section=quoted.section, quote=quoted.quote)

    def hours_band_for(self, year_group: str | None) -> HoursBand | None:
        for band in self.full_time_hours:
            if year_group in band.year_groups:
                return band
        return None


def _resolve(pack: Pack) -> Pack:
    """Attach the citation to every rule, so that a missing key fails at load, not mid-check."""

    def resolved(rule: CitedRule, **extra: Citation | None) -> CitedRule:
        return rule.model_copy(update={"citation": pack.cite(rule.cite), **extra})

    reasons = pack.reasons.model_copy(
        update={
            "accepted": tuple(resolved(r) for r in pack.reasons.accepted),
            "ruled_out": tuple(resolved(r) for r in pack.reasons.ruled_out),
            "unlisted_citation": pack.cite(pack.reasons.unlisted_cite) if pack.reasons.unlisted_cite else None,
        }
    )
    if pack.reasons.unlisted != "accept" and not pack.reasons.unlisted_cite:
        raise PackError(f"{pack.id}: a pack that rules out unlisted reasons must cite why")
    covered = {y for band in pack.full_time_hours for y in band.year_groups}
    if pack.full_time_hours and covered != set(YEAR_GROUPS) and "full_time_hours" not in pack.silent_on:
        raise PackError(
            f"{pack.id}: full_time_hours misses {sorted(set(YEAR_GROUPS) - covered)}; "
            "say under silent_on.full_time_hours what the document leaves out"
        )
    if covered != set(YEAR_GROUPS) and not pack.full_time_cite:
        raise PackError(
            f"{pack.id}: full_time_hours leaves out {sorted(set(YEAR_GROUPS) - covered)}; name under "
            "full_time_cite the passage on returning to full time, for the hours it does not give"
        )
    return pack.model_copy(
        update={
            "reasons": reasons,
            "consent": resolved(pack.consent, refused_citation=pack.cite(pack.consent.refused_cite),
                                agreement_form_citation=pack.cite(pack.consent.agreement_form_cite)
                                if pack.consent.agreement_form_cite else None),
            "risk_assessment": resolved(
                pack.risk_assessment,
                unmitigated_citation=pack.cite(pack.risk_assessment.unmitigated_cite),
            ),
            "steps": tuple(resolved(r) for r in pack.steps),
            "consultees": tuple(resolved(r) for r in pack.consultees),
            "end_date": resolved(pack.end_date),
            "maximum": resolved(pack.maximum) if pack.maximum else None,
            "extension": resolved(pack.extension) if pack.extension else None,
            "escalation": resolved(pack.escalation) if pack.escalation else None,
            "reviews": resolved(pack.reviews),
            "full_time_hours": tuple(resolved(r) for r in pack.full_time_hours),
            "full_time_citation": pack.cite(pack.full_time_cite) if pack.full_time_cite else None,
            "next_steps": tuple(resolved(r) for r in pack.next_steps),
            "stops": tuple(resolved(r) for r in pack.stops),
            "advice": tuple(resolved(r) for r in pack.advice),
            "scope": resolved(pack.scope) if pack.scope else None,
        }
    )


def parse_pack(text: str, source: str = "<pack>") -> Pack:
    try:
        raw = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        return _resolve(Pack.model_validate(raw))
    except PackError:
        raise
    except Exception as error:
        raise PackError(f"{source}: {error}") from error


def pack_directories() -> list[Path]:
    directories = [PACKS_DIRECTORY]
    extra = os.environ.get("PTT_EXTRA_PACKS")
    if extra:
        directories.extend(Path(p) for p in extra.split(os.pathsep) if p)
    return directories


@cache
def _pack_files() -> dict[str, Path]:
    files: dict[str, Path] = {}
    for directory in pack_directories():
        for path in sorted(directory.glob("*.yaml")):
            files[path.stem] = path
    return files


def known_policy_ids() -> list[str]:
    return sorted(_pack_files())


@cache
def load_pack(policy_id: str) -> Pack:
    path = _pack_files().get(policy_id)
    if path is None:
        raise UnknownPolicy(policy_id, known_policy_ids())
    pack = parse_pack(path.read_text(encoding="utf-8"), str(path))
    if pack.id != policy_id:
        raise PackError(f"{path}: id {pack.id!r} does not match the file name")
    return pack


def load_all_packs() -> list[Pack]:
    return [load_pack(policy_id) for policy_id in known_policy_ids()]
