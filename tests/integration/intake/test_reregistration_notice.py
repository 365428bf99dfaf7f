"""A re-registration tells every earlier case of the same person, on the earlier case's own key.

Before: only the new case carried ``centinela.person.reregistered``; nothing reached the earlier
cases, so their advocates were never told (issue 13 item 9).
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.integration.intake.conftest import ORG, OTHER_ORG, AsRole, EventsOf, case_body

pytestmark = pytest.mark.integration
NOTICE = "centinela.case.person_reregistered"


def notices(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == NOTICE]


def test_each_earlier_case_hears_of_a_reregistration(as_role: AsRole, events_of: EventsOf) -> None:
    tag = uuid.uuid4().hex
    officer_a = as_role("intake_officer", org=ORG)
    officer_b = as_role("intake_officer", org=OTHER_ORG)
    a1 = officer_a.post("/v1/cases", json=case_body(tag)).json()["case_id"]
    b1 = officer_b.post("/v1/cases", json=case_body(tag)).json()["case_id"]  # across organisations
    a2 = officer_a.post("/v1/cases", json=case_body(tag)).json()["case_id"]  # same organisation as a1
    unrelated = officer_a.post("/v1/cases", json=case_body(uuid.uuid4().hex)).json()["case_id"]

    events = events_of({a1, b1, a2, unrelated}, lambda evs: len(notices(evs)) >= 3)
    got = sorted(
        (
            (e["subject"], e["data"]["new_case_id"], e["data"]["org_id"], e["data"]["new_case_org_id"])
            for e in notices(events)
        ),
        key=str,
    )
    assert got == sorted(
        [
            (a1, None, ORG, OTHER_ORG),  # b1 registered: a1 is told, b1's id withheld
            (a1, a2, ORG, ORG),  # a2 registered: a1 is told with a2's id (same organisation)
            (b1, None, OTHER_ORG, ORG),  # a2 registered: b1 is told, a2's id withheld
        ],
        key=str,
    )
    refs = {e["data"]["person_ref"] for e in notices(events)}
    registered = {e["subject"]: e["data"]["person_ref"] for e in events if e["type"] == "centinela.case.registered"}
    assert refs == {registered[a1]} == {registered[b1]} == {registered[a2]}
    assert all(e["subject"] == e["data"]["case_id"] for e in notices(events))
    # the earlier case's own order: registered first, then the notices
    on_a1 = [e["type"] for e in events if e["subject"] == a1]
    assert on_a1 == ["centinela.case.registered", NOTICE, NOTICE]
    assert not [e for e in events if e["subject"] == unrelated and e["type"] == NOTICE]
    # the new case keeps its own re-registration fact
    assert [
        e["data"]["previous_case_ids"]
        for e in events
        if e["type"] == "centinela.person.reregistered" and e["subject"] == a2
    ] == [sorted([a1, b1])]
