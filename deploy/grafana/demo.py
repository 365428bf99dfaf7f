"""Screenshots of every dashboard from a real run: a private stack, real traffic, the local Prometheus.

    .venv/bin/python -m deploy.grafana.demo --out deploy/grafana/screenshots --minutes 6

On the running Kafka and database (``CENTINELA_KAFKA_BOOTSTRAP``, ``CENTINELA_MONGO_URI``; ``make up``
or ``stack.sh infra-up`` starts them) it starts intake (first: it makes the shared audit trail's
indexes), then legal, alerts, reports and the alerts processor on free loopback ports, under a private
topic prefix and with a database of their own each (so nothing of another stack is read or written),
and Debian's ``prometheus`` scraping them every 5 s with deploy/prometheus/rules. Two settings differ
from the defaults, both for the demo's sake: the alert policy's escalation times are minutes instead
of hours (``CENTINELA_POLICY_FILE``), and ``CENTINELA_WEBHOOK_ALLOW_HOSTS=127.0.0.1`` lets the alerts
service accept the demo's loopback webhook (refused as an internal address otherwise).

Through the services' APIs it then registers ``--cases`` cases (identity with birth date, sex and
nationality), shares each with the court integrator (prosecutor references), plans psychosocial
services and records sessions, posts court histories back-dated by months (stages up to a verdict, an
appeal or final, archives, a few invalid items), raises risk flags, plans and records follow-ups at
3/6/12 months, lets advocates acknowledge part of their inbox (the rest escalates), reports some
victim notifications (their alerts resolve), keeps a supervisor on the live stream and reading the
justice-access figures, has an admin make the anonymised export, and subscribes a webhook whose
receiver is down; for ``--minutes`` more it keeps a trickle of the same going. Finally
:mod:`deploy.grafana.render` draws every dashboard from that Prometheus into ``--out``.

Everything it started is stopped by PID, its databases are dropped and its topics deleted, also when
it fails or is interrupted. Process logs stay in the printed temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from deploy.grafana import render

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable
APIS = ("intake", "legal", "alerts", "reports")
ORG = "org-demo"
ADVOCATES = ("adv-demo-1", "adv-demo-2", "adv-demo-3")
SOURCE = "sgf-demo"
REGIONS = ("150101", "150132", "170101", "160101", "080101")
NATIONALITIES = ("PE", "PE", "PE", "VEN", "CO")
EXPLOITATION = ("SexualExploitation", "ForcedLabour", "ChildLabour")
STAGES = ("complaint_filed", "preliminary_investigation", "preparatory_investigation", "intermediate_stage", "trial")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log(msg: str) -> None:
    print(f"demo: {msg}", flush=True)


class Stack:
    """The processes of one run; :meth:`stop` ends each by its PID."""

    def __init__(self, tmp: Path, kafka: str, mongo: str) -> None:
        self.tmp = tmp
        self.tag = f"demo{uuid.uuid4().hex[:8]}"
        self.env = {
            **os.environ,
            "CENTINELA_ENV": "dev",
            "CENTINELA_KAFKA_BOOTSTRAP": kafka,
            "CENTINELA_MONGO_URI": mongo,
            "CENTINELA_TOPIC_PREFIX": f"{self.tag}.",
            # the shared audit trail lives in intake's database: this run's, not a default one
            "CENTINELA_AUDIT_DB": f"{self.tag}_intake",
            "CENTINELA_OUTBOX_POLL_SECONDS": "0.5",
            "CENTINELA_REPORTS_MATERIALISE_SECONDS": "2",
            "CENTINELA_PROCESSOR_DATADIR": str(tmp / "processor-data"),
            # the demo's webhook receiver is on loopback, which the SSRF rule refuses unless allowed
            "CENTINELA_WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def db(self, name: str) -> str:
        return f"{self.tag}_{name}"

    def start(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        out = (self.tmp / f"{name}.log").open("ab")
        self.procs[name] = subprocess.Popen(args, cwd=ROOT, env=env or self.env, stdout=out, stderr=subprocess.STDOUT)
        log(f"started {name} (pid {self.procs[name].pid}) on port {self.ports[name]}")

    def up(self, prometheus: str) -> None:
        # the shipped policy with escalation times of minutes instead of hours, so that a run of a few
        # minutes shows unacknowledged alerts escalating (every other rule and key keeps its default)
        policy = self.tmp / "policy.yaml"
        policy.write_text("version: 1\nrules: {}\nescalation: {critical: 1min, high: 2min, medium: 2min, low: 3min}\n")
        self.env["CENTINELA_POLICY_FILE"] = str(policy)
        for attempt in range(6):  # a busy broker may time a creation out; what exists is kept
            ensure = [PY, "-m", "shared.topics", "ensure", "--timeout", "60"]
            if subprocess.run(ensure, cwd=ROOT, env=self.env, check=attempt == 5).returncode == 0:
                break
            time.sleep(5)
        for name in (*APIS, "processor"):
            if name == "legal":
                # intake first: it makes the shared audit trail's indexes its own way, and refuses to
                # start if another service made them first with other options (IndexKeySpecsConflict)
                self.wait_ready("intake", "/readyz")
            self.ports[name] = free_port()
            env = {**self.env, "CENTINELA_MONGO_DB": self.db(name)}
            if name == "processor":
                args = [PY, "-m", "services.processor", "worker", "--web-host", "127.0.0.1"]
                args += ["--web-port", str(self.ports[name]), "--loglevel", "warn"]
            else:
                args = [PY, "-m", "uvicorn", f"services.{name}.main:app", "--host", "127.0.0.1"]
                args += ["--port", str(self.ports[name]), "--no-access-log"]
            self.start(name, args, env)
        self.ports["prometheus"] = free_port()
        config = self.tmp / "prometheus.yml"
        lines = [
            "global: {scrape_interval: 5s, evaluation_interval: 5s}",
            f'rule_files: ["{ROOT}/deploy/prometheus/rules/*.yml"]',
            "scrape_configs:",
        ]
        for name in (*APIS, "processor"):
            lines += [f"  - job_name: {name}", f'    static_configs: [{{targets: ["127.0.0.1:{self.ports[name]}"]}}]']
        config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.start(
            "prometheus",
            [
                prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.tmp / 'prometheus-data'}",
                f"--web.listen-address=127.0.0.1:{self.ports['prometheus']}",
                "--log.level=warn",
            ],
        )
        for name in (*APIS[1:], "processor"):  # intake is ready already
            self.wait_ready(name, "/readyz")
        self.wait_ready("prometheus", "/-/ready")

    def wait_ready(self, name: str, path: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited during start-up (log: {self.tmp / f'{name}.log'})")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url(name) + path, timeout=2).status_code == 200:
                    log(f"{name} ready")
                    return
            time.sleep(0.5)
        raise RuntimeError(f"{name} not ready within {timeout:.0f}s (log: {self.tmp / f'{name}.log'})")

    def stop(self) -> None:
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
                log(f"stopped {name} (pid {proc.pid})")

    def clean(self) -> None:
        """Drop this run's databases and delete its topics (nothing else is touched)."""
        from kafka.admin import KafkaAdminClient
        from pymongo import MongoClient

        client: MongoClient[Any] = MongoClient(self.env["CENTINELA_MONGO_URI"], serverSelectionTimeoutMS=5000)
        try:
            for name in client.list_database_names():
                if name.startswith(f"{self.tag}_"):
                    client.drop_database(name)
        finally:
            client.close()
        admin = KafkaAdminClient(bootstrap_servers=self.env["CENTINELA_KAFKA_BOOTSTRAP"], client_id=self.tag)
        try:
            mine = [t for t in admin.list_topics() if t.startswith(f"{self.tag}.")]
            if mine:
                admin.delete_topics(mine)
        finally:
            admin.close()


