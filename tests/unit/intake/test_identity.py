from __future__ import annotations

import base64
import os
from datetime import date

import pytest

from services.intake.domain.identity import (
    IdentityCipher,
    IdentityKeyError,
    Keyring,
    normalise_document,
    normalise_name,
    person_ref,
)

K1 = base64.b64encode(os.urandom(32)).decode()
K2 = base64.b64encode(os.urandom(32)).decode()


def test_round_trip_field_by_field_with_key_id() -> None:
    cipher = IdentityCipher(Keyring.parse(f"k1:{K1}"))
    plain = {"given_names": "Ana", "birth_date": "2010-01-01", "documents": [{"type": "DNI", "number": "1"}]}
    enc = cipher.encrypt("cs_1", plain)
    assert set(enc) == set(plain) and all(v["kid"] == "k1" for v in enc.values())
    assert "Ana" not in str(enc)
    assert cipher.decrypt("cs_1", enc) == plain


def test_rotation_new_key_encrypts_old_key_still_decrypts() -> None:
    old = IdentityCipher(Keyring.parse(f"k1:{K1}"))
    enc = old.encrypt("cs_1", {"given_names": "Ana"})
    rotated = IdentityCipher(Keyring.parse(f"k2:{K2},k1:{K1}"))
    assert rotated.decrypt("cs_1", enc) == {"given_names": "Ana"}
    assert rotated.needs_rotation(enc)
    assert rotated.encrypt("cs_1", {"given_names": "Ana"})["given_names"]["kid"] == "k2"
    with pytest.raises(IdentityKeyError, match="k1"):
        IdentityCipher(Keyring.parse(f"k2:{K2}")).decrypt("cs_1", enc)


def test_ciphertext_is_bound_to_case_and_field() -> None:
    cipher = IdentityCipher(Keyring.parse(f"k1:{K1}"))
    enc = cipher.encrypt("cs_1", {"given_names": "Ana"})
    with pytest.raises(IdentityKeyError) as info:
        cipher.decrypt("cs_2", enc)
    assert "Ana" not in str(info.value)
    with pytest.raises(IdentityKeyError):
        cipher.decrypt_field("cs_1", "family_names", enc["given_names"])


@pytest.mark.parametrize(
    "spec",
    ["", "nokey", "k1:not-base64!", f"k1:{base64.b64encode(b'short').decode()}", f"k1:{K1},k1:{K2}", f"bad id:{K1}"],
)
def test_bad_key_configuration_is_refused(spec: str) -> None:
    with pytest.raises(IdentityKeyError):
        Keyring.parse(spec)


def test_dev_default_key_is_aes_256() -> None:
    from services.intake.settings import IntakeSettings

    assert Keyring.parse(IntakeSettings().identity_keys.get_secret_value()).current == "dev1"


def test_name_normalisation() -> None:
    assert normalise_name("  María   JOSÉ  ") == "maria jose"
    assert normalise_name("Ñahui-Quispe") == normalise_name("nahui quispe")
    assert normalise_name("STRASSE") == normalise_name("straße")
    assert normalise_document("12.345.678-k") == normalise_document("12345678K")


def test_person_ref_is_keyed_and_stable_under_normalisation() -> None:
    a = person_ref(b"key", given_names="María José", family_names="Quispe", birth_date=date(2010, 1, 2))
    b = person_ref(b"key", given_names="maria  jose", family_names="QUISPE", birth_date=date(2010, 1, 2))
    assert a == b and a is not None and a.startswith("pr_") and "maria" not in a
    assert person_ref(b"other", given_names="María José", family_names="Quispe", birth_date=date(2010, 1, 2)) != a
    assert person_ref(b"key", given_names="María José", family_names="Quispe", birth_date=date(2010, 1, 3)) != a
    with_doc = person_ref(
        b"key", given_names="Ana", family_names="X", birth_date=date(2010, 1, 2), document_number="1-2"
    )
    assert with_doc == person_ref(
        b"key", given_names="ana", family_names="x", birth_date=date(2010, 1, 2), document_number="12"
    )
    assert with_doc != person_ref(b"key", given_names="Ana", family_names="X", birth_date=date(2010, 1, 2))
    # too little to identify anyone: never linked
    assert person_ref(b"key", given_names=None, family_names=None, birth_date=date(2010, 1, 2)) is None
    assert person_ref(b"key", given_names="Ana", family_names=None, birth_date=None) is None
