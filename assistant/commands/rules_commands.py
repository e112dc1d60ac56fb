"""``ptt check`` and ``ptt policies``: the rules core as commands (contract v1 §1)."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from pydantic import ValidationError

from rules import Case, evaluate, known_policy_ids, load_pack
from rules.case_errors import describe
from rules.models import Decision
from rules.packs import UnknownPolicy
from rules.text import decision_as_text, decisions_side_by_side


def _fail(message: str) -> None:
    click.echo(f"ptt check: {message}", err=True)
    sys.exit(2)


def _read_case(source: str) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if source == "-" else open(source, encoding="utf-8").read()  # noqa: SIM115
    except OSError as error:
        _fail(f"cannot read {source}: {error.strerror}")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        _fail(f"case: not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})")
    if not isinstance(raw, dict):
        _fail("case: must be a JSON object")
    return raw


def _validated(raw: dict[str, Any], policy: str | None) -> Case:
    if policy:
        raw = {**raw, "policy": policy}
    policy_id = raw.get("policy")
    if not isinstance(policy_id, str) or not policy_id:
        _fail(f"policy: required; known policies: {', '.join(known_policy_ids())}")
    try:
        load_pack(policy_id)
    except UnknownPolicy as error:
        _fail(f"policy: {error}")
    try:
        return Case.model_validate(raw)
    except ValidationError as error:
        _fail(describe(error))
    raise AssertionError("unreachable")


def _as_json(decision: Decision) -> str:
    return decision.model_dump_json(indent=2, warnings=False)


@click.command()
@click.argument("case_file", metavar="CASE.json", default="-")
@click.option("--policy", help="Evaluate under this policy instead of the case's own.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["json", "text"]),
    default="json",
    show_default=True,
    help="text: a summary a DSL can paste into case notes.",
)
@click.option(
    "--all-policies", is_flag=True, help="Show how the same case fares under every policy pack, side by side."
)
def check(case_file: str, policy: str | None, output_format: str, all_policies: bool) -> None:
    """Decide whether a part-time timetable may proceed. CASE.json, or - for standard input."""
    raw = _read_case(case_file)
    if all_policies:
        raw.setdefault("policy", known_policy_ids()[0])
        decisions = [evaluate(_validated(raw, policy_id)) for policy_id in known_policy_ids()]
        if output_format == "text":
            click.echo(decisions_side_by_side(decisions))
        else:
            payload = [d.model_dump(mode="json", warnings=False) for d in decisions]
            click.echo(json.dumps(payload, indent=2))
        return
    case = _validated(raw, policy)
    decision = evaluate(case)
    click.echo(decision_as_text(decision) if output_format == "text" else _as_json(decision))


@click.command()
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text")
def policies(output_format: str) -> None:
    """List the policy packs with their documents and dates."""
    packs = [load_pack(policy_id) for policy_id in known_policy_ids()]
    if output_format == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "id": p.id,
                        "title": p.title,
                        "publisher": p.publisher,
                        "document": p.document,
                        "dated": p.dated,
                        "kind": p.kind,
                        "rules": len(p.citations),
                        "summary": p.summary,
                    }
                    for p in packs
                ],
                indent=2,
            )
        )
        return
    for pack in packs:
        click.echo(f"{pack.id:<24} {pack.publisher} — {pack.title}")
        click.echo(
            f"{'':<24} document: shared/policies/{pack.document}.txt · dated {pack.dated} · "
            f"{len(pack.citations)} cited clauses"
        )
