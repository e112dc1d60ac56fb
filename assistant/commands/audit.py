"""``ptt audit``: read the audit log (who read or changed a plan, who signed in), newest first."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date

import click

from assistant.services.audit_trail import AuditFilter, AuditTrailEntry, AuditTrailError, audit_trail
from storage.db import database_url_from_env, is_sqlite, make_engine, make_session_factory
from storage.models import AuditAction

COLUMNS = ("at", "who", "action", "what", "school", "detail")


def _row(entry: AuditTrailEntry) -> tuple[str, ...]:
    what = entry.entity if entry.entity_id is None else f"{entry.entity} {entry.entity_id}"
    detail = "" if not entry.detail else json.dumps(entry.detail, separators=(", ", ": "), default=str)
    return (entry.at.strftime("%Y-%m-%d %H:%M:%SZ"), entry.actor or "(system)", entry.action, what,
            entry.school or "", detail)


@click.command()
@click.option("--plan", "plan_id", type=int, help="One plan: its reads, changes and exports, and its interview's.")
@click.option("--user", "actor_email", metavar="EMAIL", help="What this person did.")
@click.option("--school", "school_name", metavar="NAME", help="Rows about this school's pupils and staff.")
@click.option("--action", type=click.Choice([a.value for a in AuditAction]), help="One kind of action.")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="From this day (UTC) on.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(min=0), help="At most this many; 0: all.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row, for a spreadsheet.")
def audit(plan_id: int | None, actor_email: str | None, school_name: str | None, action: str | None,
          since: date | None, limit: int, as_csv: bool) -> None:
    """Read the audit log, newest first: who read, changed or exported which plan or interview,
    and who signed in and out, from where. For subject access requests and investigations.

    \b
    ptt audit --plan 12                 # who has seen or changed plan 12
    ptt audit --user dsl@oak.example.org --since 2026-11-01
    ptt audit --action sign_in --csv > sign-ins.csv
    """
    wanted = AuditFilter(plan_id=plan_id, actor_email=actor_email, school_name=school_name,
                         action=AuditAction(action) if action else None,
                         since=since.date() if since else None, limit=limit)
    url = database_url_from_env()
    if is_sqlite(url):  # the embedded database is brought up to date, as by every command
        from storage.migrate import upgrade

        upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as session:
            entries = audit_trail(session, wanted)
    except AuditTrailError as error:
        click.echo(f"ptt audit: {error}", err=True)
        sys.exit(2)
    finally:
        engine.dispose()
    if as_csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(_row(entry) for entry in entries)
        return
    if not entries:
        click.echo("No audit entries match.", err=True)
        return
    click.echo("\t".join(COLUMNS))
    for entry in entries:
        click.echo("\t".join(_row(entry)))
