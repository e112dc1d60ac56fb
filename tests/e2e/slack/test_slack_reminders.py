"""Reminder DMs with buttons: the sweeper delivers through the Slack adapter; "Review held today"
records the review (once), "Snooze a day" reminds again tomorrow."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlmodel import select

from assistant.reminders.delivery import SlackDeliverer, SlackDirectMessage
from assistant.reminders.messages import Recipient, ReminderMessage
from assistant.reminders.sweeper import SweepSettings, run_once
from assistant.services.plans import close_plan, record_review
from assistant.slack.delivery import SlackReminderDelivery
from assistant.slack.reminder_actions import snooze
from storage.models import Reminder, Review, User
from storage.repositories import DirectoryRepository
from storage.uow import UnitOfWork
from tests.e2e.slack.conftest import BASE_URL, DSL, EWO, TODAY, Slack, World, all_text
from tests.e2e.slack.slack_fakes import FakeSlack

FIRST_REVIEW_REMINDER_DUE = datetime(2026, 1, 21, 8, 0, tzinfo=UTC)


@pytest.fixture
def delivery(fake_slack: FakeSlack, world: World) -> SlackReminderDelivery:
    return SlackReminderDelivery(WebClient(token="xoxb-test-token", base_url=fake_slack.api_url),
                                 world.session_factory)


def reminder_dm(slack: Slack) -> dict[str, Any]:
    dms = [p for p in slack.posted("DDSL") if "ptt_reminder_review_held" in all_text(p)]
    assert len(dms) == 1, dms
    return copy.deepcopy(next(m for (channel, _), m in slack.fake.messages.items()
                              if channel == "DDSL" and m["blocks"] == dms[0]["blocks"]))


def button(message: dict[str, Any], action_id: str) -> dict[str, Any]:
    for block in message["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return {"type": "button", "action_id": action_id, "block_id": block.get("block_id"),
                        "value": element.get("value"), "text": element["text"]}
    raise AssertionError(f"no {action_id} button")


def deliver_first_review_reminder(slack: Slack, delivery: SlackReminderDelivery) -> dict[str, Any]:
    slack.command(DSL, "link")  # maps the Slack user to the staff account by e-mail
    run_once(slack_world_factory(delivery), FIRST_REVIEW_REMINDER_DUE, {"slack": delivery},
             settings=SweepSettings(base_url=BASE_URL))
    return reminder_dm(slack)


def slack_world_factory(delivery: SlackReminderDelivery) -> Any:
    return delivery.session_factory


def test_the_sweeper_sends_a_review_reminder_as_a_dm_with_three_buttons(
        slack: Slack, delivery: SlackReminderDelivery, world: World) -> None:
    message = deliver_first_review_reminder(slack, delivery)

    text = all_text(message)
    assert "Jordan" in text
    for action_id in ("ptt_reminder_review_held", "ptt_reminder_snooze", "ptt_open_link"):
        assert action_id in text
    assert f"{BASE_URL}/plans/{world.plans['jordan']}" in text
    assert isinstance(delivery, SlackDirectMessage)


def test_review_held_records_the_review_once_even_if_clicked_twice(
        slack: Slack, delivery: SlackReminderDelivery, world: World, fake_slack: FakeSlack) -> None:
    message = deliver_first_review_reminder(slack, delivery)
    held = button(message, "ptt_reminder_review_held")

    slack.click(DSL, message, "DDSL", held)
    slack.click(DSL, message, "DDSL", held)

    with world.session_factory() as session:
        reviews = session.exec(select(Review).where(Review.plan_id == world.plans["jordan"],
                                                    Review.held_on.is_not(None))).all()
    assert [(r.held_on, r.due_on.isoformat(), r.recorded_by) for r in reviews] == [
        (TODAY, "2026-01-23", world.users["dsl"])]
    (update,) = fake_slack.calls_to("chat.update")
    assert "Review recorded as held" in all_text(update.params)
    assert "ptt_reminder_review_held" not in all_text(update.params)
    assert "already been recorded" in fake_slack.calls_to("response_url")[-1].params["text"]


def test_snooze_reminds_the_same_person_tomorrow_by_slack(
        slack: Slack, delivery: SlackReminderDelivery, world: World) -> None:
    message = deliver_first_review_reminder(slack, delivery)

    slack.click(DSL, message, "DDSL", button(message, "ptt_reminder_snooze"))

    with world.session_factory() as session:
        snoozed = session.exec(select(Reminder).where(Reminder.idempotency_key.contains(":snoozed:"))).one()
    assert snoozed.status == "pending" and snoozed.channel == "slack"
    assert snoozed.recipient_user_id == world.users["dsl"]
    assert snoozed.due_at.date() == TODAY + timedelta(days=1)


def test_someone_outside_the_school_cannot_record_its_review(
        slack: Slack, delivery: SlackReminderDelivery, world: World, fake_slack: FakeSlack) -> None:
    message = deliver_first_review_reminder(slack, delivery)

    slack.click(EWO, message, "DDSL", button(message, "ptt_reminder_review_held"))

    with world.session_factory() as session:
        assert not session.exec(select(Review).where(Review.held_on.is_not(None))).all()
    assert "Only the school's own staff" in fake_slack.calls_to("response_url")[-1].params["text"]


def test_someone_who_only_sees_the_school_cannot_snooze_its_reminder(
        slack: Slack, delivery: SlackReminderDelivery, world: World, fake_slack: FakeSlack) -> None:
    message = deliver_first_review_reminder(slack, delivery)

    slack.click(EWO, message, "DDSL", button(message, "ptt_reminder_snooze"))

    with world.session_factory() as session:
        assert not session.exec(select(Reminder).where(Reminder.idempotency_key.contains(":snoozed:"))).all()
    assert "not for you" in fake_slack.calls_to("response_url")[-1].params["text"]


def _snoozed(world: World) -> list[Reminder]:
    with world.session_factory() as session:
        return list(session.exec(select(Reminder).where(Reminder.idempotency_key.contains(":snoozed:"))))


def _last_reply(fake_slack: FakeSlack) -> str:
    return fake_slack.calls_to("response_url")[-1].params["text"]


def deliver_then_record_the_review_on_the_web(slack: Slack, delivery: SlackReminderDelivery,
                                              world: World) -> dict[str, Any]:
    message = deliver_first_review_reminder(slack, delivery)
    record_review(world.session_factory, world.plans["jordan"], outcome="continue", held_on=date(2026, 1, 23),
                  actor_user_id=world.users["dsl"])
    return message


def test_review_held_on_the_message_of_a_review_recorded_meanwhile_records_nothing_more(
        slack: Slack, delivery: SlackReminderDelivery, world: World, fake_slack: FakeSlack) -> None:
    message = deliver_then_record_the_review_on_the_web(slack, delivery, world)

    slack.click(DSL, message, "DDSL", button(message, "ptt_reminder_review_held"))

    with world.session_factory() as session:
        held = session.exec(select(Review.due_on, Review.held_on).where(
            Review.plan_id == world.plans["jordan"], Review.held_on.is_not(None))).all()
    assert [(due.isoformat(), on) for due, on in held] == [("2026-01-23", date(2026, 1, 23))]
    assert _last_reply(fake_slack) == "The review due 23 Jan 2026 was recorded already, as held on 23 Jan 2026."


def test_review_held_records_the_review_its_message_was_about_not_an_earlier_one_left_open(
        slack: Slack, delivery: SlackReminderDelivery, world: World) -> None:
    slack.command(DSL, "link")
    run_once(delivery.session_factory, datetime(2026, 2, 4, 8, 0, tzinfo=UTC), {"slack": delivery},
             settings=SweepSettings(base_url=BASE_URL))  # the 23 January review was never recorded
    with world.session_factory() as session:
        second = session.exec(select(Reminder).where(Reminder.plan_id == world.plans["jordan"],
                                                     Reminder.kind == "review_due",
                                                     Reminder.subject == "2026-02-06")).one()
    messages = [m for (channel, _), m in slack.fake.messages.items()
                if channel == "DDSL" and "ptt_reminder_review_held" in all_text(m)]
    message = next(m for m in messages
                   if json.loads(button(m, "ptt_reminder_review_held")["value"])["r"] == second.id)

    slack.click(DSL, message, "DDSL", button(message, "ptt_reminder_review_held"))

    with world.session_factory() as session:
        reviews = session.exec(select(Review.due_on, Review.held_on).where(
            Review.plan_id == world.plans["jordan"]).order_by(Review.due_on)).all()
    assert [(due.isoformat(), held) for due, held in reviews][:2] == [("2026-01-23", None), ("2026-02-06", TODAY)]


def test_a_reminder_whose_review_was_recorded_meanwhile_cannot_be_snoozed(
        slack: Slack, delivery: SlackReminderDelivery, world: World, fake_slack: FakeSlack) -> None:
    message = deliver_then_record_the_review_on_the_web(slack, delivery, world)

    slack.click(DSL, message, "DDSL", button(message, "ptt_reminder_snooze"))

    assert _snoozed(world) == []
    assert _last_reply(fake_slack) == "That reminder has already been dealt with."


def test_snoozing_twice_says_until_when_and_adds_nothing(
        slack: Slack, delivery: SlackReminderDelivery, world: World, fake_slack: FakeSlack) -> None:
    message = deliver_first_review_reminder(slack, delivery)
    snooze = button(message, "ptt_reminder_snooze")

    slack.click(DSL, message, "DDSL", snooze)
    slack.click(DSL, message, "DDSL", snooze)

    assert len(_snoozed(world)) == 1
    assert _last_reply(fake_slack) == "That reminder is snoozed already, until 10 Feb 2026."


def test_a_snooze_snoozed_again_is_keyed_by_the_reminder_first_snoozed(
        slack: Slack, delivery: SlackReminderDelivery, world: World) -> None:
    message = deliver_first_review_reminder(slack, delivery)
    slack.click(DSL, message, "DDSL", button(message, "ptt_reminder_snooze"))
    (first,) = _snoozed(world)
    with world.session_factory() as session:
        dsl = session.get(User, world.users["dsl"])
    assert first.id is not None and dsl is not None

    again = snooze(world.session_factory, first.id, dsl, today=TODAY + timedelta(days=1))

    keys = sorted(r.idempotency_key for r in _snoozed(world))
    original = first.idempotency_key.split(":snoozed:")[0]
    assert keys == [f"{original}:snoozed:2026-02-10", f"{original}:snoozed:2026-02-11"]
    assert again == date(2026, 2, 11)


def test_the_buttons_of_a_closed_plans_reminder_do_nothing(
        slack: Slack, delivery: SlackReminderDelivery, world: World, fake_slack: FakeSlack) -> None:
    message = deliver_first_review_reminder(slack, delivery)
    close_plan(world.session_factory, world.plans["jordan"], route="left_school", actor_user_id=world.users["dsl"])

    slack.click(DSL, message, "DDSL", button(message, "ptt_reminder_snooze"))
    assert "That plan is closed" in _last_reply(fake_slack)
    slack.click(DSL, message, "DDSL", button(message, "ptt_reminder_review_held"))
    assert "That plan is closed" in _last_reply(fake_slack)

    assert _snoozed(world) == []
    with world.session_factory() as session:
        assert not session.exec(select(Review).where(Review.held_on.is_not(None))).all()


def test_someone_who_has_left_the_school_cannot_snooze_the_reminder_sent_to_them_there(
        slack: Slack, delivery: SlackReminderDelivery, world: World, fake_slack: FakeSlack) -> None:
    message = deliver_first_review_reminder(slack, delivery)
    with UnitOfWork(world.session_factory) as unit:
        DirectoryRepository(unit.session).upsert_user(DSL.email, "dsl", school_id=world.schools["Elm Academy"],
                                                      la_id=None)
        unit.commit()

    slack.click(DSL, message, "DDSL", button(message, "ptt_reminder_snooze"))

    assert _snoozed(world) == []
    assert "not for you" in _last_reply(fake_slack)


def test_the_same_reminder_is_sent_once_however_often_delivery_is_retried(
        delivery: SlackReminderDelivery, fake_slack: FakeSlack, world: World) -> None:
    with world.session_factory() as session:
        reminder = session.exec(select(Reminder).where(Reminder.plan_id == world.plans["jordan"])).first()
        dsl = session.get(User, world.users["dsl"])
    message = ReminderMessage(
        reminder_id=reminder.id, kind=reminder.kind, subject=reminder.subject,
        idempotency_key=reminder.idempotency_key, escalation_level=0, plan_id=reminder.plan_id,
        recipients=(Recipient(dsl.id, dsl.email, "Dee", "dsl", None),), title="Review due", body="Jordan S.",
        due_at=reminder.due_at, link=f"{BASE_URL}/plans/{reminder.plan_id}")

    delivery.deliver(message)
    delivery.deliver(message)
    linked = replace(message, recipients=(replace(message.recipients[0], slack_user_id=DSL.id),))
    SlackDeliverer(delivery).deliver(linked)  # the reminders' own adapter, through the port

    assert len(fake_slack.calls_to("users.lookupByEmail")) >= 1
    assert len([c for c in fake_slack.calls_to("chat.postMessage") if c.params["channel"] == "DDSL"]) == 1
