"""Bus smoke test on the real broker: shared producer -> faust agent (separate process) and the
shared kafka-python consumer (shared.consumer.PartitionedConsumer); poison goes to the DLQ with its
reason and the consumer keeps going."""

from __future__ import annotations

import json
import sys
import threading
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from shared.consumer import PartitionedConsumer, decode_event
from shared.events import Event, decode, encode, key_for, new_event
from shared.events.case import CaseRegistered, RiskFlagged
from shared.events.legal import HearingPostponed
from shared.kafka import Producer, dlq_headers
from shared.settings import CommonSettings
from shared.topics import CASE_EVENTS, COURT_UPDATES, dlq
from tests.support import Proc, consumer, drain, free_port, isolated_env, wait_for

pytestmark = pytest.mark.e2e

NOW = datetime(2025, 8, 1, 10, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def stack_env(stack_env: dict[str, str]) -> dict[str, str]:
    """A private topic namespace: services started by other tests of the session consume the
    session's topics and would dead-letter this module's poison messages too."""
    return isolated_env(stack_env)


def _settings(env: dict[str, str]) -> CommonSettings:
    return CommonSettings(
        kafka_bootstrap=env["CENTINELA_KAFKA_BOOTSTRAP"],
        topic_prefix=env["CENTINELA_TOPIC_PREFIX"],
        partitions=int(env["CENTINELA_PARTITIONS"]),
        service_name="bus-smoke",
    )


@pytest.fixture(scope="module")
def settings(stack_env: dict[str, str]) -> CommonSettings:
    return _settings(stack_env)


@pytest.fixture(scope="module")
def producer(settings: CommonSettings) -> Any:
    p = Producer(settings, client_id="bus-smoke-test")
    yield p
    p.close()


def unknown_type_event(case_id: str) -> bytes:
    doc = json.loads(
        encode(new_event(RiskFlagged(case_id=case_id, flag_id="f", kind="other", severity="low", raised_at=NOW)))
    )
    doc["type"] = "centinela.nothing.happened"
    return json.dumps(doc).encode()


# ---------------------------------------------------------------- faust agent, separate process


@pytest.fixture(scope="module")
def agent(
    stack_env: dict[str, str], log_dir: Path, procs: list[Proc], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Proc, Path]:
    tmp = tmp_path_factory.mktemp("bus-agent")
    out = tmp / "decoded.jsonl"
    port = free_port()
    env = {**stack_env, "BUS_AGENT_OUT": str(out), "BUS_AGENT_DATADIR": str(tmp / "faust-data")}
    args = [sys.executable, "-m", "tests.e2e.bus_agent", "worker", "--loglevel", "warn"]
    args += ["--web-port", str(port), "--web-bind", "127.0.0.1", "--web-host", "127.0.0.1"]
    proc = Proc("bus-agent", args, env, log_dir, port)
    procs.append(proc)
    return proc, out


def read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_faust_agent_decodes_shared_producer_events_and_dead_letters_poison(
    agent: tuple[Proc, Path], producer: Producer, settings: CommonSettings, stack_env: dict[str, str]
) -> None:
    proc, out = agent
    case_id = f"case-{uuid.uuid4().hex[:10]}"
    registered = CaseRegistered(
        case_id=case_id,
        org_id="org-1",
        advocate_id="adv-7",
        exploitation_types=["SexualExploitation"],
        rescue_date=NOW.date(),
        person_ref="pr_0123abcd",
        consent_for_services=True,
        registered_at=NOW,
    )
    flagged = RiskFlagged(case_id=case_id, flag_id="flag-1", kind="threat_received", severity="high", raised_at=NOW)
    first = new_event(registered)
    last = new_event(flagged)

    # one key, so one partition: the agent sees them in this order
    producer.publish(CASE_EVENTS, first).get(timeout=30)
    not_json = producer.send_raw(CASE_EVENTS, key_for(case_id), b"{not json at all").get(timeout=30)
    unknown = producer.send_raw(CASE_EVENTS, key_for(case_id), unknown_type_event(case_id)).get(timeout=30)
    producer.publish(CASE_EVENTS, last).get(timeout=30)

    def decoded_last() -> bool:
        # an exited agent ends the wait at once (asserted right below) instead of timing out
        return not proc.alive() or any(line.get("id") == last.id for line in read_lines(out))

    wait_for(decoded_last, timeout=120, interval=0.3, what="the agent to decode the event after the poison")
    assert proc.alive(), f"agent exited:\n{proc.log_text()[-3000:]}"
    lines = read_lines(out)

    by_id = {line["id"]: line for line in lines if "id" in line}
    got_first = by_id[first.id]
    assert got_first["type"] == "centinela.case.registered" and got_first["key"] == case_id
    assert CaseRegistered.model_validate(got_first["payload"]) == registered
    assert RiskFlagged.model_validate(by_id[last.id]["payload"]) == flagged

    dead = [line for line in lines if line.get("dead_lettered") and line["partition"] == not_json.partition]
    dead_offsets = {line["offset"] for line in dead}
    assert {not_json.offset, unknown.offset} <= dead_offsets
    assert got_first["offset"] < not_json.offset < unknown.offset < by_id[last.id]["offset"]

    with consumer(stack_env, dlq(CASE_EVENTS)) as c:
        records = drain(c, lambda rs: len([r for r in rs if r.key == key_for(case_id)]) >= 2, timeout=30)
    mine = sorted((r for r in records if r.key == key_for(case_id)), key=lambda r: r.offset)
    headers = [dlq_headers(r.headers) for r in mine]
    assert mine[0].value == b"{not json at all"
    assert headers[0]["dlq.reason"].startswith("not JSON")
    assert headers[1]["dlq.reason"] == "unknown event type 'centinela.nothing.happened'"
    assert [h["dlq.source.offset"] for h in headers] == [str(not_json.offset), str(unknown.offset)]
    assert all(h["dlq.source.topic"] == settings.topic(CASE_EVENTS) for h in headers)
    assert all(h["dlq.source.partition"] == str(not_json.partition) for h in headers)
    assert proc.alive()


# ---------------------------------------------------------------- shared PartitionedConsumer


class Collector:
    def __init__(self, fail_once: str | None = None) -> None:
        self.events: list[Event] = []
        self.fail_once = fail_once
        self.failures = 0
        self._lock = threading.Lock()

    def handler(self, record: Any, event: Event) -> None:
        if event.id == self.fail_once:
            self.fail_once = None
            self.failures += 1
            raise ConnectionError("database briefly down")  # transient: retried, never dead-lettered
        with self._lock:
            self.events.append(event)

    def ids(self) -> list[str]:
        with self._lock:
            return [e.id for e in self.events]


def loop_for(settings: CommonSettings, group: str, collector: Collector) -> PartitionedConsumer[Event]:
    return PartitionedConsumer(
        settings, COURT_UPDATES, group, decode_event, collector.handler, first_backoff=0.1, retry_window=0.5
    )


def postponed(case_id: str, n: int) -> HearingPostponed:
    return HearingPostponed(
        case_id=case_id,
        source_system="sgf",
        update_id=f"u-{n}",
        occurred_at=NOW,
        stage="trial",
        hearing_id="h-1",
        reason="judge unavailable",
        postponements_in_stage=n,
    )


def test_consumer_dead_letters_poison_keeps_going_and_commits(
    producer: Producer, settings: CommonSettings, stack_env: dict[str, str]
) -> None:
    case_id = f"case-{uuid.uuid4().hex[:10]}"
    group = f"bus-smoke-loop-{uuid.uuid4().hex[:8]}"
    good1, good2 = new_event(postponed(case_id, 1)), new_event(postponed(case_id, 2))
    producer.publish(COURT_UPDATES, good1).get(timeout=30)
    poison = producer.send_raw(COURT_UPDATES, key_for(case_id), b"\x00\x01 binary garbage").get(timeout=30)
    producer.publish(COURT_UPDATES, good2).get(timeout=30)

    def mine(col: Collector) -> list[str]:
        return [i for i in col.ids() if i in {good1.id, good2.id}]

    first = Collector(fail_once=good2.id)
    loop = loop_for(settings, group, first)
    loop.start()
    try:
        wait_for(lambda: len(mine(first)) == 2, timeout=60, what="both good events processed")
    finally:
        loop.stop()
    assert mine(first) == [good1.id, good2.id]  # in order, the transient failure retried, not skipped
    assert [e.payload for e in first.events if e.id in (good1.id, good2.id)] == [
        payload_of(good1),
        payload_of(good2),
    ]
    # the poison dead-lettered once; the transient failure made the handler run again (a retry)
    assert loop.dead_lettered == 1 and first.failures == 1

    with consumer(stack_env, dlq(COURT_UPDATES)) as c:
        records = drain(c, lambda rs: any(r.key == key_for(case_id) for r in rs), timeout=30)
    (dead,) = [r for r in records if r.key == key_for(case_id)]
    h = dlq_headers(dead.headers)
    assert dead.value == b"\x00\x01 binary garbage"
    assert h["dlq.reason"].startswith("not JSON")
    assert (h["dlq.source.partition"], h["dlq.source.offset"]) == (str(poison.partition), str(poison.offset))
    assert h["dlq.source.topic"] == settings.topic(COURT_UPDATES)

    # a restarted loop of the same group resumes after the committed offsets
    good3 = new_event(postponed(case_id, 3))
    second = Collector()
    restarted = loop_for(settings, group, second)
    restarted.start()
    try:
        producer.publish(COURT_UPDATES, good3).get(timeout=30)
        wait_for(lambda: good3.id in second.ids(), timeout=60, what="the restarted loop to process a new event")
    finally:
        restarted.stop()
    assert [i for i in second.ids() if i in {good1.id, good2.id, good3.id}] == [good3.id]
    assert restarted.dead_lettered == 0


def payload_of(envelope: Any) -> Any:
    return decode(encode(envelope)).payload
