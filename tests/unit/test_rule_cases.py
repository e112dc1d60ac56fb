"""Rule cases kept as data (tests/cases/*.yaml): one per clause worth testing.

Each case overrides its policy's complete base case, names the clause it tests (a citation key
of the pack), and states the parts of the decision it must produce.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rules import Case, evaluate, load_pack

CASES_DIRECTORY = Path(__file__).resolve().parents[1] / "cases"


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    result = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and value and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def load_rule_cases() -> list[Any]:
    params = []
    for path in sorted(CASES_DIRECTORY.glob("*.yaml")):
        suite = yaml.safe_load(path.read_text(encoding="utf-8"))
        for entry in suite["cases"]:
            case = merged(suite["base"], entry.get("case", {}))
            case["policy"] = suite["policy"]
            params.append(pytest.param(suite["policy"], entry, case, id=f"{suite['policy']}: {entry['name']}"))
    return params


RULE_CASES = load_rule_cases()


def test_every_policy_has_at_least_fifteen_rule_cases() -> None:
    counts: dict[str, int] = {}
    for param in RULE_CASES:
        counts[param.values[0]] = counts.get(param.values[0], 0) + 1
    assert set(counts) == {"derby-city", "derbyshire", "bath-wells-mat", "achieving-for-children"}
    assert min(counts.values()) >= 15, counts


@pytest.mark.parametrize(("policy", "entry", "raw_case"), RULE_CASES)
def test_rule_case_holds(policy: str, entry: dict[str, Any], raw_case: dict[str, Any]) -> None:
    pack = load_pack(policy)
    clause = pack.cite(entry["clause"])  # the case names a clause that exists in the pack
    decision = evaluate(Case.model_validate(raw_case))
    expect = entry["expect"]
    dumped = decision.model_dump(mode="json")

    if "outcome" in expect:
        assert decision.outcome == expect["outcome"], [(r.code, r.severity) for r in decision.reasons]
    for key in ("full_time_hours", "latest_end_date", "review_dates", "pupil_year_group"):
        if key in expect:
            assert dumped[key] == expect[key], key
    codes = {reason.code for reason in decision.reasons}
    for code in expect.get("reasons_include", []):
        assert code in codes, codes
    for wanted in expect.get("consultees_include", []):
        found = {c.role: c.requirement for c in decision.consultees}
        assert wanted["role"] in found, found
        if "requirement" in wanted:
            assert found[wanted["role"]] == wanted["requirement"]
    for code, key in expect.get("reasons_cite", {}).items():  # the reason cites that clause, no other
        quotes = {reason.citation.quote for reason in decision.reasons if reason.code == code}
        assert quotes == {pack.cite(key).quote}, (code, quotes)
    next_step_codes = {step.code for step in decision.next_steps}
    for code in expect.get("next_steps_include", []):
        assert code in next_step_codes, next_step_codes

    if entry.get("clause_cited", True):
        cited = [r.citation for r in decision.reasons] + [c.citation for c in decision.consultees]
        cited += [s.citation for s in decision.next_steps]
        cited += [
            c
            for c in (
                decision.full_time_hours_citation,
                decision.latest_end_date_citation,
                decision.review_dates_citation,
            )
            if c is not None
        ]
        assert any(c.quote == clause.quote for c in cited), f"the decision does not cite {entry['clause']!r}"
