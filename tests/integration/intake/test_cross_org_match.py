"""A cross-organisation identity match is kept, but never names the other organisation's cases.

Before: registering the same child from org-b answered ``linked_case_ids`` with org-a's case ids,
and showed them on org-b's case (and org-b's on org-a's).
"""

from __future__ import annotations

import uuid

import pytest

from tests.integration.intake.conftest import ORG, OTHER_ORG, AsRole, case_body

pytestmark = pytest.mark.integration


def test_match_across_organisations_says_known_elsewhere_without_ids(as_role: AsRole) -> None:
    tag = uuid.uuid4().hex
    officer_a = as_role("intake_officer", sub="officer-a", org=ORG)
    officer_b = as_role("intake_officer", sub="officer-b", org=OTHER_ORG)

    r = officer_a.post("/v1/cases", json=case_body(tag))
    assert r.status_code == 201
    a1 = r.json()["case_id"]
    assert r.json()["person_ref_known"] is False and r.json()["known_elsewhere"] is False

    r = officer_b.post("/v1/cases", json=case_body(tag))
    assert r.status_code == 201, r.text
    b1 = r.json()["case_id"]
    created = r.json()
    assert created["person_ref_known"] is True and created["known_elsewhere"] is True
    assert created["linked_case_ids"] == [] and a1 not in r.text

    read_b1 = officer_b.get(f"/v1/cases/{b1}")
    assert read_b1.json()["linked_case_ids"] == [] and read_b1.json()["known_elsewhere"] is True
    assert a1 not in read_b1.text
    read_a1 = officer_a.get(f"/v1/cases/{a1}")
    assert read_a1.json()["linked_case_ids"] == [] and read_a1.json()["known_elsewhere"] is True
    assert b1 not in read_a1.text
    advocate = as_role("legal_advocate", sub=case_body(tag)["advocate_id"], org=None)
    assert b1 not in advocate.get(f"/v1/cases/{a1}").text  # assigned to both cases, reads each apart
    patched = officer_b.patch(f"/v1/cases/{b1}", json={"region": "Cusco"}, headers={"If-Match": '"1"'})
    assert patched.status_code == 200 and a1 not in patched.text

    # a second case in org-b is named to org-b; org-a's stays hidden
    r = officer_b.post("/v1/cases", json=case_body(tag))
    b2 = r.json()["case_id"]
    assert r.json()["linked_case_ids"] == [b1] and r.json()["known_elsewhere"] is True and a1 not in r.text
    again = officer_b.get(f"/v1/cases/{b1}").json()
    assert again["linked_case_ids"] == [b2] and again["known_elsewhere"] is True
    assert officer_a.get(f"/v1/cases/{a1}").json()["linked_case_ids"] == []

    # an admin's break-glass read (reason stated, audited) sees every link
    admin = as_role("admin", sub="admin-x", org=None)
    glass = admin.get(f"/v1/cases/{b1}", headers={"X-Access-Reason": "cross-organisation review 7"})
    assert glass.status_code == 200 and sorted(glass.json()["linked_case_ids"]) == sorted([a1, b2])
    trail = admin.get("/v1/audit", params={"case_id": b1, "action": "case.create"}).json()["items"]
    assert trail[0]["details"]["linked_case_ids"] == [a1]


def test_same_organisation_links_are_still_shown(as_role: AsRole) -> None:
    tag = uuid.uuid4().hex
    officer = as_role("intake_officer")
    first = officer.post("/v1/cases", json=case_body(tag)).json()["case_id"]
    r = officer.post("/v1/cases", json=case_body(tag))
    assert r.json() == {**r.json(), "person_ref_known": True, "known_elsewhere": False, "linked_case_ids": [first]}
    read = officer.get(f"/v1/cases/{first}").json()
    assert read["linked_case_ids"] == [r.json()["case_id"]] and read["known_elsewhere"] is False
