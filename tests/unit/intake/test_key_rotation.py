"""Key rotation of the identity keys: the active key encrypts, older ids still decrypt, values move to the
active key with their associated data, and the settings name the variable, never a key."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import ValidationError

from services.intake.domain.identity import CASE_FIELD, DOCUMENT, IdentityCipher, IdentityKeyError, Keyring
from services.intake.settings import IntakeSettings

A = base64.b64encode(os.urandom(32)).decode()
B = base64.b64encode(os.urandom(32)).decode()
C = base64.b64encode(os.urandom(32)).decode()


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("CENTINELA_"):
            monkeypatch.delenv(name)


def test_active_key_encrypts_and_every_configured_key_decrypts() -> None:
    under_a = IdentityCipher(Keyring.parse(f"a:{A}")).encrypt_field("cs_1", "given_names", "Ana")
    under_c = IdentityCipher(Keyring.parse(f"c:{C}")).encrypt_field("cs_1", "given_names", "Ana")
    ring = Keyring.parse(f"a:{A},b:{B}", active="b", retired=f"c:{C}")
    assert ring.current == "b" and ring.kids == ("a", "b", "c")
    cipher = IdentityCipher(ring)
    assert cipher.encrypt_field("cs_1", "given_names", "Ana")["kid"] == "b"
    assert cipher.decrypt_field("cs_1", "given_names", under_a) == "Ana"
    assert cipher.decrypt_field("cs_1", "given_names", under_c) == "Ana"  # old keys only decrypt
    # without an active id the first listed key encrypts, as before
    assert Keyring.parse(f"a:{A},b:{B}").current == "a"


def test_removed_key_no_longer_decrypts_and_the_error_names_only_the_key_id() -> None:
    blob = IdentityCipher(Keyring.parse(f"a:{A}")).encrypt_field("cs_1", "given_names", "Ana")
    with pytest.raises(IdentityKeyError) as info:
        IdentityCipher(Keyring.parse(f"b:{B}")).decrypt_field("cs_1", "given_names", blob)
    assert "'a'" in str(info.value) and "Ana" not in str(info.value) and A[:8] not in str(info.value)


@pytest.mark.parametrize("purpose", ["identity", CASE_FIELD, DOCUMENT])
def test_rekey_field_keeps_value_and_binding_and_is_idempotent(purpose: str) -> None:
    old = IdentityCipher(Keyring.parse(f"a:{A}"))
    blob = old.encrypt_field("cs_1", "place_of_exploitation", {"x": ["ñ", 1]}, purpose)
    rotated = IdentityCipher(Keyring.parse(f"b:{B}", retired=f"a:{A}"))
    new = rotated.rekey_field("cs_1", "place_of_exploitation", blob, purpose)
    assert new is not None and new["kid"] == "b" and new["ct"] != blob["ct"]
    assert rotated.rekey_field("cs_1", "place_of_exploitation", new, purpose) is None  # already current
    only_b = IdentityCipher(Keyring.parse(f"b:{B}"))
    assert only_b.decrypt_field("cs_1", "place_of_exploitation", new, purpose) == {"x": ["ñ", 1]}
    # the associated data came along: not movable to another case, field or purpose
    with pytest.raises(IdentityKeyError):
        only_b.decrypt_field("cs_2", "place_of_exploitation", new, purpose)
    with pytest.raises(IdentityKeyError):
        only_b.decrypt_field("cs_1", "region", new, purpose)
    other = "identity" if purpose != "identity" else CASE_FIELD
    with pytest.raises(IdentityKeyError):
        only_b.decrypt_field("cs_1", "place_of_exploitation", new, other)


def test_rekey_field_refuses_a_value_no_key_opens_naming_the_field() -> None:
    blob = IdentityCipher(Keyring.parse(f"c:{C}")).encrypt_field("cs_1", "family_names", "Quispe")
    with pytest.raises(IdentityKeyError) as info:
        IdentityCipher(Keyring.parse(f"b:{B}", retired=f"a:{A}")).rekey_field("cs_1", "family_names", blob)
    assert "Quispe" not in str(info.value)
    tampered = {**IdentityCipher(Keyring.parse(f"a:{A}")).encrypt_field("cs_1", "family_names", "Quispe")}
    tampered["ct"] = base64.b64encode(b"\0" * 30).decode()
    with pytest.raises(IdentityKeyError, match="family_names"):
        IdentityCipher(Keyring.parse(f"b:{B}", retired=f"a:{A}")).rekey_field("cs_1", "family_names", tampered)


def test_chunks_under_two_keys_still_read_and_rekey_per_chunk() -> None:
    old = IdentityCipher(Keyring.parse(f"a:{A}"))
    data = os.urandom(25)
    kid, chunks = old.encrypt_chunks("cs_1", "dc_1", data, 10)
    assert kid == "a" and len(chunks) == 3
    rotated = IdentityCipher(Keyring.parse(f"b:{B}", retired=f"a:{A}"))
    first = rotated.rekey_chunk("cs_1", "dc_1", 0, 3, "a", chunks[0])
    assert first is not None
    # an interrupted re-encryption: chunk 0 under b, the rest still under a
    half = [("b", first), ("a", chunks[1]), ("a", chunks[2])]
    assert rotated.decrypt_keyed_chunks("cs_1", "dc_1", half) == data
    assert rotated.rekey_chunk("cs_1", "dc_1", 0, 3, "b", first) is None
    rest = [rotated.rekey_chunk("cs_1", "dc_1", n, 3, "a", chunks[n]) for n in (1, 2)]
    done = [("b", first)] + [("b", c) for c in rest if c is not None]
    assert len(done) == 3
    assert IdentityCipher(Keyring.parse(f"b:{B}")).decrypt_keyed_chunks("cs_1", "dc_1", done) == data
    # index and count still bound: a chunk moved to another position does not open
    with pytest.raises(IdentityKeyError):
        rotated.rekey_chunk("cs_1", "dc_1", 1, 3, "a", chunks[0])
    assert old.decrypt_chunks("cs_1", "dc_1", "a", chunks) == data  # the single-key form still works


@pytest.mark.parametrize(
    ("spec", "active", "retired", "problem"),
    [
        (f"a:{A}", "b", "", "not among the encrypting keys"),
        (f"a:{A}", "c", f"c:{C}", "listed as an old key"),
        (f"a:{A}", "", f"a:{B}", "appears twice"),
        (f"a:{A}", "", "c:short", "old identity key 'c'"),
    ],
)
def test_bad_rotation_configuration_is_refused(spec: str, active: str, retired: str, problem: str) -> None:
    with pytest.raises(IdentityKeyError, match=problem):
        Keyring.parse(spec, active=active, retired=retired)


def test_settings_build_the_keyring_and_keep_the_single_variable_form(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENTINELA_IDENTITY_KEYS", f"b:{B},a:{A}")
    ring = IntakeSettings().keyring()
    assert ring.current == "b" and ring.kids == ("b", "a")  # the old form: first encrypts, all decrypt
    monkeypatch.setenv("CENTINELA_IDENTITY_KEYS", f"b:{B}")
    monkeypatch.setenv("CENTINELA_IDENTITY_ACTIVE_KEY", "b")
    monkeypatch.setenv("CENTINELA_IDENTITY_OLD_KEYS", f"a:{A}")
    ring = IntakeSettings().keyring()
    assert ring.current == "b" and ring.kids == ("b", "a")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"IDENTITY_ACTIVE_KEY": "zz"}, "CENTINELA_IDENTITY_ACTIVE_KEY"),
        ({"IDENTITY_OLD_KEYS": "c:not-base64!"}, "CENTINELA_IDENTITY_OLD_KEYS"),
        ({"IDENTITY_OLD_KEYS": f"b:{C}"}, "CENTINELA_IDENTITY_KEYS with CENTINELA_IDENTITY_OLD_KEYS"),
    ],
)
def test_settings_name_the_variable_never_the_key(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], variable: str
) -> None:
    monkeypatch.setenv("CENTINELA_IDENTITY_KEYS", f"b:{B}")
    for name, value in env.items():
        monkeypatch.setenv(f"CENTINELA_{name}", value)
    with pytest.raises(ValidationError) as info:
        IntakeSettings()
    message = str(info.value)
    assert variable in message
    for secret in (B, C):
        assert secret[:8] not in message and secret[-8:] not in message


def test_prod_refuses_a_weak_old_key_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CENTINELA_ENV", "prod")
    monkeypatch.setenv("CENTINELA_JWT_SECRET", "vault-issued-jwt-secret-0123456789-abcdefghij")
    monkeypatch.setenv("CENTINELA_PERSON_REF_KEY", "vault-issued-person-ref-key-0123456789-abcdef")
    monkeypatch.setenv("CENTINELA_IDENTITY_KEYS", f"b:{B}")
    zero = base64.b64encode(bytes(32)).decode()
    monkeypatch.setenv("CENTINELA_IDENTITY_OLD_KEYS", f"a:{zero}")
    with pytest.raises(ValidationError) as info:
        IntakeSettings()
    assert "CENTINELA_IDENTITY_OLD_KEYS" in str(info.value) and "all zero" in str(info.value)
    monkeypatch.setenv("CENTINELA_IDENTITY_OLD_KEYS", f"a:{A}")
    assert IntakeSettings().keyring().kids == ("b", "a")
