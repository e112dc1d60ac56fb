"""Signing in and out, session cookies, CSRF, rate limiting and security headers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from assistant.demo import DEMO_PASSWORD
from assistant.services.auth import hash_password
from assistant.web import create_app
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.repositories import DirectoryRepository

from .conftest import (
    DERBY_EWO,
    OAK_DSL,
    OAK_STAFF,
    SingleSignOn,
    World,
    csrf_from,
    last_audit_id,
    settings_for,
    sign_in,
    sign_in_events,
    signed_in,
)


def login_token(client: FlaskClient) -> str:
    return csrf_from(client.get("/login").get_data(as_text=True))


def test_pages_need_a_signed_in_user(client: FlaskClient) -> None:
    for path in ("/", "/chat", "/plans", "/plans/1", "/la", "/plans/1/documents/plan.pdf"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.location.startswith("/login?next=")


def test_the_health_check_and_the_login_page_are_public(client: FlaskClient) -> None:
    assert client.get("/healthz").get_json() == {"status": "ok"}
    page = client.get("/login")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<label for="email">' in html and '<label for="password">' in html


def test_signing_in_with_the_right_password_opens_the_home_page(client: FlaskClient) -> None:
    response = client.post("/login", data={"email": OAK_STAFF, "password": DEMO_PASSWORD,
                                           "csrf_token": login_token(client)})
    assert response.status_code == 302 and response.location == "/"
    home = client.get("/").get_data(as_text=True)
    assert "Oak Primary" in home and "Start a new check" in home


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(client: FlaskClient) -> None:
    token = login_token(client)
    wrong = client.post("/login", data={"email": OAK_STAFF, "password": "not the password", "csrf_token": token})
    unknown = client.post("/login", data={"email": "nobody@example.org", "password": "x" * 12, "csrf_token": token})
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match an account" in wrong.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_the_session_cookie_is_httponly_and_samesite_lax(client: FlaskClient) -> None:
    response = client.post("/login", data={"email": OAK_STAFF, "password": DEMO_PASSWORD,
                                           "csrf_token": login_token(client)})
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("ptt_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_session_cookies_are_secure_unless_configured_for_local_http(web: World) -> None:
    app = create_app(settings_for(web.database_url, cookie_secure=True), start_sweeper=False)
    client = app.test_client()
    response = client.get("/login")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("ptt_session="))
    assert "Secure" in cookie
    app.extensions["ptt"].engine.dispose()


def test_next_sends_you_back_to_the_page_you_asked_for_but_never_off_site(client: FlaskClient) -> None:
    token = login_token(client)
    response = client.post("/login?next=/plans", data={"email": OAK_STAFF, "password": DEMO_PASSWORD,
                                                       "csrf_token": token})
    assert response.location == "/plans"
    client2 = client.application.test_client()
    token = login_token(client2)
    # A browser reads "/\\host" as "//host"; %09 (a tab) it drops before doing the same.
    for target in ("https://evil.example/", "//evil.example/x", "/%5Cevil.example", "/%5C%5Cevil.example/x",
                   "/%09/evil.example"):
        response = client2.post(f"/login?next={target}", data={"email": OAK_STAFF, "password": DEMO_PASSWORD,
                                                                 "csrf_token": token})
        assert response.location == "/"
        token = csrf_from(client2.get("/").get_data(as_text=True))
        client2.post("/logout", data={"csrf_token": token})
        token = login_token(client2)


def test_a_form_post_without_the_csrf_token_is_refused(client: FlaskClient) -> None:
    assert client.post("/login", data={"email": OAK_STAFF, "password": DEMO_PASSWORD}).status_code == 403
    csrf = sign_in(client, OAK_STAFF)
    assert client.post("/chat", data={"policy": "derby-city"}).status_code == 403
    assert client.post("/chat", data={"policy": "derby-city", "csrf_token": "forged"}).status_code == 403
    assert client.post("/chat", data={"policy": "derby-city", "csrf_token": csrf}).status_code == 302


def test_json_requests_made_with_the_session_cookie_need_the_csrf_header(client: FlaskClient) -> None:
    csrf = sign_in(client, OAK_STAFF)
    refused = client.post("/api/v1/conversations", json={"policy": "derby-city"})
    assert refused.status_code == 403
    assert "security token" in refused.get_json()["error"]["message"]
    accepted = client.post("/api/v1/conversations", json={"policy": "derby-city"}, headers={"X-CSRF-Token": csrf})
    assert accepted.status_code == 201


def test_bearer_token_requests_need_no_csrf_token(web: World) -> None:
    response = web.app.test_client().post("/api/v1/conversations", json={"policy": "derby-city"},
                                          headers=web.auth(OAK_STAFF))
    assert response.status_code == 201


def test_signing_out_ends_the_session(client: FlaskClient) -> None:
    csrf = sign_in(client, OAK_STAFF)
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/timetables").status_code == 401


def test_a_copy_of_the_session_cookie_stops_working_once_its_user_signs_out(web: World) -> None:
    """The cookie is all a session is: signing out must end it on the server too, or a copy
    taken from a shared computer would keep working until it expires."""
    browser, csrf = signed_in(web.app, OAK_STAFF)
    cookie = web.app.config["SESSION_COOKIE_NAME"]
    copy = web.app.test_client()
    copy.set_cookie(cookie, browser.get_cookie(cookie).value)
    assert copy.get("/plans").status_code == 200

    assert browser.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert copy.get("/plans").status_code == 302  # back to the sign-in page
    again, _csrf = signed_in(web.app, OAK_STAFF)  # at once, in the same second
    assert again.get("/plans").status_code == 200


def test_signing_out_ends_the_session_even_when_the_audit_log_cannot_be_written(
        client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy.exc import OperationalError

    from assistant.services import auth

    def locked(*_args: Any, **_kwargs: Any) -> None:
        raise OperationalError("INSERT INTO audit_log", {}, Exception("database is locked"))

    csrf = sign_in(client, OAK_STAFF)
    monkeypatch.setattr(auth, "record_sign_out", locked)
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert client.get("/").status_code == 302


def test_signing_in_again_rotates_the_csrf_token(client: FlaskClient) -> None:
    before = login_token(client)
    after = sign_in(client, OAK_STAFF)
    assert before != after


def test_every_page_sends_the_security_headers(client: FlaskClient) -> None:
    for response in (client.get("/login"), client.get("/healthz"), client.get("/static/app.css")):
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"]


def test_https_responses_tell_browsers_to_stay_on_https(web: World) -> None:
    app = create_app(settings_for(web.database_url, trusted_proxies=1), start_sweeper=False)
    client = app.test_client()
    behind_tls = client.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert behind_tls.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/login").headers  # plain HTTP: meaningless, not sent
    app.extensions["ptt"].engine.dispose()


def test_pages_have_no_inline_script(web: World) -> None:
    client, _csrf = signed_in(web.app, OAK_STAFF)
    for path in ("/", "/chat", "/plans", f"/plans/{web.plan('Oak Primary', 'active')}"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and " onclick=" not in html and "style=" not in html, path


# Sign-in throttling: each test has a database of its own, since failures are kept there.
@pytest.fixture
def throttled(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Apps on a fresh database with Oak Primary's staff member and a colleague; failed sign-ins
    are limited to 3 a minute per address unless the test says otherwise."""
    url = f"sqlite:///{tmp_path / 'ptt.db'}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        directory = DirectoryRepository(session)
        school = directory.get_or_create_school("Oak Primary", directory.get_or_create_la("derby-city", "Derby").id)
        for email in (OAK_STAFF, COLLEAGUE):
            directory.upsert_user(email, "staff", school_id=school.id, password_hash=hash_password(DEMO_PASSWORD))
        session.commit()
    engine.dispose()
    apps: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        app = create_app(settings_for(url, **{"login_rate_limit": "3 per minute", **overrides}), start_sweeper=False)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.extensions["ptt"].engine.dispose()


