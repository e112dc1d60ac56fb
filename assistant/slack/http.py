"""Slack over HTTP: ``POST /slack/events`` (events, slash commands and interactivity alike), and
with OAuth configured ``GET /slack/install`` and ``GET /slack/oauth_redirect``.

Bolt verifies every request's signature (``X-Slack-Signature``, HMAC-SHA256 of
``v0:{timestamp}:{body}`` with the signing secret) and rejects a timestamp more than five minutes
old with 401. These routes need no session and no CSRF token (the web app exempts ``/slack/``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, jsonify, request
from slack_bolt import App
from slack_bolt.adapter.flask import SlackRequestHandler

from assistant.slack.app import SlackNotConfigured, build_bolt_app
from assistant.slack.runtime import runtime_of

logger = logging.getLogger("ptt.slack")

EXTENSION_KEY = "ptt_slack"


def _runtime_parts(flask_app: Flask) -> tuple[Any, Any]:
    runtime = flask_app.extensions.get("ptt")
    if runtime is None:
        raise RuntimeError("init_app needs the web app's runtime (app.extensions['ptt'])")
    return runtime.settings, runtime.session_factory


def init_app(flask_app: Flask, bolt_app: App | None = None, **build_options: Any) -> App | None:
    """Mount the Slack routes on the web app. Without Slack settings the routes answer 503."""
    if bolt_app is None:
        settings, session_factory = _runtime_parts(flask_app)
        try:
            bolt_app = build_bolt_app(settings, session_factory, **build_options)
        except SlackNotConfigured as error:
            logger.info("Slack app not configured: %s", error)
            bolt_app = None
    handler = SlackRequestHandler(bolt_app) if bolt_app is not None else None
    blueprint = Blueprint("slack", __name__, url_prefix="/slack")
    gate = runtime_of(bolt_app).extra.get("gate") if bolt_app is not None else None
    if gate is not None:
        # Slow work waits while requests are being acknowledged (see AckInlineExecutor).
        blueprint.before_request(gate.enter)

        @blueprint.teardown_request
        def leave(_error: BaseException | None = None) -> None:
            gate.leave()

    def not_configured() -> Any:
        return jsonify({"error": {"status": 503, "message": "The Slack app is not configured."}}), 503

    @blueprint.post("/events")
    def events() -> Any:
        return handler.handle(request) if handler is not None else not_configured()

    @blueprint.get("/install")
    def install() -> Any:
        if handler is None or bolt_app is None or bolt_app.oauth_flow is None:
            return not_configured()
        return handler.handle(request)

    @blueprint.get("/oauth_redirect")
    def oauth_redirect() -> Any:
        if handler is None or bolt_app is None or bolt_app.oauth_flow is None:
            return not_configured()
        return handler.handle(request)

    flask_app.register_blueprint(blueprint)
    flask_app.extensions[EXTENSION_KEY] = bolt_app
    return bolt_app
