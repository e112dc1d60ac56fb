"""Authentication of every request, CSRF protection, rate limiting and security headers.

* A request carrying ``Authorization: Bearer TOKEN`` is authenticated by the token alone (no
  cookie is read or set, and no CSRF token is needed: a browser never adds that header by
  itself). A bad token is a 401.
* Otherwise the signed session cookie names the user. Every state-changing request made with the
  cookie — form posts and ``fetch`` calls alike — must carry the session's CSRF token, in the
  ``csrf_token`` form field or the ``X-CSRF-Token`` header (pages hold it in a meta tag).
* Only ``/slack/`` is exempt: Slack signs its requests, and the Slack app checks that signature.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Flask, abort, g, jsonify, make_response, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException, TooManyRequests

from assistant.services import auth
from assistant.services.conversations import begin_reading
from assistant.services.sign_in_throttle import SignInThrottle
from assistant.web.runtime import db, runtime

CSRF_SESSION_KEY = "csrf"
CSRF_FORM_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_EXEMPT_PREFIXES = ("/slack/",)
PUBLIC_ENDPOINTS = frozenset({"static", "auth.login", "auth.sso", "auth.sso_callback", "health",
                              "plans.calendar_feed", "api.openapi"})

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}

#: Sent only on requests that came over HTTPS (RFC 6797 §7.2): a year, this host only.
HSTS = "max-age=31536000"

F = TypeVar("F", bound=Callable[..., Any])


def csrf_token() -> str:
    token = session.get(CSRF_SESSION_KEY)
    if not token:
        token = secrets.token_urlsafe(32)
        session[CSRF_SESSION_KEY] = token
    return token


def is_api_request() -> bool:
    return request.path.startswith("/api/")


def wants_json() -> bool:
    return is_api_request() or request.accept_mimetypes.best == "application/json"


def json_error(status: int, message: str, **extra: Any) -> ResponseReturnValue:
    return jsonify({"error": {"status": status, "message": message, **extra}}), status


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


def load_user() -> ResponseReturnValue | None:
    """Find the caller: by bearer token, else by session cookie."""
    g.user = None
    g.auth_method = None
    g.conversation = None
    if request.path.startswith(CSRF_EXEMPT_PREFIXES) or request.endpoint == "static":
        return None
    # A route naming a conversation gets it read with the caller, in the same query. Its writes
    # (the answer, or the audit row of a read) come after begin_writing, so on PostgreSQL its
    # reads need no transaction: no BEGIN, and an answer's one statement no COMMIT.
    conversation_id = (request.view_args or {}).get("conversation_id")
    if conversation_id is not None:
        begin_reading(db(), outside_transaction=True)
    if "Authorization" in request.headers:
        token = _bearer_token()
        caller = auth.caller_for_token(db(), token, conversation_id=conversation_id) if token else None
        if caller is None:
            response = jsonify({"error": {"status": 401, "message": "Invalid or missing API token."}})
            response.status_code = 401
            response.headers["WWW-Authenticate"] = 'Bearer realm="ptt"'
            return response
        g.user, g.auth_method, g.conversation = caller.user, "token", caller.conversation
        return None
    user_id = session.get("uid")
    if user_id is not None:
        caller = auth.caller_by_id(db(), user_id, conversation_id=conversation_id)
        if (caller is None or not caller.user.is_active or session.get("pwd") != _password_fingerprint(caller.user)
                or auth.session_has_ended(caller.user, session.get("since"))):
            session.clear()
        else:
            g.user, g.auth_method, g.conversation = caller.user, "session", caller.conversation
    return None


def _password_fingerprint(user: Any) -> str:
    """Changes when the password changes, so that sessions end with an old password."""
    return (user.password_hash or "sso")[-12:]


def sign_in(user: Any) -> None:
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["pwd"] = _password_fingerprint(user)
    session["since"] = time.time()  # a sign-out (anywhere) after this ends the session
    session[CSRF_SESSION_KEY] = secrets.token_urlsafe(32)


def sign_out() -> None:
    session.clear()


def csrf_protect() -> ResponseReturnValue | None:
    if request.method in SAFE_METHODS or request.path.startswith(CSRF_EXEMPT_PREFIXES):
        return None
    if g.get("auth_method") == "token":
        return None
    expected = session.get(CSRF_SESSION_KEY)
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FORM_FIELD)
    if expected and given and secrets.compare_digest(str(expected), str(given)):
        return None
    if is_api_request() and g.get("user") is None:
        return json_error(401, "Sign in or send an API token (Authorization: Bearer TOKEN).")
    if wants_json() or request.headers.get(CSRF_HEADER) is not None:
        return json_error(403, "The form's security token is missing or out of date; reload the page.")
    abort(403, description="The form's security token is missing or out of date; reload the page and try again.")
    return None


def require_login() -> ResponseReturnValue | None:
    """Everything except sign-in, static files, the health check and token-authenticated
    calendar feeds needs a signed-in user (API: a token or a session)."""
    if request.endpoint is None or request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if request.path.startswith(CSRF_EXEMPT_PREFIXES):
        return None
    if g.get("user") is not None:
        return None
    if is_api_request():
        return json_error(401, "Sign in or send an API token (Authorization: Bearer TOKEN).")
    return redirect(url_for("auth.login", next=request.full_path if request.query_string else request.path))


def roles_required(*roles: str) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = g.get("user")
            if user is None or user.role not in roles:
                abort(403, description="Your role does not give access to this page.")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def set_security_headers(response: Any) -> Any:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:  # over HTTPS (directly, or a trusted proxy says so): stay on HTTPS
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if g.get("user") is not None or request.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never another host, never ``//host`` nor ``/\\host`` (browsers
    read a backslash as a slash) nor anything with a control character."""
    if not target:
        return None
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def handle_http_error(error: HTTPException) -> ResponseReturnValue:
    # Keep the error's own headers (Retry-After on a 429, Allow on a 405), not its body.
    headers = [(name, value) for name, value in error.get_headers() if name.lower() != "content-type"]
    if wants_json():
        body, status = json_error(error.code or 500, error.description or error.name)  # type: ignore[misc]
        return body, status, headers
    from flask import render_template

    return render_template("error.html", error=error), error.code or 500, headers


def init_security(app: Flask, *, login_rate_limit: str, login_account_rate_limit: str) -> None:
    throttle = SignInThrottle(login_rate_limit, login_account_rate_limit)
    login_view = app.view_functions["auth.login"]

    @wraps(login_view)
    def throttled_login(*args: Any, **kwargs: Any) -> Any:
        if request.method != "POST":
            return login_view(*args, **kwargs)
        address = request.remote_addr or "unknown"
        email = request.form.get("email") or ""
        with runtime().session_factory() as session:
            begin_reading(session)  # a read: on SQLite it waits for no writer and holds none up
            wait = throttle.retry_after(session, address, email)
        if wait:
            raise TooManyRequests("Too many sign-in attempts; wait a minute.", retry_after=wait)
        response = make_response(login_view(*args, **kwargs))
        if response.status_code == 401:
            with runtime().session_factory() as session:
                throttle.record_failure(session, address, email)
                session.commit()
        return response

    app.view_functions["auth.login"] = throttled_login
    app.before_request(load_user)
    app.before_request(csrf_protect)
    app.before_request(require_login)
    app.after_request(set_security_headers)
    app.register_error_handler(HTTPException, handle_http_error)
    app.jinja_env.globals["csrf_token"] = csrf_token
