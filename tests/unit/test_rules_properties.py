"""Invariants of the evaluator that must hold for every case under every policy."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from rules import Case, evaluate
from rules.calendar import SchoolCalendar
from rules.citations import quote_is_in
from rules.models import CIRCUMSTANCES
from tests.unit.strategies import cases

_STRENGTH = {"inform": 1, "consult": 2, "agree": 3}


@settings(max_examples=300, deadline=None)
@given(cases())
def test_refused_consent_always_stops(raw: dict[str, Any]) -> None:
    raw["steps"]["parent_consent"] = "refused"
    decision = evaluate(Case.model_validate(raw))
    assert decision.outcome == "must_not_proceed"
    assert any(r.code == "parent_consent_refused" and r.severity == "stop" for r in decision.reasons)


@settings(max_examples=300, deadline=None)
@given(cases(), st.data())
def test_a_declined_agreement_that_is_required_always_stops(raw: dict[str, Any], data: st.DataObject) -> None:
    required = [c.role for c in evaluate(Case.model_validate(raw)).consultees if c.requirement == "agree"]
    if not required:
        return
    role = data.draw(st.sampled_from(required))
    raw["consultations"][role] = "declined"
    decision = evaluate(Case.model_validate(raw))
    assert decision.outcome == "must_not_proceed"
    assert any(r.code == "consultee_agreement_declined" for r in decision.reasons)


@settings(max_examples=300, deadline=None)
@given(cases(), st.sampled_from(CIRCUMSTANCES))
def test_adding_a_circumstance_never_removes_a_required_consultee(raw: dict[str, Any], circumstance: str) -> None:
    raw["circumstances"][circumstance] = False
    before = {c.role: c.requirement for c in evaluate(Case.model_validate(raw)).consultees}
    raw["circumstances"][circumstance] = True
    after = {c.role: c.requirement for c in evaluate(Case.model_validate(raw)).consultees}
    for role, requirement in before.items():
        assert role in after, f"adding {circumstance} removed {role}"
        assert _STRENGTH[after[role]] >= _STRENGTH[requirement], f"adding {circumstance} weakened {role}"


@settings(max_examples=200, deadline=None)
@given(cases())
def test_the_same_case_always_gives_the_same_decision(raw: dict[str, Any]) -> None:
    first = evaluate(Case.model_validate(copy.deepcopy(raw))).model_dump(mode="json")
    second = evaluate(Case.model_validate(copy.deepcopy(raw))).model_dump(mode="json")
    assert first == second


@settings(max_examples=200, deadline=None)
@given(cases())
def test_every_citation_quote_is_found_verbatim_in_its_document(
    policy_texts: dict[str, str], raw: dict[str, Any]
) -> None:
    decision = evaluate(Case.model_validate(raw))
    citations = [r.citation for r in decision.reasons] + [c.citation for c in decision.consultees]
    citations += [s.citation for s in decision.next_steps]
    for citation in citations:
        assert citation.document == decision.policy
        assert quote_is_in(citation.quote, policy_texts[citation.document]), citation.quote


@settings(max_examples=300, deadline=None)
@given(cases())
def test_the_outcome_follows_the_severities(raw: dict[str, Any]) -> None:
    decision = evaluate(Case.model_validate(raw))
    severities = {r.severity for r in decision.reasons}
    expected = (
        "must_not_proceed" if "stop" in severities else "not_yet" if "outstanding" in severities else "may_proceed"
    )
    assert decision.outcome == expected
    assert len({c.role for c in decision.consultees}) == len(decision.consultees)
    assert decision.review_dates == sorted(decision.review_dates)


@settings(max_examples=200, deadline=None)
@given(cases())
def test_a_decision_survives_a_full_validation_round_trip(raw: dict[str, Any]) -> None:
    from rules.models import Decision

    decision = evaluate(Case.model_validate(raw))
    dumped = decision.model_dump(mode="json")
    assert Decision.model_validate(dumped).model_dump(mode="json") == dumped
    assert Decision.model_validate_json(decision.model_dump_json()).outcome == decision.outcome


@settings(max_examples=300, deadline=None)
@given(
    st.dates(min_value=date(2024, 1, 1), max_value=date(2028, 12, 31)),
    st.integers(min_value=1, max_value=60),
    st.lists(
        st.tuples(st.dates(min_value=date(2024, 1, 1), max_value=date(2029, 3, 1)), st.integers(0, 10)), max_size=3
    ),
)
def test_school_day_counting_matches_a_day_by_day_walk(start: date, n: int, closures: list[tuple[date, int]]) -> None:
    calendar = SchoolCalendar([(first, first + timedelta(days=length)) for first, length in closures])
    walked = [day for day in (start + timedelta(days=i) for i in range(400)) if calendar._slow_is_school_day(day)]
    assert calendar.nth_school_day(start, n) == walked[n - 1]
    assert calendar.school_days_between(start, walked[n - 1]) == n
    assert all(calendar.is_school_day(day) for day in walked[:n])
