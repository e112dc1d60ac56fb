"""The app as deployed: served live on loopback, acknowledging at once and replying from the
thread pool; and mounted by the web app's own factory, outside its login and CSRF checks."""

from __future__ import annotations

import time

import pytest

from tests.e2e.slack.conftest import BOT_TOKEN, DSL, EWO, SIGNING_SECRET, STRANGER, Slack, World, all_text
from tests.e2e.slack.slack_fakes import FakeSlack, signed_headers


def test_a_slash_command_is_acknowledged_at_once_and_answered_afterwards(
        live_slack: Slack, fake_slack: FakeSlack) -> None:
    started = time.monotonic()
    status, _, response_url = live_slack.command(DSL, "plans")
    acknowledged = time.monotonic() - started

    assert status == 200 and acknowledged < 3
    path = response_url.split(str(fake_slack.port), 1)[1]
    (answer,) = fake_slack.wait_for(lambda c: c.method == "response_url" and c.params.get("_path") == path)
    assert answer.params["response_type"] == "ephemeral" and "Jordan S." in all_text(answer.params)


def test_a_dm_query_is_answered_by_the_live_server(live_slack: Slack, fake_slack: FakeSlack) -> None:
    status, _ = live_slack.dm(EWO, "reviews overdue")

    assert status == 200
    (reply,) = fake_slack.wait_for(lambda c: c.method == "chat.postMessage" and c.params.get("channel") == "DEWO")
    assert "Jordan S." in all_text(reply.params) and "Cara" not in all_text(reply.params)


def test_the_live_server_rejects_a_bad_signature_with_401(live_slack: Slack) -> None:
    request, _ = live_slack.side.slash_command(DSL.id, "plans")

    assert live_slack.send(request, secret="wrong")[0] == 401
    assert live_slack.send(request, timestamp=int(time.time()) - 301)[0] == 401


def test_retries_to_the_live_server_are_handled_once(live_slack: Slack, fake_slack: FakeSlack) -> None:
    request = live_slack.side.direct_message(EWO.id, "active", event_id="Ev-live-retry")
    statuses = [live_slack.send(request, retry=n or None)[0] for n in range(3)]

    assert statuses == [200, 200, 200]
    fake_slack.wait_for(lambda c: c.method == "chat.postMessage")
    time.sleep(0.3)
    assert len(fake_slack.calls_to("chat.postMessage")) == 1


def test_the_web_apps_factory_mounts_slack_events_outside_login_and_csrf(
        database_url: str, world: World, fake_slack: FakeSlack) -> None:
    web = pytest.importorskip("assistant.web")
    config = pytest.importorskip("assistant.config")
    settings = config.Settings(
        database_url=database_url, secret_key="test", cookie_secure=False, ptt_sweeper=False,
        slack_signing_secret=SIGNING_SECRET, slack_bot_token=BOT_TOKEN, slack_api_base_url=fake_slack.api_url,
        ptt_base_url="http://ptt.test",
    )
    app = web.create_app(settings, start_sweeper=False)
    client = app.test_client()
    slack = Slack(fake_slack, lambda request, headers: (lambda r: (r.status_code, r.get_data(as_text=True)))(
        client.post("/slack/events", data=request.body, headers=headers)))

    status, _, response_url = slack.command(STRANGER, "plans")

    assert status == 200
    path = response_url.split(str(fake_slack.port), 1)[1]
    (said,) = fake_slack.wait_for(lambda c: c.method == "response_url" and c.params.get("_path") == path)
    assert "I don't know you yet" in said.params["text"]
    request, _ = slack.side.slash_command(DSL.id, "plans")
    headers = signed_headers("wrong", request.body, content_type=request.content_type)
    assert client.post("/slack/events", data=request.body, headers=headers).status_code == 401
