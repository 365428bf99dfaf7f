"""HTCDS 2.0 values through the real API and database; the earlier words keep working (issue 13 item 15)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from pymongo import MongoClient

from tests.integration.intake.conftest import AsRole, case_body


def test_earlier_words_are_accepted_and_answered_in_htcds(
    as_role: AsRole, intake_env: dict[str, str], db_name: Callable[[str], str]
) -> None:
    officer = as_role("intake_officer")
    r = officer.post(
        "/v1/cases",
        json=case_body(
            uuid.uuid4().hex,
            trafficking_status="Presumed",
            methods_of_control=["Isolation", "RestrictedMovement", "WithheldDocuments", "UsesChildren"],
        ),
    )
    assert r.status_code == 201, r.text
    case_id = r.json()["case_id"]
    view = officer.get(f"/v1/cases/{case_id}").json()
    assert view["trafficking_status"] == "PossibleVictimOfTrafficking"
    assert view["methods_of_control"] == ["RestrictsMovement", "WithholdsDocuments", "UsesChildren"]
    r = officer.patch(
        f"/v1/cases/{case_id}", json={"trafficking_status": "ActualVictimOfTrafficking"}, headers={"If-Match": '"1"'}
    )
    assert r.status_code == 200 and r.json()["trafficking_status"] == "ActualVictimOfTrafficking"
    bad = officer.patch(
        f"/v1/cases/{case_id}", json={"trafficking_status": "Sure"}, headers={"If-Match": r.headers["etag"]}
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "body.trafficking_status"
    assert "PossibleVictimOfTrafficking" in bad.json()["detail"][0]["msg"]

    # a case stored with the earlier words reads in HTCDS values
    client: MongoClient[Any] = MongoClient(intake_env["CENTINELA_MONGO_URI"])
    try:
        client[db_name("intake")]["cases"].update_one(
            {"_id": case_id},
            {
                "$set": {
                    "trafficking_status": "Identified",
                    "methods_of_control": ["SubstanceDependence", "ThreatsToFamily"],
                }
            },
        )
    finally:
        client.close()
    view = officer.get(f"/v1/cases/{case_id}").json()
    assert view["trafficking_status"] == "ActualVictimOfTrafficking"
    assert view["methods_of_control"] == ["PsychoactiveSubstances", "Threats"]
