"""A part-time timetable check run in a DM thread: the same conversation as the web chat, answered
with buttons, a select, checkboxes, a datepicker and typed replies, ending in the cited decision."""

from __future__ import annotations

import copy
from typing import Any

from sqlmodel import select

from rules.citations import quote_is_in
from storage.models import Conversation
from tests.conftest import POLICY_DOCUMENTS
from tests.e2e.slack.conftest import BASE_URL, DSL, STRANGER, Slack, World, all_text
from tests.e2e.slack.slack_fakes import FakeSlack

DM = "DDSL"
ANSWERS: dict[str, Any] = {
    "pupil.year_group": "Y5",
    "reasons": ["mental_health"],
    "circumstances.looked_after": "yes",
    "plan.start_date": "2026-02-16",
    "plan.end_date": "2026-03-13",
    "plan.hours_per_week": "12.5",
    "calendar.closures": "none",
    "steps.parent_consent": "given",
    "steps.risk_assessment": "no_concerns",
    "consultations.virtual_school": "consulted",
    "consultations.education_welfare": "consulted",
}
DEFAULT_YES_NO = {"circumstances.": "no", "steps.": "yes"}


def thread_messages(fake: FakeSlack, thread_ts: str) -> list[dict[str, Any]]:
    return [c.params for c in fake.calls_to("chat.postMessage")
            if c.params.get("channel") == DM and c.params.get("thread_ts") == thread_ts]


def question_block(message: dict[str, Any]) -> dict[str, Any] | None:
    for block in message.get("blocks") or []:
        if block.get("type") == "actions" and str(block.get("block_id", "")).startswith("ptt|"):
            return block
    return None


def stored(fake: FakeSlack, params: dict[str, Any]) -> dict[str, Any]:
    """The message as Slack holds it (with its ts), found by its content."""
    for (channel, _ts), message in fake.messages.items():
        if channel == params.get("channel") and message["blocks"] == (params.get("blocks") or []):
            return message
    raise AssertionError("message not found")


def answer_for(fact: str) -> Any:
    if fact in ANSWERS:
        return ANSWERS[fact]
    for prefix, value in DEFAULT_YES_NO.items():
        if fact.startswith(prefix):
            return value
    return "no"


def answer_question(slack: Slack, message: dict[str, Any], held: dict[str, Any] | None = None) -> str:
    """Answer the question in ``message`` the way a person would; returns the fact answered."""
    block = question_block(message)
    text_blocks = all_text(message)
    fact = block["block_id"].split("|", 2)[2] if block is not None else _fact_from_text(message)
    wanted = answer_for(fact)
    typed = block is None or (block["elements"][0]["type"] == "button"
                              and all(e["value"] != wanted for e in block["elements"]))
    if typed:  # no input, or only the "not decided yet" button: reply in the thread
        assert "Reply in this thread" in text_blocks, message
        status, _ = slack.dm(DSL, str(wanted), thread_ts=message["thread_ts"])
        assert status == 200
        return fact
    assert block is not None
    elements = block["elements"]
    first = elements[0]
    held = held or stored(slack.fake, message)
    if first["type"] == "button":
        button = next((e for e in elements if e["value"] == wanted), None)
        assert button is not None, (fact, wanted, [e["value"] for e in elements])
        action = {"type": "button", "action_id": button["action_id"], "block_id": block["block_id"],
                  "value": button["value"], "text": button["text"]}
        status, _ = slack.click(DSL, held, DM, action)
    elif first["type"] == "static_select":
        option = next(o for o in first["options"] if o["value"] == wanted)
        action = {"type": "static_select", "action_id": "ptt_select", "block_id": block["block_id"],
                  "selected_option": option}
        status, _ = slack.click(DSL, held, DM, action)
    elif first["type"] == "datepicker":
        action = {"type": "datepicker", "action_id": "ptt_date", "block_id": block["block_id"],
                  "selected_date": wanted}
        status, _ = slack.click(DSL, held, DM, action)
    elif first["type"] in ("checkboxes", "multi_static_select"):
        options = [o for o in first["options"] if o["value"] in wanted]
        state = {block["block_id"]: {"ptt_multi_toggle": {"type": first["type"], "selected_options": options}}}
        action = {"type": "button", "action_id": "ptt_multi_done", "block_id": block["block_id"], "value": "done",
                  "text": {"type": "plain_text", "text": "Done"}}
        status, _ = slack.click(DSL, held, DM, action, state=state)
    else:
        raise AssertionError(f"unexpected input {first['type']}")
    assert status == 200
    return fact


def _fact_from_text(message: dict[str, Any]) -> str:
    text = all_text(message).lower()
    if "hours a week" in text:
        return "plan.hours_per_week"
    if "closed on any weekdays" in text:
        return "calendar.closures"
    return "unknown"


