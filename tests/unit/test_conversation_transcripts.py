"""Golden transcripts (``tests/cases/transcripts/*.yaml``) replayed through the engine.

Each transcript names a policy, the day of the conversation and the school's configured
closures, then lists what the user says and what must come back: the fact of the question now
awaiting an answer (``fact``; null for a decision or a plan question), its kind, whether the
reply is an error, words the replies must contain, the clause cited as ``why``, and at the end
the outcome, the phase, reasons, facts never asked and what the plan holds.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml

from conversations import ConversationState, Turn, respond, start_conversation

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "cases" / "transcripts"
_SENTINEL = object()


def _load() -> list[tuple[str, dict[str, Any]]]:
    paths = sorted(TRANSCRIPTS.glob("*.yaml"))
    return [(path.stem, yaml.safe_load(path.read_text(encoding="utf-8"))) for path in paths]


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _check(turn: Turn, expect: dict[str, Any], where: str) -> None:
    last = turn.replies[-1]
    everything = "\n".join(r.text for r in turn.replies)
    if (fact := expect.get("fact", _SENTINEL)) is not _SENTINEL:
        assert last.fact == fact, f"{where}: asked {last.fact!r} ({last.text!r}), expected {fact!r}"
    if "question" in expect:
        assert last.question_id == expect["question"], f"{where}: question {last.question_id!r}: {last.text!r}"
    if "kind" in expect:
        assert last.kind == expect["kind"], f"{where}: kind {last.kind!r}"
    assert last.error == expect.get("error", False), f"{where}: error is {last.error}: {last.text!r}"
    for words in expect.get("says", []):
        assert words.lower() in everything.lower(), f"{where}: {words!r} not in {everything!r}"
    for words in expect.get("does_not_say", []):
        assert words.lower() not in everything.lower(), f"{where}: {words!r} in {everything!r}"
    if "why_section" in expect:
        assert last.why is not None and last.why.section == expect["why_section"], f"{where}: why {last.why!r}"
    if "progress" in expect:
        assert last.progress is not None and last.progress.label == expect["progress"], f"{where}: {last.progress!r}"
    if "finished" in expect:
        assert turn.finished == expect["finished"], f"{where}: finished is {turn.finished}"
    if "phase" in expect:
        assert turn.state.phase == expect["phase"], f"{where}: phase is {turn.state.phase}"
    if "outcome" in expect:
        assert turn.decision is not None and turn.decision.outcome == expect["outcome"], (
            f"{where}: decision {turn.decision and turn.decision.outcome}"
        )
    if "choices" in expect:
        assert [c.value for c in last.choices] == expect["choices"], f"{where}: choices {last.choices!r}"


@pytest.mark.parametrize(("name", "transcript"), _load(), ids=[name for name, _ in _load()])
def test_the_golden_transcript_replays_exactly(name: str, transcript: dict[str, Any]) -> None:
    today = _as_date(transcript["today"])
    closures = [(_as_date(a), _as_date(b)) for a, b in transcript.get("closures", [])]
    turn = start_conversation(transcript["policy"], today, closures)
    _check(turn, transcript.get("start", {}), f"{name}: start")
    asked = [turn.replies[-1].fact]
    for number, step in enumerate(transcript["steps"], 1):
        state = ConversationState.model_validate(turn.state.model_dump(mode="json"))
        turn = respond(state, str(step["say"]), _as_date(step.get("today", today)))
        _check(turn, step, f"{name}: step {number} ({step['say']!r})")
        asked.append(turn.replies[-1].fact)
    end = transcript.get("end", {})
    final = {k: v for k, v in end.items() if k in ("finished", "phase", "outcome")}
    _check(turn, final | {"error": turn.replies[-1].error}, f"{name}: end")
    codes = {r.code for r in turn.decision.reasons} if turn.decision else set()
    for code in end.get("reasons_include", []):
        assert code in codes, f"{name}: {code} not in {codes}"
    for fact in end.get("never_asked", []):
        assert fact not in asked, f"{name}: {fact} was asked"
    for key, value in end.get("answers", {}).items():
        assert turn.state.answers.get(key) == value, f"{name}: answers[{key}] = {turn.state.answers.get(key)!r}"
    for key, value in end.get("plan", {}).items():
        assert turn.state.plan.get(key) == value, f"{name}: plan[{key}] = {turn.state.plan.get(key)!r}"
    if "case" in end:
        case = turn.state.to_case().model_dump(mode="json", by_alias=True, exclude_defaults=True)
        for key, value in end["case"].items():
            assert case.get(key) == value, f"{name}: case[{key}] = {case.get(key)!r}"
