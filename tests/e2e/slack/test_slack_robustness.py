"""Signatures, retries, errors, channels, the Home tab, OAuth, the manifest and Socket Mode."""

from __future__ import annotations

import json
import time
from pathlib import Path

import yaml
from click.testing import CliRunner
from sqlalchemy import inspect

from assistant.commands.slack import slack as slack_command
from assistant.slack import store
from tests.conftest import PROJECT_ROOT
from tests.e2e.slack.conftest import DSL, EWO, SIGNING_SECRET, STRANGER, Slack, World, all_text, make_flask_app
from tests.e2e.slack.slack_fakes import FakeSlack

PUPILS = ("Jordan", "Amy", "Ben", "Cara")


# --------------------------------------------------------------------------- signatures
def test_a_request_with_a_bad_signature_gets_401_and_does_nothing(slack: Slack, fake_slack: FakeSlack) -> None:
    request, _ = slack.side.slash_command(DSL.id, "plans")

    status, _ = slack.send(request, secret="not-the-secret")

    assert status == 401
    assert not [c for c in fake_slack.calls if c.method != "auth.test"]


def test_a_stale_request_more_than_five_minutes_old_gets_401(slack: Slack, fake_slack: FakeSlack) -> None:
    request, _ = slack.side.slash_command(DSL.id, "plans")

    status, _ = slack.send(request, timestamp=int(time.time()) - 6 * 60)

    assert status == 401
    assert not fake_slack.calls_to("response_url")


def test_a_tampered_body_gets_401(slack: Slack) -> None:
    request, _ = slack.side.slash_command(DSL.id, "plans")
    from tests.e2e.slack.slack_fakes import signed_headers

    headers = signed_headers(SIGNING_SECRET, request.body, content_type=request.content_type)
    status, _ = slack._post(type(request)(request.body.replace("plans", "check"), request.content_type), headers)

    assert status == 401


# --------------------------------------------------------------------------- retries
def test_a_retried_event_is_handled_once(slack: Slack, fake_slack: FakeSlack) -> None:
    request = slack.side.direct_message(EWO.id, "active", event_id="Ev-retried")

    first, _ = slack.send(request)
    again, _ = slack.send(request, retry=1)
    third, _ = slack.send(request, retry=2)

    assert (first, again, third) == (200, 200, 200)
    assert len(slack.posted("DEWO")) == 1


def test_a_double_delivered_start_a_check_starts_one_check(slack: Slack, world: World) -> None:
    request = slack.side.direct_message(DSL.id, "start a check", event_id="Ev-start")
    slack.send(request)
    slack.send(request, retry=1)

    roots = [p for p in slack.posted("DDSL") if not p.get("thread_ts")]
    assert len(roots) == 1


# --------------------------------------------------------------------------- errors
def test_an_error_reaches_the_user_as_a_short_message(slack: Slack, fake_slack: FakeSlack) -> None:
    fake_slack.failures["conversations.open"] = "ratelimited"

    status, _, response_url = slack.command(DSL, "check")

    assert status == 200
    (said,) = slack.responses(response_url)
    assert said["response_type"] == "ephemeral"
    assert said["text"].startswith("Sorry, something went wrong") and "ratelimited" in said["text"]
    assert "Traceback" not in said["text"]


def test_help_is_answered_in_the_acknowledgement_itself(slack: Slack, fake_slack: FakeSlack) -> None:
    status, body, response_url = slack.command(STRANGER, "help")

    assert status == 200 and "/ptt check" in body
    assert not slack.responses(response_url)


# --------------------------------------------------------------------------- channels
def test_in_a_channel_plans_are_shown_only_ephemerally_and_nothing_is_posted_there(
        slack: Slack, fake_slack: FakeSlack) -> None:
    _, _, response_url = slack.command(DSL, "plans", channel_id="CSTAFFROOM")

    (answer,) = slack.responses(response_url)
    assert answer["response_type"] == "ephemeral" and "Jordan S." in all_text(answer)
    assert not fake_slack.calls_to("chat.postMessage")


