"""Coded places and the protected free-text place (issue 11 item 9)."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from services.intake.domain import model, places
from services.intake.domain.identity import CASE_FIELD, IdentityCipher, IdentityKeyError, Keyring

NOW = datetime(2025, 3, 1, tzinfo=UTC)
CIPHER = IdentityCipher(Keyring.parse("k1:" + base64.b64encode(b"k" * 32).decode()))


@pytest.mark.parametrize(
    ("raw", "code"), [("17", "17"), ("1701", "1701"), (" 07 ", "07"), ("bo-l", "BO-L"), ("EC", "EC")]
)
def test_codes(raw: str, code: str) -> None:
    assert places.normalise_place_code(raw) == code


@pytest.mark.parametrize("raw", ["00", "26", "99", "1700", "170101", "Lima", "B-1", "", "١٧"])
def test_bad_codes(raw: str) -> None:
    with pytest.raises(ValueError) as exc:
        places.normalise_place_code(raw)
    assert not raw or raw not in str(exc.value)


def test_case_field_ciphertext_is_bound_to_its_purpose_case_and_field() -> None:
    blob = CIPHER.encrypt_field("cs_1", "place_of_exploitation", "the bar", CASE_FIELD)
    assert CIPHER.decrypt_field("cs_1", "place_of_exploitation", blob, CASE_FIELD) == "the bar"
    for args in (("cs_2", "place_of_exploitation", CASE_FIELD), ("cs_1", "region", CASE_FIELD)):
        with pytest.raises(IdentityKeyError):
            CIPHER.decrypt_field(args[0], args[1], blob, args[2])
    with pytest.raises(IdentityKeyError):  # not readable as identity
        CIPHER.decrypt_field("cs_1", "place_of_exploitation", blob)
    identity = CIPHER.encrypt_field("cs_1", "given_names", "x")  # identity unchanged by the purpose parameter
    assert CIPHER.decrypt_field("cs_1", "given_names", identity, "identity") == "x"


def test_protected_change_names_the_field_never_the_value() -> None:
    case = model.Case(case_id="cs_1", org_id="o", registered_at=NOW, registered_by="u", updated_at=NOW)
    blob = CIPHER.encrypt_field("cs_1", "place_of_exploitation", "the bar", CASE_FIELD)
    changed, [event] = model.update_case(case, {"place_of_exploitation": blob, "place_of_exploitation_code": "17"}, NOW)
    assert changed.protected == {"place_of_exploitation": blob} and changed.place_of_exploitation_code == "17"
    data = event.model_dump()
    assert data["changed_fields"] == ["place_of_exploitation_code", "place_of_exploitation"]
    assert data["place_of_exploitation_code"] == "17" and "the bar" not in str(data) and blob["ct"] not in str(data)
    removed, [gone] = model.update_case(changed, {"place_of_exploitation": None}, NOW)
    assert removed.protected == {} and gone.model_dump()["place_of_exploitation_code"] is None
