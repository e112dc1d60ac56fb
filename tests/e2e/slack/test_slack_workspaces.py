"""SLACK_ALLOWED_TEAM_IDS: the app serves only the workspaces it is meant for. A request from
any other workspace is ignored before a listener runs, and an OAuth install into one is refused."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from flask import Flask

from assistant.slack.app import allowed_team_ids
from tests.e2e.slack.conftest import DSL, Slack, World, make_flask_app
from tests.e2e.slack.slack_fakes import FakeSlack


def _slack_to(app: Flask, fake_slack: FakeSlack, team_id: str) -> Slack:
    client = app.test_client()

    def post(request: object, headers: dict[str, str]) -> tuple[int, str]:
        response = client.post("/slack/events", data=request.body, headers=headers)  # type: ignore[attr-defined]
        return response.status_code, response.get_data(as_text=True)

    slack = Slack(fake_slack, post)
    slack.side.team_id = team_id
    return slack


def test_a_command_from_an_allowed_workspace_is_answered(world: World, fake_slack: FakeSlack) -> None:
    app = make_flask_app(world, fake_slack, synchronous=True, slack_allowed_team_ids="T1, T2")
    status, body, _ = _slack_to(app, fake_slack, "T1").command(DSL, "help")
    assert status == 200 and "/ptt" in body


def test_a_command_from_another_workspace_is_ignored(world: World, fake_slack: FakeSlack) -> None:
    app = make_flask_app(world, fake_slack, synchronous=True, slack_allowed_team_ids="T1")
    status, body, _ = _slack_to(app, fake_slack, "T-ELSEWHERE").command(DSL, "plans")
    assert (status, body) == (200, "")
    assert not fake_slack.calls_to("response_url") and not fake_slack.calls_to("chat.postMessage")


def test_an_install_into_another_workspace_is_refused(world: World, fake_slack: FakeSlack) -> None:
    app = make_flask_app(world, fake_slack, synchronous=True, slack_client_id="111.222",
                         slack_client_secret="client-secret", slack_allowed_team_ids="T1")
    from assistant.slack.http import EXTENSION_KEY

    installations = app.extensions[EXTENSION_KEY].installation_store
    with pytest.raises(PermissionError, match="T-ELSEWHERE"):
        installations.save(SimpleNamespace(team_id="T-ELSEWHERE", enterprise_id=None))


@pytest.mark.parametrize(("raw", "expected"), [
    ("", frozenset()), ("T1", {"T1"}), (" T1 , E9 ,", {"T1", "E9"}),
])
def test_the_allow_list_is_read_from_a_comma_separated_setting(raw: str, expected: set[str]) -> None:
    assert allowed_team_ids(SimpleNamespace(slack_allowed_team_ids=raw)) == expected
