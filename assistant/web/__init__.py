"""The staff web app: sign-in, the chat page, plans, documents, the LA view and the JSON API.

Development: ``ptt serve --demo``. Production: ``ptt db upgrade`` once (and after each
upgrade), then ``gunicorn -c python:assistant.web.gunicorn_conf 'assistant.web:create_app()'
-w 2 -b 0.0.0.0:8000`` behind a TLS proxy, with ``SECRET_KEY`` and ``DATABASE_URL`` set. The
reminder sweeper runs in every process where ``PTT_SWEEPER`` is on (default: on for SQLite);
with PostgreSQL prefer ``ptt reminders run`` from cron. On SQLite each process also checkpoints
the database's write-ahead log in a background thread (:mod:`storage.checkpoints`).
"""

from __future__ import annotations

import importlib.util
import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, jsonify

from assistant.config import Settings
from assistant.web.json_provider import OrjsonProvider
from assistant.web.runtime import EXTENSION_KEY, Runtime, close_db
from storage.checkpoints import checkpoint_in_background
from storage.db import make_engine, make_session_factory

logger = logging.getLogger("ptt.web")
PACKAGE_DIR = Path(__file__).resolve().parent.parent


def create_app(settings: Settings | None = None, *, start_sweeper: bool | None = None) -> Flask:
    """Build the app. ``start_sweeper`` (default: ``settings.sweeper_enabled``) runs the
    reminder sweeper in a background thread of this process."""
    settings = settings or Settings()
    app = Flask(
        "assistant.web",
        template_folder=str(PACKAGE_DIR / "templates"),
        static_folder=str(PACKAGE_DIR / "static"),
    )
    app.config.update(
        SECRET_KEY=settings.resolved_secret_key(),
        SESSION_COOKIE_NAME="ptt_session",
        SESSION_COOKIE_SECURE=settings.cookie_secure,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        MAX_CONTENT_LENGTH=1024 * 1024,
        PREFERRED_URL_SCHEME="https" if settings.cookie_secure else "http",
    )
    app.json = OrjsonProvider(app)
    if settings.trusted_proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    engine = make_engine(settings.database_url)
    # On SQLite, no request waits while the write-ahead log is copied into the database file. The
    # thread starts at the first request of each process (gunicorn's workers, even with --preload).
    checkpointer = checkpoint_in_background(engine)
    if checkpointer is not None:
        app.extensions["ptt_wal_checkpointer"] = checkpointer
        app.before_request(checkpointer.ensure_running)
    app.extensions[EXTENSION_KEY] = Runtime(settings=settings, engine=engine,
                                            session_factory=make_session_factory(engine))
    app.teardown_appcontext(close_db)

    from assistant.web import api, auth_views, chat, la, pages, plans
    from assistant.web.filters import init_filters
    from assistant.web.security import init_security

    app.register_blueprint(auth_views.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(chat.bp)
    app.register_blueprint(plans.bp)
    app.register_blueprint(la.bp)
    app.register_blueprint(api.bp)
    init_filters(app)
    init_security(app, login_rate_limit=settings.login_rate_limit,
                  login_account_rate_limit=settings.login_account_rate_limit)
    auth_views.init_oidc(app, settings)

    @app.get("/healthz", endpoint="health")
    def health() -> Any:
        return jsonify({"status": "ok"})

    if importlib.util.find_spec("assistant.slack") and importlib.util.find_spec("assistant.slack.http"):
        from assistant.slack.http import init_app as init_slack

        init_slack(app)

    if settings.sweeper_enabled if start_sweeper is None else start_sweeper:
        _start_sweeper(app, settings)
    return app


def _start_sweeper(app: Flask, settings: Settings) -> None:
    """Run the reminder sweeper in a daemon thread of this process (delivery by e-mail when
    ``SMTP_HOST`` is set, Slack when ``SLACK_BOT_TOKEN`` is, else the console)."""
    try:
        from assistant.reminders import configured_deliverers, start_background_sweeper
    except ImportError:  # the reminders package is optional for the web app
        logger.warning("reminder sweeper not available; run `ptt reminders run` from cron")
        return
    rt = app.extensions[EXTENSION_KEY]
    deliverers = configured_deliverers(rt.session_factory)
    app.extensions["ptt_sweeper"] = start_background_sweeper(rt.session_factory, deliverers)
