"""The topic catalogue and an idempotent creator.

Every case topic has the same partition count and is keyed by the raw UTF-8 ``case_id``, so
one case's events stay in order and faust tables line up with their source topics.

    python -m shared.topics ensure [--timeout 60]
    python -m shared.topics list
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

from shared.settings import CommonSettings

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    retention_ms: int
    description: str
    cleanup_policy: str = "delete"


CASE_EVENTS = "case-events"
COURT_UPDATES = "court-updates"
LEGAL_EVENTS = "legal-events"
ALERTS = "alerts"


def dlq(name: str) -> str:
    return f"{name}.dlq"


CATALOGUE: tuple[TopicSpec, ...] = (
    TopicSpec(CASE_EVENTS, "case_id", -1, "facts from intake: cases, services, sessions, risk flags"),
    TopicSpec(COURT_UPDATES, "case_id", 30 * DAY_MS, "raw court/prosecutor updates published by integrators"),
    TopicSpec(LEGAL_EVENTS, "case_id", -1, "normalised legal facts from the legal service"),
    TopicSpec(ALERTS, "case_id", -1, "alert lifecycle: raised, escalated, acknowledged, resolved"),
    TopicSpec(dlq(CASE_EVENTS), "case_id", 90 * DAY_MS, "case-events that could not be processed, with reason"),
    TopicSpec(dlq(COURT_UPDATES), "case_id", 90 * DAY_MS, "invalid court updates, with reason, partition, offset"),
    TopicSpec(dlq(LEGAL_EVENTS), "case_id", 90 * DAY_MS, "legal-events that could not be processed, with reason"),
    TopicSpec(dlq(ALERTS), "case_id", 90 * DAY_MS, "alerts that could not be processed, with reason"),
)


def ensure_topics(settings: CommonSettings, timeout: float = 60.0) -> list[str]:
    """Create any missing catalogue topic; return the names created. Waits for the broker."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import KafkaError, TopicAlreadyExistsError

    from shared.kafka import kafka_python_security

    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(
                bootstrap_servers=settings.kafka_bootstrap,
                client_id="centinela-topics",
                request_timeout_ms=10000,
                **kafka_python_security(settings),
            )
            break
        except KafkaError as exc:  # broker still starting
            if time.monotonic() > deadline:
                raise RuntimeError(f"Kafka at {settings.kafka_bootstrap} not reachable: {exc}") from exc
            time.sleep(0.5)
    try:
        existing = set(admin.list_topics())
        created = []
        for spec in CATALOGUE:
            name = settings.topic(spec.name)
            if name in existing:
                continue
            topic = NewTopic(
                name,
                num_partitions=settings.partitions,
                replication_factor=settings.replication_factor,
                topic_configs={"retention.ms": str(spec.retention_ms), "cleanup.policy": spec.cleanup_policy},
            )
            try:
                admin.create_topics([topic])
                created.append(name)
            except TopicAlreadyExistsError:
                pass
        _wait_for_leaders(admin, [settings.topic(s.name) for s in CATALOGUE], deadline)
        return created
    finally:
        admin.close()


def _wait_for_leaders(admin: object, names: list[str], deadline: float) -> None:
    while True:
        described = admin.describe_topics(names)  # type: ignore[attr-defined]
        ready = all(
            t.get("error_code", 0) == 0
            and t["partitions"]
            and all(p.get("leader_id", -1) >= 0 for p in t["partitions"])
            for t in described
        )
        if ready or time.monotonic() > deadline:
            return
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shared.topics")
    sub = parser.add_subparsers(dest="cmd", required=True)
    ens = sub.add_parser("ensure", help="create missing topics")
    ens.add_argument("--timeout", type=float, default=60.0)
    sub.add_parser("list", help="print the catalogue")
    args = parser.parse_args(argv)
    settings = CommonSettings()
    if args.cmd == "list":
        for spec in CATALOGUE:
            print(f"{settings.topic(spec.name):28} key={spec.key} retention_ms={spec.retention_ms}  {spec.description}")
        return 0
    try:
        created = ensure_topics(settings, args.timeout)
    except RuntimeError as exc:
        print(f"topics: error: {exc}", file=sys.stderr)
        return 1
    print(
        f"topics: {len(created)} created, {len(CATALOGUE) - len(created)} already present "
        f"({settings.partitions} partitions each)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
