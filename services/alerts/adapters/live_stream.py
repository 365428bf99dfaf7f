"""In-process fan-out of alert changes to live-stream (SSE) clients.

Producers (the Kafka consumer thread, request handlers, the escalation loop) call
:meth:`Broadcaster.publish` from any thread; each subscriber owns an asyncio queue on its
event loop. A client too slow to keep up is disconnected (it reconnects and re-reads the inbox)
rather than letting its queue grow without bound.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

OVERFLOW = object()


@dataclass(eq=False)
class Subscriber:
    loop: asyncio.AbstractEventLoop
    accept: Callable[[dict[str, Any]], bool]
    queue: asyncio.Queue[Any] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    overflowed: bool = False

    def offer(self, item: Any) -> None:
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True
            # make room for the marker so the stream ends promptly
            self.queue.get_nowait()
            self.queue.put_nowait(OVERFLOW)


class Broadcaster:
    def __init__(self) -> None:
        self._subs: set[Subscriber] = set()
        self._lock = threading.Lock()

    def subscribe(self, loop: asyncio.AbstractEventLoop, accept: Callable[[dict[str, Any]], bool]) -> Subscriber:
        sub = Subscriber(loop, accept, asyncio.Queue(maxsize=1000))
        with self._lock:
            self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subs.discard(sub)

    def __len__(self) -> int:
        return len(self._subs)

    def publish(self, change: str, alert: dict[str, Any]) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            try:
                if not sub.accept(alert):
                    continue
                sub.loop.call_soon_threadsafe(sub.offer, {"change": change, "alert": alert})
            except RuntimeError:  # its event loop is gone
                self.unsubscribe(sub)
