"""Fixtures for the Slack app: a fake Slack Web API, a migrated SQLite database with two local
authorities, three schools, staff and plans, and the app mounted on a Flask app (synchronous, so a
request's whole reply has reached the fake when the response comes back) or served live."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import sessionmaker
from sqlmodel import Session
from werkzeug.serving import make_server

from assistant.services.plans import PupilDetails, create_plan
from assistant.slack.http import init_app
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.repositories import DirectoryRepository
from storage.uow import UnitOfWork
from tests.e2e.slack.slack_fakes import FakeSlack, Request, SlackSide, SlackUser, signed_headers

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
BOT_TOKEN = "xoxb-test-token"
BASE_URL = "http://ptt.test"
TODAY = date(2026, 2, 9)  # a Monday, four weeks into the seeded plans

DSL = SlackUser("UDSL", "dsl@oak.sch.uk", "Dee Sell")
EWO = SlackUser("UEWO", "ewo@derby.gov.uk", "Eve Welfare")
OTHER_EWO = SlackUser("UEWO2", "ewo@derbyshire.gov.uk", "Ollie Other")
STRANGER = SlackUser("USTRANGER", "stranger@example.com", "Stan Ger")


def full_case(policy: str, **overrides: Any) -> dict[str, Any]:
    case: dict[str, Any] = {
        "policy": policy,
        "pupil": {"year_group": "Y5"},
        "circumstances": {},
        "reasons": ["mental_health"],
        "plan": {"start_date": "2026-01-12", "end_date": "2026-02-13", "hours_per_week": 12.5},
        "steps": {"parent_consent": "given", "risk_assessment": "no_concerns", "alternatives_exhausted": True,
                  "needs_assessment": True, "planning_meeting_held": True, "written_plan": True,
                  "headteacher_signed": True},
        "consultations": {"education_welfare": "consulted"},
    }
    for key, value in overrides.items():
        if isinstance(value, dict):
            case[key] = {**case.get(key, {}), **value}
        else:
            case[key] = value
    return case


@dataclass
class World:
    session_factory: sessionmaker[Session]
    users: dict[str, int] = field(default_factory=dict)
    plans: dict[str, int] = field(default_factory=dict)
    schools: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ptt.db'}"
    upgrade(url)
    return url


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    engine = make_engine(database_url)
    factory = make_session_factory(engine)
    seeded = World(factory)
    with UnitOfWork(factory) as unit:
        directory = DirectoryRepository(unit.session)
        derby = directory.get_or_create_la("derby-city", "Derby City Council")
        shire = directory.get_or_create_la("derbyshire", "Derbyshire County Council")
        for name, la in (("Oak Primary", derby), ("Elm Academy", derby), ("Ash Juniors", shire)):
            seeded.schools[name] = directory.get_or_create_school(name, la.id).id
        people = [
            ("dsl", DSL.email, "dsl", seeded.schools["Oak Primary"], None),
            ("elm_dsl", "dsl@elm.sch.uk", "dsl", seeded.schools["Elm Academy"], None),
            ("ewo", EWO.email, "ewo", None, derby.id),
            ("other_ewo", OTHER_EWO.email, "ewo", None, shire.id),
        ]
        for key, email, role, school_id, la_id in people:
            seeded.users[key] = directory.upsert_user(email, role, school_id=school_id, la_id=la_id,
                                                      display_name=key).id
        unit.commit()
    oak, elm, ash = (seeded.schools[n] for n in ("Oak Primary", "Elm Academy", "Ash Juniors"))
    seeded_plans = [
        ("jordan", oak, PupilDetails("Jordan", "Smith"), full_case(
            "derby-city", circumstances={"looked_after": True},
            consultations={"virtual_school": "agreed", "education_welfare": "consulted"}), "dsl"),
        ("amy", oak, PupilDetails("Amy", "Jones"), full_case(
            "derby-city", circumstances={"ehcp": True}, plan={"end_date": "2026-03-20"}), "dsl"),
        ("ben", elm, PupilDetails("Ben", "Brown"), full_case("derby-city"), "elm_dsl"),
        ("cara", ash, PupilDetails("Cara", "Clark"), full_case(
            "derbyshire", circumstances={"looked_after": True}), None),
    ]
    for key, school_id, pupil, case, lead in seeded_plans:
        plan = create_plan(factory, case=case, school_id=school_id, pupil=pupil,
                           actor_user_id=seeded.users.get(lead or ""), now=None)
        seeded.plans[key] = plan.id
    yield seeded
    engine.dispose()


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack([DSL, EWO, OTHER_EWO, STRANGER]).start()
    yield fake
    fake.stop()


def slack_settings(fake: FakeSlack, **extra: Any) -> SimpleNamespace:
    return SimpleNamespace(slack_signing_secret=SIGNING_SECRET, slack_bot_token=BOT_TOKEN,
                           slack_api_base_url=fake.api_url, ptt_base_url=BASE_URL, **extra)


def make_flask_app(world: World, fake: FakeSlack, *, synchronous: bool, **extra: Any) -> Flask:
    app = Flask("slack-test")
    app.extensions["ptt"] = SimpleNamespace(settings=slack_settings(fake, **extra),
                                            session_factory=world.session_factory)
    init_app(app, synchronous=synchronous, today=lambda: TODAY)
    return app


class Slack:
    """Slack's side: sends signed requests to the app and reads what the app sent back."""

    def __init__(self, fake: FakeSlack, post: Callable[[Request, dict[str, str]], tuple[int, str]]) -> None:
        self.fake = fake
        self.side = SlackSide(fake)
        self._post = post

    def send(self, request: Request, *, timestamp: int | None = None, retry: int | None = None,
             secret: str = SIGNING_SECRET) -> tuple[int, str]:
        headers = signed_headers(secret, request.body, content_type=request.content_type, timestamp=timestamp,
                                 retry=retry)
        return self._post(request, headers)

    def command(self, user: SlackUser, text: str, *, channel_id: str | None = None) -> tuple[int, str, str]:
        request, response_url = self.side.slash_command(user.id, text, channel_id=channel_id)
        status, body = self.send(request)
        return status, body, response_url

    def dm(self, user: SlackUser, text: str, *, thread_ts: str | None = None) -> tuple[int, str]:
        return self.send(self.side.direct_message(user.id, text, thread_ts=thread_ts))

    def responses(self, response_url: str) -> list[dict[str, Any]]:
        path = response_url.split(str(self.fake.port), 1)[1]
        return [c.params for c in self.fake.calls_to("response_url") if c.params.get("_path") == path]

    def posted(self, channel: str | None = None) -> list[dict[str, Any]]:
        return [c.params for c in self.fake.calls_to("chat.postMessage")
                if channel is None or c.params.get("channel") == channel]

    def click(self, user: SlackUser, message: dict[str, Any], channel: str, action: dict[str, Any],
              state: dict[str, Any] | None = None) -> tuple[int, str]:
        return self.send(self.side.block_action(user.id, message, channel, action, state=state))


