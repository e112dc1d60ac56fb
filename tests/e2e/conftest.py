"""The web app under test: a migrated database with the demo data (one LA per policy, schools,
users for every role, plans at every stage), API tokens for a few users, and helpers to sign in
and to answer the interview like a member of staff would.

The SQLite world is a temporary file; the PostgreSQL world is a uniquely named database
(``ptt_web_<random>``) created through the ``test`` database on 127.0.0.1:5432 and dropped
afterwards. Without a reachable server the PostgreSQL tests are skipped with a message, unless
``CI`` is set, where that is a failure.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlmodel import Session, col, select

from assistant.config import Settings
from assistant.demo import DEMO_PASSWORD, load_demo
from assistant.services.auth import issue_token
from assistant.web import create_app
from rules.reminder_schedule import SCHOOL_TIMEZONE
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.models import AuditLog, Plan, School, User
from storage.repositories import DirectoryRepository

from .oidc_provider import CLIENT_ID, CLIENT_SECRET, FakeIdentityProvider, Misbehaviour

PG_SERVER = os.environ.get("PTT_TEST_PG_SERVER", "postgresql://postgres@127.0.0.1:5432")
PG_ADMIN_DATABASE = "test"

OAK_STAFF = "staff@oak.example.org"
OAK_DSL = "dsl@oak.example.org"
RIVERSIDE_STAFF = "staff@riverside.example.org"
PEAKVIEW_STAFF = "staff@peakview.example.org"
DERBY_EWO = "ewo@derby-city.example.org"
DERBY_LA_OFFICER = "la.officer@derby-city.example.org"
DERBYSHIRE_EWO = "ewo@derbyshire.example.org"
ADMIN = "admin@ptt.example.org"
TOKEN_USERS = (OAK_STAFF, OAK_DSL, RIVERSIDE_STAFF, PEAKVIEW_STAFF, DERBY_EWO, DERBYSHIRE_EWO, ADMIN)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


@dataclass
class World:
    """A running app over a seeded database."""

    backend: str
    database_url: str
    app: Flask
    tokens: dict[str, str]
    plans: dict[tuple[str, str], list[int]] = field(default_factory=dict)

    def plan(self, school: str, status: str) -> int:
        """The id of one of the school's demo plans in that status."""
        return self.plans[(school, status)][0]

    def session(self) -> Session:
        return make_session_factory(self.app.extensions["ptt"].engine)()

    def auth(self, email: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[email]}"}


def school_today() -> date:
    """Today as the app counts school days: in England, not on the machine's clock."""
    return datetime.now(UTC).astimezone(SCHOOL_TIMEZONE).date()


def settings_for(database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url, "secret_key": "test-secret-key-not-for-production",
        "cookie_secure": False, "ptt_sweeper": False, "login_rate_limit": "1000 per minute",
        "login_account_rate_limit": "1000 per minute",
    }
    values.update(overrides)
    return Settings(**values)


def build_world(backend: str, database_url: str) -> World:
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        load_demo(make_session_factory(engine))
        tokens: dict[str, str] = {}
        plans: dict[tuple[str, str], list[int]] = {}
        with make_session_factory(engine)() as session:
            for email in TOKEN_USERS:
                user = session.exec(select(User).where(User.email == email)).one()
                tokens[email] = issue_token(session, user)
            session.commit()
            schools = {s.id: s.name for s in session.exec(select(School))}
            for plan in session.exec(select(Plan).order_by(Plan.id)):
                plans.setdefault((schools[plan.school_id], plan.status), []).append(plan.id)  # type: ignore[arg-type]
    finally:
        engine.dispose()
    app = create_app(settings_for(database_url), start_sweeper=False)
    app.config["TESTING"] = True
    return World(backend=backend, database_url=database_url, app=app, tokens=tokens, plans=plans)


@pytest.fixture(scope="session")
def sqlite_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path = tmp_path_factory.mktemp("web") / "ptt.db"
    world = build_world("sqlite", f"sqlite:///{path}")
    yield world
    world.app.extensions["ptt"].engine.dispose()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    import psycopg

    try:
        admin = psycopg.connect(f"{PG_SERVER}/{PG_ADMIN_DATABASE}", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as error:
        message = (f"PostgreSQL is not reachable at {PG_SERVER}/{PG_ADMIN_DATABASE} "
                   f"({str(error).strip().splitlines()[0]}); PostgreSQL web tests skipped.")
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    name = f"ptt_web_{uuid.uuid4().hex[:12]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{PG_SERVER.replace('postgresql://', 'postgresql+psycopg://')}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_world(postgres_url: str) -> Iterator[World]:
    world = build_world("postgresql", postgres_url)
    yield world
    world.app.extensions["ptt"].engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest) -> World:
    """The API tests run on both databases."""
    return request.getfixturevalue("sqlite_world" if request.param == "sqlite" else "postgres_world")


