"""The alerts service starts, serves and writes during a Kafka outage, and catches up when it ends.

The "broker" the service is given is a loopback port with nothing behind it; the outage ends when
a TCP forwarder to the real broker starts listening there (the broker advertises its own address,
so after bootstrapping the clients talk to it directly).

The test runs on topics of its own (``isolated_env``): on the session's shared ``alerts`` topic a
new consumer group starting from the earliest offset had to ingest every alert the other tests of
the directory had published before reaching this test's record, and the test's own reader had to
read them all too; under a loaded machine that outgrew the deadlines (the two failures seen). Every
wait polls the real condition (readiness, the published fact, the stored alert) with a deadline.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition
from pymongo import MongoClient

from services.alerts.settings import AlertsSettings
from services.alerts.store.alert_repository import AlertRepository
from shared.auth import mint
from shared.events import new_event
from shared.events.alerts import AlertRaised
from shared.kafka import Producer
from shared.topics import ALERTS, dlq
from tests.integration.alerts_service.test_alerts_service import facts_for
from tests.support import Proc, alert_raised, drain, free_port, isolated_env, uvicorn_args, wait_for

pytestmark = pytest.mark.integration


class Forwarder:
    """Holds a loopback port from the start (bound, not listening: connections are refused, as with a
    broker down) and, once ``open``, pipes each connection to ``target`` until stopped.

    Holding the port the whole time matters: a port only picked free and left unbound can be taken
    meanwhile by another process, or as the local end of one of the service's own reconnect attempts
    (a TCP self-connect that looks like a reachable broker) — both seen only on a loaded machine.
    """

    def __init__(self, target: str) -> None:
        host, _, tport = target.split(",")[0].rpartition(":")
        self.target = (host or "127.0.0.1", int(tport))
        self.server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.server.bind(("127.0.0.1", 0))
        self.port: int = self.server.getsockname()[1]
        self.conns: list[socket.socket] = []

    def open(self) -> None:
        """The outage ends."""
        self.server.listen()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        self.server.close()
        for c in self.conns:
            c.close()


def topic_ready(env: dict[str, str], topic: str, partitions: int) -> bool:
    """Every partition of the freshly created ``topic`` has a leader in a fresh client's metadata.

    A consumer group joined before the broker serves a new topic's metadata gets no partitions and
    does not rebalance until its next metadata refresh (minutes): seen as "No partition metadata"
    in the service's log and an empty read in this test, on a loaded machine.
    """
    c = KafkaConsumer(bootstrap_servers=env["CENTINELA_KAFKA_BOOTSTRAP"])
    try:
        c.topics()  # a metadata request now, not the cache
        found = c.partitions_for_topic(topic)
        cluster = c._client.cluster
        return len(found) == partitions and all(
            cluster.leader_for_partition(TopicPartition(topic, p)) not in (None, -1) for p in found
        )
    finally:
        c.close()


@contextmanager
def reader(env: dict[str, str], topic: str) -> Iterator[KafkaConsumer]:
    """Every partition of ``topic`` from its beginning, assigned by hand: no group to join, nothing to wait for."""
    c = KafkaConsumer(bootstrap_servers=env["CENTINELA_KAFKA_BOOTSTRAP"], enable_auto_commit=False)
    try:
        name = env["CENTINELA_TOPIC_PREFIX"] + topic
        parts = [TopicPartition(name, p) for p in sorted(c.partitions_for_topic(name))]
        assert parts, f"no partitions for {name}"
        c.assign(parts)
        c.seek_to_beginning(*parts)
        yield c
    finally:
        c.close()


def raised(advocate: str, org: str) -> AlertRaised:
    return alert_raised(advocate=advocate, org=org)


@pytest.fixture
def gate(stack_env: dict[str, str]) -> Iterator[Forwarder]:
    forwarder = Forwarder(stack_env["CENTINELA_KAFKA_BOOTSTRAP"])
    try:
        yield forwarder
    finally:
        forwarder.stop()


def test_service_starts_and_acknowledges_while_kafka_is_down(
    stack_env: dict[str, str], db_name: Callable[[str], str], log_dir: Path, procs: list[Proc], gate: Forwarder
) -> None:
    kafka_port, port = gate.port, free_port()
    db = db_name("alerts_outage")
    own = isolated_env(stack_env)  # topics of this test only (created on the real broker)
    partitions = int(own.get("CENTINELA_PARTITIONS", "3"))
    for topic in (ALERTS, dlq(ALERTS)):
        name = own["CENTINELA_TOPIC_PREFIX"] + topic
        wait_for(partial(topic_ready, own, name, partitions), timeout=60, what=f"metadata of {name}")
    env = {
        **own,
        "CENTINELA_KAFKA_BOOTSTRAP": f"127.0.0.1:{kafka_port}",
        "CENTINELA_MONGO_DB": db,
        # its own group: it must not take partitions from the module's main alerts service
        "CENTINELA_ALERTS_CONSUMER_GROUP": f"alerts-outage-{uuid.uuid4().hex[:8]}",
        "CENTINELA_ESCALATION_TICK_SECONDS": "0.5",
    }
    proc = Proc("alerts-outage", uvicorn_args("services.alerts.main:app", port), env, log_dir, port=port)
    procs.append(proc)
    # start-up does not wait for the broker (building a producer alone blocks 30 s); the bound is for the
    # interpreter's imports on a loaded machine, well under the 30 s a wait for the broker would add
    proc.wait_ready("/healthz", timeout=25)
    ready = httpx.get(proc.url + "/readyz", timeout=5)
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"kafka": "unreachable", "mongodb": "ok", "consumer:alerts": "ok"}

    # writes keep working: the acknowledgement waits in the alert's outbox
    adv, org = f"adv-{uuid.uuid4().hex[:6]}", f"org-{uuid.uuid4().hex[:6]}"
    settings = AlertsSettings(mongo_uri=env["CENTINELA_MONGO_URI"])
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongo_uri, tz_aware=True)
    try:
        down = raised(adv, org)
        assert AlertRepository(client[db]["alerts"]).ingest_raised(down, str(uuid.uuid4()), datetime.now(UTC))
        token = {"Authorization": f"Bearer {mint(settings, sub=adv, roles=['legal_advocate'], org=org)}"}
        acked = httpx.post(f"{proc.url}/v1/alerts/{down.alert_id}/ack", headers=token, json={}, timeout=10)
        assert acked.status_code == 200, acked.text
        stored = client[db]["alerts"].find_one({"_id": down.alert_id})
        assert stored is not None and len(stored["outbox"]) == 1
    finally:
        client.close()

    gate.open()
    try:
        # the consumer reconnects with a backoff of up to 30 s, and is "stuck" once the outage passed 30 s
        # deadlines are upper bounds on a loaded machine, not waits: each poll returns as soon as it holds
        wait_for(lambda: httpx.get(proc.url + "/readyz", timeout=5).status_code == 200, timeout=120, what="ready")
        # the relay connected and published the acknowledgement written during the outage
        with reader(own, ALERTS) as c:
            records = drain(c, lambda rs: bool(facts_for(rs, down.alert_id, "acknowledged")), timeout=120)
        assert facts_for(records, down.alert_id, "acknowledged")[0].payload.by == adv
        # and the consumer, started late, stores new alerts
        later = raised(adv, org)
        real = AlertsSettings(
            kafka_bootstrap=own["CENTINELA_KAFKA_BOOTSTRAP"], topic_prefix=own["CENTINELA_TOPIC_PREFIX"]
        )
        producer = Producer(real, client_id="alerts-outage-test")
        try:
            producer.publish(ALERTS, new_event(later)).get(timeout=30)
        finally:
            producer.close()

        def stored_later() -> bool:
            r = httpx.get(f"{proc.url}/v1/alerts/{later.alert_id}", headers=token, timeout=5)
            return r.status_code == 200

        wait_for(stored_later, timeout=120, what="alert consumed after the outage")
    finally:
        proc.stop()
