"""Sign-in with a local account (Argon2 password) or, when configured, single sign-on (OIDC:
Microsoft Entra ID, Google). SSO signs in existing accounts only: roles and schools are given
by an administrator (``ptt users add``), never taken from the identity provider."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from assistant.config import Settings
from assistant.services import auth
from assistant.web.runtime import db, runtime
from assistant.web.security import safe_next, sign_in, sign_out
from storage.repositories import DirectoryRepository

logger = logging.getLogger("ptt.web")
bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    next_url = safe_next(request.values.get("next"))
    error = None
    email = ""
    if request.method == "POST":
        email = (request.form.get("email") or "").strip()
        password = request.form.get("password") or ""
        session = db()
        user = auth.authenticate(session, email, password) if email and password else None
        if user is not None:
            auth.record_sign_in(session, user, method="password", address=request.remote_addr)
            session.commit()
            sign_in(user)
            return redirect(next_url or url_for("pages.home"))
        error = "That e-mail address and password do not match an account."
    settings: Settings = runtime().settings
    status = 401 if error else 200
    return render_template("login.html", error=error, email=email, next=next_url or "",
                           sso_enabled=settings.oidc_enabled, sso_name=settings.oidc_provider_name), status


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    user = g.get("user") if g.get("auth_method") == "session" else None
    sign_out()  # first: on a shared computer, signing out must not hang on the audit log
    if user is not None:
        session = db()
        try:
            auth.record_sign_out(session, user, address=request.remote_addr)
            session.commit()
        except Exception:
            session.rollback()
            logger.exception("the sign-out of user %s could not be written to the audit log", user.id)
    flash("You have signed out.")
    return redirect(url_for("auth.login"))


def init_oidc(app: Flask, settings: Settings) -> None:
    """Register the OpenID Connect client when ``OIDC_CLIENT_ID`` and ``OIDC_METADATA_URL``
    are set (e.g. ``https://login.microsoftonline.com/TENANT/v2.0/.well-known/openid-configuration``
    or ``https://accounts.google.com/.well-known/openid-configuration``)."""
    if not settings.oidc_enabled:
        return
    from authlib.integrations.flask_client import OAuth

    oauth = OAuth(app)
    oauth.register(
        "sso",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        server_metadata_url=settings.oidc_metadata_url,
        client_kwargs={"scope": settings.oidc_scopes},
    )
    app.extensions["ptt_oauth"] = oauth


def _oauth_client() -> Any:
    oauth = current_app.extensions.get("ptt_oauth")
    if oauth is None:
        abort(404)
    return oauth.sso


@bp.get("/login/sso")
def sso() -> ResponseReturnValue:
    client = _oauth_client()
    return client.authorize_redirect(url_for("auth.sso_callback", _external=True))


@bp.get("/login/sso/callback")
def sso_callback() -> ResponseReturnValue:
    client = _oauth_client()
    try:
        token = client.authorize_access_token()
    except Exception:  # a bad state, a refused consent, a provider error
        flash("Single sign-on did not complete; try again or use your password.")
        return redirect(url_for("auth.login"))
    claims = token.get("userinfo") or {}
    # Only an address the identity provider says it verified identifies an account: an unverified
    # ``email`` (or ``preferred_username``) can be set by whoever runs the sign-in tenant.
    email = str(claims.get("email") or "").strip().lower()
    verified = claims.get("email_verified") is True
    session = db()
    user = DirectoryRepository(session).user_by_email(email) if email and verified else None
    if user is None or not user.is_active:
        flash("Your account is not set up for this service; ask your administrator.")
        return redirect(url_for("auth.login"))
    auth.record_sign_in(session, user, method="sso", address=request.remote_addr)
    session.commit()
    sign_in(user)
    return redirect(url_for("pages.home"))