COLLEAGUE = "colleague@oak.example.org"


def _sign_ins(client: FlaskClient, times: int, *, email: str = OAK_STAFF, password: str = "wrong password!",
              address: str | None = None) -> list[int]:
    token = login_token(client)
    headers = {"X-Forwarded-For": address} if address else {}
    return [client.post("/login", data={"email": email, "password": password, "csrf_token": token},
                        headers=headers).status_code for _ in range(times)]


def test_signing_in_is_rate_limited(throttled: Callable[..., Flask]) -> None:
    client = throttled().test_client()
    assert _sign_ins(client, 5) == [401, 401, 401, 429, 429]
    refused = client.post("/login", data={"email": OAK_STAFF, "password": DEMO_PASSWORD,
                                          "csrf_token": login_token(client)})
    assert refused.status_code == 429  # even the right password waits
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "Too many sign-in attempts" in refused.get_data(as_text=True)
    assert client.get("/login").status_code == 200


def test_failed_sign_ins_are_counted_by_every_worker_together(throttled: Callable[..., Flask]) -> None:
    first_worker, second_worker = throttled().test_client(), throttled().test_client()
    assert _sign_ins(first_worker, 2) == [401, 401]
    assert _sign_ins(second_worker, 2) == [401, 429]


def test_successful_sign_ins_are_not_counted(throttled: Callable[..., Flask]) -> None:
    app = throttled()
    signed_in_each_time = [_sign_ins(app.test_client(), 1, password=DEMO_PASSWORD)[0] for _ in range(4)]
    assert signed_in_each_time == [302, 302, 302, 302]
    assert _sign_ins(app.test_client(), 3) == [401, 401, 401]


