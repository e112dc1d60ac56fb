"""The held-out acceptance in miniature: a client drives the JSON chat API (contract §2) with a
bearer token, answering each question from a contract case's facts by the question's ``fact``
path, and must reach the same decision as ``ptt check`` on that case."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

from rules import Case, evaluate
from tests.e2e.conftest import OAK_DSL, World
from tests.unit.conversation_client import answer_for
from tests.unit.strategies import cases

MAX_TURNS = 80


def drive_api(world: World, case: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    client = world.app.test_client()
    headers = {"Authorization": f"Bearer {world.tokens[OAK_DSL]}"}
    response = client.post("/api/v1/conversations", json={"policy": case["policy"]}, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    view = response.get_json()
    asked: list[str] = []
    for _ in range(MAX_TURNS):
        if view["finished"]:
            return view, asked
        question = view["replies"][-1]
        assert question["fact"], f"the last reply is not a question: {question['text']!r}"
        assert question["kind"] in ("yes_no", "date", "choice", "multi_choice", "number", "text")
        asked.append(question["fact"])
        response = client.post(f"/api/v1/conversations/{view['id']}/messages",
                               json={"text": answer_for(case, question["fact"])}, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)
        view = response.get_json()
        assert not view["replies"][-1].get("error"), view["replies"][-1]["text"]
    raise AssertionError(f"not finished after {MAX_TURNS} answers; asked {asked}")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=cases())
def test_a_client_answering_from_a_case_reaches_the_same_decision_as_ptt_check(
    world: World, raw: dict[str, Any]
) -> None:
    expected = evaluate(Case.model_validate(raw)).model_dump(mode="json")
    view, asked = drive_api(world, raw)
    decision = view["decision"]
    assert decision["outcome"] == expected["outcome"], asked
    if decision["outcome"] != "must_not_proceed":  # an early stop need not have asked for every date
        assert decision["latest_end_date"] == expected["latest_end_date"]
        assert decision["review_dates"] == expected["review_dates"]
    assert len(asked) == len(set(asked)), "a question was asked twice"
