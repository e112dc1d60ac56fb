"""Single sign-on by OpenID Connect, end to end against an identity provider on loopback: Authlib
reads its discovery document, sends the browser there with a state and a nonce, exchanges the
code with the client secret, and checks the ID token's signature, issuer, audience and nonce.
Only an existing, active account whose address the provider says it verified is signed in; roles
and schools come from ``ptt users add``, never from the provider."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import OAK_DSL, OAK_STAFF, SingleSignOn, World, last_audit_id, sign_in_events
from tests.e2e.oidc_provider import Misbehaviour

REFUSED = "Single sign-on did not complete"
NOT_SET_UP = "Your account is not set up for this service"
VERIFIED_STAFF = {"email": OAK_STAFF, "email_verified": True}


def turned_away(sso: SingleSignOn, claims: dict[str, Any] | None, message: str) -> bool:
    """Whether the sign-in ends back on the login page, saying ``message``, with no one signed in."""
    client = sso.app.test_client()
    response = sso.callback(client, claims)
    return (response.status_code == 302 and response.location == "/login"
            and message in client.get("/login").get_data(as_text=True) and client.get("/plans").status_code == 302)


def test_single_sign_on_signs_in_the_account_whose_verified_address_the_provider_vouches_for(
        sso: SingleSignOn) -> None:
    client = sso.app.test_client()
    response = sso.callback(client, {"email": "Staff@Oak.Example.org", "email_verified": True})
    assert response.status_code == 302 and response.location == "/"
    home = client.get("/").get_data(as_text=True)
    assert "Oak Primary" in home and "Start a new check" in home
    exchange = sso.provider.token_requests[-1]
    assert exchange["grant_type"] == "authorization_code" and "client_secret" not in exchange, \
        "the secret travels in the Authorization header, not the form"


def test_the_app_asks_for_the_openid_scopes_with_a_state_and_a_nonce(sso: SingleSignOn) -> None:
    start = sso.app.test_client().get("/login/sso")
    query = start.location.split("?", 1)[1]
    assert "scope=openid+email+profile" in query and "state=" in query and "nonce=" in query
    assert "redirect_uri=http%3A%2F%2Flocalhost%2Flogin%2Fsso%2Fcallback" in query


@pytest.mark.parametrize(
    "claims",
    [
        {"email": OAK_DSL},  # no email_verified claim, as Entra ID tokens often arrive
        {"email": OAK_DSL, "email_verified": False},
        {"email": OAK_DSL, "email_verified": "true"},  # a string is not the provider's boolean
        {"preferred_username": OAK_DSL},
    ],
)
def test_single_sign_on_refuses_an_address_nobody_verified(sso: SingleSignOn, claims: dict[str, Any]) -> None:
    assert turned_away(sso, claims, NOT_SET_UP)


def test_a_verified_address_with_no_account_signs_no_one_in(sso: SingleSignOn) -> None:
    assert turned_away(sso, {"email": "stranger@oak.example.org", "email_verified": True}, NOT_SET_UP)


def test_a_refused_consent_at_the_provider_returns_to_the_login_page_with_a_message(sso: SingleSignOn) -> None:
    assert turned_away(sso, None, REFUSED)


@pytest.mark.parametrize(
    "misbehaviour",
    [
        pytest.param(Misbehaviour(sign_with_unpublished_key=True), id="signed with an unpublished key"),
        pytest.param(Misbehaviour(issuer="https://login.example.invalid/other-tenant/v2.0"), id="from another issuer"),
        pytest.param(Misbehaviour(expired=True), id="expired"),
        pytest.param(Misbehaviour(audience="some-other-app"), id="addressed to another client"),
        pytest.param(Misbehaviour(nonce="a-nonce-from-another-sign-in"), id="carrying another sign-in's nonce"),
    ],
)
def test_an_id_token_the_app_cannot_trust_signs_no_one_in(sso: SingleSignOn, misbehaviour: Misbehaviour) -> None:
    sso.provider.misbehaviour = misbehaviour
    assert turned_away(sso, VERIFIED_STAFF, REFUSED)


def test_a_callback_started_in_another_browser_signs_no_one_in(sso: SingleSignOn) -> None:
    """Login CSRF: an attacker's own code and state, delivered to a victim's browser, must not
    sign the victim into the attacker's account."""
    attacker, victim = sso.app.test_client(), sso.app.test_client()
    callback = sso.round_trip(attacker, VERIFIED_STAFF)
    response = victim.get(callback)
    assert response.status_code == 302 and response.location == "/login"
    assert victim.get("/plans").status_code == 302


def test_a_single_sign_on_is_written_to_the_audit_log(sso: SingleSignOn, web: World) -> None:
    before = last_audit_id(web)
    assert not sso.signed_in({"email": OAK_DSL, "email_verified": False})
    assert sso.signed_in({"email": OAK_DSL, "email_verified": True})
    assert sign_in_events(web, OAK_DSL, before) == [("sign_in", {"method": "sso", "address": "127.0.0.1"})]
