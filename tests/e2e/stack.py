"""One running stack for the end-to-end tests: intake, legal, the alerts processor and the alerts
service as real processes on free ports, on the real broker and database, under a private topic
prefix; optionally an SMTP server and a webhook receiver on loopback.

A test module asks for one through the ``start_stack`` fixture (tests/e2e/conftest.py)::

    @pytest.fixture(scope="module")
    def stack(start_stack: StartStack) -> Stack:
        return start_stack(StackConfig("e2e", policy=quiet_policy({"service.overdue": {"after": "2s"}})))

Everything a module starts is stopped by PID when the module ends. Thresholds are shortened by the
policy and deadlines files the config names (written to the module's temporary folder).
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message
from pathlib import Path
from types import EllipsisType
from typing import Any

import httpx
import yaml

from services.processor.domain.policy import DEFAULT_POLICY_FILE
from shared.auth import mint
from shared.events import Event, decode, key_for
from shared.settings import CommonSettings
from shared.topics import ALERTS
from tests.support import (
    Mailbox,
    Proc,
    Receiver,
    drain,
    free_port,
    isolated_env,
    uvicorn_args,
    wait_for,
)

SEVERITIES = ("critical", "high", "medium", "low")
# day-scale reminders: against a term of seconds they fire at once and fill every inbox
REMINDER_RULES = ("legal.deadline_approaching", "legal.hearing_upcoming")


def quiet_policy(
    rules: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    escalation: str = "1h",
    reminders: bool = False,
    only: bool = False,
) -> dict[str, Any]:
    """The shipped policy with every time-based rule an hour out (so only what a test causes can
    fire), the day-scale reminders off unless asked, escalation after ``escalation`` for every
    severity, and then ``rules`` merged over it rule by rule (e.g. ``{"service.overdue": {"after": "2s"}}``).
    With ``only`` every rule that ``rules`` does not name is turned off."""
    doc: dict[str, Any] = yaml.safe_load(DEFAULT_POLICY_FILE.read_text())
    for cfg in doc["rules"].values():
        if "after" in cfg:
            cfg["after"] = "1h"
    if "followup.overdue" in doc["rules"]:
        doc["rules"]["followup.overdue"]["schedule_after_closure"] = ["1h"]
    if not reminders:
        for rule in REMINDER_RULES:
            doc["rules"][rule]["enabled"] = False
    doc["escalation"] = {sev: escalation for sev in SEVERITIES}
    for rule, cfg in (rules or {}).items():
        doc["rules"].setdefault(rule, {}).update(cfg)
    if only:
        for rule, cfg in doc["rules"].items():
            if rule not in (rules or {}):
                cfg["enabled"] = False
    return doc


@dataclass(frozen=True)
class StackConfig:
    """What one module's stack looks like.

    ``name`` prefixes process names, log files and databases; ``policy`` (a policy document) and
    ``deadlines`` (a deadlines document) are written to files the services read, ``None`` keeps the
    shipped ones; ``mail`` starts an SMTP server the alerts service sends to; ``webhooks`` starts a
    receiver and subscribes it; ``directory`` is (user, role, e-mail) put in the alerts directory.
    """

    name: str
    org: str = "org-e2e"
    advocate: str = "adv-e2e"
    policy: Mapping[str, Any] | None = None
    deadlines: Mapping[str, Any] | None = None
    mail: bool = False
    webhooks: bool = False
    directory: Sequence[tuple[str, str, str]] = ()
    alerts_env: Mapping[str, str] = field(default_factory=dict)
    legal_env: Mapping[str, str] = field(default_factory=dict)


@dataclass
class Stack:
    """The running services of one module and what a test does with them through their APIs."""

    config: StackConfig
    env: dict[str, str]
    settings: CommonSettings
    tmp: Path
    intake: Proc
    legal: Proc
    alerts: Proc
    processor: Proc
    start_app: Callable[[str, str, Mapping[str, str]], Proc]
    db_name: Callable[[str], str]
    mailbox: Mailbox | None = None
    receiver: Receiver | None = None
    webhook_secret: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def org(self) -> str:
        return self.config.org

    @property
    def advocate(self) -> str:
        return self.config.advocate

    # -- tokens -------------------------------------------------------------------------------------

    def headers(
        self, role: str, sub: str, org: str | None | EllipsisType = ..., source_system: str | None = None
    ) -> dict[str, str]:
        """A bearer token for ``sub`` with one role, in the stack's organisation unless ``org`` is
        given (``None``: no organisation, as for admins and court integrators)."""
        token = mint(
            self.settings,
            sub=sub,
            roles=[role],
            org=self.org if isinstance(org, EllipsisType) else org,
            source_system=source_system,
        )
        return {"Authorization": f"Bearer {token}"}

    def advocate_headers(self, sub: str | None = None) -> dict[str, str]:
        return self.headers("legal_advocate", sub or self.advocate)

    # -- intake -------------------------------------------------------------------------------------

    def register_case(
        self,
        *,
        given_names: str = "Centinela",
        family_names: str | None = None,
        birth_date: str = "2011-05-06",
        advocate: str | None = None,
        **fields: Any,
    ) -> str:
        """A new case for the stack's advocate (a different child each time unless ``family_names``
        is given: the same name and birth date is a re-registration)."""
        body = {
            "identity": {
                "given_names": given_names,
                "family_names": family_names or uuid.uuid4().hex[:10],
                "birth_date": birth_date,
            },
            "exploitation_types": ["SexualExploitation"],
            "region": "Madre de Dios",
            "rescue_date": (datetime.now(UTC) - timedelta(days=3)).date().isoformat(),
            "advocate_id": advocate or self.advocate,
            "consent_for_services": True,
            **fields,
        }
        r = httpx.post(
            f"{self.intake.url}/v1/cases", json=body, headers=self.headers("intake_officer", "officer-e2e"), timeout=10
        )
        assert r.status_code == 201, r.text
        return str(r.json()["case_id"])

    def plan_service(self, case_id: str, kind: str, first_due_at: datetime, provider_org: str, **schedule: Any) -> str:
        """An intake officer plans a support service (``schedule``: sessions_planned, interval_days); its id."""
        body = {"service_kind": kind, "provider_org_id": provider_org, "first_due_at": first_due_at.isoformat()}
        r = httpx.post(
            f"{self.intake.url}/v1/cases/{case_id}/services",
            json=body | schedule,
            headers=self.headers("intake_officer", "officer-e2e"),
            timeout=10,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["service_id"])

    def record_session(
        self, case_id: str, service_id: str, provider_org: str, outcome: str = "attended", at: datetime | None = None
    ) -> None:
        """The provider records a session of the service (now unless ``at``)."""
        r = httpx.post(
            f"{self.intake.url}/v1/cases/{case_id}/services/{service_id}/sessions",
            json={"outcome": outcome, "occurred_at": (at or datetime.now(UTC)).isoformat()},
            headers=self.headers("service_provider", f"provider-{provider_org}", org=provider_org),
            timeout=10,
        )
        assert r.status_code == 201, r.text

    # -- legal --------------------------------------------------------------------------------------

    def court_updates(self, updates: Sequence[Mapping[str, Any]], source: str, timeout: float = 120) -> dict[str, Any]:
        """POST updates as ``source``'s court integrator; every one must be accepted."""
        integrator = self.headers("court_integrator", f"{source}-integrator", org=None, source_system=source)
        r = httpx.post(
            f"{self.legal.url}/v1/court-updates",
            json={"updates": [{"source_system": source, **u} for u in updates]},
            headers=integrator,
            timeout=timeout,
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        assert all(res.get("status") == "accepted" for res in body["results"]), body
        return body

    # -- alerts -------------------------------------------------------------------------------------

    def alerts_of(self, case_id: str, sub: str | None = None, role: str = "legal_advocate") -> list[dict[str, Any]]:
        """The inbox (GET /v1/alerts) of ``sub`` (the stack's advocate by default) for one case."""
        r = httpx.get(
            f"{self.alerts.url}/v1/alerts",
            params={"case_id": case_id},
            headers=self.headers(role, sub or self.advocate),
            timeout=10,
        )
        r.raise_for_status()
        return list(r.json()["items"])

    def alert_detail(self, alert_id: str, sub: str | None = None) -> dict[str, Any]:
        r = httpx.get(f"{self.alerts.url}/v1/alerts/{alert_id}", headers=self.advocate_headers(sub), timeout=10)
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    def wait_alert(self, case_id: str, rule: str, timeout: float = 60, **match: Any) -> dict[str, Any]:
        """Poll the advocate's inbox until an alert of ``rule`` on the case matches every ``match``."""

        def find() -> dict[str, Any] | None:
            for a in self.alerts_of(case_id):
                if a["rule"] == rule and all(a.get(k) == v for k, v in match.items()):
                    return a
            return None

        return wait_for(find, timeout=timeout, interval=0.3, what=f"{rule} alert {match} on {case_id}")

    def alert_facts(self, case_id: str, until: Callable[[list[Event]], bool], timeout: float = 60) -> list[Event]:
        """The alert lifecycle facts about one case on the stack's ``alerts`` topic, read from its
        start until ``until(facts)`` holds (or fail after ``timeout`` seconds)."""
        facts: list[Event] = []

        def enough(records: list[Any]) -> bool:
            facts[:] = [e for e in (decode(r.value) for r in records if r.key == key_for(case_id))]
            return until(facts)

        # no consumer group: a group member starved under load may be assigned nothing for a minute
        from kafka import KafkaConsumer, TopicPartition

        topic = self.settings.topic(ALERTS)
        c = KafkaConsumer(bootstrap_servers=self.settings.kafka_bootstrap, enable_auto_commit=False)
        try:
            partitions = wait_for(lambda: c.partitions_for_topic(topic), timeout=30, what=f"{topic}'s partitions")
            c.assign([TopicPartition(topic, p) for p in partitions])
            c.seek_to_beginning()
            drain(c, enough, timeout=timeout)
        finally:
            c.close()
        return facts

    def mail_to(self, address: str) -> list[Message]:
        """Messages the stack's SMTP server took for ``address`` (the config must ask for ``mail``)."""
        assert self.mailbox is not None, "this stack has no SMTP server (StackConfig.mail)"
        return self.mailbox.to(address)

    def webhook_requests(self) -> list[dict[str, Any]]:
        """Requests the webhook receiver got so far (the config must ask for ``webhooks``)."""
        assert self.receiver is not None, "this stack has no webhook receiver (StackConfig.webhooks)"
        with self.receiver.lock:
            return list(self.receiver.requests)

    def notified(self, case_id: str, email: str) -> list[str]:
        """What reached ``email`` by e-mail, or any webhook, about ``case_id``."""
        mails = [m.as_string() for m in self.mail_to(email) if case_id in m.as_string()]
        return mails + [r["body"].decode() for r in self.webhook_requests() if case_id.encode() in r["body"]]


def court_update(case_id: str, kind: str, occurred_at: datetime, **fields: Any) -> dict[str, Any]:
    """One court update (a fresh update_id; no source_system: the sender's token or batch gives it)."""
    update_id = f"{kind[:12]}-{uuid.uuid4().hex[:10]}"
    return {"update_id": update_id, "case_id": case_id, "kind": kind, "occurred_at": occurred_at.isoformat(), **fields}


def _write_yaml(path: Path, doc: Mapping[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(dict(doc)))
    return path


@contextmanager
def running_stack(
    config: StackConfig,
    *,
    stack_env: dict[str, str],
    db_name: Callable[[str], str],
    log_dir: Path,
    procs: list[Proc],
    tmp: Path,
) -> Iterator[Stack]:
    """Start the four services for ``config`` and yield them once all are ready; stop what was
    started (processes by PID through ``procs``, SMTP, webhook receiver) afterwards."""
    env = isolated_env(stack_env)  # its own topics and consumer groups
    name = config.name
    with ExitStack() as cleanup:

        def database(service: str) -> str:
            return db_name(f"{name}_{service}")

        def start(proc_name: str, args: list[str], extra: Mapping[str, str], port: int) -> Proc:
            proc = Proc(f"{name}-{proc_name}", args, {**env, **extra}, log_dir, port=port)
            procs.append(proc)  # stopped at the session's end even if this module's clean-up is skipped
            cleanup.callback(proc.stop)
            return proc

        def start_app(service: str, module: str, extra: Mapping[str, str]) -> Proc:
            """One more uvicorn app (e.g. the console) on the stack's topics, with its own database."""
            port = free_port()
            proc = start(service, uvicorn_args(module, port), {"CENTINELA_MONGO_DB": database(service), **extra}, port)
            proc.wait_ready()
            return proc

        alerts_env: dict[str, str] = {"CENTINELA_ESCALATION_TICK_SECONDS": "0.5"}
        processor_env: dict[str, str] = {}
        # integrators here publish for cases nobody shared with them (the binding has its own tests:
        # tests/integration/legal/test_integrator_binding.py)
        legal_env: dict[str, str] = {"CENTINELA_LEGAL_INTEGRATOR_BINDING": "warn", **config.legal_env}
        if config.policy is not None:
            policy = str(_write_yaml(tmp / "policy.yaml", config.policy))
            alerts_env["CENTINELA_POLICY_FILE"] = processor_env["CENTINELA_POLICY_FILE"] = policy
        if config.deadlines is not None:
            legal_env["CENTINELA_LEGAL_DEADLINES_FILE"] = str(_write_yaml(tmp / "deadlines.yaml", config.deadlines))
        mailbox: Mailbox | None = None
        if config.mail:
            from aiosmtpd.controller import Controller

            mailbox = Mailbox(port=free_port())
            smtp = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port)
            smtp.start()
            cleanup.callback(smtp.stop)
            alerts_env |= {
                "CENTINELA_SMTP_HOST": "127.0.0.1",
                "CENTINELA_SMTP_PORT": str(mailbox.port),
                "CENTINELA_PUBLIC_BASE_URL": "https://centinela.e2e",
                "CENTINELA_NOTIFY_POLL_SECONDS": "0.2",
                "CENTINELA_NOTIFY_BACKOFF_BASE_SECONDS": "0.2",
            }
        receiver: Receiver | None = None
        if config.webhooks:
            receiver = Receiver()
            receiver.start()
            cleanup.callback(receiver.stop)
            # the receiver listens on loopback, which webhooks may not reach unless allowed
            alerts_env["CENTINELA_WEBHOOK_ALLOW_HOSTS"] = "127.0.0.1"
        alerts_env |= config.alerts_env

        ports = [free_port() for _ in range(4)]
        intake = start(
            "intake",
            uvicorn_args("services.intake.main:app", ports[0]),
            {"CENTINELA_MONGO_DB": database("intake")},
            ports[0],
        )
        # intake first: the audit trail every service writes lives in intake's database, and intake's
        # start-up refuses an audit index another service created first with other options
        intake.wait_ready()
        legal = start(
            "legal",
            uvicorn_args("services.legal.main:app", ports[1]),
            {"CENTINELA_MONGO_DB": database("legal"), **legal_env},
            ports[1],
        )
        alerts = start(
            "alerts",
            uvicorn_args("services.alerts.main:app", ports[2]),
            {"CENTINELA_MONGO_DB": database("alerts"), **alerts_env},
            ports[2],
        )
        processor = start(
            "processor",
            [sys.executable, "-m", "services.processor", "worker", "--web-port", str(ports[3]), "-l", "warn"],
            {
                **processor_env,
                "CENTINELA_PROCESSOR_TICK_SECONDS": "0.5",
                "CENTINELA_PROCESSOR_DATADIR": str(tmp / "processor-data"),
            },
            ports[3],
        )
        for p in (legal, alerts):
            p.wait_ready()
        processor.wait_ready("/readyz", timeout=90)
        settings = CommonSettings(
            kafka_bootstrap=env["CENTINELA_KAFKA_BOOTSTRAP"], topic_prefix=env["CENTINELA_TOPIC_PREFIX"]
        )
        s = Stack(config, env, settings, tmp, intake, legal, alerts, processor, start_app, database, mailbox, receiver)
        admin = s.headers("admin", f"admin-{name}", org=None)
        for user, role, email in config.directory:
            r = httpx.put(
                f"{alerts.url}/v1/directory/{user}",
                json={"email": email, "org_id": config.org, "role": role},
                headers=admin,
                timeout=10,
            )
            assert r.status_code in (200, 201), r.text
        if receiver is not None:
            r = httpx.post(
                f"{alerts.url}/v1/subscriptions",
                json={"url": receiver.url, "secret": s.webhook_secret},
                headers=admin,
                timeout=10,
            )
            assert r.status_code in (200, 201), r.text
        yield s


StartStack = Callable[[StackConfig], Stack]
