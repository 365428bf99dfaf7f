"""The legal-event form end to end: the console (its real app and database) in front of the real intake
and legal services on the real broker. An advocate records a protective measure with its end date and the
child's testimony through the console; legal's timeline holds them as the advocate typed them, the date
read in the organisation's time zone (issue 13 item 14)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi.testclient import TestClient
from pymongo import MongoClient

from services.console.main import build_app
from services.console.settings import ConsoleSettings
from shared.auth import mint
from shared.settings import CommonSettings
from tests.integration.console.support import PASSWORD, csrf_of, insert_user
from tests.support import Proc, free_port, isolated_env, uvicorn_args, wait_for

pytestmark = pytest.mark.integration
ORG = "org-legal-form"
ADVOCATE = "adv-legal-form"
LIMA = ZoneInfo("America/Lima")


@dataclass
class Env:
    console: TestClient
    intake: Proc
    legal: Proc

    def headers(self, role: str, sub: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {mint(CommonSettings(), sub=sub, roles=[role], org=ORG)}"}


def _start(name: str, module: str, env: dict[str, str], log_dir: Path, procs: list[Proc]) -> Proc:
    port = free_port()
    proc = Proc(name, uvicorn_args(module, port), env, log_dir, port=port)
    procs.append(proc)
    proc.wait_ready("/readyz")
    return proc


@pytest.fixture(scope="module")
def env(stack_env: dict[str, str], db_name: Callable[[str], str], log_dir: Path, procs: list[Proc]) -> Iterator[Env]:
    shared = isolated_env(stack_env)  # intake tells legal whose case it is over this prefix's case-events
    intake = _start(
        "intake-legal-form",
        "services.intake.main:app",
        {**shared, "CENTINELA_MONGO_DB": db_name("lf_intake"), "CENTINELA_OUTBOX_POLL_SECONDS": "0.2"},
        log_dir,
        procs,
    )
    legal = _start(
        "legal-legal-form",
        "services.legal.main:app",
        {**shared, "CENTINELA_MONGO_DB": db_name("lf_legal")},
        log_dir,
        procs,
    )
    console_db = f"test_console_lf_{uuid.uuid4().hex[:10]}"
    settings = ConsoleSettings(
        mongo_uri=os.environ.get("CENTINELA_MONGO_URI", stack_env["CENTINELA_MONGO_URI"]),
        mongo_db=console_db,
        console_intake_url=intake.url,
        console_legal_url=legal.url,
        console_time_zone="America/Lima",
    )
    mongo: MongoClient[Any] = MongoClient(settings.mongo_uri, tz_aware=True)
    with TestClient(build_app(settings, client=mongo)) as client:
        insert_user(mongo[console_db], "abogada.lf", ADVOCATE, ORG, ["legal_advocate"], totp=False)
        yield Env(client, intake, legal)
    mongo.drop_database(console_db)
    mongo.close()


def signed_in(app: Any) -> TestClient:
    c = TestClient(app, follow_redirects=False)
    page = c.get("/login")
    r = c.post("/login", data={"username": "abogada.lf", "password": PASSWORD, "csrf_token": csrf_of(page.text)})
    assert r.status_code == 303, r.text
    return c


def new_case(env: Env) -> str:
    """A case registered at intake for the advocate; once legal has heard of it, the advocate may write."""
    r = httpx.post(
        f"{env.intake.url}/v1/cases",
        json={"advocate_id": ADVOCATE, "region": "Lima", "exploitation_types": ["Surrogacy"]},
        headers=env.headers("intake_officer", "officer-lf"),
        timeout=15,
    )
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


def record(c: TestClient, case_id: str, kind: str, **fields: str) -> httpx.Response:
    form = c.get(f"/cases/{case_id}/legal-events/new", params={"kind": kind})
    assert form.status_code == 200, form.text
    return c.post(f"/cases/{case_id}/legal-events", data={"kind": kind, "csrf_token": csrf_of(form.text), **fields})


def timeline(env: Env, case_id: str) -> dict[str, Any]:
    r = httpx.get(
        f"{env.legal.url}/v1/cases/{case_id}/legal-timeline",
        headers=env.headers("legal_advocate", ADVOCATE),
        timeout=15,
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def test_a_protective_measure_with_its_end_and_a_testimony_reach_legal_s_timeline(env: Env) -> None:
    c = signed_in(env.console.app)
    case_id = new_case(env)
    today = datetime.now(LIMA)
    day = (today - timedelta(days=2)).strftime("%Y-%m-%d")
    ends = (today + timedelta(days=90)).strftime("%Y-%m-%d")
    form = c.get(f"/cases/{case_id}/legal-events/new", params={"kind": "protective_measure_granted"})
    assert 'id="expires_at-d"' in form.text and 'id="measure_id"' in form.text
    assert "Medida de protección renovada" in form.text and "Declaración del niño" in form.text  # kinds offered

    def stage_recorded() -> bool:
        # legal learns the case's advocate from intake's event: until then it refuses the advocate's update
        r = record(c, case_id, "stage_changed", stage="preliminary_investigation", occurred_at_date=day,
                   occurred_at_time="09:00", update_id=f"con-stage-{case_id}")  # fmt: skip
        return r.status_code == 303

    wait_for(stage_recorded, timeout=60, interval=0.5, what="legal accepting the advocate's first update")
    r = record(
        c,
        case_id,
        "protective_measure_granted",
        measure="restraining_order",
        measure_id="mp-2026-001",
        occurred_at_date=day,
        occurred_at_time="10:00",
        expires_at_date=ends,
        expires_at_time="23:59",
    )
    assert r.status_code == 303, r.text
    r = record(c, case_id, "testimony_taken", method="camara_gesell", occurred_at_date=day, occurred_at_time="11:30")
    assert r.status_code == 303, r.text
    assert "Hecho procesal registrado." in c.get(r.headers["location"]).text

    t = timeline(env, case_id)
    by_kind = {e["kind"]: e for e in t["entries"]}
    measure = by_kind["protective_measure_granted"]
    assert measure["recorded_by"]["type"] == "person" and measure["recorded_by"]["sub"] == ADVOCATE
    assert measure["details"]["measure_id"] == "mp-2026-001"
    expires = datetime.fromisoformat(measure["details"]["expires_at"])
    assert expires == datetime.fromisoformat(f"{ends}T23:59:00-05:00")  # read in Lima's time, not UTC
    assert [m["measure"] for m in t["protective_measures"]] == ["restraining_order"]
    testimony = by_kind["testimony_taken"]
    assert testimony["details"]["method"] == "camara_gesell"
    assert datetime.fromisoformat(testimony["occurred_at"]).astimezone(UTC) == datetime.fromisoformat(
        f"{day}T11:30:00-05:00"
    )
    # the case page names them in the advocate's language
    page = c.get(f"/cases/{case_id}").text
    assert "Medida de protección otorgada" in page and "Declaración del niño, niña o adolescente tomada" in page

    # a renewal names the measure; an end before the order is refused on the form, before legal is asked
    r = record(c, case_id, "protective_measure_renewed", measure_id="mp-2026-001", occurred_at_date=day,
               occurred_at_time="12:00", expires_at_date=day, expires_at_time="08:00")  # fmt: skip
    assert r.status_code == 422 and "La medida debe vencer después de la fecha en que se dictó." in r.text
    # a renewal of a measure legal never granted is legal's refusal, shown on the field
    r = record(c, case_id, "protective_measure_renewed", measure_id="mp-unknown", occurred_at_date=day,
               occurred_at_time="12:00", expires_at_date=ends, expires_at_time="23:59")  # fmt: skip
    assert r.status_code == 422 and 'id="err-measure_id"' in r.text
    assert len([e for e in timeline(env, case_id)["entries"] if e["kind"] == "protective_measure_renewed"]) == 0
