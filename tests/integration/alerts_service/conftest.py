"""The alerts service as a real uvicorn process, a real SMTP server and a webhook receiver on loopback."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller

from services.alerts.settings import AlertsSettings
from services.alerts.store.alert_repository import AlertRepository
from services.alerts.store.documents import ensure_indexes
from services.processor.domain.policy import DEFAULT_POLICY_FILE
from shared.auth import mint
from shared.events.alerts import AlertRaised
from shared.kafka import Producer
from shared.mongo import connect
from shared.topics import ALERTS
from tests.support import Mailbox, Proc, Receiver, alert_raised, free_port, uvicorn_args, wait_for

SENTINEL = "Rosa Quispe Huaman 2011-03-04 DNI 70112233"


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def same_alert(alert: AlertRaised) -> dict[str, Any]:
    """The fields that name ``alert`` in a later fact about it (resolved, updated...)."""
    return {"case_id": alert.case_id, "alert_id": alert.alert_id, "rule": alert.rule, "episode": alert.episode}


class Delivered(NamedTuple):
    alert: AlertRaised
    mine: dict[str, str]  # the advocate's token
    advocate: str
    org: str


@dataclass
class AlertsService:
    proc: Proc
    env: dict[str, str]
    settings: AlertsSettings
    producer: Producer
    mailbox: Mailbox
    escalation_seconds: float

    @property
    def url(self) -> str:
        return self.proc.url

    def token(self, role: str, sub: str | None = None, org: str | None = None) -> dict[str, str]:
        t = mint(self.settings, sub=sub or f"{role}-{uuid.uuid4().hex[:6]}", roles=[role], org=org)
        return {"Authorization": f"Bearer {t}"}

    def raise_alert(self, *, event_id: str | None = None, **fields: Any) -> AlertRaised:
        """Publish an ``alert.raised`` (``fields`` as for tests.support.alert_raised: advocate, org,
        severity, rule, case_id, episode, evidence) with a service's evidence unless given."""
        fields.setdefault("evidence", {"service_id": "svc-1", "due_at": "2025-01-01T00:00:00Z"})
        payload = alert_raised(**fields)
        self.publish(payload, event_id=event_id)
        return payload

    def publish(self, payload: Any, event_id: str | None = None) -> None:
        from shared.events import new_event

        self.producer.publish(ALERTS, new_event(payload, event_id=event_id)).get(timeout=30)

    def get(self, path: str, headers: dict[str, str], **kw: Any) -> httpx.Response:
        return httpx.get(self.url + path, headers=headers, timeout=10, **kw)

    def post(self, path: str, headers: dict[str, str], json_body: Any = None) -> httpx.Response:
        return httpx.post(self.url + path, headers=headers, json=json_body if json_body is not None else {}, timeout=10)

    def put(self, path: str, headers: dict[str, str], json_body: Any) -> httpx.Response:
        return httpx.put(self.url + path, headers=headers, json=json_body, timeout=10)

    def wait_alert(
        self, alert_id: str, headers: dict[str, str], until: Callable[[dict[str, Any]], bool] = bool
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            r = self.get(f"/v1/alerts/{alert_id}", headers)
            if r.status_code == 200 and until(r.json()):
                return r.json()
            return None

        return wait_for(check, timeout=30, what=f"alert {alert_id}")

    def deliver(self, **fields: Any) -> Delivered:
        """An alert (``fields`` as for :meth:`raise_alert`) for a new advocate of a new organisation,
        once it is in the advocate's inbox."""
        adv, org = uid("adv"), uid("org")
        alert = self.raise_alert(advocate=adv, org=org, **fields)
        mine = self.token("legal_advocate", adv, org)
        self.wait_alert(alert.alert_id, mine)
        return Delivered(alert, mine, adv, org)

    def wait_ticks(self, after: float) -> None:
        """Poll until the escalation loop has ticked at a (unix) time later than ``after``."""
        wait_for(
            lambda: self.metric("centinela_alerts_escalation_last_tick_timestamp_seconds") > after,
            timeout=30,
            what="escalation ticks",
        )

    def directory(self, user_id: str, email: str, org: str, role: str) -> None:
        r = self.put(f"/v1/directory/{user_id}", self.token("admin"), {"email": email, "org_id": org, "role": role})
        assert r.status_code == 200, r.text

    def metric(self, name: str, labels: dict[str, str] | None = None) -> float:
        text = httpx.get(self.url + "/metrics", timeout=10).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith("#") or not line.startswith(name):
                continue
            head, _, value = line.rpartition(" ")
            metric_name = head.split("{", 1)[0]
            if metric_name != name:
                continue
            if labels and not all(f'{k}="{v}"' in head for k, v in labels.items()):
                continue
            total += float(value)
        return total


ESCALATION_SECONDS = 5.0


def write_policy(path: Path, escalation: dict[str, str]) -> Path:
    """A full policy file (the service validates all of it): the shipped one with ``escalation`` replaced."""
    doc = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    doc["escalation"] = escalation
    path.write_text(yaml.safe_dump(doc))
    return path


@contextmanager
def repository(stack_env: dict[str, str], database: str) -> Iterator[AlertRepository]:
    """The alerts store on ``database`` (indexes made), connected for the duration."""
    client = connect(AlertsSettings(mongo_uri=stack_env["CENTINELA_MONGO_URI"], mongo_db=database))
    ensure_indexes()
    try:
        yield AlertRepository()
    finally:
        client.close()


@pytest.fixture(scope="module")
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


@pytest.fixture(scope="module")
def alerts_service(
    stack_env: dict[str, str],
    db_name: Callable[[str], str],
    log_dir: Path,
    procs: list[Proc],
    mailbox: Mailbox,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[AlertsService]:
    policy = write_policy(
        tmp_path_factory.mktemp("alerts-policy") / "policy.yaml",
        {"critical": f"{ESCALATION_SECONDS:g}s", "high": "1h", "medium": "4h", "low": "24h"},
    )
    port = free_port()
    env = {
        **stack_env,
        "CENTINELA_MONGO_DB": db_name("alerts"),
        "CENTINELA_POLICY_FILE": str(policy),
        "CENTINELA_SMTP_HOST": "127.0.0.1",
        "CENTINELA_SMTP_PORT": str(mailbox.port),
        "CENTINELA_SMTP_FROM": "centinela@alerts.test",
        "CENTINELA_PUBLIC_BASE_URL": "https://centinela.test",
        "CENTINELA_ESCALATION_TICK_SECONDS": "0.3",
        "CENTINELA_ESCALATION_MAX_LEVEL": "1",
        "CENTINELA_NOTIFY_BACKOFF_BASE_SECONDS": "0.2",
        "CENTINELA_NOTIFY_POLL_SECONDS": "0.2",
        "CENTINELA_NOTIFY_MAX_ATTEMPTS": "4",
        "CENTINELA_WEBHOOK_TIMEOUT_SECONDS": "3",
        # the test receivers listen on loopback, which webhooks may not reach unless allowed
        "CENTINELA_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        "CENTINELA_SSE_HEARTBEAT_SECONDS": "0.5",
    }
    proc = Proc("alerts-service", uvicorn_args("services.alerts.main:app", port), env, log_dir, port=port)
    procs.append(proc)
    proc.wait_ready()
    settings = AlertsSettings(
        kafka_bootstrap=env["CENTINELA_KAFKA_BOOTSTRAP"], topic_prefix=env["CENTINELA_TOPIC_PREFIX"]
    )
    producer = Producer(settings, client_id="alerts-service-test")
    yield AlertsService(proc, env, settings, producer, mailbox, ESCALATION_SECONDS)
    producer.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


def event_payloads(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records]
