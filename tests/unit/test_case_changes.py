"""What changing answers after a plan is saved changes in its Case (applied to the saved plan)."""

from __future__ import annotations

from datetime import date

from conversations import case_changes

SAVED = {"pupil.year_group": "Y5", "reasons": ["mental_health"], "circumstances.looked_after": False,
         "plan.end_date": "2026-12-11", "calendar.closures": [], "steps.parent_consent": "given"}
HALF_TERM = [(date(2027, 2, 15), date(2027, 2, 19))]


def test_only_the_facts_answered_differently_are_changes() -> None:
    after = {**SAVED, "circumstances.looked_after": True, "plan.end_date": "2026-12-18"}
    assert case_changes("derby-city", SAVED, after, HALF_TERM) == {
        "circumstances.looked_after": True, "plan.end_date": "2026-12-18"}


def test_a_fact_no_longer_answered_is_a_change_to_none_and_a_new_one_is_added() -> None:
    after = {k: v for k, v in SAVED.items() if k != "steps.parent_consent"} | {"circumstances.ehcp": True}
    assert case_changes("derby-city", SAVED, after, []) == {"circumstances.ehcp": True, "steps.parent_consent": None}


def test_a_list_is_one_value_and_the_schools_own_closures_are_no_change() -> None:
    after = {**SAVED, "reasons": ["mental_health", "medical"]}
    assert case_changes("derby-city", SAVED, after, HALF_TERM) == {"reasons": ["mental_health", "medical"]}
    assert case_changes("derby-city", SAVED, dict(SAVED), HALF_TERM) == {}
