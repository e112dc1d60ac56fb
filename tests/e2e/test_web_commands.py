"""The admin commands of contract §3: ptt users add, ptt demo, ptt db, ptt serve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask
from sqlmodel import select

from assistant.cli import main
from assistant.config import Settings
from assistant.web import create_app
from storage.db import make_engine, make_session_factory
from storage.models import LocalAuthority, School, User
from tests.conftest import eventually

from .conftest import OAK_DSL, World, settings_for, signed_in


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.chdir(tmp_path)
    values = {"DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}", "PTT_SWEEPER": "0",
              "SECRET_KEY": "cli-test-secret"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return values


def run(*args: str, input: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.output


def users(env: dict[str, str]) -> list[User]:
    engine = make_engine(env["DATABASE_URL"])
    try:
        with make_session_factory(engine)() as session:
            return list(session.exec(select(User)))
    finally:
        engine.dispose()


def test_users_add_creates_the_user_school_and_la_and_prints_a_token_last(env: dict[str, str]) -> None:
    code, output = run("users", "add", "Jo@Example.org", "--role", "staff", "--school", "Elm Primary",
                       "--la", "derby-city")
    assert code == 0, output
    token = output.strip().splitlines()[-1]
    assert len(token) >= 40 and " " not in token
    engine = make_engine(env["DATABASE_URL"])
    with make_session_factory(engine)() as session:
        user = session.exec(select(User).where(User.email == "jo@example.org")).one()
        school = session.get(School, user.school_id)
        la = session.exec(select(LocalAuthority).where(LocalAuthority.policy_id == "derby-city")).one()
        assert user.role == "staff" and school is not None and school.name == "Elm Primary"
        assert school.la_id == la.id
    engine.dispose()
    app = create_app(Settings(database_url=env["DATABASE_URL"], cookie_secure=False), start_sweeper=False)
    response = app.test_client().post("/api/v1/conversations", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201 and response.get_json()["policy"] == "derby-city"
    app.extensions["ptt"].engine.dispose()


def test_users_add_updates_an_existing_user_and_issues_a_new_token(env: dict[str, str]) -> None:
    _, first = run("users", "add", "ewo@example.org", "--role", "ewo", "--la", "derbyshire")
    code, second = run("users", "add", "ewo@example.org", "--role", "la_officer", "--la", "derbyshire",
                       "--password", "a long enough password")
    assert code == 0
    assert first.strip().splitlines()[-1] != second.strip().splitlines()[-1]
    assert "Updated ewo@example.org" in second
    (user,) = users(env)
    assert user.role == "la_officer" and user.password_hash and user.password_hash.startswith("$argon2")


@pytest.mark.parametrize(("args", "complaint"), [
    (("--role", "wizard"), "wizard"),
    (("--role", "staff"), "--school"),
    (("--role", "ewo"), "--la"),
    (("--role", "ewo", "--la", "atlantis"), "atlantis"),
    (("--role", "ewo", "--la", "derby-city", "--password", "short"), "10 characters"),
])
def test_users_add_refuses_what_it_cannot_do(env: dict[str, str], args: tuple[str, ...], complaint: str) -> None:
    code, output = run("users", "add", "x@example.org", *args)
    assert code == 2 and complaint in output


def test_demo_loads_an_la_per_policy_and_users_for_every_role(env: dict[str, str]) -> None:
    code, output = run("demo")
    assert code == 0, output
    assert "timetable-demo-2026" in output
    roles = {u.role for u in users(env)}
    assert roles == {"staff", "dsl", "headteacher", "ewo", "la_officer", "admin"}
    code, again = run("demo")
    assert code == 0 and "0 new plans" in again


def test_audit_shows_who_read_or_changed_a_plan_and_who_signed_in(env: dict[str, str]) -> None:
    import csv
    import io

    assert run("demo")[0] == 0
    app = create_app(settings_for(env["DATABASE_URL"]))
    client, _csrf = signed_in(app, OAK_DSL)
    plan_id = int(client.get("/plans").get_data(as_text=True).split('href="/plans/', 1)[1].split('"', 1)[0])
    assert client.get(f"/plans/{plan_id}").status_code == 200
    app.extensions["ptt"].engine.dispose()

    code, output = run("audit", "--plan", str(plan_id))
    header, *rows = (line.split("\t") for line in output.strip().splitlines())
    assert code == 0 and header == ["at", "who", "action", "what", "school", "detail"]
    assert rows[0][1:5] == [OAK_DSL, "read", f"plan {plan_id}", "Oak Primary"]
    assert {row[3] for row in rows} == {f"plan {plan_id}"}  # the demo wrote its plans without an interview
    code, output = run("audit", "--action", "sign_in", "--csv")
    (sign_in_row,) = list(csv.DictReader(io.StringIO(output)))
    assert code == 0 and sign_in_row["who"] == OAK_DSL and '"method": "password"' in sign_in_row["detail"]
    signed_in_at = datetime.fromisoformat(sign_in_row["at"])  # England's time, with its offset
    assert signed_in_at.utcoffset() is not None and abs(datetime.now(UTC) - signed_in_at) < timedelta(minutes=5)
    assert rows[0][0].endswith((" GMT", " BST"))
    assert run("audit", "--action", "sign_out") == (0, "No audit entries match.\n")
    code, output = run("audit", "--limit", "2")
    assert code == 0 and len(output.strip().splitlines()) == 1 + 2 + 1 and "--limit 0 for all" in output
    for args, complaint in ((("--user", "nobody@oak.example.org"), "no user 'nobody@oak.example.org'"),
                            (("--plan", "99999"), "no plan 99999")):
        code, output = run("audit", *args)
        assert code == 2 and complaint in output


def test_audit_looks_for_the_database_but_never_creates_one(env: dict[str, str], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    code, output = run("audit")
    assert code == 2 and "no database at" in output and "elsewhere.db" in output
    assert not (tmp_path / "elsewhere.db").exists()


def test_db_upgrade_and_current(env: dict[str, str]) -> None:
    code, output = run("db", "upgrade")
    assert code == 0 and "head" in output
    code, output = run("db", "current")
    assert code == 0
    current, head = output.split("current: ")[1].split("  head: ")
    assert current.strip() == head.strip()


def test_serve_migrates_loads_the_demo_and_prints_the_url_and_logins(env: dict[str, str],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    started: dict[str, object] = {}

    def fake_run(self: Flask, host: str, port: int, **options: object) -> None:
        started.update(host=host, port=port, secure=self.config["SESSION_COOKIE_SECURE"])

    monkeypatch.setattr(Flask, "run", fake_run)
    code, output = run("serve", "--demo", "--port", "8123")
    assert code == 0, output
    assert "http://127.0.0.1:8123/" in output
    assert "staff@oak.example.org" in output and "timetable-demo-2026" in output
    assert started == {"host": "127.0.0.1", "port": 8123, "secure": False}
    assert len(users(env)) > 10


def test_the_app_starts_the_reminder_sweeper_on_sqlite_by_default(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sweep.db'}"
    from storage.migrate import upgrade

    upgrade(url)
    app = create_app(settings_for(url, ptt_sweeper=None))
    sweeper = app.extensions.get("ptt_sweeper")
    try:
        assert sweeper is not None and sweeper.running
    finally:
        if sweeper is not None:
            sweeper.stop()
        app.extensions["ptt"].engine.dispose()


def test_the_app_checkpoints_its_sqlite_log_in_a_background_thread(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'logged.db'}"
    from storage.migrate import upgrade

    upgrade(url)
    app = create_app(settings_for(url))
    checkpointer = app.extensions["ptt_wal_checkpointer"]
    try:
        assert checkpointer.database == (tmp_path / "logged.db").resolve()
        assert not checkpointer.running  # until this process serves a request (not in a --preload master)
        assert app.test_client().get("/healthz").status_code == 200
        assert checkpointer.running
    finally:
        app.extensions["ptt"].engine.dispose()
    assert eventually(lambda: not checkpointer.running, 5)


@pytest.mark.postgres
def test_the_app_runs_no_checkpointer_on_postgresql(postgres_world: World) -> None:
    assert "ptt_wal_checkpointer" not in postgres_world.app.extensions


def test_without_secret_key_a_key_is_generated_once_next_to_the_database(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'keyed.db'}", secret_key=None)
    first = settings.resolved_secret_key()
    assert first == settings.resolved_secret_key()
    key_file = tmp_path / ".ptt-secret-key"
    assert key_file.read_text() == first
    assert key_file.stat().st_mode & 0o077 == 0
