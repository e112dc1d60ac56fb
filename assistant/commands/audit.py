"""``ptt audit``: read the audit log (who read or changed a plan, who signed in), newest first."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime

import click

from assistant.config import Settings
from assistant.services.audit_trail import AuditFilter, AuditTrailEntry, AuditTrailError, audit_trail
from rules.reminder_schedule import SCHOOL_TIMEZONE
from storage.db import make_engine, make_read_only_session_factory
from storage.models import AuditAction

COLUMNS = ("at", "who", "action", "what", "school", "detail")


def _row(entry: AuditTrailEntry, *, as_csv: bool) -> tuple[str, ...]:
    """One entry's columns; the time in England's (as the web pages show it), for a spreadsheet
    as ISO 8601 with its offset."""
    what = entry.entity if entry.entity_id is None else f"{entry.entity} {entry.entity_id}"
    detail = json.dumps(entry.detail, default=str) if entry.detail else ""
    at = entry.at.astimezone(SCHOOL_TIMEZONE)
    return (at.isoformat(timespec="seconds") if as_csv else at.strftime("%Y-%m-%d %H:%M:%S %Z"),
            entry.actor or "(system)", entry.action, what, entry.school or "", detail)


def _fail(message: str) -> None:
    click.echo(f"ptt audit: {message}", err=True)
    sys.exit(2)


@click.command()
@click.option("--plan", "plan_id", type=int,
              help="One plan: its reads, changes and exports, its interview's and its reminders'.")
@click.option("--user", "actor_email", metavar="EMAIL", help="What this person did.")
@click.option("--school", "school_name", metavar="NAME", help="Rows about this school's pupils and staff.")
@click.option("--action", type=click.Choice([a.value for a in AuditAction]), help="One kind of action.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d", "%d/%m/%Y"]), metavar="DATE",
              help="From the start of this day (in England) on: 2026-11-01 or 01/11/2026.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=0), help="At most this many; 0: all.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row, for a spreadsheet.")
def audit(plan_id: int | None, actor_email: str | None, school_name: str | None, action: str | None,
          since: datetime | None, limit: int, as_csv: bool) -> None:
    """Read the audit log, newest first: who read, changed or exported which plan or interview,
    and who signed in and out, from where. Times are England's (GMT or BST), as the web pages
    show them. For subject access requests and investigations.

    \b
    ptt audit --plan 12                 # who has seen or changed plan 12
    ptt audit --user dsl@oak.example.org --since 2026-11-01
    ptt audit --action sign_in --limit 0 --csv > sign-ins.csv
    """
    wanted = AuditFilter(plan_id=plan_id, actor_email=actor_email, school_name=school_name,
                         action=AuditAction(action) if action else None,
                         since=since.date() if since else None, limit=limit)
    settings = Settings()
    database = settings.sqlite_path()
    if database is not None and not database.exists():
        _fail(f"no database at {database.resolve()} (set DATABASE_URL, or run this where the app runs)")
    writer = csv.writer(sys.stdout, lineterminator="\n") if as_csv else None

    def emit(fields: tuple[str, ...]) -> None:
        if writer is not None:
            writer.writerow(fields)
        else:
            click.echo("\t".join(fields))

    engine = make_engine(settings.database_url)
    shown = 0
    try:
        with make_read_only_session_factory(engine)() as session:
            for entry in audit_trail(session, wanted):  # rows stream from the database as they are written
                if shown == 0:
                    emit(COLUMNS)
                emit(_row(entry, as_csv=as_csv))
                shown += 1
    except AuditTrailError as error:
        _fail(str(error))
    finally:
        engine.dispose()
    if shown == 0:
        if as_csv:
            emit(COLUMNS)
        click.echo("No audit entries match.", err=True)
    elif shown == limit:
        click.echo(f"(the newest {limit}; --limit 0 for all)", err=True)
