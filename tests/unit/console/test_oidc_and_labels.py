"""OpenID Connect pieces without a provider (PKCE, amr, the user claim, the pending sign-in) and
the label tables read from labels.yaml."""

from __future__ import annotations

from typing import Any

import pytest

from services.console.service.oidc import OidcClient, OidcError, Pending, challenge
from services.console.settings import ConsoleSettings
from services.console.web import labels


def client(**settings: str) -> OidcClient:
    options: dict[str, Any] = {"console_oidc_issuer": "https://id.example.org", "console_oidc_client_id": "c"}
    return OidcClient(ConsoleSettings(**{**options, **settings}))


def test_pkce_challenge_is_rfc_7636s_example() -> None:
    assert challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_only_the_configured_amr_values_stand_for_the_consoles_second_factor() -> None:
    default = client()
    assert default._mfa({"amr": ["pwd", "mfa"]})
    assert not default._mfa({"amr": ["pwd"]})
    assert not default._mfa({"amr": "mfa"})  # amr is a list (RFC 8176); a string is not trusted
    assert not default._mfa({})
    assert client(console_oidc_mfa_amr="otp, hwk")._mfa({"amr": ["hwk"]})
    assert not client(console_oidc_mfa_amr="")._mfa({"amr": ["mfa"]})  # empty: always the console's TOTP


def test_an_email_identifies_a_user_only_once_the_provider_verified_it() -> None:
    by_email = client(console_oidc_user_claim="email")
    assert by_email._subject({"email": "Ana@Org.PE", "email_verified": True}) == "ana@org.pe"
    with pytest.raises(OidcError, match="email_not_verified"):
        by_email._subject({"email": "ana@org.pe", "email_verified": "true"})
    with pytest.raises(OidcError, match="no_user_claim"):
        client()._subject({"email": "ana@org.pe"})


def test_a_pending_sign_in_survives_the_session_store_and_nothing_else_does() -> None:
    pending = Pending("s", "n", "v", 12.5)
    assert Pending.from_doc(pending.as_doc()) == pending
    assert Pending.from_doc(None) is None
    assert Pending.from_doc({"state": "s"}) is None


def test_labels_come_from_the_yaml_tables() -> None:
    assert labels.STAGES["trial"] == "Trial"
    assert labels.DEADLINE_KINDS["appeal_sentence"] == "Deadline to appeal the sentence"
    with pytest.raises(AttributeError):
        _ = labels.NO_SUCH_TABLE
    assert labels.view_action("case.read") == "Opened the case"
    assert labels.view_action("alerts.subscription.list") == "Viewed it"
    assert labels.view_action("legal.something.record") == "Changed it"
    assert labels.view_action(None) == "Changed it"
