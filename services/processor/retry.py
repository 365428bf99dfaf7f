"""Poison versus transient for the processor's agent, and whether it is stuck (issue 10 items 2-3).

* A **transient** failure (the broker cannot be reached, a send timed out, a
  :class:`shared.errors.Transient`) is retried with backoff for as long as it lasts: dead-lettering
  a good record because the broker blinked would lose it.
* Anything else that keeps failing (an out-of-range value, a bug that repeats) is **poison**: after
  ``max_attempts`` it goes to ``<topic>.dlq`` with the reason, and the partition moves on.
* While one record has been failing transiently for ``stuck_after`` seconds, or input waits and
  nothing has been processed for that long, :attr:`Progress.stuck` says why (``/readyz`` answers
  503 with it, ``centinela_processor_consumer_stuck`` is 1).

No faust here: the agent passes its handler and its dead-letter function, unit tests fake both.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger("centinela.processor")


def is_transient(exc: BaseException) -> bool:
    """Worth retrying for as long as it takes: the failure is outside the record."""
    if getattr(exc, "transient", False):  # shared.errors.Transient and subclasses
        return True
    if isinstance(exc, asyncio.TimeoutError | ConnectionError):
        return True
    try:
        from aiokafka.errors import KafkaError
    except ImportError:  # pragma: no cover - aiokafka is a faust dependency
        return False
    if isinstance(exc, KafkaError):
        return bool(getattr(exc, "retriable", False)) or type(exc).__name__ in _TRANSIENT_KAFKA
    return type(exc).__name__ in ("ProducerSendError",)


# aiokafka errors raised while the broker is away that do not set ``retriable``
_TRANSIENT_KAFKA = frozenset({"KafkaConnectionError", "KafkaTimeoutError", "NodeNotReadyError", "RequestTimedOutError"})


def reason_of(exc: BaseException) -> str:
    """A machine reason for a DLQ header: the error's own ``reason`` or its type, never its message
    (messages can echo input values)."""
    reason = getattr(exc, "reason", None)
    return f"processing failed: {reason if isinstance(reason, str) and reason else type(exc).__name__}"


class Progress:
    """Is the agent moving? Fed by :func:`process` and by the timer's lag measurement."""

    def __init__(self, stuck_after: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.stuck_after = stuck_after
        self.clock = clock
        self.last_progress = clock()
        self._failing_since: float | None = None
        self._failing_reason = ""
        self._idle_reason = ""

    def progressed(self) -> None:
        self.last_progress = self.clock()
        self._failing_since = None
        self._failing_reason = ""
        self._idle_reason = ""

    def failing(self, topic: str, exc: BaseException) -> None:
        if self._failing_since is None:
            self._failing_since = self.clock()
        self._failing_reason = f"{topic}: {type(exc).__name__}"

    def observe_lag(self, lag: int) -> None:
        """Input is waiting (``lag`` > 0) but nothing was processed for ``stuck_after``: stuck."""
        idle = self.clock() - self.last_progress
        if lag > 0 and idle >= self.stuck_after:
            self._idle_reason = f"no input processed for {idle:.0f}s with {lag} records waiting"
        elif lag == 0:
            self.last_progress = self.clock()
            self._idle_reason = ""

    @property
    def stuck(self) -> str | None:
        """Why the agent cannot progress, or None."""
        if self._failing_since is not None and self.clock() - self._failing_since >= self.stuck_after:
            return f"retrying {self._failing_reason} for {self.clock() - self._failing_since:.0f}s"
        return self._idle_reason or None


async def process(
    event: Any,
    topic: str,
    handle: Callable[[Any], Awaitable[None]],
    dead_letter: Callable[[Any, str], Awaitable[None]],
    progress: Progress,
    *,
    max_attempts: int = 3,
    backoff: float = 0.2,
    max_backoff: float = 30.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> str:
    """Handle one input record; returns ``"ok"`` or ``"dead-lettered"``. Never raises but on cancel."""
    attempt = 0
    delay = backoff
    while True:
        try:
            await handle(event)
            progress.progressed()
            return "ok"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if is_transient(exc):
                progress.failing(topic, exc)
                log.warning(
                    "processing failed on something outside the record (%s); retrying in %.1fs",
                    type(exc).__name__,
                    delay,
                    extra={"topic": topic, "exc": type(exc).__name__, "delay": round(delay, 2)},
                )
                await sleep(delay)
                delay = min(delay * 2, max_backoff)
                continue
            attempt += 1
            log.warning(
                "processing failed (attempt %d/%d): %s",
                attempt,
                max_attempts,
                type(exc).__name__,
                exc_info=True,
                extra={"topic": topic, "exc": type(exc).__name__, "attempt": attempt},
            )
            if attempt < max_attempts:
                await sleep(min(backoff * 2**attempt, max_backoff))
                continue
            reason = reason_of(exc)
            break
    # poison: park it, retrying the dead-letter send itself while the broker is away
    delay = backoff
    while True:
        try:
            await dead_letter(event, reason)
            progress.progressed()
            return "dead-lettered"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            progress.failing(topic, exc)
            log.warning(
                "could not dead-letter a record (%s); retrying",
                type(exc).__name__,
                extra={"topic": topic, "exc": type(exc).__name__},
            )
            await sleep(delay)
            delay = min(delay * 2, max_backoff)