@pytest.fixture
def web(sqlite_world: World) -> World:
    return sqlite_world


@pytest.fixture
def client(web: World) -> FlaskClient:
    return web.app.test_client()


# --------------------------------------------------------------------------- single sign-on
@dataclass
class SingleSignOn:
    """The app configured for OpenID Connect against a fake provider on loopback, over the same
    database as ``web``."""

    app: Flask
    provider: FakeIdentityProvider

    def round_trip(self, client: FlaskClient, claims: dict[str, Any] | None) -> str:
        """The browser's trip out: the app sends it to the provider, where the person signs in
        (``claims`` is what the provider says of them; None refuses consent), and the provider
        sends it back; the path and query of the app's callback it is sent to."""
        self.provider.next_claims = claims
        start = client.get("/login/sso")
        assert start.status_code == 302 and start.location.startswith(f"{self.provider.issuer}/authorize?")
        at_provider = requests.get(start.location, allow_redirects=False, timeout=10)
        assert at_provider.status_code == 302, at_provider.text
        back = urlsplit(at_provider.headers["Location"])
        assert back.path == "/login/sso/callback"
        return f"{back.path}?{back.query}"

    def callback(self, client: FlaskClient, claims: dict[str, Any] | None) -> Any:
        """The app's response when the browser comes back from the provider."""
        return client.get(self.round_trip(client, claims))

    def signed_in(self, claims: dict[str, Any] | None) -> bool:
        client = self.app.test_client()
        self.callback(client, claims)
        return client.get("/plans").status_code == 200


@pytest.fixture(scope="session")
def identity_provider() -> Iterator[FakeIdentityProvider]:
    with FakeIdentityProvider().running() as provider:
        yield provider


@pytest.fixture(scope="session")
def sso_app(sqlite_world: World, identity_provider: FakeIdentityProvider) -> Iterator[Flask]:
    app = create_app(settings_for(sqlite_world.database_url, oidc_client_id=CLIENT_ID,
                                  oidc_client_secret=CLIENT_SECRET, oidc_metadata_url=identity_provider.metadata_url,
                                  oidc_provider_name="Microsoft Entra ID"), start_sweeper=False)
    app.config["TESTING"] = True
    yield app
    app.extensions["ptt"].engine.dispose()


@pytest.fixture
def sso(sso_app: Flask, identity_provider: FakeIdentityProvider) -> SingleSignOn:
    identity_provider.misbehaviour = Misbehaviour()
    identity_provider.next_claims = None
    return SingleSignOn(app=sso_app, provider=identity_provider)


# --------------------------------------------------------------------------- signing in
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_META.search(html)
    assert match, "the page has no CSRF meta tag"
    return match.group(1)


