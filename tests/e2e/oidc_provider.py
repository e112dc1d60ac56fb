"""A local OpenID Connect identity provider on loopback, standing in for Microsoft Entra ID or
Google Workspace in the single sign-on tests.

``FakeIdentityProvider`` is a real HTTP server on 127.0.0.1 (port 0) serving what Authlib's
client reads: the discovery document, the JSON Web Key Set, an authorization endpoint that
signs in whoever the test says (``next_claims``) and sends the browser back with a code, and a
token endpoint that checks the client's secret and the code, then returns an RS256-signed ID
token carrying ``next_claims`` (what the provider says of the person: ``email``,
``email_verified``, ``preferred_username``...).

Tests can make it misbehave the ways a broken provider or an attacker might: sign with a key it
does not publish, name another issuer, address the token to another client, send one that has
expired, or echo another sign-in's nonce.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey
from werkzeug.serving import make_server

CLIENT_ID = "ptt-test-client"
CLIENT_SECRET = "ptt-test-client-secret"
KEY_ID = "ptt-test-key"


@dataclass
class Misbehaviour:
    sign_with_unpublished_key: bool = False
    issuer: str | None = None
    audience: str | None = None
    expired: bool = False
    nonce: str | None = None


class FakeIdentityProvider:
    def __init__(self) -> None:
        # Two keys under one key id: a token signed with the other one claims to be the provider's.
        self.signing_key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID}, private=True)
        self.other_key = RSAKey.generate_key(2048, parameters={"kid": KEY_ID}, private=True)
        self.next_claims: dict[str, Any] | None = None
        self.misbehaviour = Misbehaviour()
        self.token_requests: list[dict[str, Any]] = []
        self._codes: dict[str, tuple[dict[str, Any], str | None, str]] = {}
        self._server = make_server("127.0.0.1", 0, self._app(), threaded=True)
        self.issuer = f"http://127.0.0.1:{self._server.server_port}"
        self.metadata_url = f"{self.issuer}/.well-known/openid-configuration"

    def _app(self) -> Flask:
        app = Flask("fake_identity_provider")
        provider = self

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify(issuer=provider.issuer, authorization_endpoint=f"{provider.issuer}/authorize",
                           token_endpoint=f"{provider.issuer}/token", jwks_uri=f"{provider.issuer}/jwks",
                           response_types_supported=["code"], subject_types_supported=["public"],
                           id_token_signing_alg_values_supported=["RS256"],
                           token_endpoint_auth_methods_supported=["client_secret_basic", "client_secret_post"])

        @app.get("/jwks")
        def jwks() -> Any:
            return jsonify(keys=[provider.signing_key.as_dict(private=False)])

        @app.get("/authorize")
        def authorize() -> Any:
            if request.args.get("client_id") != CLIENT_ID or request.args.get("response_type") != "code":
                return jsonify(error="unauthorized_client"), 400
            claims = provider.next_claims
            if claims is None:  # the person refused consent, or gave up
                return redirect(f"{request.args['redirect_uri']}?" + urlencode(
                    {"error": "access_denied", "state": request.args.get("state", "")}))
            code = secrets.token_urlsafe(16)
            provider._codes[code] = (dict(claims), request.args.get("nonce"), request.args["redirect_uri"])
            return redirect(f"{request.args['redirect_uri']}?"
                            + urlencode({"code": code, "state": request.args.get("state", "")}))

        @app.post("/token")
        def token() -> Any:
            provider.token_requests.append(dict(request.form))
            if provider._client_id() != CLIENT_ID:
                return jsonify(error="invalid_client"), 401
            issued = provider._codes.pop(request.form.get("code", ""), None)
            if issued is None or request.form.get("grant_type") != "authorization_code":
                return jsonify(error="invalid_grant"), 400
            claims, nonce, redirect_uri = issued
            if request.form.get("redirect_uri") != redirect_uri:
                return jsonify(error="invalid_grant"), 400
            return jsonify(access_token=secrets.token_urlsafe(16), token_type="Bearer", expires_in=3600,
                           id_token=provider._id_token(claims, nonce))

        return app

    def _client_id(self) -> str | None:
        """The client's id if it proved it holds the secret (HTTP Basic or form fields)."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        else:
            client_id, secret = request.form.get("client_id", ""), request.form.get("client_secret", "")
        return client_id if secrets.compare_digest(secret, CLIENT_SECRET) else None

    def _id_token(self, said: dict[str, Any], nonce: str | None) -> str:
        now = int(time.time())
        issued_at = now - 3600 if self.misbehaviour.expired else now
        claims = {"iss": self.misbehaviour.issuer or self.issuer, "sub": secrets.token_hex(8),
                  "aud": self.misbehaviour.audience or CLIENT_ID, "iat": issued_at, "exp": issued_at + 300, **said}
        if self.misbehaviour.nonce or nonce:
            claims["nonce"] = self.misbehaviour.nonce or nonce
        key = self.other_key if self.misbehaviour.sign_with_unpublished_key else self.signing_key
        return jwt.encode({"alg": "RS256", "kid": KEY_ID}, claims, key)

    @contextmanager
    def running(self) -> Iterator[FakeIdentityProvider]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            thread.join(5)
