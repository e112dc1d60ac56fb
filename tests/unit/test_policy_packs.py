"""Policy packs are data: validated on load, cited verbatim, and a new LA needs only a YAML file."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from rules import Case, evaluate, known_policy_ids, load_pack
from rules.citations import fold, quote_is_in
from rules.packs import PACKS_DIRECTORY, PackError, parse_pack

RULES_PACKAGE = Path(__file__).resolve().parents[2] / "rules"
FORBIDDEN_IN_RULES = {"flask", "slack_bolt", "slack_sdk", "sqlalchemy", "sqlmodel", "storage", "assistant", "requests"}


def test_the_four_policies_are_known() -> None:
    assert set(known_policy_ids()) >= {"derby-city", "derbyshire", "bath-wells-mat", "achieving-for-children"}


@pytest.mark.parametrize("policy_id", ["derby-city", "derbyshire", "bath-wells-mat", "achieving-for-children"])
def test_every_quote_in_a_pack_is_verbatim_in_its_document(policy_id: str, policy_texts: dict[str, str]) -> None:
    pack = load_pack(policy_id)
    missing = [key for key, c in pack.citations.items() if not quote_is_in(c.quote, policy_texts[pack.document])]
    assert not missing


def test_folding_ignores_whitespace_case_curly_quotes_and_bold_markers() -> None:
    assert fold("The LA’s  **Education**\nWelfare") == fold("the la's education welfare")


def test_achieving_for_children_counts_year_11_as_24_hours_and_the_others_25() -> None:
    assert load_pack("achieving-for-children").hours_band_for("Y11").hours == 24
    assert load_pack("derby-city").hours_band_for("Y11").hours == 25
    assert load_pack("bath-wells-mat").hours_band_for("Y11").hours == 25


@pytest.mark.parametrize("policy_id", known_policy_ids())
def test_what_a_pack_asks_under_two_conditions_at_once_is_asked_once(policy_id: str) -> None:
    """Some steps are given twice, e.g. Bath and Wells' copy to the SEND team for an EHCP ticked or for
    a reason that implies one: a pupil meeting both conditions is told once."""
    decision = evaluate(Case.model_validate({
        "policy": policy_id, "pupil": {"year_group": "Y5"},
        "reasons": ["send_placement", "physical_health", "mental_health", "semh"],
        "circumstances": dict.fromkeys(("looked_after", "child_protection_plan", "ehcp", "medical_needs",
                                        "early_help", "youth_justice"), True),
        "plan": {"start_date": "2026-03-02", "end_date": "2026-03-27", "hours_per_week": 15}}))
    for listed in ([s.code for s in decision.next_steps], [(r.code, r.message) for r in decision.reasons],
                   [c.role for c in decision.consultees]):
        assert len(listed) == len(set(listed)), listed


def test_a_pack_citing_a_missing_clause_fails_to_load() -> None:
    text = (PACKS_DIRECTORY / "derbyshire.yaml").read_text().replace("cite: meeting", "cite: no_such_clause")
    with pytest.raises(PackError, match="no_such_clause"):
        parse_pack(text)


def test_a_pack_giving_no_hours_for_some_year_groups_must_name_what_it_says_of_full_time() -> None:
    text = (PACKS_DIRECTORY / "derbyshire.yaml").read_text().replace("full_time_cite: time_limit", "")
    with pytest.raises(PackError, match="full_time_cite"):
        parse_pack(text)
    bath_and_wells = (PACKS_DIRECTORY / "bath-wells-mat.yaml").read_text()
    assert "full_time_cite" not in bath_and_wells  # its bands cover every year group
    assert parse_pack(bath_and_wells).full_time_citation is None


def test_a_pack_with_an_unknown_fact_fails_to_load() -> None:
    text = (
        (PACKS_DIRECTORY / "derbyshire.yaml")
        .read_text()
        .replace("circumstances_any: [ehcp]", "circumstances_any: [ehcpp]")
    )
    with pytest.raises(PackError):
        parse_pack(text)


def test_a_fifth_local_authority_needs_only_a_yaml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = (PACKS_DIRECTORY / "derbyshire.yaml").read_text().replace("id: derbyshire", "id: fifth-la")
    (tmp_path / "fifth-la.yaml").write_text(text)
    monkeypatch.setenv("PTT_EXTRA_PACKS", str(tmp_path))
    from rules import packs

    packs._pack_files.cache_clear()
    try:
        assert "fifth-la" in known_policy_ids()
        decision = evaluate(Case.model_validate({"policy": "fifth-la", "reasons": ["other"]}))
        assert decision.policy == "fifth-la"
    finally:
        monkeypatch.delenv("PTT_EXTRA_PACKS")
        packs._pack_files.cache_clear()


def test_the_rules_core_imports_no_web_slack_or_sql_code() -> None:
    for path in RULES_PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN_IN_RULES, f"{path.name} imports {name}"
