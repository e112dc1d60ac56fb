"""Hypothesis strategies for contract v1 cases."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

from rules.models import BOOLEAN_STEPS, CIRCUMSTANCES, REASONS_FOR_TIMETABLE, ROLES, YEAR_GROUPS
from rules.packs import known_policy_ids

POLICIES = known_policy_ids()


@st.composite
def cases(draw: st.DrawFn, policy: str | None = None) -> dict[str, Any]:
    start = draw(st.dates(min_value=date(2025, 9, 1), max_value=date(2027, 7, 1)))
    end = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=70).map(lambda n: start + timedelta(days=n))))
    pupil: dict[str, Any] = {}
    if draw(st.booleans()):
        pupil["year_group"] = draw(st.sampled_from(YEAR_GROUPS))
    else:
        pupil["date_of_birth"] = draw(st.dates(min_value=date(2008, 1, 1), max_value=date(2022, 8, 31))).isoformat()
    closures = []
    if draw(st.booleans()):
        first = start + timedelta(days=draw(st.integers(min_value=0, max_value=40)))
        closures.append(
            {"from": first.isoformat(), "to": (first + timedelta(days=draw(st.integers(0, 8)))).isoformat()}
        )
    steps: dict[str, Any] = {
        "parent_consent": draw(st.sampled_from(["given", "refused", "not_yet"])),
        "risk_assessment": draw(
            st.sampled_from(["not_done", "no_concerns", "concerns_mitigated", "concerns_unmitigated"])
        ),
    }
    for step in BOOLEAN_STEPS:
        steps[step] = draw(st.booleans())
    return {
        "policy": policy or draw(st.sampled_from(POLICIES)),
        "pupil": pupil,
        "circumstances": {name: draw(st.booleans()) for name in CIRCUMSTANCES},
        "reasons": draw(st.lists(st.sampled_from(REASONS_FOR_TIMETABLE), min_size=1, max_size=3, unique=True)),
        "plan": {
            "start_date": start.isoformat(),
            "end_date": end.isoformat() if end else None,
            "hours_per_week": draw(
                st.one_of(st.none(), st.floats(min_value=1, max_value=25).map(lambda h: round(h, 1)))
            ),
        },
        "calendar": {"closures": closures},
        "steps": steps,
        "consultations": {
            role: draw(st.sampled_from(["not_contacted", "consulted", "agreed", "declined"]))
            for role in draw(st.lists(st.sampled_from(ROLES), unique=True))
        },
    }
