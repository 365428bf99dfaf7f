"""A crash between a re-registration's insert and its back-links loses neither the link nor the
fact told to the earlier case: the new case carries them as ``pending_links`` and start-up finishes."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from services.intake.domain import model
from services.intake.domain.model import Case
from services.intake.store.repository import CaseRepository
from tests.integration.intake.conftest import ORG, OTHER_ORG, Token, case_body, case_events, start_intake
from tests.support import Proc

pytestmark = pytest.mark.integration
NOTICE = "centinela.case.person_reregistered"


def test_start_up_finishes_back_links_a_crash_left_pending(
    stack_env: dict[str, str], db_name: Callable[[str], str], log_dir: Path, procs: list[Proc], token: Token
) -> None:
    db = db_name("intake_link_repair")
    env = {**stack_env, "CENTINELA_MONGO_DB": db, "CENTINELA_OUTBOX_POLL_SECONDS": "0.2"}
    first = start_intake("intake-before-crash", env, log_dir, procs)
    with httpx.Client(base_url=first.url, headers={"Authorization": f"Bearer {token('intake_officer')}"}) as c:
        earlier = c.post("/v1/cases", json=case_body(uuid.uuid4().hex)).json()["case_id"]
    first.stop()

    # The state a crash right after the insert leaves: the new case (org-b) with its pending links.
    client: MongoClient[Any] = MongoClient(stack_env["CENTINELA_MONGO_URI"])
    try:
        coll = client[db]["cases"]
        ref = coll.find_one({"_id": earlier})["person_ref"]  # type: ignore[index]
        now = datetime.now(UTC)
        new = Case(
            case_id=model.new_id("cs"), org_id=OTHER_ORG, person_ref=ref, linked_case_ids=[earlier],
            registered_at=now, registered_by="officer-b", updated_at=now,
        )  # fmt: skip
        repo = CaseRepository(coll)
        repo.insert(new, model.register(new, [earlier], now), model.earlier_case_notices(new, {earlier: ORG}, now))
        assert coll.find_one({"_id": earlier})["linked_case_ids"] == []  # type: ignore[index]

        restarted = start_intake("intake-after-crash", env, log_dir, procs)
        after = coll.find_one({"_id": earlier})
        assert after is not None and after["linked_case_ids"] == [new.case_id]
        assert "pending_links" not in (coll.find_one({"_id": new.case_id}) or {"pending_links": 1})
        events = case_events(env, {earlier}, lambda evs: any(e["type"] == NOTICE for e in evs))
        [notice] = [e for e in events if e["type"] == NOTICE]
        assert notice["data"]["new_case_id"] is None and notice["data"]["new_case_org_id"] == OTHER_ORG
        # a second start-up finds nothing left to do and duplicates nothing
        restarted.stop()
        again = start_intake("intake-second-start", env, log_dir, procs)
        assert coll.find_one({"_id": earlier})["linked_case_ids"] == [new.case_id]  # type: ignore[index]
        again.stop()
    finally:
        client.close()
