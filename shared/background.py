"""A background loop on a daemon thread: the outbox relay, the alerts delivery worker and escalator,
the legal stage gauges.

A subclass implements ``step()``, which does one pass and returns how many seconds to wait before
the next (0: go again at once). ``notify()`` cuts a wait short; ``stop()`` ends the loop after the
current pass and joins the thread. ``step`` handles its own errors: whatever it lets escape would
end the thread.
"""

from __future__ import annotations

import threading


class BackgroundLoop:
    thread_name = "background"
    stop_timeout = 10.0

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def step(self) -> float:
        raise NotImplementedError

    def notify(self) -> None:
        """Run the next pass now instead of at the end of the current wait."""
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.stop_timeout if timeout is None else timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            delay = self.step()
            if delay > 0:
                self._wake.wait(delay)
                self._wake.clear()
