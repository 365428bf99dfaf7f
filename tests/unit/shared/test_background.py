"""shared.background.BackgroundLoop: the loop under the outbox relay, delivery worker, escalator and stage gauges."""

from __future__ import annotations

import threading

from shared.background import BackgroundLoop
from tests.support import wait_for


class Recorder(BackgroundLoop):
    thread_name = "test-loop"

    def __init__(self, delays: list[float]) -> None:
        super().__init__()
        self.delays = delays
        self.passes = 0
        self.names: set[str] = set()

    def step(self) -> float:
        self.passes += 1
        self.names.add(threading.current_thread().name)
        return self.delays[min(self.passes, len(self.delays)) - 1]


def test_a_zero_delay_runs_the_next_pass_at_once_then_the_loop_waits() -> None:
    loop = Recorder([0, 0, 3600])
    loop.start()
    try:
        wait_for(lambda: loop.passes >= 3, timeout=5, interval=0.01, what="three passes")
        assert loop.passes == 3  # waiting an hour now, not spinning
        assert loop.names == {"test-loop"}
    finally:
        loop.stop(timeout=5)


def test_notify_cuts_the_wait_short() -> None:
    loop = Recorder([3600])
    loop.start()
    try:
        wait_for(lambda: loop.passes == 1, timeout=5, interval=0.01, what="first pass")
        loop.notify()
        wait_for(lambda: loop.passes == 2, timeout=5, interval=0.01, what="a pass after notify")
    finally:
        loop.stop(timeout=5)


def test_stop_ends_a_long_wait_and_joins_the_thread() -> None:
    loop = Recorder([3600])
    loop.start()
    wait_for(lambda: loop.passes == 1, timeout=5, interval=0.01, what="first pass")
    loop.stop(timeout=5)
    assert loop._thread is not None and not loop._thread.is_alive()
    assert loop.passes == 1
