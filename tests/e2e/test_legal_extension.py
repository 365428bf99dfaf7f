"""An advocate records a granted extension and the overdue alert moves with it (issue 12, "Done when").

The whole stack as real processes on the real broker and database: intake, legal, the alerts
processor and the alerts service. The deadlines file gives the preparatory investigation a term of
seconds (20 s + 60 s extension, "CPP art. 342.1") so the story an NGO's legal team lives over months
runs in about a minute:

1. the advocate assigned to the case records the formalisation (stage_changed) herself;
2. the term runs out: ``legal.stage_overdue`` appears in her inbox;
3. she records the extension the judge granted: the alert resolves by itself, and the timeline shows
   the extension, who recorded it and the new deadline;
4. the extended deadline runs out too: a *new episode* of the overdue alert is raised;
5. an extension beyond term + extension is refused with a reason naming the article;
6. another advocate of the same organisation cannot record on (or read) the case: 404.

The reminder rules (``legal.deadline_approaching`` fires 10 days before a deadline, i.e. at once for
a term of seconds) are disabled in this test's policy so that only the overdue alert is in play.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from shared.auth import mint
from shared.settings import CommonSettings
from tests.support import Proc, free_port, isolated_env, uvicorn_args, wait_for

pytestmark = pytest.mark.e2e

ORG = "org-ext-e2e"
ADVOCATE = "adv-x"
OTHER_ADVOCATE = "adv-y"
OFFICER = "officer-ext-e2e"
RULE = "legal.stage_overdue"
TERM = timedelta(seconds=20)
EXTENSION = timedelta(seconds=60)
ARTICLE = "CPP art. 342.1"
PERSON_SOURCE = "centinela-web"  # CENTINELA_LEGAL_PERSON_SOURCE_SYSTEM's default
# how long after its extension the new deadline falls: long enough to see the alert resolve before it
EXTENDED_BY = timedelta(seconds=30)


@dataclass
class Stack:
    intake: Proc
    legal: Proc
    alerts: Proc
    processor: Proc
    settings: CommonSettings

    def headers(self, role: str, sub: str, org: str | None = ORG) -> dict[str, str]:
        token = mint(self.settings, sub=sub, roles=[role], org=org)
        return {"Authorization": f"Bearer {token}"}

    def record(self, update: dict[str, Any], sub: str = ADVOCATE) -> httpx.Response:
        """POST one court update as an advocate (source_system left out: the service fills it in)."""
        return httpx.post(
            f"{self.legal.url}/v1/court-updates",
            json=update,
            headers=self.headers("legal_advocate", sub),
            timeout=10,
        )

    def timeline(self, case_id: str, sub: str = ADVOCATE) -> httpx.Response:
        return httpx.get(
            f"{self.legal.url}/v1/cases/{case_id}/legal-timeline",
            headers=self.headers("legal_advocate", sub),
            timeout=10,
        )

    def alerts_of(self, case_id: str, sub: str = ADVOCATE) -> list[dict[str, Any]]:
        r = httpx.get(
            f"{self.alerts.url}/v1/alerts",
            params={"case_id": case_id},
            headers=self.headers("legal_advocate", sub),
            timeout=10,
        )
        r.raise_for_status()
        return list(r.json()["items"])

    def alert_detail(self, alert_id: str) -> dict[str, Any]:
        r = httpx.get(
            f"{self.alerts.url}/v1/alerts/{alert_id}", headers=self.headers("legal_advocate", ADVOCATE), timeout=10
        )
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    def wait_alert(self, case_id: str, timeout: float, **match: Any) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            for a in self.alerts_of(case_id):
                if a["rule"] == RULE and all(a.get(k) == v for k, v in match.items()):
                    return a
            return None

        return wait_for(find, timeout=timeout, interval=0.3, what=f"{RULE} alert {match} on {case_id}")


def _policy(tmp: Path) -> Path:
    """Over the shipped policy: the reminders off (a 10-day lead time fires at once on a 20 s term)."""
    doc = {
        "rules": {
            "legal.deadline_approaching": {"enabled": False},
            "legal.hearing_upcoming": {"enabled": False},
        }
    }
    path = tmp / "policy.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def _deadlines(tmp: Path) -> Path:
    # terms shorter than a day are exact durations (services.legal.domain.calendar)
    doc = {
        "stages": {
            "preparatory_investigation": {
                "ordinary": {"term": f"{TERM.seconds}s", "extension": f"{EXTENSION.seconds}s", "article": ARTICLE}
            }
        }
    }
    path = tmp / "deadlines.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.fixture(scope="module")
def stack(
    stack_env: dict[str, str],
    db_name: Callable[[str], str],
    log_dir: Path,
    procs: list[Proc],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("e2e-legal-extension")
    env = isolated_env(stack_env)  # its own topics and consumer groups
    policy = _policy(tmp)

    def start(name: str, args: list[str], extra: dict[str, str], port: int) -> Proc:
        proc = Proc(name, args, {**env, **extra}, log_dir, port=port)
        procs.append(proc)
        return proc

    ports = [free_port() for _ in range(4)]
    intake = start(
        "ext-intake",
        uvicorn_args("services.intake.main:app", ports[0]),
        {"CENTINELA_MONGO_DB": db_name("ext_intake")},
        ports[0],
    )
    legal = start(
        "ext-legal",
        uvicorn_args("services.legal.main:app", ports[1]),
        {"CENTINELA_MONGO_DB": db_name("ext_legal"), "CENTINELA_LEGAL_DEADLINES_FILE": str(_deadlines(tmp))},
        ports[1],
    )
    alerts = start(
        "ext-alerts",
        uvicorn_args("services.alerts.main:app", ports[2]),
        {"CENTINELA_MONGO_DB": db_name("ext_alerts"), "CENTINELA_POLICY_FILE": str(policy)},
        ports[2],
    )
    processor = start(
        "ext-processor",
        [sys.executable, "-m", "services.processor", "worker", "--web-port", str(ports[3]), "-l", "warn"],
        {
            "CENTINELA_POLICY_FILE": str(policy),
            "CENTINELA_PROCESSOR_TICK_SECONDS": "0.5",
            "CENTINELA_PROCESSOR_DATADIR": str(tmp / "processor-data"),
        },
        ports[3],
    )
    for p in (intake, legal, alerts):
        p.wait_ready()
    processor.wait_ready("/readyz", timeout=90)
    settings = CommonSettings(
        kafka_bootstrap=env["CENTINELA_KAFKA_BOOTSTRAP"], topic_prefix=env["CENTINELA_TOPIC_PREFIX"]
    )
    yield Stack(intake, legal, alerts, processor, settings)


def _register_case(s: Stack) -> str:
    body = {
        "identity": {
            "given_names": "Extension",
            "family_names": uuid.uuid4().hex[:10],  # a different child each run (no re-registration signal)
            "birth_date": "2010-09-14",
        },
        "exploitation_types": ["ForcedLabour"],
        "region": "Cusco",
        "rescue_date": (datetime.now(UTC) - timedelta(days=10)).date().isoformat(),
        "advocate_id": ADVOCATE,
        "consent_for_services": True,
    }
    r = httpx.post(f"{s.intake.url}/v1/cases", json=body, headers=s.headers("intake_officer", OFFICER), timeout=10)
    assert r.status_code == 201, r.text
    return str(r.json()["case_id"])


def _update(case_id: str, kind: str, occurred_at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "update_id": f"{kind[:12]}-{uuid.uuid4().hex[:10]}",
        "case_id": case_id,
        "kind": kind,
        "occurred_at": occurred_at.isoformat(),
        **fields,
    }


def _accepted(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["accepted"] == 1, body
    return body


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _millis(value: datetime) -> datetime:
    """The legal service keeps instants to the millisecond (MongoDB's precision)."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def test_an_advocates_extension_moves_the_overdue_alert(stack: Stack) -> None:
    s = stack
    case_id = _register_case(s)

    # The legal service learns who may record on the case from intake's case-events: until it has,
    # the case is unknown to it (404). Nothing of a 404 request is applied, so retrying is safe.
    complaint = _update(case_id, "stage_changed", datetime.now(UTC) - timedelta(minutes=5), stage="complaint_filed")

    def recorded() -> httpx.Response | None:
        r = s.record(complaint)
        return r if r.status_code == 200 else None

    _accepted(wait_for(recorded, timeout=30, interval=0.3, what="the legal service to know the case's advocate"))

    # Another advocate of the same organisation: the case does not exist for her.
    intruder = s.record(
        _update(case_id, "stage_changed", datetime.now(UTC), stage="preparatory_investigation"), sub=OTHER_ADVOCATE
    )
    assert intruder.status_code == 404, intruder.text
    assert s.timeline(case_id, sub=OTHER_ADVOCATE).status_code == 404

    # 1. the prosecutor formalises the investigation; the advocate records it
    started = _millis(datetime.now(UTC))
    _accepted(s.record(_update(case_id, "stage_changed", started, stage="preparatory_investigation")))
    first_deadline = started + TERM
    longest = started + TERM + EXTENSION
    tl = s.timeline(case_id).json()
    assert tl["stage"] == "preparatory_investigation"
    assert _at(tl["deadline_at"]) == first_deadline
    assert _at(tl["extended_deadline_at"]) == longest
    assert tl["deadline_basis"] == ARTICLE

    # 2. the term runs out: the overdue alert reaches the advocate's inbox
    overdue = s.wait_alert(case_id, timeout=TERM.seconds + 45, status="open")
    assert overdue["episode"] == 1
    assert overdue["advocate_id"] == ADVOCATE
    assert overdue["severity"] == "high"
    assert _at(overdue["raised_at"]) >= first_deadline
    assert _at(s.alert_detail(overdue["id"])["evidence"]["deadline_at"]) == first_deadline

    # 3. the judge granted an extension; the advocate records it
    granted_at = _millis(datetime.now(UTC))
    new_deadline = granted_at + EXTENDED_BY
    assert new_deadline < longest, "the machine is too slow for this test's terms: the overdue alert came very late"
    extension = _update(
        case_id,
        "deadline_extended",
        granted_at,
        granted_by="juez_investigacion_preparatoria",
        legal_basis=ARTICLE,
        new_deadline=new_deadline.isoformat(),
    )
    _accepted(s.record(extension))

    # the alert resolves by itself, because the deadline moved (before the new one passes)
    resolved = s.wait_alert(case_id, timeout=EXTENDED_BY.seconds, id=overdue["id"], status="resolved")
    detail = s.alert_detail(resolved["id"])
    assert detail["resolved_auto"] is True, detail
    assert "deadline moved" in detail["resolution_reason"], detail
    assert detail["resolved_by"] != ADVOCATE, detail  # nobody resolved it by hand
    assert _at(detail["resolved_at"]) < new_deadline, detail

    # the timeline: the new deadline, resting on the extension, and who recorded it
    tl = s.timeline(case_id).json()
    assert _at(tl["deadline_at"]) == new_deadline
    assert tl["deadline_basis"] == ARTICLE
    assert tl["overdue"] is False or datetime.now(UTC) >= new_deadline
    assert [(x["granted_by"], x["legal_basis"], _at(x["new_deadline"])) for x in tl["extensions"]] == [
        ("juez_investigacion_preparatoria", ARTICLE, new_deadline)
    ]
    assert tl["extensions"][0]["stage"] == "preparatory_investigation"
    entry = next(e for e in tl["entries"] if e["update_id"] == extension["update_id"])
    assert entry["kind"] == "deadline_extended"
    assert entry["applied"] is True
    assert entry["source_system"] == PERSON_SOURCE
    assert entry["recorded_by"] == {"type": "person", "sub": ADVOCATE, "role": "legal_advocate", "source_system": None}
    assert entry["details"]["legal_basis"] == ARTICLE
    assert _at(entry["details"]["new_deadline"]) == new_deadline

    # 4. the extended deadline passes too: a new episode of the same rule, on the new deadline
    second = s.wait_alert(case_id, timeout=EXTENDED_BY.seconds + 45, episode=2, status="open")
    assert second["id"] != overdue["id"]
    assert _at(second["raised_at"]) >= new_deadline
    assert _at(s.alert_detail(second["id"])["evidence"]["deadline_at"]) == new_deadline
    first_again = s.alert_detail(overdue["id"])
    assert first_again["status"] == "resolved", first_again  # the old episode is not reopened

    # 5. an extension beyond term + extension is refused, naming the article; nothing moves
    too_far = _update(
        case_id,
        "deadline_extended",
        _millis(datetime.now(UTC)),
        granted_by="juez_investigacion_preparatoria",
        legal_basis=ARTICLE,
        new_deadline=(longest + timedelta(seconds=30)).isoformat(),
    )
    r = s.record(too_far)
    assert r.status_code == 200, r.text
    [result] = r.json()["results"]
    assert result["status"] == "rejected", result
    assert ARTICLE in result["reason"], result
    assert "new_deadline" in result["reason"], result
    # in days too: a day on a term of seconds is beyond it as well
    by_days = _update(
        case_id,
        "deadline_extended",
        _millis(datetime.now(UTC)),
        granted_by="juez_investigacion_preparatoria",
        legal_basis=ARTICLE,
        extra_days=1,
    )
    [result] = s.record(by_days).json()["results"]
    assert result["status"] == "rejected", result
    assert ARTICLE in result["reason"], result
    tl = s.timeline(case_id).json()
    assert _at(tl["deadline_at"]) == new_deadline
    assert len(tl["extensions"]) == 1
    assert {e["update_id"] for e in tl["entries"]}.isdisjoint({too_far["update_id"], by_days["update_id"]})

    # 6. the other advocate still cannot record on the case, and sees none of its alerts
    r = s.record(
        _update(
            case_id,
            "deadline_extended",
            _millis(datetime.now(UTC)),
            granted_by="juez_investigacion_preparatoria",
            legal_basis=ARTICLE,
            new_deadline=(longest - timedelta(seconds=1)).isoformat(),
        ),
        sub=OTHER_ADVOCATE,
    )
    assert r.status_code == 404, r.text
    assert s.alerts_of(case_id, sub=OTHER_ADVOCATE) == []
    assert [a["episode"] for a in s.alerts_of(case_id) if a["rule"] == RULE and a["status"] == "open"] == [2]
