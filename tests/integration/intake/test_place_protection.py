"""place_of_exploitation is encrypted at rest like identity; only its coded place travels (issue 11 item 9)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from services.intake.domain.identity import CASE_FIELD, IdentityCipher, Keyring
from services.intake.settings import IntakeSettings
from services.intake.store.repository import CaseRepository
from tests.integration.intake.conftest import ADVOCATE, PROVIDER_ORG, AsRole, EventsOf, case_body


def sentinel() -> str:
    return "camp Zq" + secrets.token_hex(6)


@pytest.fixture
def cases_coll(intake_env: dict[str, str], db_name: Callable[[str], str]) -> Iterator[Any]:
    client: MongoClient[Any] = MongoClient(intake_env["CENTINELA_MONGO_URI"])
    yield client[db_name("intake")]["cases"]
    client.close()


def test_place_is_ciphertext_at_rest_and_never_in_events(as_role: AsRole, events_of: EventsOf, cases_coll: Any) -> None:
    officer = as_role("intake_officer")
    place = sentinel()
    r = officer.post(
        "/v1/cases",
        json=case_body(uuid.uuid4().hex, place_of_exploitation=place, place_of_exploitation_code="1701"),
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    officer.post(
        f"/v1/cases/{case_id}/services",
        json={"service_kind": "health", "provider_org_id": PROVIDER_ORG, "service_response_timeframe": "1_week"},
    )

    stored = cases_coll.find_one({"_id": case_id})
    assert place not in str(stored) and place.split()[1] not in str(stored)
    assert "place_of_exploitation" not in stored  # no plain top-level field
    blob = stored["protected"]["place_of_exploitation"]
    assert set(blob) == {"kid", "nonce", "ct"} and blob["kid"] == "dev1"
    assert stored["place_of_exploitation_code"] == "1701"

    # shown to who may read the case, not to a provider
    for reader in (officer, as_role("legal_advocate", sub=ADVOCATE, org="defensoria")):
        view = reader.get(f"/v1/cases/{case_id}").json()
        assert view["place_of_exploitation"] == place and view["place_of_exploitation_code"] == "1701"
    provider = as_role("service_provider", org=PROVIDER_ORG).get(f"/v1/cases/{case_id}")
    assert provider.json()["place_of_exploitation"] is None and place not in provider.text
    listing = officer.get("/v1/cases", params={"region": "Madre de Dios", "limit": 200}).text
    assert place not in listing

    # a change re-encrypts; the same text again changes nothing
    etag = officer.get(f"/v1/cases/{case_id}").headers["etag"]
    moved = sentinel()
    r = officer.patch(
        f"/v1/cases/{case_id}",
        json={"place_of_exploitation": moved, "place_of_exploitation_code": "17"},
        headers={"If-Match": etag},
    )
    assert r.status_code == 200 and r.json()["place_of_exploitation"] == moved
    etag = r.headers["etag"]
    same = officer.patch(f"/v1/cases/{case_id}", json={"place_of_exploitation": moved}, headers={"If-Match": etag})
    assert same.status_code == 200 and same.headers["etag"] == etag
    assert moved not in str(cases_coll.find_one({"_id": case_id}))

    events = events_of({case_id}, lambda evs: any(e["type"] == "centinela.case.updated" for e in evs))
    wire = str(events)
    assert place not in wire and moved not in wire and "Zq" not in wire
    registered = next(e for e in events if e["type"] == "centinela.case.registered")
    assert registered["data"]["place_of_exploitation_code"] == "1701"
    [updated] = [e for e in events if e["type"] == "centinela.case.updated"]
    assert updated["data"]["changed_fields"] == ["place_of_exploitation_code", "place_of_exploitation"]
    assert updated["data"]["place_of_exploitation_code"] == "17"

    # removing the text removes the ciphertext
    r = officer.patch(f"/v1/cases/{case_id}", json={"place_of_exploitation": None}, headers={"If-Match": etag})
    assert r.status_code == 200 and r.json()["place_of_exploitation"] is None
    assert "place_of_exploitation" not in cases_coll.find_one({"_id": case_id}).get("protected", {})


@pytest.mark.parametrize("code", ["99", "00", "1700", "170101", "Madre de Dios", "bo_l"])
def test_place_code_is_validated(as_role: AsRole, code: str) -> None:
    r = as_role("intake_officer").post("/v1/cases", json=case_body(uuid.uuid4().hex, place_of_exploitation_code=code))
    assert r.status_code == 422 and r.json()["detail"][0]["field"] == "body.place_of_exploitation_code"


def test_plain_places_of_older_cases_are_encrypted(as_role: AsRole, cases_coll: Any) -> None:
    officer = as_role("intake_officer")
    case_id = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex)).json()["case_id"]
    place = sentinel()
    # as an older intake stored it: plain text at the top level, nothing protected
    cases_coll.update_one({"_id": case_id}, {"$set": {"place_of_exploitation": place}, "$unset": {"protected": ""}})
    empty = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex)).json()["case_id"]
    cases_coll.update_one({"_id": empty}, {"$set": {"place_of_exploitation": None}})
    version = cases_coll.find_one({"_id": case_id})["version"]

    cipher = IdentityCipher(Keyring.parse(IntakeSettings().identity_keys.get_secret_value()))
    repo = CaseRepository(cases_coll)
    migrated = repo.protect_legacy_places(
        lambda cid, text: cipher.encrypt_field(cid, "place_of_exploitation", text, CASE_FIELD), batch=2
    )
    assert migrated >= 1
    stored = cases_coll.find_one({"_id": case_id})
    assert place not in str(stored) and "place_of_exploitation" not in stored and stored["version"] == version + 1
    assert "place_of_exploitation" not in cases_coll.find_one({"_id": empty})
    assert repo.protect_legacy_places(lambda cid, text: {}) == 0  # nothing left
    assert officer.get(f"/v1/cases/{case_id}").json()["place_of_exploitation"] == place
