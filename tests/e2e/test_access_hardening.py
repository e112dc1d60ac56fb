"""Who may write and who is known: LA roles never write to a school's plans, a Slack stranger
is never matched by e-mail, and the Slack App Home audits every pupil it names. (Single sign-on,
which trusts only verified addresses, is in ``test_single_sign_on``.)"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from assistant.commands.admin import users
from assistant.services.queries import home_summary
from assistant.slack.runtime import SlackRuntime
from storage.db import make_engine, make_session_factory
from storage.models import AuditLog, Plan, User
from tests.e2e.conftest import ADMIN, DERBY_EWO, OAK_DSL, World, derby_city_answers, scripted_answer


def test_an_ewo_added_with_a_school_belongs_to_its_la_not_the_school(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ptt.db'}"
    result = CliRunner().invoke(users, ["add", "ewo@oak.example.org", "--role", "ewo", "--school", "Oak Primary",
                                        "--la", "derby-city"], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    with make_session_factory(make_engine(url))() as session:
        ewo = session.exec(select(User).where(User.email == "ewo@oak.example.org")).one()
        assert ewo.school_id is None and ewo.la_id is not None


def test_an_la_role_finishing_a_plan_does_not_save_it_into_a_school(web: World) -> None:
    engine = make_engine(web.database_url)
    with Session(engine) as session:
        ewo = session.exec(select(User).where(User.email == DERBY_EWO)).one()
        oak_school = session.exec(select(User).where(User.email == OAK_DSL)).one().school_id
        ewo.school_id = oak_school  # as an older install might have stored it
        session.add(ewo)
        session.commit()
        plans_before = len(session.exec(select(Plan)).all())
    try:
        client = web.app.test_client()
        headers = {"Authorization": f"Bearer {web.tokens[DERBY_EWO]}"}
        answers = derby_city_answers()
        view = client.post("/api/v1/conversations", json={"policy": "derby-city"}, headers=headers).get_json()
        for _ in range(80):
            if view.get("complete"):
                break
            reply = view["replies"][-1]
            view = client.post(f"/api/v1/conversations/{view['id']}/messages",
                               json={"text": scripted_answer(reply, answers)}, headers=headers).get_json()
        assert view.get("complete"), view["replies"][-1]["text"]
        assert view.get("plan_id") is None
        assert "not saved" in " ".join(r["text"] for r in view["replies"])
        with Session(engine) as session:
            assert len(session.exec(select(Plan)).all()) == plans_before
    finally:
        with Session(engine) as session:
            ewo = session.exec(select(User).where(User.email == DERBY_EWO)).one()
            ewo.school_id = None
            session.add(ewo)
            session.commit()
        engine.dispose()


class FakeSlackDirectory:
    """Answers users.info as Slack would for one profile."""

    def __init__(self, user: dict[str, Any]) -> None:
        self.user = user

    def users_info(self, *, user: str) -> dict[str, Any]:
        return {"ok": True, "user": self.user}


@pytest.mark.parametrize("flags", [{"is_stranger": True}, {"is_email_confirmed": False}])
def test_a_slack_stranger_or_unconfirmed_address_is_never_matched_to_staff(web: World, flags: dict[str, bool]) -> None:
    engine = make_engine(web.database_url)
    try:
        runtime = SlackRuntime(session_factory=make_session_factory(engine), base_url="http://127.0.0.1")
        slack_user = {"id": "U999", "profile": {"email": OAK_DSL}, **flags}
        user, _ = runtime.link_by_email(FakeSlackDirectory(slack_user), "U999")  # type: ignore[arg-type]
        assert user is None
    finally:
        engine.dispose()


def test_the_app_home_audits_every_pupil_it_names(web: World) -> None:
    engine = make_engine(web.database_url)
    session_factory = make_session_factory(engine)
    try:
        with session_factory() as session:
            admin = session.exec(select(User).where(User.email == ADMIN)).one()
            first_audit = max([a.id for a in session.exec(select(AuditLog))] or [0])
        summary = home_summary(session_factory, admin, today=date.today(), base_url="http://127.0.0.1", limit=1)
        named = {r.plan_id for r in summary.plans}
        named |= {r.row.plan_id for r in summary.reviews_due} | {a.row.plan_id for a in summary.agreements_outstanding}
        with session_factory() as session:
            audited = {a.entity_id for a in session.exec(select(AuditLog).where(AuditLog.id > first_audit))
                       if a.entity == "plan"}
        assert {str(plan_id) for plan_id in named} <= {str(entity) for entity in audited}
        assert len(named) > 1  # the page names more pupils than its first list shows
    finally:
        engine.dispose()


def test_revoking_a_users_tokens_locks_the_api_until_a_new_token_is_issued(tmp_path: Path) -> None:
    from assistant.config import Settings
    from assistant.web import create_app

    url = f"sqlite:///{tmp_path / 'ptt.db'}"
    runner = CliRunner()
    added = runner.invoke(users, ["add", "dsl@elm.example.org", "--role", "dsl", "--school", "Elm Primary",
                                  "--la", "derby-city"], env={"DATABASE_URL": url})
    old_token = added.output.strip().splitlines()[-1]
    app = create_app(Settings(database_url=url, secret_key="k", cookie_secure=False, ptt_sweeper=False),
                     start_sweeper=False)
    client = app.test_client()

    def status(token: str) -> int:
        return client.get("/api/v1/timetables", headers={"Authorization": f"Bearer {token}"}).status_code

    assert status(old_token) == 200
    revoked = runner.invoke(users, ["revoke-tokens", "dsl@elm.example.org"], env={"DATABASE_URL": url})
    assert revoked.exit_code == 0 and "Revoked 1 API token(s)" in revoked.output
    assert status(old_token) == 401
    new_token = runner.invoke(users, ["add", "dsl@elm.example.org", "--role", "dsl", "--school", "Elm Primary",
                                      "--la", "derby-city"], env={"DATABASE_URL": url}).output.strip().splitlines()[-1]
    assert status(new_token) == 200
    missing = runner.invoke(users, ["revoke-tokens", "nobody@elm.example.org"], env={"DATABASE_URL": url})
    assert missing.exit_code == 2
