"""A crash mid-conversation loses nothing: the server is killed with SIGKILL between answers
and while an answer is in flight, restarted, and the conversation resumes with every answer."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from storage.db import make_engine
from storage.models import ConversationAnswer
from tests.e2e.conftest import derby_city_answers, scripted_answer

PTT = str(Path(sys.executable).parent / "ptt")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    """``ptt serve`` as its own process, which a test may kill outright."""

    def __init__(self, environment: dict[str, str]) -> None:
        self.environment = environment
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [PTT, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.environment,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("ptt serve did not start within 30 s")

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)


def call(server: Server, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        f"{server.url}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read())


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ptt.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def server_and_token(database_url: str, tmp_path: Path) -> Iterator[tuple[Server, str]]:
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "sigkill-test",
        "COOKIE_SECURE": "false",
        "PTT_SWEEPER": "false",
    }
    environment.pop("SLACK_BOT_TOKEN", None)
    subprocess.run([PTT, "db", "upgrade"], env=environment, check=True, capture_output=True, timeout=60)
    added = subprocess.run(
        [PTT, "users", "add", "dsl@oak.example.org", "--role", "dsl", "--school", "Oak Primary", "--la", "derby-city"],
        env=environment,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    token = added.stdout.strip().splitlines()[-1]
    server = Server(environment)
    server.start()
    yield server, token
    if server.process and server.process.poll() is None:
        server.kill()


def stored_answers(database_url: str, conversation_id: str) -> list[str]:
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            rows = session.exec(
                select(ConversationAnswer)
                .where(ConversationAnswer.conversation_id == conversation_id)
                .order_by(ConversationAnswer.seq)
            ).all()
            return [row.raw_text for row in rows]
    finally:
        engine.dispose()


def test_a_conversation_killed_with_sigkill_resumes_with_every_answer_intact(
    server_and_token: tuple[Server, str], database_url: str
) -> None:
    server, token = server_and_token
    answers = derby_city_answers()
    view = call(server, token, "POST", "/api/v1/conversations", {"policy": "derby-city"})
    conversation = view["id"]
    given: list[str] = []
    for _ in range(4):
        text = scripted_answer(view["replies"][-1], answers)
        view = call(server, token, "POST", f"/api/v1/conversations/{conversation}/messages", {"text": text})
        assert not view["replies"][-1].get("error"), view["replies"][-1]["text"]
        given.append(text)
    pending = view["replies"][-1]

    server.kill()  # between two answers
    server.start()

    resumed = call(server, token, "GET", f"/api/v1/conversations/{conversation}")
    assert resumed["replies"][-1]["fact"] == pending["fact"]
    assert resumed["replies"][-1]["text"] == pending["text"]
    assert stored_answers(database_url, conversation)[-len(given) :] == given

    # Now kill it while an answer is in flight: whatever the client was told, nothing earlier is lost.
    before_crash = stored_answers(database_url, conversation)
    text = scripted_answer(pending, answers)
    outcome: dict[str, Any] = {}

    def answer_in_flight() -> None:
        try:
            outcome["view"] = call(
                server, token, "POST", f"/api/v1/conversations/{conversation}/messages", {"text": text}
            )
        except (urllib.error.URLError, ConnectionError, OSError) as error:
            outcome["error"] = error

    sender = threading.Thread(target=answer_in_flight)
    sender.start()
    time.sleep(0.005)
    server.kill()
    sender.join(timeout=20)
    server.start()

    resumed = call(server, token, "GET", f"/api/v1/conversations/{conversation}")
    after_crash = stored_answers(database_url, conversation)
    assert after_crash[: len(before_crash)] == before_crash
    assert len(after_crash) in (len(before_crash), len(before_crash) + 1)
    if "view" in outcome:  # the server answered before it died, so the answer must be there
        assert after_crash == [*before_crash, text]
        assert resumed["replies"][-1]["fact"] != pending["fact"]
    elif resumed["replies"][-1]["fact"] == pending["fact"]:  # the answer never landed: give it again
        call(server, token, "POST", f"/api/v1/conversations/{conversation}/messages", {"text": text})

    # The conversation carries on to its decision.
    view = call(server, token, "GET", f"/api/v1/conversations/{conversation}")
    for _ in range(80):
        if view["finished"]:
            break
        reply = view["replies"][-1]
        view = call(
            server,
            token,
            "POST",
            f"/api/v1/conversations/{conversation}/messages",
            {"text": scripted_answer(reply, answers)},
        )
    assert view["finished"]
    assert view["decision"]["outcome"] == "may_proceed"