def sign_in(client: FlaskClient, email: str, password: str = DEMO_PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    response = client.post("/login", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    return csrf_from(client.get("/", follow_redirects=True).get_data(as_text=True))


def signed_in(app: Flask, email: str) -> tuple[FlaskClient, str]:
    client = app.test_client()
    return client, sign_in(client, email)


# --------------------------------------------------------------------------- answering the interview
def next_monday(today: date | None = None) -> date:
    today = today or date.today()
    return today + timedelta(days=(7 - today.weekday()) % 7 or 7)


def derby_city_answers(today: date | None = None) -> dict[str, str]:
    """What a member of staff answers for a Year 5 pupil with mental-health needs whose
    timetable may proceed under the Derby City protocol, and the plan they write."""
    start = next_monday(today)
    return {
        "pupil.year_group": "Y5",
        "reasons": "mental_health",
        "plan.start_date": start.isoformat(),
        "plan.end_date": (start + timedelta(days=25)).isoformat(),
        "plan.hours_per_week": "12.5",
        "calendar.closures": "none",
        "steps.parent_consent": "given",
        "steps.risk_assessment": "no_concerns",
        "offer_plan": "plan",
        "write.first_name": "Alex",
        "write.last_name": "Taylor",
        "write.date_of_birth": "2016-05-01",
        "write.starting_hours": "10",
        "write.where_when_not_in_school": "At home",
        "write.with_whom_when_not_in_school": "Parent",
        "write.work_set": "Maths and reading packs",
        "write.work_marking": "The class teacher marks it weekly",
        "write.long_term_outcome": "Full-time attendance by the end date",
        "write.short_term_targets": "Arrive on time; Stay all morning; Join the lunch club",
        "write.success_criteria": "No missed sessions for two weeks",
        "write.named_lead": "Sam Jones, attendance lead",
        "write.review_dates": "yes",
    }


def scripted_answer(reply: dict[str, Any], answers: dict[str, str]) -> str:
    """The answer to one question (a contract Reply as JSON)."""
    key = reply.get("question_id") or reply.get("fact")
    if key in answers:
        return answers[key]
    fact = reply.get("fact") or ""
    if fact.startswith("circumstances."):
        return "no"
    if fact.startswith("consultations."):
        return "agreed"
    kind = reply.get("kind")
    if kind == "yes_no":
        return "yes"
    if kind in ("choice", "multi_choice") and reply.get("choices"):
        return reply["choices"][0]["value"]
    if kind == "number":
        return "10"
    if kind == "date":
        return answers["plan.start_date"]
    return "none"


MAX_TURNS = 80


@pytest.fixture(scope="session")
def answers() -> dict[str, str]:
    return derby_city_answers()


@pytest.fixture
def fresh_user(web: World) -> Iterator[str]:
    """A new member of Oak Primary's staff with a password, for tests that need a clean slate."""
    email = f"staff-{uuid.uuid4().hex[:8]}@oak.example.org"
    from assistant.services.auth import hash_password
    from storage.repositories import DirectoryRepository

    with web.session() as session:
        directory = DirectoryRepository(session)
        school = session.exec(select(School).where(School.name == "Oak Primary")).one()
        directory.upsert_user(email, "staff", school_id=school.id, la_id=school.la_id,
                              password_hash=hash_password(DEMO_PASSWORD), display_name="New Staff")
        session.commit()
    yield email


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


@pytest.fixture
def make_plan(web: World) -> Any:
    """Add a demo plan at ``stage`` (awaiting, active, review_overdue, closed) to a school, for
    tests that change a plan (so that no test depends on another's changes)."""
    from assistant.demo import AUTHORITIES, PUPILS, create_demo_plan

    def make(stage: str, school_name: str = "Oak Primary", lead_email: str = OAK_DSL) -> int:
        authority = next(a for a in AUTHORITIES if any(s.name == school_name for s in a.schools))
        with web.session() as session:
            school = session.exec(select(School).where(School.name == school_name)).one()
            lead = session.exec(select(User).where(User.email == lead_email)).one()
            count = len(session.exec(select(Plan.id).where(Plan.school_id == school.id)).all())
            plan_id = create_demo_plan(session, authority, stage, date.today(), count, school.id,  # type: ignore[arg-type]
                                       PUPILS[count % len(PUPILS)], lead)
            session.commit()
        return plan_id

    return make


# --------------------------------------------------------------------------- a real server and Chromium
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
AXE_DIR = Path(__file__).resolve().parent / "axe"


@pytest.fixture(scope="session")
def live_server(sqlite_world: World) -> Iterator[str]:
    """The app on a real HTTP server (werkzeug, a thread, a free loopback port)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, sqlite_world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="ptt-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium"
        if in_ci():
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@pytest.fixture(scope="session")
def axe_script() -> Path:
    """axe-core from the npm lock file in tests/e2e/axe (``npm ci`` on first use)."""
    import shutil
    import subprocess

    script = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists():
        npm = shutil.which("npm")
        if npm is None:
            message = "npm is missing, so axe-core cannot be installed (apt-get install -y npm)"
            if in_ci():
                pytest.fail(message)
            pytest.skip(message)
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=AXE_DIR, check=True, timeout=300,
                       capture_output=True)
    return script


# --------------------------------------------------------------------------- the audit log
def sign_in_events(world: World, email: str, after_id: int) -> list[tuple[str, dict[str, Any] | None]]:
    """The audit log's sign-ins and sign-outs of ``email`` since row ``after_id``."""
    engine = make_engine(world.database_url)
    try:
        with make_session_factory(engine)() as session:
            user = DirectoryRepository(session).user_by_email(email)
            assert user is not None
            rows = session.exec(select(AuditLog).where(
                col(AuditLog.id) > after_id, AuditLog.entity == "user", AuditLog.entity_id == str(user.id),
                col(AuditLog.action).in_(("sign_in", "sign_out"))).order_by(col(AuditLog.id))).all()
            assert all(r.actor_user_id == user.id and r.school_id == user.school_id for r in rows)
            return [(r.action, r.detail_json) for r in rows]
    finally:
        engine.dispose()


def last_audit_id(world: World) -> int:
    engine = make_engine(world.database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT coalesce(max(id), 0) FROM audit_log")).scalar_one())
    finally:
        engine.dispose()
