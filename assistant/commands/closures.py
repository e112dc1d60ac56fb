"""``ptt closures``: the term holidays and INSET days of an LA or a school."""

from __future__ import annotations

import sys
from datetime import date

import click
from dateutil import parser as date_parser
from sqlmodel import Session

from assistant.services.closures import ClosureError, add_closure, list_closures, remove_closure
from storage.db import database_url_from_env, make_engine, make_session_factory


def _day(text: str) -> date:
    try:
        if len(text) == 10 and text[4] == "-":
            return date.fromisoformat(text)
        return date_parser.parse(text, dayfirst=True).date()
    except (ValueError, OverflowError):
        raise click.BadParameter(f"not a date: {text!r} (use 2026-02-16 or 16/02/2026)") from None


def _scope(school: str | None, la: str | None) -> tuple[str, str]:
    if bool(school) == bool(la):
        raise click.UsageError("name exactly one of --school NAME or --la POLICY_ID")
    return ("school", school) if school else ("la", la)  # type: ignore[return-value]


def _session() -> Session:
    from storage.migrate import upgrade

    url = database_url_from_env()
    upgrade(url)
    return make_session_factory(make_engine(url))()


@click.group()
def closures() -> None:
    """Term holidays and INSET days for an LA (every school in it) or one school."""


@closures.command("add")
@click.option("--school", help="The school's name.")
@click.option("--la", "la", help="The LA's policy id, e.g. derby-city.")
@click.argument("first")
@click.argument("last", required=False)
@click.option("--label", default="", help='e.g. "February half term" or "INSET day".')
def add(school: str | None, la: str | None, first: str, last: str | None, label: str) -> None:
    """Add a closure from FIRST to LAST (inclusive; LAST defaults to FIRST)."""
    scope, name = _scope(school, la)
    start = _day(first)
    end = _day(last) if last else start
    with _session() as session:
        try:
            rows = add_closure(session, scope, name, start, end, label)  # type: ignore[arg-type]
        except ClosureError as error:
            click.echo(f"ptt closures: {error}", err=True)
            sys.exit(2)
        session.commit()
    click.echo(f"{name}: {len(rows)} closure(s); added {start.isoformat()} to {end.isoformat()} {label}".rstrip())


@closures.command("remove")
@click.option("--school")
@click.option("--la", "la")
@click.argument("first")
def remove(school: str | None, la: str | None, first: str) -> None:
    """Remove the closure that starts on FIRST."""
    scope, name = _scope(school, la)
    with _session() as session:
        try:
            removed = remove_closure(session, scope, name, _day(first))  # type: ignore[arg-type]
        except ClosureError as error:
            click.echo(f"ptt closures: {error}", err=True)
            sys.exit(2)
        session.commit()
    click.echo("removed" if removed else "no closure starts on that day")


@closures.command("list")
@click.option("--school")
@click.option("--la", "la")
def show(school: str | None, la: str | None) -> None:
    """List the closures of an LA or a school."""
    scope, name = _scope(school, la)
    with _session() as session:
        try:
            rows = list_closures(session, scope, name)  # type: ignore[arg-type]
        except ClosureError as error:
            click.echo(f"ptt closures: {error}", err=True)
            sys.exit(2)
    for row in rows:
        click.echo(f"{row['from']}  {row['to']}  {row.get('label', '')}".rstrip())
    if not rows:
        click.echo("no closures configured")
