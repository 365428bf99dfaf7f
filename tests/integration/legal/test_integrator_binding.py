"""Court integrators are bound to the cases shared with their system (issue 11 item 11).

A legal process with the binding enforced (the default) on its own topics and database: it learns the
shares from intake's ``centinela.case.prosecutor_refs_set`` events on case-events. An integrator posts
(REST) only for a case shared with its token's system, else 404 exactly as for an unknown case, and the
refusal is audited; on Kafka the update goes to court-updates.dlq with code ``not_shared``. Advocates keep
their assignment scope whatever the shares. Before: any integrator could post for any case_id.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from shared.events.case import ProsecutorRefsSet
from shared.kafka import Producer, dlq_headers
from shared.settings import CommonSettings
from shared.topics import CASE_EVENTS, COURT_UPDATES
from tests.integration.legal.conftest import (
    DEADLINES,
    Tokens,
    new_id,
    post,
    readable_timeline,
    register_case,
    update,
)
from tests.support import Proc, consumer, drain, free_port, isolated_env, uvicorn_args, wait_for

pytestmark = pytest.mark.integration
ORG, ADVOCATE = "org-bind", "adv-bind"


@pytest.fixture(scope="module")
def bound_env(
    stack_env: dict[str, str], db_name: Callable[[str], str], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    deadlines = tmp_path_factory.mktemp("binding") / "deadlines.yaml"
    deadlines.write_text(DEADLINES)
    return {
        **isolated_env(stack_env),
        "CENTINELA_MONGO_DB": db_name("binding_legal"),
        "CENTINELA_LEGAL_DEADLINES_FILE": str(deadlines),
    }


@pytest.fixture(scope="module")
def bound(bound_env: dict[str, str], log_dir: Path, procs: list[Proc]) -> Proc:
    port = free_port()
    proc = Proc("legal-binding", uvicorn_args("services.legal.main:app", port), bound_env, log_dir, port=port)
    procs.append(proc)
    proc.wait_ready()
    return proc


@pytest.fixture(scope="module")
def bus(bound_env: dict[str, str]) -> Iterator[Producer]:
    settings = CommonSettings(
        kafka_bootstrap=bound_env["CENTINELA_KAFKA_BOOTSTRAP"], topic_prefix=bound_env["CENTINELA_TOPIC_PREFIX"]
    )
    p = Producer(settings, client_id="binding-tests")
    yield p
    p.close()


@pytest.fixture(scope="module")
def tok() -> Tokens:
    return Tokens(CommonSettings())


def share(bus: Producer, case_id: str, systems: list[str], at: datetime) -> None:
    event = ProsecutorRefsSet(
        case_id=case_id,
        org_id=ORG,
        carpeta_fiscal=new_id("cf"),
        office="fp-lima-1",
        shared_with_systems=systems,
        set_at=at,
        set_by_role="supervisor",
    )
    bus.publish(CASE_EVENTS, event).get(timeout=30)


def hearing(case_id: str, source: str) -> dict[str, Any]:
    return update(case_id, "stage_changed", "2025-01-03T10:00:00Z", source=source, stage="preliminary_investigation")


def accepted(proc: Proc, headers: dict[str, str], body: Any) -> dict[str, Any] | None:
    r = post(proc, headers, body)
    return r.json() if r.status_code == 200 and r.json()["accepted"] == 1 else None


def audit_of(proc: Proc, tok: Tokens, case_id: str) -> list[dict[str, Any]]:
    r = httpx.get(proc.url + "/v1/audit", params={"case_id": case_id}, headers=tok("admin", sub="adm"), timeout=15)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_integrator_posts_only_for_cases_shared_with_its_system(bound: Proc, bus: Producer, tok: Tokens) -> None:
    shared, unshared, unknown = new_id("cb"), new_id("cb"), new_id("cb")
    t0 = datetime.now(UTC)
    register_case(bus, shared, ORG, ADVOCATE)
    register_case(bus, unshared, ORG, ADVOCATE)
    share(bus, shared, ["sgf"], t0)
    sgf, other = tok.integrator("sgf"), tok.integrator("cej")

    # once legal has the share, sgf posts for the shared case
    wait_for(lambda: accepted(bound, sgf, hearing(shared, "sgf")), timeout=60, what="share learnt")
    advocate = tok("legal_advocate", sub=ADVOCATE, org=ORG)
    readable_timeline(bound, unshared, advocate)  # legal knows the unshared case (its registration is in)

    refused = {
        "other system, shared case": post(bound, other, hearing(shared, "cej")),
        "registered, never shared": post(bound, sgf, hearing(unshared, "sgf")),
        "unknown case": post(bound, sgf, hearing(unknown, "sgf")),
        "batch with one unshared item": post(
            bound, sgf, {"updates": [hearing(shared, "sgf"), hearing(unshared, "sgf")]}
        ),
    }
    assert {why: r.status_code for why, r in refused.items()} == dict.fromkeys(refused, 404)
    # out of scope looks exactly like missing
    assert refused["registered, never shared"].json() == refused["unknown case"].json()
    # nothing of the refused batch was applied: the shared case still has its one entry
    assert len(readable_timeline(bound, shared, advocate)["entries"]) == 1

    denied = [r for r in audit_of(bound, tok, unshared) if r["outcome"] != "ok"]
    assert {(r["action"], r["actor"], r["outcome"], r["details"]["why"]) for r in denied} == {
        ("legal.court_update.record", "int-sgf", "denied", "not_shared")
    }
    assert {r["service"] for r in denied} == {"legal"}
    [missing] = audit_of(bound, tok, unknown)
    assert (missing["outcome"], missing["details"]["why"]) == ("not_found", "case_not_found")

    # the advocate records on the unshared case: people keep their assignment scope
    person = update(unshared, "stage_changed", "2025-01-04T10:00:00Z", stage="preliminary_investigation")
    person.pop("source_system")
    assert accepted(bound, advocate, person) is not None

    # the organisation withdraws the share: the next post is refused
    share(bus, shared, [], t0 + timedelta(seconds=1))
    wait_for(lambda: post(bound, sgf, hearing(shared, "sgf")).status_code == 404 or None, timeout=60, what="unshare")


def test_kafka_update_for_an_unshared_case_is_dead_lettered(
    bound: Proc, bus: Producer, bound_env: dict[str, str], tok: Tokens
) -> None:
    shared, unshared = new_id("ck"), new_id("ck")
    register_case(bus, shared, ORG, ADVOCATE)
    register_case(bus, unshared, ORG, ADVOCATE)
    share(bus, shared, ["sgf"], datetime.now(UTC))
    advocate = tok("legal_advocate", sub=ADVOCATE, org=ORG)
    readable_timeline(bound, unshared, advocate)
    wait_for(lambda: accepted(bound, tok.integrator("sgf"), hearing(shared, "sgf")), timeout=60, what="share")

    bad = hearing(unshared, "sgf")
    bus.send_raw(COURT_UPDATES, unshared.encode(), json.dumps(bad).encode()).get(timeout=30)
    good = update(shared, "stage_changed", "2025-01-05T10:00:00Z", source="sgf", stage="preparatory_investigation")
    bus.send_raw(COURT_UPDATES, shared.encode(), json.dumps(good).encode()).get(timeout=30)

    with consumer(bound_env, "court-updates.dlq") as c:

        def mine(records: list[Any]) -> list[Any]:
            return [r for r in records if r.key == unshared.encode()]

        [record] = mine(drain(c, lambda rs: len(mine(rs)) >= 1, timeout=120))
    headers = dlq_headers(record.headers)
    assert headers["dlq.reason.code"] == "not_shared"
    assert headers["dlq.reason"] == "case_id: not shared with this source_system"
    # the shared case's Kafka update went in; the unshared one left only a refusal in the trail
    readable_timeline(bound, shared, advocate, until=lambda t: t["stage"] == "preparatory_investigation")
    assert len(readable_timeline(bound, unshared, advocate)["entries"]) == 0
    denied = [r for r in audit_of(bound, tok, unshared) if r["outcome"] == "denied"]
    assert [(r["actor"], r["details"]["why"]) for r in denied] == [("system:sgf", "not_shared")]
