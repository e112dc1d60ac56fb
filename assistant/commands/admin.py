"""Admin commands (contract §3): ``ptt serve``, ``ptt users add|list|revoke-tokens|disable|enable``,
``ptt demo``, ``ptt db``."""

from __future__ import annotations

import ipaddress
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import click
from sqlmodel import Session, func, select

from assistant.config import Settings
from rules import known_policy_ids, load_pack
from storage.db import make_engine, make_session_factory

if TYPE_CHECKING:
    from storage.models import User

ROLES = ("staff", "dsl", "headteacher", "ewo", "la_officer", "admin")


def _settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]


def _migrate_embedded(settings: Settings) -> None:
    """The embedded SQLite database is brought up to date automatically; PostgreSQL is
    migrated explicitly with ``ptt db upgrade`` (so that a deploy controls when)."""
    if settings.is_sqlite:
        from storage.migrate import upgrade

        upgrade(settings.database_url)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# --------------------------------------------------------------------------- serve
@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option("--demo", is_flag=True, help="Load demo data into an empty database and print the demo logins.")
def serve(host: str, port: int, demo: bool) -> None:
    """Run the web app with Flask's development server.

    For production run `ptt db upgrade` once, then
    `gunicorn -c python:assistant.web.gunicorn_conf 'assistant.web:create_app()' -w 2 -b 0.0.0.0:8000`
    behind HTTPS.
    """
    overrides: dict[str, object] = {}
    if "COOKIE_SECURE" not in os.environ and _is_loopback(host):
        overrides["cookie_secure"] = False  # plain http on this machine only
    settings = _settings(**overrides)
    _migrate_embedded(settings)
    if demo:
        _demo_if_empty(settings)
    from assistant.web import create_app

    app = create_app(settings)
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}/"
    click.echo(f"Part-Time Timetable Assistant on {url}")
    click.echo(f"Database: {settings.database_url}")
    if app.extensions.get("ptt_sweeper") is not None:
        click.echo("Reminder sweeper: running in the background.")
    if demo:
        _print_demo_logins()
    app.run(host=host, port=port, threaded=True, use_reloader=False, debug=False)


def _demo_if_empty(settings: Settings) -> None:
    from storage.models import User

    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            users = session.exec(select(func.count()).select_from(User)).one()
        if users == 0:
            from assistant.demo import load_demo

            result = load_demo(make_session_factory(engine))
            click.echo(f"Loaded demo data: {result.plans_created} plans.")
    finally:
        engine.dispose()


def _print_demo_logins() -> None:
    from assistant.demo import AUTHORITIES, DEMO_DOMAIN, DEMO_PASSWORD

    first = AUTHORITIES[0]
    school = first.schools[0]
    click.echo(f"Demo logins (password: {DEMO_PASSWORD}):")
    for email, what in (
        (f"staff@{school.slug}.{DEMO_DOMAIN}", f"school staff, {school.name} ({first.name})"),
        (f"dsl@{school.slug}.{DEMO_DOMAIN}", "designated safeguarding lead"),
        (f"headteacher@{school.slug}.{DEMO_DOMAIN}", "headteacher"),
        (f"ewo@{first.slug}.{DEMO_DOMAIN}", f"education welfare officer, {first.name}"),
        (f"la.officer@{first.slug}.{DEMO_DOMAIN}", "LA officer"),
        (f"admin@ptt.{DEMO_DOMAIN}", "administrator"),
    ):
        click.echo(f"  {email:<36} {what}")
    click.echo("  (every LA has the same set: run `ptt demo` to list them all)")


# --------------------------------------------------------------------------- users
@click.group()
def users() -> None:
    """Add or update users and print API tokens."""


@users.command("add")
@click.argument("email")
@click.option("--role", required=True, type=click.Choice(ROLES), help="What the user may do and see.")
@click.option("--school", "school_name", help="The user's school (created when new).")
@click.option("--la", "policy_id", help="The local authority, by its policy id (created when new).")
@click.option("--name", "display_name", help="The name shown in the app.")
@click.option("--password", "password", help="Set a password for signing in to the web app "
              "(or give it on standard input with --password-stdin).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def users_add(email: str, role: str, school_name: str | None, policy_id: str | None, display_name: str | None,
              password: str | None, password_stdin: bool) -> None:
    """Create or update a user and print a fresh API token (the last line of output)."""
    from assistant.services.auth import AuthError, hash_password, issue_token
    from storage.repositories import DirectoryRepository

    if policy_id is not None and policy_id not in known_policy_ids():
        raise click.BadParameter(f"unknown policy {policy_id!r}; known: {', '.join(known_policy_ids())}",
                                 param_hint="--la")
    if role in ("staff", "dsl", "headteacher") and not school_name:
        raise click.BadParameter("school staff need --school NAME", param_hint="--school")
    if role in ("ewo", "la_officer") and not policy_id:
        raise click.BadParameter("LA users need --la POLICY_ID", param_hint="--la")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    settings = _settings()
    _migrate_embedded(settings)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            directory = DirectoryRepository(session)
            la = directory.get_or_create_la(policy_id, name=load_pack(policy_id).publisher) if policy_id else None
            school = None
            if school_name:
                school = directory.get_or_create_school(school_name.strip(), la.id if la else None)
                if la is None and school.la_id is not None:
                    la = directory.get_la(school.la_id)
            try:
                password_hash = hash_password(password) if password else None
            except AuthError as error:
                raise click.BadParameter(str(error), param_hint="--password") from None
            existing = directory.user_by_email(email)
            user = directory.upsert_user(
                email, role, school_id=school.id if school else None, la_id=la.id if la else None,
                display_name=display_name, password_hash=password_hash,
            )
            if role not in ("staff", "dsl", "headteacher"):
                # An LA-level role (or admin) belongs to no school: a --school given for it only
                # names its LA, so it can never write to that school's plans.
                user.school_id = None
            token = issue_token(session, user)
            session.commit()
            where = ", ".join(x for x in (school.name if school else "", la.name if la else "") if x)
            click.echo(f"{'Updated' if existing else 'Created'} {user.email} ({role}{': ' + where if where else ''}).")
            if not user.is_active:
                click.echo(f"This account is disabled: `ptt users enable {user.email}` lets it sign in again.")
            click.echo("API token (shown once; use as 'Authorization: Bearer TOKEN'):")
            click.echo(token)
    finally:
        engine.dispose()


