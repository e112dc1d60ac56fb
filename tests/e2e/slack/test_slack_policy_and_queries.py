"""``/ptt ask`` quotes the person's own protocol; EWO queries by DM are scoped by role and audited."""

from __future__ import annotations

import re

from sqlmodel import select

from rules.citations import quote_is_in
from storage.models import AuditLog
from tests.conftest import POLICY_DOCUMENTS
from tests.e2e.slack.conftest import DSL, EWO, OTHER_EWO, STRANGER, Slack, World, all_text
from tests.e2e.slack.slack_fakes import FakeSlack

PUPILS = ("Jordan", "Amy", "Ben", "Cara")


def quotes_in(blocks: list[dict]) -> list[str]:
    quotes = []
    for block in blocks:
        text = (block.get("text") or {}).get("text", "")
        quotes += [m.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">")
                   for m in re.findall(r"^> (.+)$", text, flags=re.M)]
    return quotes


def test_a_policy_question_is_answered_with_a_verbatim_quote_from_the_users_own_protocol(slack: Slack) -> None:
    status, _, response_url = slack.command(DSL, "ask can we use a part-time timetable for behaviour?")

    assert status == 200
    (answer,) = slack.responses(response_url)
    assert answer["response_type"] == "ephemeral"
    quotes = quotes_in(answer["blocks"])
    assert quotes
    document = (POLICY_DOCUMENTS / "derby-city.txt").read_text(encoding="utf-8")
    for quote in quotes:
        assert quote_is_in(quote, document), quote
    assert "Derby City" in all_text(answer)


def test_who_must_agree_for_a_looked_after_child_names_the_virtual_school_by_dm(
        slack: Slack, fake_slack: FakeSlack) -> None:
    slack.dm(DSL, "Who needs to agree for a looked-after child?")

    (reply,) = slack.posted("DDSL")
    assert "Virtual School" in all_text(reply)
    assert "For Children in Care the Virtual Headteacher must be consulted and agree to the arrangements." in \
        all_text(reply)


def test_a_question_the_protocol_does_not_cover_is_not_guessed(slack: Slack) -> None:
    _, _, response_url = slack.command(DSL, "ask what is the capital of France?")

    (answer,) = slack.responses(response_url)
    assert "couldn't find" in answer["text"] and not quotes_in(answer["blocks"])


def test_an_ewo_sees_the_plans_of_every_school_in_their_local_authority_and_no_other(
        slack: Slack, world: World) -> None:
    slack.dm(EWO, "active")

    (reply,) = slack.posted("DEWO")
    text = all_text(reply)
    assert "Jordan S." in text and "Ben B." in text
    assert "Cara" not in text and "Smith" not in text
    assert f"http://ptt.test/plans/{world.plans['jordan']}" in text


def test_an_ewo_in_another_authority_sees_only_theirs(slack: Slack) -> None:
    slack.dm(OTHER_EWO, "looked after")

    text = all_text(slack.posted("DEWO2")[0])
    assert "Cara C." in text
    assert not any(name in text for name in PUPILS if name != "Cara")


def test_school_staff_see_only_their_own_school(slack: Slack) -> None:
    _, _, response_url = slack.command(DSL, "plans")

    (answer,) = slack.responses(response_url)
    text = all_text(answer)
    assert "Jordan S." in text and "Amy J." in text and "Ben" not in text and "Cara" not in text


def test_a_school_outside_the_ewos_authority_is_simply_not_found(slack: Slack) -> None:
    slack.dm(EWO, "active at Ash Juniors")

    text = all_text(slack.posted("DEWO")[0])
    assert "can't find a school" in text and "Cara" not in text


def test_counting_plans_for_looked_after_pupils_gives_a_number(slack: Slack) -> None:
    slack.dm(EWO, "how many looked after?")

    assert "*1*" in all_text(slack.posted("DEWO")[0])


def test_an_unknown_query_gets_suggestions(slack: Slack) -> None:
    slack.dm(EWO, "purple monkey dishwasher")

    text = all_text(slack.posted("DEWO")[0])
    assert "didn't understand" in text and "`active`" in text


def test_every_plan_shown_is_an_audited_read(slack: Slack, world: World) -> None:
    slack.dm(EWO, "ending this week")

    with world.session_factory() as session:
        reads = session.exec(select(AuditLog).where(AuditLog.action == "read", AuditLog.entity == "plan")).all()
    assert {int(r.entity_id) for r in reads} == {world.plans["jordan"], world.plans["ben"]}
    assert all(r.actor_user_id == world.users["ewo"] for r in reads)
    assert all(r.detail_json["via"] == "slack" for r in reads)


def test_a_stranger_is_told_i_dont_know_you_and_shown_nothing(slack: Slack, fake_slack: FakeSlack) -> None:
    _, _, response_url = slack.command(STRANGER, "plans")
    slack.dm(STRANGER, "active")
    _, _, ask_url = slack.command(STRANGER, "ask how long can it last?")

    said = [*slack.responses(response_url), *slack.posted("DSTRANGER"), *slack.responses(ask_url)]
    assert len(said) == 3
    for message in said:
        assert "I don't know you yet" in all_text(message)
        assert not any(name in all_text(message) for name in PUPILS)
        assert "plans/" not in all_text(message)


def test_a_school_two_of_the_ewos_schools_answer_to_is_asked_back(slack: Slack, world: World) -> None:
    from storage.repositories import DirectoryRepository
    from storage.uow import UnitOfWork

    with UnitOfWork(world.session_factory) as unit:
        directory = DirectoryRepository(unit.session)
        la = directory.get_or_create_la("derby-city", "Derby City Council")
        for name in ("St Mary's CE Primary", "St Mary's Catholic Primary"):
            directory.get_or_create_school(name, la.id)
        unit.commit()
    slack.dm(EWO, "active at St Mary's")

    text = all_text(slack.posted("DEWO")[0])
    assert "which school do you mean" in text
    assert "St Mary's CE Primary" in text and "St Mary's Catholic Primary" in text
