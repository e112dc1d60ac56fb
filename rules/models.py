"""The Case and the Decision exactly as contract v1 (``shared/CONTRACT.md`` §1) defines them.

These are the boundary models: everything outside the rules core speaks them. Fields named in
the contract are never renamed or removed; the Decision carries extra fields freely.
"""

from __future__ import annotations

from datetime import date
from typing import Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

YearGroup = Literal["R", "Y1", "Y2", "Y3", "Y4", "Y5", "Y6", "Y7", "Y8", "Y9", "Y10", "Y11"]
YEAR_GROUPS: tuple[str, ...] = get_args(YearGroup)

Circumstance = Literal[
    "looked_after",
    "previously_looked_after",
    "child_protection_plan",
    "child_in_need_plan",
    "ehcp",
    "medical_needs",
    "too_unwell_for_school",
    "early_help",
    "youth_justice",
]
CIRCUMSTANCES: tuple[str, ...] = get_args(Circumstance)

ReasonForTimetable = Literal[
    "physical_health",
    "mental_health",
    "semh",
    "reintegration",
    "transition",
    "behaviour",
    "send_placement",
    "not_school_ready",
    "other",
]
REASONS_FOR_TIMETABLE: tuple[str, ...] = get_args(ReasonForTimetable)

ParentConsent = Literal["given", "refused", "not_yet"]
RiskAssessment = Literal["not_done", "no_concerns", "concerns_mitigated", "concerns_unmitigated"]
ConsultationStatus = Literal["not_contacted", "consulted", "agreed", "declined"]
Role = Literal[
    "virtual_school",
    "social_worker",
    "send_officer",
    "education_welfare",
    "educational_psychologist",
    "early_help_worker",
    "youth_justice",
    "designated_safeguarding_lead",
]
ROLES: tuple[str, ...] = get_args(Role)
ROLE_LABELS: dict[str, str] = {
    "virtual_school": "the Virtual School",
    "social_worker": "the child's social worker",
    "send_officer": "the LA's SEND / EHCP caseworker",
    "education_welfare": "the Education Welfare Service",
    "educational_psychologist": "the school's educational psychologist",
    "early_help_worker": "the Early Help / family support worker",
    "youth_justice": "the Youth Justice Service",
    "designated_safeguarding_lead": "the school's Designated Safeguarding Lead",
}
BOOLEAN_STEPS: tuple[str, ...] = (
    "alternatives_exhausted",
    "needs_assessment",
    "planning_meeting_held",
    "written_plan",
    "headteacher_signed",
    "healthcare_plan",
    "ehcp_review_called",
)

Requirement = Literal["agree", "consult", "inform"]
Severity = Literal["stop", "outstanding", "info"]
Outcome = Literal["may_proceed", "not_yet", "must_not_proceed"]

_STRICT = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Pupil(BaseModel):
    model_config = _STRICT

    year_group: YearGroup | None = None
    date_of_birth: date | None = None


class Circumstances(BaseModel):
    """Facts about the child; absent means false."""

    model_config = _STRICT

    looked_after: bool = False
    previously_looked_after: bool = False
    child_protection_plan: bool = False
    child_in_need_plan: bool = False
    ehcp: bool = False
    medical_needs: bool = False
    too_unwell_for_school: bool = False
    early_help: bool = False
    youth_justice: bool = False


class ProposedPlan(BaseModel):
    model_config = _STRICT

    start_date: date | None = None
    end_date: date | None = None
    hours_per_week: float | None = Field(default=None, ge=0, le=40)

    @model_validator(mode="after")
    def _end_not_before_start(self) -> ProposedPlan:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValueError(f"end_date {self.end_date.isoformat()} is before start_date {self.start_date.isoformat()}")
        return self


