"""The Bolt app: built once, served over HTTP (``/slack/events``) or Socket Mode (``ptt slack socket``).

Settings (from the environment, see ``assistant.config.Settings``): ``SLACK_SIGNING_SECRET``
(requests are verified by Bolt: HMAC-SHA256 signature, timestamp within five minutes),
``SLACK_BOT_TOKEN``, ``SLACK_API_BASE_URL`` (where the Web API is called), ``PTT_BASE_URL`` (links
to the web app). With ``SLACK_CLIENT_ID`` and ``SLACK_CLIENT_SECRET`` the app can be installed in
several workspaces (OAuth at ``/slack/install``), installations kept by slack_sdk's SQLAlchemy
installation store in the app's database.

Every listener acknowledges at once and does its work in a lazy listener on a thread pool
(``process_before_response=False``), so Slack gets its answer well within three seconds. With
``synchronous=True`` (tests) the pool is replaced by an executor that runs the work in the request
thread, so the whole reply has been sent when the HTTP response comes back.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import date
from typing import Any

from slack_bolt import App, BoltResponse
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient

from assistant.slack import store
from assistant.slack.listeners import register_listeners
from assistant.slack.runtime import SlackRuntime, attach_runtime, school_today, setting
from storage.db import SessionFactory

logger = logging.getLogger("ptt.slack")

DEFAULT_API_BASE_URL = "https://slack.com/api/"
BOT_SCOPES: tuple[str, ...] = (
    "commands", "chat:write", "im:history", "im:read", "im:write", "users:read", "users:read.email",
    "app_mentions:read",
)
WORKER_THREADS = 4


class SlackNotConfigured(RuntimeError):
    """No signing secret (or neither a bot token nor OAuth client credentials) is set."""


class SynchronousExecutor(Executor):
    """Runs each task at once in the caller's thread (tests: the reply is sent before the response)."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # the runner logs it; keep the request alive
            future.set_exception(error)
        return future


class RequestGate:
    """Counts Slack requests in flight, so that slow work can give way to acknowledgements."""

    def __init__(self) -> None:
        self._in_flight = 0
        self._lock = threading.Lock()

    def enter(self) -> None:
        with self._lock:
            self._in_flight += 1

    def leave(self) -> None:
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)

    @property
    def busy(self) -> bool:
        return self._in_flight > 0


class AckInlineExecutor(Executor):
    """Acknowledgements run at once in the request thread; lazy work goes to a bounded pool and
    waits (at most ``MAX_DEFERRAL`` seconds) while requests are still being acknowledged.

    Bolt hands both to one executor. Every ack function of this app is trivial (no I/O), so
    running it inline answers Slack without waiting for a pool thread that slow work may hold,
    and without Bolt's 10 ms polling for the ack; and in a burst the slow work does not compete
    with the acknowledgements for the interpreter. Anything not recognised as Bolt's ack runner
    (e.g. after a Bolt upgrade renames it) simply goes to the pool, which is still correct.
    """

    ACK_RUNNER = "run_ack_function_asynchronously"
    MAX_DEFERRAL = 0.5

    def __init__(self, gate: RequestGate | None = None, max_workers: int = WORKER_THREADS) -> None:
        self.gate = gate or RequestGate()
        self.pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="ptt-slack")

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if getattr(fn, "__name__", "") == self.ACK_RUNNER:
            return SynchronousExecutor().submit(fn, *args, **kwargs)
        gate = self.gate

        def after_the_acks() -> Any:
            deadline = time.monotonic() + self.MAX_DEFERRAL
            while gate.busy and time.monotonic() < deadline:
                time.sleep(0.002)
            return fn(*args, **kwargs)

        return self.pool.submit(after_the_acks)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def _api_base_url(settings: Any) -> str:
    url = str(setting(settings, "SLACK_API_BASE_URL", DEFAULT_API_BASE_URL))
    return url if url.endswith("/") else url + "/"


def allowed_team_ids(settings: Any) -> frozenset[str]:
    """``SLACK_ALLOWED_TEAM_IDS``: the workspaces (and Enterprise Grid organisations) the app
    serves, comma-separated; empty: any that installed it."""
    raw = setting(settings, "SLACK_ALLOWED_TEAM_IDS", "")
    items = raw if isinstance(raw, list | tuple | set | frozenset) else str(raw).split(",")
    return frozenset(str(item).strip() for item in items if str(item).strip())