def answer_until(slack: Slack, fake: FakeSlack, thread_ts: str, fact: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Answer the thread's questions until ``fact`` is asked; its message and input block."""
    for _ in range(20):
        latest = thread_messages(fake, thread_ts)[-1]
        block = question_block(latest)
        if block is not None and block["block_id"].endswith(f"|{fact}"):
            return latest, block
        answer_question(slack, latest)
    raise AssertionError(f"{fact} was never asked")


def run_check_to_decision(slack: Slack, fake: FakeSlack, thread_ts: str) -> tuple[dict[str, Any], list[str]]:
    answered: list[str] = []
    for _ in range(40):
        messages = thread_messages(fake, thread_ts)
        decision = [m for m in messages if m.get("text", "").startswith("Decision:")]
        if decision:
            return decision[0], answered
        latest = messages[-1]
        assert ":warning:" not in all_text(latest), latest
        answered.append(answer_question(slack, latest))
    raise AssertionError(f"no decision after {answered}")


def start_thread(slack: Slack, fake: FakeSlack) -> str:
    status, _ = slack.dm(DSL, "start a check")
    assert status == 200
    roots = [c.params for c in fake.calls_to("chat.postMessage")
             if c.params.get("channel") == DM and not c.params.get("thread_ts")]
    assert roots and "Part-time timetable check" in roots[-1]["text"]
    root = stored(fake, roots[-1])
    return root["ts"]


def test_a_check_in_a_dm_runs_to_a_decision_with_cited_reasons_and_a_link(
        slack: Slack, fake_slack: FakeSlack, world: World) -> None:
    thread_ts = start_thread(slack, fake_slack)
    decision, answered = run_check_to_decision(slack, fake_slack, thread_ts)

    assert {"pupil.year_group", "reasons", "plan.start_date", "plan.hours_per_week",
            "consultations.virtual_school"} <= set(answered)
    text = all_text(decision)
    assert "Not yet" in text
    assert "For Children in Care the Virtual Headteacher must be consulted and agree to the arrangements." in text
    with world.session_factory() as session:
        conversation = session.exec(select(Conversation)).one()
    assert conversation.channel == "slack"
    assert f"{BASE_URL}/chat/{conversation.id}" in text
    document = (POLICY_DOCUMENTS / "derby-city.txt").read_text(encoding="utf-8")
    for block in decision["blocks"]:
        body = (block.get("text") or {}).get("text", "")
        for line in body.splitlines():
            if line.startswith("> "):
                quote = line[2:].replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
                assert quote_is_in(quote, document), quote
    # Every answered question lost its buttons, so it cannot be answered twice.
    assert len(fake_slack.calls_to("chat.update")) >= len([f for f in answered if f not in (
        "plan.hours_per_week", "calendar.closures")])
    # Nothing of the check went anywhere but the DM.
    assert {c.params.get("channel") for c in fake_slack.calls_to("chat.postMessage")} == {DM}


def test_a_second_click_on_an_answered_question_changes_nothing_and_says_so(
        slack: Slack, fake_slack: FakeSlack, world: World) -> None:
    thread_ts = start_thread(slack, fake_slack)
    first_question = thread_messages(fake_slack, thread_ts)[-1]
    as_first_shown = copy.deepcopy(stored(fake_slack, first_question))
    answer_question(slack, first_question)
    posts_before = len(thread_messages(fake_slack, thread_ts))
    with world.session_factory() as session:
        version_before = session.exec(select(Conversation)).one().version

    answer_question(slack, first_question, held=as_first_shown)

    assert len(thread_messages(fake_slack, thread_ts)) == posts_before
    with world.session_factory() as session:
        assert session.exec(select(Conversation)).one().version == version_before
    said = fake_slack.calls_to("response_url")[-1].params
    assert said["response_type"] == "ephemeral" and "already been answered" in said["text"]


def test_ptt_check_in_a_channel_moves_the_check_to_a_dm_and_answers_ephemerally(
        slack: Slack, fake_slack: FakeSlack) -> None:
    status, body, response_url = slack.command(DSL, "check", channel_id="CGENERAL")

    assert status == 200 and "Starting a check" in body
    assert all(p["channel"] == DM for p in slack.posted())
    assert any("Part-time timetable check" in p["text"] for p in slack.posted(DM))
    assert all(r["response_type"] == "ephemeral" for r in slack.responses(response_url))
    assert not fake_slack.calls_to("chat.postEphemeral")


def test_a_wrong_typed_answer_is_explained_and_the_question_asked_again(
        slack: Slack, fake_slack: FakeSlack) -> None:
    thread_ts = start_thread(slack, fake_slack)
    answer_until(slack, fake_slack, thread_ts, "plan.hours_per_week")
    slack.dm(DSL, "lots", thread_ts=thread_ts)

    again = thread_messages(fake_slack, thread_ts)[-1]
    assert ":warning:" in all_text(again)
    assert "hours" in all_text(again).lower()


def test_a_start_date_not_decided_yet_has_its_own_button_beside_the_datepicker(
        slack: Slack, fake_slack: FakeSlack) -> None:
    thread_ts = start_thread(slack, fake_slack)
    latest, block = answer_until(slack, fake_slack, thread_ts, "plan.start_date")
    picker, skip = block["elements"]
    assert picker["type"] == "datepicker"
    assert skip["type"] == "button" and skip["text"]["text"] == "Not decided yet" and skip["value"] == "skip"
    action = {"type": "button", "action_id": skip["action_id"], "block_id": block["block_id"], "value": "skip",
              "text": skip["text"]}
    status, _ = slack.click(DSL, stored(fake_slack, latest), DM, action)
    assert status == 200
    following = question_block(thread_messages(fake_slack, thread_ts)[-1])
    assert following is not None and following["block_id"].endswith("|plan.end_date")
    assert [e["text"]["text"] for e in following["elements"] if e["type"] == "button"] == ["No end date set yet"]


def test_a_stranger_cannot_start_a_check(slack: Slack, fake_slack: FakeSlack) -> None:
    slack.dm(STRANGER, "start a check")

    (reply,) = slack.posted("DSTRANGER")
    assert "I don't know you yet" in reply["text"]
    assert not [p for p in slack.posted() if "Part-time timetable check" in p["text"]]