class Traffic:
    """What an organisation does in a working day, through the real APIs, as the roles that do it."""

    def __init__(self, stack: Stack, seed: int = 15) -> None:
        from shared.auth import mint
        from shared.settings import CommonSettings

        self.s = stack
        self.rng = random.Random(seed)
        self.http = httpx.Client(timeout=30)
        settings = CommonSettings()
        self.token: Callable[..., dict[str, str]] = lambda role, sub, org=ORG, source=None: {
            "Authorization": f"Bearer {mint(settings, sub=sub, roles=[role], org=org, source_system=source)}"
        }
        self.officer = self.token("intake_officer", "officer-demo")
        self.cases: list[str] = []
        self.courts_due: list[tuple[str, list[dict[str, Any]]]] = []  # (case, court updates) not posted yet
        self.acked: set[str] = set()
        self.notified: set[str] = set()  # cases whose victim notification the court reported
        self.n = 0

    def post(
        self, service: str, path: str, body: dict[str, Any], headers: dict[str, str], refused: bool = False
    ) -> httpx.Response:
        """POST; a refusal not asked for (``refused``) is printed, so a broken demo says why."""
        r = self.http.post(self.s.url(service) + path, json=body, headers=headers)
        if r.status_code >= 400 and not refused:
            log(f"{service} POST {path.split('/')[2]}...: {r.status_code} {r.text[:300]}")
        return r

    def webhook_down(self) -> None:
        """A subscriber whose receiver is down: the notification panels show failed deliveries."""
        body = {"url": f"http://127.0.0.1:{free_port()}/hook", "secret": uuid.uuid4().hex, "description": "demo"}
        r = self.post("alerts", "/v1/subscriptions", body, self.token("admin", "admin-demo", None))
        log(f"webhook subscription: {r.status_code}")

    def case(self) -> str:
        """One case shared with the court integrator, with its services, sessions, follow-ups and
        sometimes a risk flag; its court history waits in ``courts_due`` for :meth:`courts`."""
        rng, today = self.rng, datetime.now(UTC)
        self.n += 1
        rescue = (today - timedelta(days=rng.randint(40, 900))).date()
        birth = rescue - timedelta(days=rng.randint(7 * 365, 17 * 365))
        body = {
            "identity": {
                "given_names": f"Demo {uuid.uuid4().hex[:6]}",
                "family_names": uuid.uuid4().hex[:10],
                "birth_date": birth.isoformat(),
                "sex": rng.choices(["female", "male", "other"], weights=[70, 28, 2])[0],
                "nationality": rng.choice(NATIONALITIES),
            },
            "exploitation_types": [rng.choice(EXPLOITATION)],
            "region": rng.choice(REGIONS),
            "rescue_date": rescue.isoformat(),
            "advocate_id": rng.choice(ADVOCATES),
            "consent_for_services": True,
        }
        r = self.post("intake", "/v1/cases", body, self.officer)
        r.raise_for_status()
        case_id = str(r.json()["case_id"])
        self.cases.append(case_id)
        # a court integrator may publish only for the cases the organisation shared with its system
        refs = {
            "carpeta_fiscal": f"{3306014500 + self.n}-{rescue.year}-{self.n}-0",
            "office": "FPETP-LIMA-01",
            "shared_with_systems": [SOURCE],
        }
        url = self.s.url("intake") + f"/v1/cases/{case_id}/prosecutor-refs"
        r = self.http.put(url, json=refs, headers=self.officer)
        if r.status_code >= 400:
            log(f"intake PUT prosecutor-refs: {r.status_code} {r.text[:300]}")
        planned = rng.randint(4, 8)
        plan_body = {
            "service_kind": "psychosocial",
            "provider_org_id": "prov-demo",
            "sessions_planned": planned,
            "interval_days": 7,  # required when more than one session is planned
            "service_response_timeframe": "1_week",
        }
        r = self.post("intake", f"/v1/cases/{case_id}/services", plan_body, self.officer)
        r.raise_for_status()
        service_id = r.json()["service_id"]
        at = datetime.combine(rescue, datetime.min.time(), UTC) + timedelta(days=rng.randint(2, 30))
        for _ in range(rng.randint(1, planned)):
            if at >= today:
                break
            outcome = rng.choices(["attended", "missed"], weights=[80, 20])[0]
            session = {"outcome": outcome, "occurred_at": at.isoformat()}
            if outcome == "missed":
                session["missed_reason"] = "child_absent"
            self.post("intake", f"/v1/cases/{case_id}/services/{service_id}/sessions", session, self.officer)
            at += timedelta(days=rng.randint(5, 15))
        self.courts_due.append((case_id, self.court_history(case_id, rescue)))
        if rng.random() < 0.3:
            flag = {"kind": "contact_with_trafficker", "severity": rng.choice(["medium", "high"])}
            self.post("intake", f"/v1/cases/{case_id}/risk-flags", flag, self.officer)
        if rng.random() < 0.6:
            for months, done in ((3, 0.7), (6, 0.5), (12, 0.3)):
                by = date.today() + timedelta(days=30 * months)
                plan: dict[str, Any] = {"followup_needed_by_date": by.isoformat()}
                if rng.random() < done:
                    plan.update(done_date=date.today().isoformat(), outcome="contacted_stable")
                self.post("intake", f"/v1/cases/{case_id}/follow-ups", plan, self.officer)
        return case_id

    def courts(self, timeout: float = 90) -> None:
        """Post the court history of every case in ``courts_due``. Legal learns that a case is shared
        from intake's event, a moment after the PUT; until then it answers 404 (nothing applied), so
        the same batch is sent again."""
        deadline = time.monotonic() + timeout
        integrator = self.token("court_integrator", f"{SOURCE}-integrator", None, SOURCE)
        while self.courts_due:
            case_id, items = self.courts_due[0]
            r = self.post("legal", "/v1/court-updates", {"updates": items}, integrator, refused=True)
            if r.status_code == 404 and time.monotonic() < deadline:
                time.sleep(1)
                continue
            self.courts_due.pop(0)
            if r.status_code == 200:
                for result in r.json().get("results", []):
                    if result.get("status") == "rejected" and items[result.get("index", 0)]["update_id"] != "bad":
                        log(f"legal rejected a court update: {str(result)[:300]}")
            elif r.status_code == 404:
                log(f"legal never learned that case {case_id} is shared; its court history is skipped")
            else:
                log(f"legal POST court-updates: {r.status_code} {r.text[:300]}")

    def court_history(self, case_id: str, rescue: date) -> list[dict[str, Any]]:
        """Stages back-dated from the rescue on: some archived, some to a verdict (conviction or
        acquittal), then an appeal or straight to final; now and then an invalid item."""
        rng = self.rng
        at = datetime.combine(rescue, datetime.min.time(), UTC) + timedelta(days=rng.randint(1, 10))
        now = datetime.now(UTC)
        updates: list[dict[str, Any]] = []

        def add(kind: str, **fields: str) -> bool:
            nonlocal at
            if at >= now:
                return False
            updates.append({"kind": kind, "occurred_at": at.isoformat(), **fields})
            at += timedelta(days=rng.randint(10, 90))
            return True

        reached = rng.choices(range(1, len(STAGES) + 1), weights=[2, 2, 2, 2, 5])[0]
        for stage in STAGES[:reached]:
            if not add("stage_changed", stage=stage):
                break
        last = updates[-1]["stage"] if updates else None
        if last == "trial" and rng.random() < 0.7:
            outcome = rng.choices(["conviction", "acquittal"], weights=[2, 1])[0]
            if add("verdict_issued", outcome=outcome):  # moves the case to the verdict stage
                if rng.random() < 0.5:
                    if add("appeal_filed", against="sentence") and rng.random() < 0.7:
                        add("stage_changed", stage="final")
                elif rng.random() < 0.6:
                    add("stage_changed", stage="final")  # an unappealed verdict becomes final
        elif last is not None and rng.random() < 0.5:  # from the intermediate stage on: a dismissal
            add("case_archived", reason="insufficient_evidence")
        ids = {"source_system": SOURCE, "case_id": case_id}
        items = [{**ids, "update_id": uuid.uuid4().hex[:16], **u} for u in updates]
        if rng.random() < 0.15:  # an integrator's mistake: rejected item by item, never a 500
            items.append({**ids, "update_id": "bad", "kind": "stage_changed"})
        return items

    def acknowledge(self, share: float = 0.6) -> None:
        """Each advocate acknowledges part of what their inbox holds (the rest escalates), and for some
        of the "victim not notified" alerts the court reports the notification: the processor then
        resolves them because their condition cleared."""
        for adv in ADVOCATES:
            headers = self.token("legal_advocate", adv)
            params: dict[str, str | int] = {"status": "open", "limit": 200}
            r = self.http.get(self.s.url("alerts") + "/v1/alerts", params=params, headers=headers)
            if r.status_code != 200:
                log(f"alerts GET inbox: {r.status_code} {r.text[:300]}")
                continue
            for alert in r.json().get("items", []):
                if alert["id"] not in self.acked and self.rng.random() < share:
                    self.acked.add(alert["id"])
                    self.post("alerts", f"/v1/alerts/{alert['id']}/ack", {"comment": "seen"}, headers)
                case_id = alert["case_id"]
                if alert["rule"] == "legal.victim_not_notified" and case_id not in self.notified:
                    if self.rng.random() < 0.4:
                        self.notified.add(case_id)
                        at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
                        update = {"source_system": SOURCE, "case_id": case_id, "update_id": uuid.uuid4().hex[:16]}
                        update.update(kind="victim_notified", about="general", occurred_at=at)
                        self.courts_due.append((case_id, [update]))

    def watch(self, stop: threading.Event) -> None:
        """A supervisor's console keeping the live stream of alerts open (the live-stream panel)."""
        headers = self.token("supervisor", "supervisor-demo")
        with httpx.Client(timeout=httpx.Timeout(10, read=60)) as client:
            while not stop.is_set():
                with contextlib.suppress(httpx.HTTPError):
                    with client.stream("GET", self.s.url("alerts") + "/v1/alerts/stream", headers=headers) as r:
                        for _line in r.iter_lines():
                            if stop.is_set():
                                return
                stop.wait(2)

    def figures(self) -> None:
        """A supervisor reads the justice-access figures (JSON by region, and the CSV)."""
        headers = self.token("supervisor", "supervisor-demo")
        base = self.s.url("reports") + "/v1/reports/justice-access"
        for url, params in ((base, {"group_by": "region"}), (base + ".csv", {})):
            r = self.http.get(url, params=params, headers=headers)
            if r.status_code != 200:
                log(f"reports GET {url.rsplit('/', 1)[1]}: {r.status_code} {r.text[:300]}")

    def export(self) -> None:
        """An admin makes the anonymised export for sharing (audited)."""
        body = {"reason": "demo: quarterly figures for the donor"}
        r = self.post("reports", "/v1/reports/exports", body, self.token("admin", "admin-demo", None))
        log(f"anonymised export: {r.status_code}, {max(0, len(r.text.splitlines()) - 1)} rows")

    def mistakes(self) -> None:
        """A few refused requests (4xx), as any real day has."""
        self.post("intake", "/v1/cases", {"identity": {"birth_date": "3000-01-01"}}, self.officer, refused=True)
        self.http.get(self.s.url("intake") + "/v1/cases/cs_doesnotexistaaaaaaaaa", headers=self.officer)