def test_a_mention_in_a_channel_gets_a_pointer_to_the_dm_and_no_data(slack: Slack, fake_slack: FakeSlack) -> None:
    slack.send(slack.side.event({"type": "app_mention", "channel": "CSTAFFROOM", "user": DSL.id,
                                 "text": "<@UBOT> active", "ts": "1.1"}))
    slack.send(slack.side.event({"type": "message", "channel_type": "channel", "channel": "CSTAFFROOM",
                                 "user": DSL.id, "text": "active", "ts": "1.2"}))

    (ephemeral,) = fake_slack.calls_to("chat.postEphemeral")
    assert ephemeral.params["user"] == DSL.id and "direct message" in ephemeral.params["text"]
    assert not fake_slack.calls_to("chat.postMessage")
    assert not any(name in all_text(c.params) for c in fake_slack.calls for name in PUPILS)


def test_the_apps_own_messages_are_ignored(slack: Slack, fake_slack: FakeSlack) -> None:
    slack.send(slack.side.event({"type": "message", "channel_type": "im", "channel": "DDSL", "user": "UBOT",
                                 "bot_id": "BBOT", "text": "active", "ts": "1.3"}))

    assert not fake_slack.calls_to("chat.postMessage")


# --------------------------------------------------------------------------- App Home
def test_the_home_tab_shows_my_plans_reviews_due_and_agreements_outstanding(
        slack: Slack, fake_slack: FakeSlack, world: World) -> None:
    slack.send(slack.side.event({"type": "app_home_opened", "user": DSL.id, "channel": "DDSL", "tab": "home"}))

    (publish,) = fake_slack.calls_to("views.publish")
    view = publish.params["view"]
    text = json.dumps(view)
    assert publish.params["user_id"] == DSL.id and view["type"] == "home"
    assert "Jordan S." in text and "Amy J." in text and "Ben" not in text
    assert "Reviews due" in text and "Agreements outstanding" in text
    assert "SEND / EHCP caseworker" in text  # Amy's EHCP needs the SEND officer's agreement


def test_a_strangers_home_tab_shows_no_data(slack: Slack, fake_slack: FakeSlack) -> None:
    slack.send(slack.side.event({"type": "app_home_opened", "user": STRANGER.id, "tab": "home"}))

    text = json.dumps(fake_slack.calls_to("views.publish")[0].params["view"])
    assert "I don't know you yet" in text and not any(name in text for name in PUPILS)


# --------------------------------------------------------------------------- OAuth
def test_with_client_credentials_the_app_offers_an_install_page_and_stores_installations(
        world: World, fake_slack: FakeSlack) -> None:
    app = make_flask_app(world, fake_slack, synchronous=True, slack_client_id="111.222",
                         slack_client_secret="client-secret")

    response = app.test_client().get("/slack/install")

    assert response.status_code == 200 and "slack.com/oauth/v2/authorize" in response.get_data(as_text=True)
    tables = inspect(store.engine_of(world.session_factory)).get_table_names()
    assert {"slack_installations", "slack_bots", "slack_oauth_states"} <= set(tables)


def test_without_oauth_the_install_page_is_not_offered(slack_app: object) -> None:
    assert slack_app.test_client().get("/slack/install").status_code == 503  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- manifest and Socket Mode
def test_the_manifest_points_every_request_at_slack_events_and_both_copies_agree() -> None:
    packaged = PROJECT_ROOT / "assistant" / "slack" / "manifest.yml"
    copy = PROJECT_ROOT / "slack" / "manifest.yml"
    assert packaged.read_text() == copy.read_text()
    manifest = yaml.safe_load(packaged.read_text())
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["request_url"].endswith("/slack/events")
    assert settings["interactivity"]["request_url"].endswith("/slack/events")
    assert manifest["features"]["slash_commands"][0]["command"] == "/ptt"
    assert {"message.im", "app_home_opened"} <= set(settings["event_subscriptions"]["bot_events"])
    assert "users:read.email" in manifest["oauth_config"]["scopes"]["bot"]


def test_socket_mode_without_an_app_token_says_what_is_missing(tmp_path: Path) -> None:
    result = CliRunner().invoke(slack_command, ["socket"], env={"SLACK_APP_TOKEN": ""})

    assert result.exit_code == 2 and "SLACK_APP_TOKEN" in result.output


def test_old_receipts_are_pruned_but_a_recorded_review_is_remembered(world: World) -> None:
    from datetime import timedelta

    from storage.types import utcnow

    factory = world.session_factory
    for key in ("event:Ev1", "dm:plan:1:review_due:2026-01-23:UDSL", "review_held:7"):
        assert store.first_time(factory, key)

    assert store.prune(factory, now=utcnow() + store.RECEIPT_RETENTION + timedelta(days=1)) == 2
    assert not store.seen(factory, "event:Ev1") and store.seen(factory, "review_held:7")