@users.command("list")
def users_list() -> None:
    """List the users with their roles and schools."""
    from storage.models import LocalAuthority, School, User

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            schools = {s.id: s.name for s in session.exec(select(School))}
            las = {la.id: la.policy_id for la in session.exec(select(LocalAuthority))}
            for user in session.exec(select(User).order_by(User.email)):
                state = "" if user.is_active else f"\tdisabled {user.disabled_at:%Y-%m-%d}"
                click.echo(f"{user.email}\t{user.role}\t{schools.get(user.school_id, '')}\t"
                           f"{las.get(user.la_id, '')}{state}")
    finally:
        engine.dispose()



@contextmanager
def _existing_user(email: str) -> Iterator[tuple[Session, User]]:
    """A session and the user with this e-mail (exit 2 if there is none); commits on the way out."""
    from storage.repositories import DirectoryRepository

    settings = _settings()
    _migrate_embedded(settings)
    engine = make_engine(settings.database_url)
    try:
        with make_session_factory(engine)() as session:
            user = DirectoryRepository(session).user_by_email(email)
            if user is None:
                click.echo(f"ptt users: no user {email!r}", err=True)
                sys.exit(2)
            yield session, user
            session.commit()
    finally:
        engine.dispose()


def _audit_user_change(session: Session, user: User, summary: str) -> None:
    from storage.repositories import AuditRepository

    AuditRepository(session).record("update", "user", user.id, actor_user_id=None, school_id=user.school_id,
                                    detail={"summary": summary})


@users.command("revoke-tokens")
@click.argument("email")
def users_revoke_tokens(email: str) -> None:
    """Revoke every API token of a user, end their web sessions and withdraw their calendar
    feed's address (a lost laptop, a leaver); `users add` issues a new token, they sign in
    again, and the feed has a new address on their plans page."""
    from assistant.services.auth import end_sessions, revoke_feed
    from storage.repositories import DirectoryRepository

    with _existing_user(email) as (session, user):
        assert user.id is not None
        revoked = DirectoryRepository(session).revoke_tokens(user.id)
        end_sessions(session, user)
        revoke_feed(session, user)
        _audit_user_change(session, user, f"{revoked} API token(s) revoked; web sessions ended; "
                                          "calendar feed address withdrawn")
    click.echo(f"Revoked {revoked} API token(s) of {email}, ended their web sessions and withdrew "
               "their calendar feed's address.")


@users.command("disable")
@click.argument("email")
def users_disable(email: str) -> None:
    """Disable an account now (a leaver, a lost device): it can no longer sign in or use Slack,
    its open web sessions end, its API tokens are revoked and its reminders go to others."""
    from assistant.services.auth import disable_user

    with _existing_user(email) as (session, user):
        revoked = disable_user(session, user)
        _audit_user_change(session, user, f"Account disabled; {revoked} API token(s) revoked")
    click.echo(f"Disabled {email}: signed out everywhere, {revoked} API token(s) revoked. "
               f"`ptt users enable {email}` undoes it.")


@users.command("enable")
@click.argument("email")
def users_enable(email: str) -> None:
    """Let a disabled account sign in again (`users add` prints a new API token if needed)."""
    from assistant.services.auth import enable_user

    with _existing_user(email) as (session, user):
        was_disabled = not user.is_active
        enable_user(session, user)
        if was_disabled:
            _audit_user_change(session, user, "Account enabled")
    click.echo(f"{email} can sign in again." if was_disabled else f"{email} was not disabled.")


# --------------------------------------------------------------------------- demo
@click.command()
def demo() -> None:
    """Load demo data: one LA per policy pack, schools, users for every role, plans at every stage."""
    from assistant.demo import DEMO_PASSWORD, load_demo

    settings = _settings()
    _migrate_embedded(settings)
    engine = make_engine(settings.database_url)
    try:
        result = load_demo(make_session_factory(engine))
    finally:
        engine.dispose()
    click.echo(f"Demo data loaded into {settings.database_url}: {result.plans_created} new plans.")
    click.echo(f"Every demo account's password: {DEMO_PASSWORD}")
    for login in result.logins:
        click.echo(f"  {login.email:<40} {login.role:<12} {login.where}")


# --------------------------------------------------------------------------- db
@click.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Bring the database (DATABASE_URL) up to the latest schema."""
    from storage.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    click.echo(f"Database {settings.database_url} is at {revision}.")


@db.command("current")
def db_current() -> None:
    """Show the schema revision the database is at."""
    from storage.migrate import current_revision, head_revision

    settings = _settings()
    click.echo(f"current: {current_revision(settings.database_url)}  head: {head_revision()}")