def all_text(params: dict[str, Any]) -> str:
    """Everything a message would show: its text and its blocks."""
    return json.dumps({k: params.get(k) for k in ("text", "blocks", "view")}, ensure_ascii=False)


@pytest.fixture
def slack_app(world: World, fake_slack: FakeSlack) -> Flask:
    return make_flask_app(world, fake_slack, synchronous=True)


@pytest.fixture
def slack(slack_app: Flask, fake_slack: FakeSlack) -> Slack:
    client = slack_app.test_client()

    def post(request: Request, headers: dict[str, str]) -> tuple[int, str]:
        response = client.post("/slack/events", data=request.body, headers=headers)
        return response.status_code, response.get_data(as_text=True)

    return Slack(fake_slack, post)


@dataclass
class LiveServer:
    url: str
    app: Flask


@pytest.fixture
def live_server(world: World, fake_slack: FakeSlack) -> Iterator[LiveServer]:
    """The app served by werkzeug on loopback, with lazy listeners on the thread pool (as deployed)."""
    app = make_flask_app(world, fake_slack, synchronous=False)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="ptt-live", daemon=True)
    thread.start()
    yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    server.shutdown()
    server.server_close()


@pytest.fixture
def live_slack(live_server: LiveServer, fake_slack: FakeSlack) -> Slack:
    import requests

    session = requests.Session()

    def post(request: Request, headers: dict[str, str]) -> tuple[int, str]:
        response = session.post(f"{live_server.url}/slack/events", data=request.body.encode(), headers=headers,
                                timeout=10)
        return response.status_code, response.text

    return Slack(fake_slack, post)
