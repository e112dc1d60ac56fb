"""``ptt reminders run``: one sweep (for cron), or ``--loop`` to keep sweeping.

Settings from the environment: ``DATABASE_URL``; ``SMTP_HOST`` (e-mail is used when set),
``SMTP_PORT`` (25), ``SMTP_FROM``, ``SMTP_USERNAME``, ``SMTP_PASSWORD``, ``SMTP_STARTTLS``
(1/true or 0/false; unset, on when a username is given; the server's certificate is verified);
``PTT_BASE_URL`` for links. Without ``SMTP_HOST`` reminders are printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from assistant.reminders.delivery import (
    ConsoleDeliverer,
    EmailDeliverer,
    ReminderDeliverer,
    SmtpSettings,
)
from assistant.reminders.sweeper import SweepSettings, run_once
from storage.db import database_url_from_env, make_engine, make_session_factory, normalise_database_url


def smtp_settings_from_env(environ: Mapping[str, str] | None = None) -> SmtpSettings | None:
    env = os.environ if environ is None else environ
    host = env.get("SMTP_HOST")
    if not host:
        return None
    return SmtpSettings(
        host=host,
        port=int(env.get("SMTP_PORT") or 25),
        sender=env.get("SMTP_FROM") or "ptt@localhost",
        username=env.get("SMTP_USERNAME") or None,
        password=env.get("SMTP_PASSWORD") or None,
        starttls=_starttls(env.get("SMTP_STARTTLS"), username=env.get("SMTP_USERNAME")),
    )


def _starttls(setting: str | None, *, username: str | None) -> bool:
    """``SMTP_STARTTLS`` as given; unset, on whenever a username is: a password (and the
    pupils' initials in the mail) must not cross the network in clear by default."""
    if setting is None or not setting.strip():
        return bool(username)
    return setting.strip().lower() in ("1", "true", "yes", "on")


def deliverers_from_env(environ: Mapping[str, str] | None = None) -> dict[str, ReminderDeliverer]:
    """E-mail when ``SMTP_HOST`` is set, else the console. (The Slack app adds ``slack``.)"""
    smtp = smtp_settings_from_env(environ)
    if smtp is not None:
        return {"email": EmailDeliverer(smtp)}
    return {"console": ConsoleDeliverer()}


def configured_deliverers(session_factory: Any) -> dict[str, ReminderDeliverer]:
    """Every channel this install is configured for: e-mail or the console from the
    environment, and Slack direct messages when ``SLACK_BOT_TOKEN`` is set."""
    deliverers = deliverers_from_env()
    if os.environ.get("SLACK_BOT_TOKEN"):
        from assistant.config import Settings
        from assistant.slack.delivery import slack_deliverers

        deliverers.update(slack_deliverers(Settings(), session_factory))
    return deliverers


def _parse_now(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ptt reminders run",
                                     description="Deliver the reminders that are due.")
    parser.add_argument("--database-url", help="default: $DATABASE_URL or sqlite:///ptt.db")
    parser.add_argument("--loop", action="store_true", help="keep sweeping until interrupted")
    parser.add_argument("--interval", type=float, default=60.0,
                        help="seconds between sweeps with --loop (default 60)")
    parser.add_argument("--now", type=_parse_now,
                        help="sweep as if it were this time (ISO 8601; UTC if no zone)")
    parser.add_argument("--batch-size", type=int, default=200)
    parser.add_argument("--claim-timeout-minutes", type=float, default=15.0)
    parser.add_argument("--escalate-after-days", type=float, default=3.0)
    parser.add_argument("--no-migrate", action="store_true",
                        help="do not bring the database schema up to date first")
    parser.add_argument("-q", "--quiet", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point for ``ptt reminders run [options]`` (a leading ``run`` is optional)."""
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in and args_in[0] == "run":
        args_in = args_in[1:]
    args = _parser().parse_args(args_in)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    url = normalise_database_url(args.database_url) if args.database_url else database_url_from_env()
    if not args.no_migrate:
        from storage.migrate import upgrade

        upgrade(url)
    engine = make_engine(url)
    session_factory = make_session_factory(engine)
    settings = SweepSettings(
        batch_size=args.batch_size,
        claim_timeout=timedelta(minutes=args.claim_timeout_minutes),
        escalate_after=timedelta(days=args.escalate_after_days),
        base_url=os.environ.get("PTT_BASE_URL") or None,
    )
    deliverers = configured_deliverers(session_factory)
    try:
        while True:
            result = run_once(session_factory, args.now, deliverers, settings=settings)
            if not args.quiet:
                print(f"reminders: sent {result.sent}, retried {result.retried}, "
                      f"failed {result.failed}, escalated {result.escalated}, "
                      f"reaped {result.reaped}", file=sys.stderr)
            if not args.loop:
                return 0
            time.sleep(args.interval)
    except KeyboardInterrupt:
        return 130
    finally:
        engine.dispose()


@click.group(name="reminders")
def reminders() -> None:
    """Deliver due reminders (ptt reminders run), for cron or a systemd timer."""


@reminders.command(
    name="run",
    context_settings={"ignore_unknown_options": True, "allow_extra_args": True,
                      "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def run(args: tuple[str, ...]) -> None:
    """One sweep (or --loop); --help lists the options."""
    raise SystemExit(main(list(args)))


if __name__ == "__main__":
    raise SystemExit(main())
