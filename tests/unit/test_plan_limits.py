"""When a plan is past its policy's maximum, or open after its own end date: one rule for the plan
list, the LA view and the message queries."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from assistant.services.plans import past_its_end_date, past_the_maximum
from storage.models import Plan

LATEST = date(2026, 2, 20)


def plan(**fields: Any) -> Plan:
    values = {"school_id": 1, "pupil_id": 1, "policy_id": "derby-city", "status": "active", "case_json": {},
              "start_date": date(2026, 1, 12), "end_date": date(2026, 2, 13), "latest_end_date": LATEST, **fields}
    return Plan(**values)


@pytest.mark.parametrize(("fields", "today", "over"), [
    ({}, date(2026, 2, 1), False),
    ({"end_date": date(2026, 3, 6)}, date(2026, 2, 1), True),  # planned past it
    ({"end_date": None}, date(2026, 2, 1), True),  # no time limit at all
    ({}, date(2026, 3, 14), True),  # ended on paper, still open after the maximum
    ({"extended_beyond_maximum": True}, date(2026, 2, 1), True),
    ({"status": "closed", "closed_on": date(2026, 2, 13)}, date(2026, 3, 14), False),
    ({"status": "closed", "end_date": date(2026, 3, 6), "closed_on": date(2026, 2, 13)}, date(2026, 3, 14), False),
    ({"latest_end_date": None, "end_date": None}, date(2026, 3, 14), False),  # a policy without a maximum
    ({"status": "awaiting"}, date(2026, 3, 14), False),  # never agreed, so never ran on
    ({"status": "draft", "end_date": None}, date(2026, 3, 14), False),
    ({"status": "awaiting", "end_date": date(2026, 3, 6)}, date(2026, 2, 1), True),  # proposed past it
])
def test_a_plan_is_past_the_maximum_if_it_runs_or_ran_beyond_it(fields: dict[str, Any], today: date,
                                                                  over: bool) -> None:
    assert past_the_maximum(plan(**fields), today) is over


def test_an_open_plan_is_past_its_end_date_the_day_after_until_it_is_closed() -> None:
    assert not past_its_end_date(plan(), date(2026, 2, 13))
    assert past_its_end_date(plan(), date(2026, 2, 14))
    assert not past_its_end_date(plan(status="closed", closed_on=date(2026, 2, 13)), date(2026, 3, 1))
    assert not past_its_end_date(plan(end_date=None), date(2026, 3, 1))
    assert not past_its_end_date(plan(status="awaiting"), date(2026, 3, 1))  # never in force
