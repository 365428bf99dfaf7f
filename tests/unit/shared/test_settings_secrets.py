"""env=prod refuses weak secrets at start-up, naming the variable and never echoing any part of its value."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.intake.settings import IntakeSettings
from shared.settings import DEV_JWT_SECRET, SECRET_MIN_BYTES, CommonSettings

ROOT = Path(__file__).resolve().parents[3]
STRONG = "vault-issued-jwt-secret-0123456789-abcdefghij"  # 45 bytes
STRONG_REF = "vault-issued-person-ref-key-0123456789-abcdef"
GOOD_AES = "k1:" + base64.b64encode(bytes(range(1, 33))).decode()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CENTINELA_"):
            monkeypatch.delenv(name)


def _windows(secret: str, size: int = 5) -> list[str]:
    return [secret[i : i + size] for i in range(len(secret) - size + 1)]


def assert_not_echoed(secret: str, text: str, size: int = 5) -> None:
    leaked = [w for w in _windows(secret, size) if w in text]
    assert not leaked, f"parts of the secret appear in the message: {leaked}"


def _prod(monkeypatch: pytest.MonkeyPatch, **env: str) -> None:
    monkeypatch.setenv("CENTINELA_ENV", "prod")
    monkeypatch.setenv("CENTINELA_JWT_SECRET", STRONG)
    monkeypatch.setenv("CENTINELA_PERSON_REF_KEY", STRONG_REF)
    monkeypatch.setenv("CENTINELA_IDENTITY_KEYS", GOOD_AES)
    for name, value in env.items():
        monkeypatch.setenv(f"CENTINELA_{name.upper()}", value)


def test_dev_default_refused_without_echoing_its_tail(monkeypatch: pytest.MonkeyPatch) -> None:
    # the old message ended with "input_value={'env': 'prod', 'jwt_secr...ge-me-0123456789abcdef'}"
    monkeypatch.setenv("CENTINELA_ENV", "prod")
    monkeypatch.setenv("CENTINELA_JWT_SECRET", DEV_JWT_SECRET)
    with pytest.raises(ValidationError) as info:
        CommonSettings()
    assert "CENTINELA_JWT_SECRET" in str(info.value)
    # 8-character windows: the dev default contains the word "secret", which the message may say
    assert_not_echoed(DEV_JWT_SECRET, str(info.value), size=8)
    assert_not_echoed(DEV_JWT_SECRET, repr(info.value), size=8)


@pytest.mark.parametrize("secret", ["", "Sh0rt-S3cret-XYZ", "x" * (SECRET_MIN_BYTES - 1)], ids=["empty", "16", "31"])
def test_short_jwt_secret_refused_in_prod(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    _prod(monkeypatch, jwt_secret=secret)
    with pytest.raises(ValidationError) as info:
        CommonSettings()
    message = str(info.value)
    assert "CENTINELA_JWT_SECRET" in message
    assert ("empty" if not secret else f"shorter than {SECRET_MIN_BYTES} bytes") in message
    if secret:
        assert_not_echoed(secret, message)


def test_short_jwt_secret_still_allowed_outside_prod(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENTINELA_ENV", "test")
    monkeypatch.setenv("CENTINELA_JWT_SECRET", "Sh0rt-S3cret-XYZ")
    assert CommonSettings().env == "test"


def test_dev_keeps_its_defaults() -> None:
    s = IntakeSettings()
    assert s.env == "dev" and s.jwt_secret.get_secret_value() == DEV_JWT_SECRET


def test_strong_prod_settings_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    _prod(monkeypatch)
    s = IntakeSettings()
    assert s.env == "prod" and s.person_ref_key.get_secret_value() == STRONG_REF


def test_exactly_min_bytes_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    _prod(monkeypatch, jwt_secret="z" * SECRET_MIN_BYTES)
    assert CommonSettings().env == "prod"


def test_short_person_ref_key_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    _prod(monkeypatch, person_ref_key="Pers0nRef-Sh0rt")
    with pytest.raises(ValidationError) as info:
        IntakeSettings()
    message = str(info.value)
    assert "CENTINELA_PERSON_REF_KEY" in message and "CENTINELA_JWT_SECRET" not in message
    assert_not_echoed("Pers0nRef-Sh0rt", message)


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ("k1:" + base64.b64encode(bytes(32)).decode(), "all zero"),
        ("k1:" + base64.b64encode(b"sixteen-byte-key").decode(), "not 32 bytes"),
        (GOOD_AES + ",k2:" + base64.b64encode(bytes(32)).decode(), "key #2 is all zero"),
        ("k1:n0t*b@se!!", "not valid base64"),
        ("just-a-key-without-an-id", "kid:base64key"),
        ("", "empty"),
    ],
    ids=["zero", "short", "second-zero", "bad-base64", "no-kid", "empty"],
)
def test_bad_identity_keys_refused(monkeypatch: pytest.MonkeyPatch, keys: str, problem: str) -> None:
    _prod(monkeypatch, identity_keys=keys)
    with pytest.raises(ValidationError) as info:
        IntakeSettings()
    message = str(info.value)
    assert "CENTINELA_IDENTITY_KEYS" in message and problem in message
    for part in keys.split(","):
        secret_part = part.partition(":")[2] or part
        if len(secret_part) >= 5:
            assert_not_echoed(secret_part, message)


def test_public_key_with_hs256_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    pem = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEexample\n-----END PUBLIC KEY-----"
    _prod(monkeypatch, jwt_public_key=pem)
    with pytest.raises(ValidationError) as info:
        CommonSettings()
    message = str(info.value)
    assert "CENTINELA_JWT_PUBLIC_KEY" in message and "CENTINELA_JWT_ALGORITHMS" in message and "HS256" in message
    assert "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEexample" not in message
    monkeypatch.setenv("CENTINELA_JWT_ALGORITHMS", '["ES256"]')
    assert CommonSettings().jwt_algorithms == ["ES256"]


def test_all_problems_listed_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    _prod(monkeypatch, jwt_secret="Sh0rt-S3cret-XYZ", person_ref_key="Pers0nRef-Sh0rt")
    with pytest.raises(ValidationError) as info:
        IntakeSettings()
    assert "CENTINELA_JWT_SECRET" in str(info.value) and "CENTINELA_PERSON_REF_KEY" in str(info.value)


@pytest.mark.parametrize(
    "module",
    ["services.intake.main", "services.legal.main", "services.alerts.main", "services.processor.app"],
)
def test_every_process_refuses_to_start(module: str) -> None:
    """Importing a service's entry module (what uvicorn / faust do) fails, and stderr keeps the secret."""
    secret = "Sh0rt-S3cret-XYZ"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CENTINELA_")}
    env.update(
        CENTINELA_ENV="prod",
        CENTINELA_JWT_SECRET=secret,
        CENTINELA_PERSON_REF_KEY=STRONG_REF,
        CENTINELA_IDENTITY_KEYS=GOOD_AES,
    )
    proc = subprocess.run(
        [sys.executable, "-c", f"import {module}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output[-2000:]
    assert "CENTINELA_JWT_SECRET" in output, output[-2000:]
    assert_not_echoed(secret, output)