def run(args: argparse.Namespace) -> int:
    prometheus = shutil.which(args.prometheus_bin)
    if prometheus is None:
        raise SystemExit("prometheus not found: apt-get install prometheus (Debian's package)")
    tmp = Path(tempfile.mkdtemp(prefix="centinela-demo-"))
    log(f"logs and Prometheus data in {tmp}")
    stack = Stack(tmp, args.kafka, args.mongo)
    watching = threading.Event()  # set: the live-stream client stops
    try:
        stack.up(prometheus)
        began = time.monotonic()
        traffic = Traffic(stack)
        threading.Thread(target=traffic.watch, args=(watching,), daemon=True).start()
        traffic.webhook_down()
        for _ in range(args.cases):
            traffic.case()
        traffic.courts()
        traffic.mistakes()
        traffic.export()
        log(f"{args.cases} cases registered; {args.minutes} min of trickle")
        deadline = time.monotonic() + args.minutes * 60
        while time.monotonic() < deadline:
            for _ in range(2):
                traffic.case()
            traffic.courts()
            traffic.acknowledge()
            traffic.figures()
            traffic.mistakes()
            time.sleep(15)
        traffic.acknowledge(share=1.0)
        traffic.courts()
        traffic.figures()
        log(
            f"{len(traffic.cases)} cases, {len(traffic.acked)} alerts acknowledged, "
            f"{len(traffic.notified)} victim notifications reported"
        )
        time.sleep(40)  # the materialiser's and the processor's last passes, two more scrapes
        return render.main(
            # the whole run, from the first scrape on (registering the first cases takes minutes on a busy host)
            ["--prometheus", stack.url("prometheus"), "--minutes", str(math.ceil((time.monotonic() - began) / 60) + 1)]
            + ["--out", str(args.out)]
        )
    finally:
        watching.set()
        stack.stop()
        with contextlib.suppress(Exception):
            stack.clean()
            log(f"dropped the {stack.tag}_* databases and deleted the {stack.tag}.* topics")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=Path("dashboards-rendered"))
    parser.add_argument("--minutes", type=int, default=6, help="how long the trickle of traffic lasts")
    parser.add_argument("--cases", type=int, default=60, help="cases registered at the start")
    parser.add_argument("--kafka", default=os.environ.get("CENTINELA_KAFKA_BOOTSTRAP", "127.0.0.1:9092"))
    parser.add_argument("--mongo", default=os.environ.get("CENTINELA_MONGO_URI", "mongodb://127.0.0.1:27017/"))
    parser.add_argument("--prometheus-bin", default=os.environ.get("CENTINELA_PROMETHEUS_BIN", "prometheus"))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
