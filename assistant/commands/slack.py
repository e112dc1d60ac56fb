"""``ptt slack socket``: run the Slack app over Socket Mode (no public URL needed).

Needs ``SLACK_APP_TOKEN`` (an app-level ``xapp-`` token with ``connections:write``) besides
``SLACK_BOT_TOKEN`` and ``SLACK_SIGNING_SECRET``; the database is ``DATABASE_URL``.
"""

from __future__ import annotations

import logging
import os
import sys

import click


@click.group()
def slack() -> None:
    """Slack app: ptt slack socket runs Socket Mode."""


@slack.command("socket")
@click.option("--app-token", envvar="SLACK_APP_TOKEN", help="App-level token (xapp-…); default $SLACK_APP_TOKEN.")
@click.option("--no-migrate", is_flag=True, help="Do not bring the database schema up to date first.")
def socket(app_token: str | None, no_migrate: bool) -> None:
    """Connect to Slack over Socket Mode and serve until interrupted."""
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from assistant.config import load_settings
    from assistant.slack.app import SlackNotConfigured, build_bolt_app
    from storage.db import make_engine, make_session_factory

    logging.basicConfig(level=os.environ.get("PTT_LOG_LEVEL", "INFO"),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not app_token:
        click.echo("Set SLACK_APP_TOKEN (an xapp- app-level token with connections:write).", err=True)
        sys.exit(2)
    settings = load_settings()
    if not no_migrate:
        from storage.migrate import upgrade

        upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        app = build_bolt_app(settings, make_session_factory(engine))
    except SlackNotConfigured as error:
        click.echo(f"Slack is not configured: {error}.", err=True)
        sys.exit(2)
    click.echo("Slack app connected over Socket Mode; Ctrl-C to stop.", err=True)
    try:
        SocketModeHandler(app, app_token).start()
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()
