"""One pipeline for both ways in (REST and Kafka): validate, place in the timeline, store with events."""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from services.legal import metrics as m
from services.legal.domain.deadlines import DeadlinePolicy
from services.legal.domain.timeline import IllegalUpdate, Recorded, integrate, replay
from services.legal.domain.updates import CourtUpdate, InvalidUpdate, parse_update
from services.legal.facts import envelopes, facts_for
from services.legal.settings import LegalSettings
from services.legal.store.timelines import Loaded, TimelineRepository
from shared.topics import LEGAL_EVENTS

log = logging.getLogger(__name__)

Status = Literal["accepted", "duplicate", "rejected"]
Path = Literal["rest", "kafka"]


@dataclass(frozen=True)
class Outcome:
    status: Status
    reason: str | None = None


class WriteContention(RuntimeError):
    """Too many concurrent writers on one case: transient, the caller retries."""


class LegalPipeline:
    def __init__(
        self,
        settings: LegalSettings,
        repo: TimelineRepository,
        policy: DeadlinePolicy,
        notify: Callable[[], None] = lambda: None,
        *,
        max_attempts: int = 20,
    ) -> None:
        self.settings = settings
        self.repo = repo
        self.policy = policy
        self.notify = notify
        self.max_attempts = max_attempts
        # One case at a time within this process (REST threads and the Kafka consumer): no wasted
        # retries and no stale stage projection. Other processes are fenced by the log's (case_id, seq).
        self._locks = [threading.Lock() for _ in range(64)]

    def submit_raw(self, raw: Any, path: Path) -> Outcome:
        """Validate the JSON value and submit it; format errors are a rejection, never an exception."""
        return self.submit_many([raw], path)[0]

    def submit(self, update: CourtUpdate, path: Path) -> Outcome:
        return self.submit_many([update], path)[0]

    def submit_many(self, items: list[Any], path: Path) -> list[Outcome]:
        """Place each item in order; one outcome per item.

        A case's history is loaded once per call and its cache document written once at the end,
        so a batch replaying hundreds of one case's updates stays linear. Correctness never rests on
        that in-memory history: every insert is fenced by the log's ``<case_id>#<seq>``.
        """
        histories: dict[str, Loaded] = {}
        outcomes: list[Outcome] = []
        try:
            for raw in items:
                start = time.perf_counter()
                try:
                    outcome = self._one(raw, path, histories)
                except WriteContention:
                    if path == "kafka":
                        raise  # transient: the consumer retries the record without committing it
                    outcome = Outcome("rejected", "case_id: too many concurrent writes on this case; send it again")
                m.UPDATES.labels(path, outcome.status).inc()
                m.LATENCY.labels(path).observe(time.perf_counter() - start)
                outcomes.append(outcome)
        finally:
            for loaded in histories.values():
                if loaded.stale_cache:
                    with self._lock(loaded.case_id):
                        self.repo.write_timeline(loaded, replay(loaded.records, self.policy))
        return outcomes

    def _lock(self, case_id: str) -> threading.Lock:
        return self._locks[zlib.crc32(case_id.encode()) % len(self._locks)]

    def _one(self, raw: Any, path: Path, histories: dict[str, Loaded]) -> Outcome:
        if isinstance(raw, BaseModel):
            update: CourtUpdate = raw  # type: ignore[assignment]
        else:
            try:
                update = parse_update(raw)
            except InvalidUpdate as exc:
                return Outcome("rejected", exc.reason)
        now = datetime.now(UTC)
        if update.occurred_at > now + timedelta(seconds=self.settings.legal_max_future_skew_seconds):
            return Outcome("rejected", "occurred_at: in the future")
        if path == "kafka" and self.settings.legal_kafka_sources:
            if update.source_system not in self.settings.legal_kafka_sources:
                return Outcome("rejected", "source_system: not allowed to publish on court-updates")
        received_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
        new = Recorded(update=update, received_at=received_at, path=path)
        case_id = update.case_id
        with self._lock(case_id):
            loaded = histories.get(case_id)
            loaded = self.repo.load(case_id) if loaded is None else self.repo.catch_up(loaded)
            outcome, histories[case_id] = self._place(new, path, loaded)
        return outcome

    def _place(self, new: Recorded, path: Path, loaded: Loaded) -> tuple[Outcome, Loaded]:
        update = new.update
        for _ in range(self.max_attempts):
            if new.key in loaded.keys:
                return Outcome("duplicate"), loaded
            try:
                result = integrate(loaded.records, new, self.policy)
            except IllegalUpdate as exc:
                return Outcome("rejected", exc.reason), loaded
            events = envelopes(facts_for(update, result))
            saved = self.repo.save(loaded, new, events, LEGAL_EVENTS)
            if saved == "saved":
                self.notify()
                log.info("court update accepted", extra={"case_id": update.case_id, "topic": path})
                after = Loaded(loaded.case_id, [*loaded.records, new], loaded.next_seq + 1, stale_cache=True)
                return Outcome("accepted"), after
            if saved == "other_case":
                reason = "update_id: already used by this source_system for another case"
                return Outcome("rejected", reason), loaded
            loaded = self.repo.catch_up(loaded)  # "conflict": someone appended first
        raise WriteContention("too many concurrent writes on one case")