def _only_from(app: App, allowed: frozenset[str]) -> None:
    """Ignore every request from a workspace not on the list (before any listener runs)."""

    @app.middleware
    def from_an_allowed_workspace(context: Any, logger: logging.Logger, next: Callable[[], Any]) -> Any:
        if context.team_id in allowed or (context.enterprise_id and context.enterprise_id in allowed):
            return next()
        logger.warning("Slack request from workspace %s (enterprise %s) ignored: not in SLACK_ALLOWED_TEAM_IDS",
                       context.team_id, context.enterprise_id)
        return BoltResponse(status=200, body="")


def _refuse_installs_outside(installations: Any, allowed: frozenset[str]) -> None:
    """The OAuth flow stores an installation only for an allowed workspace (the install page
    then says it failed)."""
    save = installations.save

    def save_if_allowed(installation: Any) -> None:
        if installation.team_id not in allowed and installation.enterprise_id not in allowed:
            raise PermissionError(f"workspace {installation.team_id} is not in SLACK_ALLOWED_TEAM_IDS")
        save(installation)

    installations.save = save_if_allowed


def build_bolt_app(
    settings: Any,
    session_factory: SessionFactory,
    *,
    synchronous: bool = False,
    today: Callable[[], date] | None = None,
    executor: Executor | None = None,
) -> App:
    """The Slack app with all its listeners. ``settings`` is :class:`assistant.config.Settings`
    (or anything with the same attribute names)."""
    signing_secret = setting(settings, "SLACK_SIGNING_SECRET")
    token = setting(settings, "SLACK_BOT_TOKEN")
    client_id = setting(settings, "SLACK_CLIENT_ID")
    client_secret = setting(settings, "SLACK_CLIENT_SECRET")
    if not signing_secret:
        raise SlackNotConfigured("SLACK_SIGNING_SECRET is not set")
    oauth = bool(client_id and client_secret)
    if not token and not oauth:
        raise SlackNotConfigured("set SLACK_BOT_TOKEN, or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET")

    gate = RequestGate()
    engine = store.engine_of(session_factory)
    base_url = _api_base_url(settings)
    common: dict[str, Any] = {
        "signing_secret": signing_secret,
        "process_before_response": False,
        "listener_executor": executor or (SynchronousExecutor() if synchronous else AckInlineExecutor(gate)),
        "token_verification_enabled": False,  # no Web API call at start-up; auth.test on first request
        "raise_error_for_unhandled_request": False,
        # Features this app does not use; each is a middleware run on every request.
        "attaching_function_token_enabled": False,
        "attaching_conversation_kwargs_enabled": False,
        "ignoring_self_assistant_message_events_enabled": False,
        "name": "ptt",
    }
    allowed_teams = allowed_team_ids(settings)
    if oauth:
        from slack_sdk.oauth.installation_store.sqlalchemy import SQLAlchemyInstallationStore
        from slack_sdk.oauth.state_store.sqlalchemy import SQLAlchemyOAuthStateStore

        installations = SQLAlchemyInstallationStore(client_id=str(client_id), engine=engine)
        if allowed_teams:
            _refuse_installs_outside(installations, allowed_teams)
        states = SQLAlchemyOAuthStateStore(expiration_seconds=600, engine=engine)
        installations.metadata.create_all(engine, checkfirst=True)
        states.metadata.create_all(engine, checkfirst=True)
        app = App(
            client=WebClient(base_url=base_url),
            installation_store=installations,
            oauth_settings=OAuthSettings(
                client_id=str(client_id), client_secret=str(client_secret), scopes=list(BOT_SCOPES),
                installation_store=installations, state_store=states,
                install_path="/slack/install", redirect_uri_path="/slack/oauth_redirect",
            ),
            **common,
        )
    else:
        app = App(client=WebClient(token=str(token), base_url=base_url), **common)

    runtime = SlackRuntime(
        session_factory=session_factory,
        base_url=str(setting(settings, "PTT_BASE_URL", "http://127.0.0.1:8000")),
        today=today or school_today,
        settings=settings,
        extra={"gate": gate},
    )
    attach_runtime(app, runtime)
    if allowed_teams:
        _only_from(app, allowed_teams)
    register_listeners(app)

    @app.error
    def report(error: Exception, body: dict[str, Any], logger: logging.Logger) -> None:
        logger.exception("Slack request failed: %s", error)

    return app