class Closure(BaseModel):
    """Days the school is closed, inclusive: term holidays, INSET days."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: date = Field(alias="from")
    to: date

    @model_validator(mode="after")
    def _ordered(self) -> Closure:
        if self.to < self.from_:
            raise ValueError(f"'to' {self.to.isoformat()} is before 'from' {self.from_.isoformat()}")
        return self


class CalendarFacts(BaseModel):
    model_config = _STRICT

    closures: tuple[Closure, ...] = ()


class Steps(BaseModel):
    """What the school has done so far; absent means not done."""

    model_config = _STRICT

    parent_consent: ParentConsent = "not_yet"
    risk_assessment: RiskAssessment = "not_done"
    alternatives_exhausted: bool = False
    needs_assessment: bool = False
    planning_meeting_held: bool = False
    written_plan: bool = False
    headteacher_signed: bool = False
    healthcare_plan: bool = False
    ehcp_review_called: bool = False


class Case(BaseModel):
    """One pupil, one proposed timetable, one policy: the input of ``ptt check``."""

    # Unknown top-level keys (an id or a description a client keeps with its cases) are ignored;
    # unknown keys inside the facts are errors, because a misspelt fact would silently be false.
    model_config = ConfigDict(extra="ignore", frozen=True)

    policy: str
    pupil: Pupil = Pupil()
    circumstances: Circumstances = Circumstances()
    reasons: tuple[ReasonForTimetable, ...] = Field(min_length=1)
    plan: ProposedPlan = ProposedPlan()
    calendar: CalendarFacts = CalendarFacts()
    steps: Steps = Steps()
    consultations: dict[Role, ConsultationStatus] = Field(default_factory=dict)


class Citation(BaseModel):
    model_config = ConfigDict(frozen=True)

    document: str
    section: str
    quote: str


class Reason(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    severity: Severity
    message: str
    citation: Citation


class Consultee(BaseModel):
    model_config = ConfigDict(frozen=True)

    role: Role
    requirement: Requirement
    status: ConsultationStatus
    citation: Citation
    label: str = ""
    needed_before_start: bool = True
    satisfied: bool = False


class NextStep(BaseModel):
    """An action after agreement: LA notification, copies, register codes, MIS flag, governors."""

    model_config = ConfigDict(frozen=True)

    code: str
    message: str
    citation: Citation


class Note(BaseModel):
    """A point from the national layer, which no local document states."""

    code: str
    message: str
    source: str


class Decision(BaseModel):
    policy: str
    outcome: Outcome
    reasons: list[Reason]
    consultees: list[Consultee]
    full_time_hours: float | None
    latest_end_date: date | None
    review_dates: list[date]
    # Extensions beyond contract v1.
    policy_title: str = ""
    pupil_year_group: YearGroup | None = None
    full_time_hours_basis: str = ""
    full_time_hours_citation: Citation | None = None
    latest_end_date_citation: Citation | None = None
    review_dates_citation: Citation | None = None
    maximum_weeks: float | None = None
    maximum_counted_in: Literal["school_weeks", "weeks"] | None = None
    school_days_in_plan: int | None = None
    percent_of_full_time: float | None = None
    compulsory_school_age: bool | None = None
    next_steps: list[NextStep] = Field(default_factory=list)
    notes: list[Note] = Field(default_factory=list)

    def outstanding(self) -> list[Reason]:
        return [r for r in self.reasons if r.severity == "outstanding"]

    def stops(self) -> list[Reason]:
        return [r for r in self.reasons if r.severity == "stop"]


_DEFAULTS: dict[type, tuple[dict[str, object], tuple[tuple[str, object], ...]]] = {}
ModelT = TypeVar("ModelT", bound=BaseModel)


def trusted(model: type[ModelT], **values: object) -> ModelT:
    """Build an output model from values the evaluator made itself, without re-validating them.

    ``model_construct`` costs several microseconds a call and an evaluation builds a dozen
    objects. Only the rules core calls this, with values of the declared types; a unit test
    checks that every decision built this way survives a full validation round trip.
    """
    known = _DEFAULTS.get(model)
    if known is None:
        plain = {
            name: field.default
            for name, field in model.model_fields.items()
            if not field.is_required() and field.default_factory is None
        }
        factories = tuple(
            (name, field.default_factory) for name, field in model.model_fields.items() if field.default_factory
        )
        known = _DEFAULTS[model] = (plain, factories)
    plain, factories = known
    fields = {**plain, **values}
    for name, factory in factories:
        if name not in values:
            fields[name] = factory()  # type: ignore[operator]
    instance = model.__new__(model)
    object.__setattr__(instance, "__dict__", fields)
    object.__setattr__(instance, "__pydantic_fields_set__", set(values))
    object.__setattr__(instance, "__pydantic_extra__", None)
    object.__setattr__(instance, "__pydantic_private__", None)
    return instance
