"""A disabled account (a leaver, a lost device) is shut out everywhere at once: its open web
session ends (for good: enabling the account again does not revive it), it cannot sign in by
password or single sign-on, its API tokens and calendar feed stop working, Slack no longer knows
it; and enabling it again lets it sign in."""

from __future__ import annotations

import re

from click.testing import CliRunner, Result
from sqlmodel import select

from assistant.commands.admin import users
from assistant.demo import DEMO_PASSWORD
from assistant.services.auth import issue_token
from assistant.slack.runtime import SlackRuntime
from storage.db import make_engine, make_session_factory
from storage.models import AuditLog, User
from tests.e2e.conftest import SingleSignOn, World, csrf_from, signed_in
from tests.e2e.test_access_hardening import FakeSlackDirectory


def _ptt_users(web: World, *args: str) -> Result:
    return CliRunner().invoke(users, list(args), env={"DATABASE_URL": web.database_url})


def _token_for(web: World, email: str) -> str:
    with web.session() as session:
        token = issue_token(session, session.exec(select(User).where(User.email == email)).one())
        session.commit()
    return token


def _password_sign_in_status(web: World, email: str) -> int:
    client = web.app.test_client()
    token = csrf_from(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"email": email, "password": DEMO_PASSWORD, "csrf_token": token}).status_code


def test_disabling_an_account_ends_its_session_and_refuses_password_and_token(web: World, fresh_user: str) -> None:
    browser, _csrf = signed_in(web.app, fresh_user)
    token = _token_for(web, fresh_user)
    api = web.app.test_client()
    bearer = {"Authorization": f"Bearer {token}"}
    assert browser.get("/plans").status_code == 200 and api.get("/api/v1/timetables", headers=bearer).status_code == 200

    disabled = _ptt_users(web, "disable", fresh_user)
    assert disabled.exit_code == 0 and "1 API token(s) revoked" in disabled.output

    assert browser.get("/plans").status_code == 302  # signed out: back to the sign-in page
    assert api.get("/api/v1/timetables", headers=bearer).status_code == 401
    assert _password_sign_in_status(web, fresh_user) == 401  # the same answer as a wrong password
    assert f"{fresh_user}\tstaff\tOak Primary\tderby-city\tdisabled" in _ptt_users(web, "list").output


def test_an_enabled_account_signs_in_again_but_its_old_tokens_stay_revoked(web: World, fresh_user: str) -> None:
    token = _token_for(web, fresh_user)
    _ptt_users(web, "disable", fresh_user)
    enabled = _ptt_users(web, "enable", fresh_user)
    assert enabled.exit_code == 0 and "can sign in again" in enabled.output
    assert _password_sign_in_status(web, fresh_user) == 302
    api = web.app.test_client()
    assert api.get("/api/v1/timetables", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    with web.session() as session:
        user = session.exec(select(User).where(User.email == fresh_user)).one()
        summaries = [a.detail_json["summary"] for a in session.exec(
            select(AuditLog).where(AuditLog.entity == "user", AuditLog.entity_id == str(user.id),
                                   AuditLog.action == "update"))]
    assert summaries[-2:] == ["Account disabled; 1 API token(s) revoked", "Account enabled"]
    assert _ptt_users(web, "enable", "nobody@oak.example.org").exit_code == 2


def test_enabling_an_account_again_does_not_revive_its_old_web_sessions(web: World, fresh_user: str) -> None:
    browser, _csrf = signed_in(web.app, fresh_user)
    _ptt_users(web, "disable", fresh_user)
    _ptt_users(web, "enable", fresh_user)
    assert browser.get("/plans").status_code == 302
    again, _csrf = signed_in(web.app, fresh_user)
    assert again.get("/plans").status_code == 200


def test_revoking_a_users_tokens_ends_their_web_sessions_too(web: World, fresh_user: str) -> None:
    """A lost laptop holds a session cookie as well as an API token."""
    browser, _csrf = signed_in(web.app, fresh_user)
    assert browser.get("/plans").status_code == 200
    revoked = _ptt_users(web, "revoke-tokens", fresh_user)
    assert revoked.exit_code == 0 and "ended their web sessions" in revoked.output
    assert browser.get("/plans").status_code == 302
    again, _csrf = signed_in(web.app, fresh_user)
    assert again.get("/plans").status_code == 200


def test_single_sign_on_refuses_a_disabled_account(web: World, sso: SingleSignOn, fresh_user: str) -> None:
    assert sso.signed_in({"email": fresh_user, "email_verified": True})
    _ptt_users(web, "disable", fresh_user)
    assert not sso.signed_in({"email": fresh_user, "email_verified": True})


def _feed_address(web: World, email: str) -> str:
    browser, _csrf = signed_in(web.app, email)
    feed = re.search(r'id="feed-url"[^>]*value="http://localhost(/calendar/\d+/[0-9a-f]+\.ics)"',
                     browser.get("/plans").get_data(as_text=True))
    assert feed is not None
    return feed.group(1)


def test_a_disabled_accounts_calendar_feed_stops_for_good(web: World, fresh_user: str) -> None:
    feed = _feed_address(web, fresh_user)
    anonymous = web.app.test_client()
    assert anonymous.get(feed).status_code == 200
    _ptt_users(web, "disable", fresh_user)
    assert anonymous.get(feed).status_code == 404
    _ptt_users(web, "enable", fresh_user)
    assert anonymous.get(feed).status_code == 404, "enabling the account again does not revive the old address"
    assert anonymous.get(_feed_address(web, fresh_user)).status_code == 200


def test_revoking_a_users_tokens_withdraws_their_calendar_feeds_address(web: World, fresh_user: str) -> None:
    """The feed's address is a password kept in a calendar app: a lost phone must not keep it."""
    feed = _feed_address(web, fresh_user)
    anonymous = web.app.test_client()
    assert anonymous.get(feed).status_code == 200
    revoked = _ptt_users(web, "revoke-tokens", fresh_user)
    assert revoked.exit_code == 0 and "withdrew their calendar feed's address" in revoked.output
    assert anonymous.get(feed).status_code == 404
    renewed = _feed_address(web, fresh_user)
    assert renewed != feed and anonymous.get(renewed).status_code == 200


def test_slack_no_longer_knows_a_disabled_account(web: World, fresh_user: str) -> None:
    engine = make_engine(web.database_url)
    try:
        runtime = SlackRuntime(session_factory=make_session_factory(engine), base_url="http://127.0.0.1")
        slack = FakeSlackDirectory({"id": "U-LEAVER", "profile": {"email": fresh_user}, "is_email_confirmed": True})
        assert runtime.identify(slack, "U-LEAVER") is not None  # type: ignore[arg-type]  # linked by e-mail
        _ptt_users(web, "disable", fresh_user)
        assert runtime.identify(slack, "U-LEAVER") is None  # type: ignore[arg-type]
    finally:
        engine.dispose()