def test_one_account_guessed_from_many_addresses_is_throttled(throttled: Callable[..., Flask]) -> None:
    client = throttled(trusted_proxies=1, login_account_rate_limit="4 per hour").test_client()
    tried = [_sign_ins(client, 1, address=f"203.0.113.{n}")[0] for n in range(1, 7)]
    assert tried == [401, 401, 401, 401, 429, 429]
    assert _sign_ins(client, 1, email=COLLEAGUE, address="203.0.113.9") == [401]  # other accounts are not held up


def test_behind_a_trusted_proxy_the_login_limit_counts_each_client_apart(throttled: Callable[..., Flask]) -> None:
    client = throttled(trusted_proxies=1).test_client()
    assert _sign_ins(client, 4, address="203.0.113.5") == [401, 401, 401, 429]
    assert _sign_ins(client, 1, address="198.51.100.7") == [401]  # someone else is not locked out


def test_without_a_trusted_proxy_a_forwarded_address_is_ignored(throttled: Callable[..., Flask]) -> None:
    client = throttled().test_client()
    assert _sign_ins(client, 3, address="203.0.113.5") == [401, 401, 401]
    assert _sign_ins(client, 1, address="198.51.100.7") == [429]  # a forged header buys no new attempts


def test_a_throttled_sign_in_is_refused_while_another_writer_holds_the_database(
    throttled: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Checking the throttle only reads, so on SQLite it neither waits for a writer (a reminder
    sweep, another worker's answer) nor holds one up. A short busy timeout makes a check that
    waited for the write lock fail instead of answering."""
    import sqlite3

    import storage.db

    monkeypatch.setattr(storage.db, "SQLITE_BUSY_TIMEOUT_MS", 200)
    app = throttled()
    client = app.test_client()
    assert _sign_ins(client, 3) == [401, 401, 401]
    other = sqlite3.connect(app.extensions["ptt"].engine.url.database, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        assert _sign_ins(client, 1) == [429]
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_la_users_land_on_the_la_view(client: FlaskClient) -> None:
    sign_in(client, DERBY_EWO)
    response = client.get("/")
    assert response.status_code == 302 and response.location == "/la"


def test_only_slack_routes_are_exempt_from_csrf(client: FlaskClient) -> None:
    response = client.post("/slack/events", data="{}", content_type="application/json")
    assert response.status_code not in (302, 401, 403), "Slack signs its requests; the Slack app checks them"
    assert client.post("/logout").status_code == 403


def test_single_sign_on_is_off_unless_configured(client: FlaskClient, sso: SingleSignOn) -> None:
    assert client.get("/login/sso").status_code == 404
    assert "Sign in with" not in client.get("/login").get_data(as_text=True)
    # The same database, with the OIDC_* settings given (tests/e2e/test_single_sign_on.py signs in).
    assert "ptt_oauth" in sso.app.extensions
    page = sso.app.test_client().get("/login").get_data(as_text=True)
    assert "Sign in with Microsoft Entra ID" in page and 'href="/login/sso"' in page


def test_the_header_names_the_signed_in_user_and_their_role_once(web: World, fresh_user: str) -> None:
    newcomer, _csrf = signed_in(web.app, fresh_user)
    assert '<span class="who">New Staff <span class="role">(School staff)</span></span>' in newcomer.get("/").get_data(
        as_text=True)
    dsl, _csrf = signed_in(web.app, OAK_DSL)  # the demo's name already says the role
    header = dsl.get("/").get_data(as_text=True)
    assert '<span class="who">Designated Safeguarding Lead, Oak Primary</span>' in header


def test_signing_in_and_out_are_written_to_the_audit_log(world: World) -> None:
    before = last_audit_id(world)
    client = world.app.test_client()
    token = login_token(client)
    assert client.post("/login", data={"email": OAK_DSL, "password": "not the password",
                                       "csrf_token": token}).status_code == 401
    assert sign_in_events(world, OAK_DSL, before) == []  # a refusal is counted by the throttle, not audited
    csrf = sign_in(client, OAK_DSL)
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert sign_in_events(world, OAK_DSL, before) == [
        ("sign_in", {"method": "password", "address": "127.0.0.1"}),
        ("sign_out", {"address": "127.0.0.1"}),
    ]
