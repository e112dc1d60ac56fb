"""``ptt check`` as outside clients call it (contract v1 §1)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES

PTT = shutil.which("ptt") or str(Path(sys.executable).parent / "ptt")


def run_check(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PTT, "check", *args], input=stdin, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.stem)
def test_every_contract_example_holds(example: Path) -> None:
    spec = json.loads(example.read_text())
    result = run_check("-", stdin=json.dumps(spec["case"]))
    assert result.returncode == 0, result.stderr
    decision = json.loads(result.stdout)
    expected = spec["expected"]
    assert decision["outcome"] == expected["outcome"]
    for key in ("full_time_hours", "pupil_year_group"):
        if key in expected:
            assert decision[key] == expected[key]
    for wanted in expected.get("consultees_include", []):
        assert any(all(c[k] == v for k, v in wanted.items()) for c in decision["consultees"]), wanted


def test_an_invalid_date_exits_2_with_one_line_naming_the_field(tmp_path: Path) -> None:
    case = {
        "policy": "derby-city",
        "reasons": ["mental_health"],
        "plan": {"start_date": "2026-01-12", "end_date": "31/31/2026"},
    }
    result = run_check("-", stdin=json.dumps(case))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["ptt check: plan.end_date: not a date: '31/31/2026'"]
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_an_unknown_policy_exits_2_and_lists_the_known_ones() -> None:
    result = run_check("--policy", "atlantis", "-", stdin=json.dumps({"policy": "derby-city", "reasons": ["other"]}))
    assert result.returncode == 2
    assert "derby-city" in result.stderr and "achieving-for-children" in result.stderr


def test_a_case_file_path_is_read(tmp_path: Path) -> None:
    path = tmp_path / "case.json"
    path.write_text(
        json.dumps(
            {
                "policy": "derbyshire",
                "reasons": ["other"],
                "plan": {"start_date": "2026-01-12", "end_date": "2026-02-13"},
            }
        )
    )
    result = run_check(str(path))
    assert result.returncode == 0
    assert json.loads(result.stdout)["policy"] == "derbyshire"


def test_the_text_format_is_a_readable_summary_with_citations() -> None:
    case = json.loads((EXAMPLES / "derby-city-looked-after-awaiting-virtual-school.json").read_text())["case"]
    result = run_check("--format", "text", "-", stdin=json.dumps(case))
    assert result.returncode == 0
    assert "NOT YET" in result.stdout and "Virtual Headteacher" in result.stdout


def test_all_policies_shows_every_pack_side_by_side() -> None:
    case = {
        "policy": "derby-city",
        "pupil": {"year_group": "Y11"},
        "reasons": ["behaviour"],
        "plan": {"start_date": "2026-01-12", "end_date": "2026-02-13"},
    }
    result = run_check("--all-policies", "-", stdin=json.dumps(case))
    decisions = {d["policy"]: d for d in json.loads(result.stdout)}
    assert decisions["achieving-for-children"]["outcome"] == "must_not_proceed"
    assert decisions["achieving-for-children"]["full_time_hours"] == 24
    assert decisions["bath-wells-mat"]["full_time_hours"] == 25


def test_ptt_policies_lists_the_packs_with_documents_and_dates() -> None:
    result = subprocess.run([PTT, "policies"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    assert "April 2024" in result.stdout and "bath-wells-mat" in result.stdout
