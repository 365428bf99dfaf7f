"""Poison versus transient in the processor's agent, and when it says it is stuck (services.processor.retry)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

from services.processor.retry import Progress, is_transient, process, reason_of
from shared.errors import InvalidInput, StorageUnavailable


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


class Harness:
    def __init__(self, failures: list[BaseException], dlq_failures: list[BaseException] | None = None) -> None:
        self.failures = list(failures)
        self.dlq_failures = list(dlq_failures or [])
        self.handled = 0
        self.dead: list[tuple[Any, str]] = []
        self.clock = Clock()
        self.progress = Progress(stuck_after=30, clock=self.clock)
        self.stuck_seen: list[str | None] = []

    async def handle(self, event: Any) -> None:
        self.handled += 1
        if self.failures:
            raise self.failures.pop(0)

    async def dead_letter(self, event: Any, reason: str) -> None:
        if self.dlq_failures:
            raise self.dlq_failures.pop(0)
        self.dead.append((event, reason))

    async def sleep(self, seconds: float) -> None:
        self.clock.t += seconds
        self.stuck_seen.append(self.progress.stuck)

    def run(self, max_attempts: int = 3) -> str:
        return asyncio.run(
            process(
                "record",
                "case-events",
                self.handle,
                self.dead_letter,
                self.progress,
                max_attempts=max_attempts,
                sleep=self.sleep,
            )
        )


def test_classification() -> None:
    assert is_transient(KafkaConnectionError())
    assert is_transient(TimeoutError())
    assert is_transient(StorageUnavailable())
    assert not is_transient(MessageSizeTooLargeError())  # the record itself is the problem
    assert not is_transient(OverflowError("date value out of range"))
    assert not is_transient(InvalidInput("occurred_at out of range", field="occurred_at"))
    assert reason_of(OverflowError("9999-12-31 ...")) == "processing failed: OverflowError"
    assert reason_of(InvalidInput("x", reason="date_out_of_range")) == "processing failed: date_out_of_range"


def test_poison_goes_to_the_dlq_after_a_few_attempts_with_its_reason() -> None:
    h = Harness([OverflowError("date value out of range")] * 10)
    assert h.run(max_attempts=3) == "dead-lettered"
    assert h.handled == 3
    assert h.dead == [("record", "processing failed: OverflowError")]
    assert h.progress.stuck is None


def test_transient_failure_is_retried_until_it_passes_and_never_dead_lettered() -> None:
    h = Harness([KafkaConnectionError()] * 12)  # ~ a minute of backoff with the fake clock
    assert h.run(max_attempts=3) == "ok"
    assert h.handled == 13 and h.dead == []
    assert any(s and "KafkaConnectionError" in s for s in h.stuck_seen), "a long outage must say it is stuck"
    assert h.stuck_seen[0] is None  # not at the first blink
    assert h.progress.stuck is None  # moving again


def test_a_dead_letter_send_that_fails_on_the_broker_is_retried() -> None:
    h = Harness([ValueError("bad")] * 3, dlq_failures=[KafkaConnectionError(), KafkaConnectionError()])
    assert h.run(max_attempts=3) == "dead-lettered"
    assert h.dead == [("record", "processing failed: ValueError")]


def test_waiting_input_and_no_progress_is_stuck() -> None:
    clock = Clock()
    p = Progress(stuck_after=30, clock=clock)
    p.observe_lag(5)
    assert p.stuck is None
    clock.t += 31
    p.observe_lag(5)
    assert p.stuck is not None and "5 records waiting" in p.stuck
    p.progressed()
    assert p.stuck is None
    clock.t += 100
    p.observe_lag(0)  # idle with nothing to do is not stuck
    assert p.stuck is None
