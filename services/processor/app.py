"""The faust app of the alerts processor: settings, the app object, the policy in force, the clock.

The processor is split by faust building block, as faust's own examples are:

* ``app.py``     — this module: the app, built once from :class:`ProcessorSettings`
* ``topics.py``  — the topics it reads and writes (raw bytes; the shared codec decodes)
* ``tables.py``  — the ``case-state`` table and the per-worker deadline heap rebuilt from it
* ``store.py``   — the table's RocksDB store: states and changelog offsets on disk, per partition
* ``agents.py``  — the one agent that folds events into state and publishes alert facts
* ``timers.py``  — the wall-clock stall detector that turns due deadlines into ticks
* ``web.py``     — the web driver and its only views: ``/metrics``, ``/healthz``, ``/readyz``
* ``transport.py`` — faust's aiokafka driver with the takeover fix

Topology (every topic has ``settings.partitions`` partitions and is keyed by case_id)::

    case-events ─┐
    legal-events ├─► agent `evaluate` ──► table case-state (changelog) ──► alerts
    <ticks> ─────┘        ▲
                          └── timer: pops due deadlines from this worker's heap, sends one tick per case

``python -m services.processor worker`` imports every block (``__main__.py``) and runs the worker.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
from faust.types import TransportT
from faust.types.web import Web as WebT
from mode.utils.objects import cached_property
from mode.utils.queues import FlowControlEvent

from services.processor.domain.policy import DEFAULT_POLICY_FILE, PolicyError, PolicyWatcher
from services.processor.retry import Progress
from services.processor.settings import ProcessorSettings
from services.processor.transport import NotifyingFlowControl, Transport
from shared.config import PROJECT_ROOT, resolve_config_file
from shared.errors import ConfigError
from shared.kafka import faust_credentials
from shared.logging import json_logging_config

log = logging.getLogger("centinela.processor")

settings = ProcessorSettings()


def _broker(bootstrap: str) -> list[str]:
    return [f"kafka://{s.strip()}" for s in bootstrap.split(",")]


def _datadir() -> Path:
    # faust only mkdirs the last level; keep it out of the repo root (gitignored .run/)
    d = Path(settings.processor_datadir)
    d = d if d.is_absolute() else PROJECT_ROOT / d
    d.mkdir(parents=True, exist_ok=True)
    return d


def now() -> datetime:
    """Stalls are absences: always wall-clock time, never stream time."""
    return datetime.now(UTC)


class ProcessorApp(faust.App):
    @cached_property
    def flow_control(self) -> FlowControlEvent:
        # the consumer must hear of every emptied stream buffer (services.processor.transport, point 5)
        return NotifyingFlowControl(on_clear=self._buffers_cleared, loop=self.loop)

    def _buffers_cleared(self) -> None:
        cleared = getattr(self.consumer, "buffers_cleared", None)
        if cleared is not None:
            cleared()

    def _new_transport(self) -> TransportT:
        # faust's aiokafka driver with the rewind fix of services.processor.transport
        return Transport(self.conf.broker_consumer, self)

    def _new_web(self) -> WebT:
        from services.processor.web import Web  # the views module imports this one

        web = Web(self)
        web.configured_host = settings.processor_web_host
        return web


def worker_logging_config() -> dict[str, Any]:
    """JSON lines on stderr, like the APIs (shared.logging: allow-listed extras, exception types only).

    ``merge``: mode's worker folds this into its own set-up instead of replacing it, so the root
    level stays the worker's ``-l/--loglevel`` (faust's default WARN) as before; only the handler,
    and so the format, changes.
    """
    config = json_logging_config()
    config["root"].pop("level", None)
    config["merge"] = True
    return config


def make_app(settings: ProcessorSettings) -> ProcessorApp:
    """The faust app for ``settings``: broker security (CENTINELA_KAFKA_SECURITY_PROTOCOL, _SASL_*,
    _SSL_*) reaches faust's consumer, producer and admin client through ``broker_credentials``."""
    return ProcessorApp(
        settings.topic("centinela-alerts-processor"),
        broker=_broker(settings.kafka_bootstrap),
        broker_credentials=faust_credentials(settings),
        logging_config=worker_logging_config(),
        store="memory://",  # no other table; case-state brings its own RocksDB store (store.py)
        datadir=str(_datadir()),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        web_host=settings.processor_web_host,
        web_bind=settings.processor_web_host,
        producer_acks=-1,
        consumer_auto_offset_reset="earliest",
        broker_session_timeout=settings.processor_session_timeout_seconds,
        # standby copies of the other workers' partitions on this worker's disk (store.py): a takeover
        # reads the changelog from the standby's offset, not from the beginning
        table_standby_replicas=settings.processor_standby_replicas,
    )


app = make_app(settings)


def _watch_policy() -> PolicyWatcher:
    """The one policy loader (the alerts service reads the same file through the same code); a
    changed file is picked up by the timer (timers.py). An unusable file stops the processor before
    it consumes anything: alerting on rules nobody wrote is worse than not starting."""
    try:
        path = resolve_config_file(settings.policy_file, default=DEFAULT_POLICY_FILE, setting="CENTINELA_POLICY_FILE")
        return PolicyWatcher(path)
    except (PolicyError, ConfigError) as exc:
        logging.basicConfig(format="%(levelname)s %(name)s: %(message)s")
        log.error("processor refuses to start: policy file (CENTINELA_POLICY_FILE) unusable: %s", exc)
        raise SystemExit(2) from None


watcher = _watch_policy()

# Is the agent moving? The agent and the timer feed it; /readyz and the stuck gauge read it.
progress = Progress(stuck_after=settings.processor_stuck_after_seconds)
