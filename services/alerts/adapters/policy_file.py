"""The escalation times in force: the ``escalation`` section of the one policy file the processor
also reads, loaded by the same code (``services.processor.domain.policy``): one parser, one set of
rules, no defaults of its own. A severity without a time never escalates. The file is re-checked
at most once per second while the service runs; a change that does not validate leaves the
previous policy in force (logged as a warning), so tuning needs no restart.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from services.processor.domain.policy import Policy, PolicyWatcher

log = logging.getLogger(__name__)

_ROOT = Path(__file__).resolve().parents[3]


def resolve_policy_path(path: str | os.PathLike[str]) -> Path:
    """A relative path is taken from the working directory, else from the repository root (as the processor does)."""
    p = Path(path)
    return p if p.is_absolute() or p.exists() else _ROOT / p


class EscalationPolicy:
    """The policy in force for escalation; wraps the processor's ``PolicyWatcher``.

    Construction raises ``PolicyError`` (its message names the file and the bad field) when the
    file is missing or invalid: the service refuses to start rather than escalate on guesses.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        check_every: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.watcher = PolicyWatcher(resolve_policy_path(path))
        self.check_every = check_every
        self._monotonic = monotonic
        self._next_check = monotonic() + check_every
        self._failures_seen = 0
        self._lock = threading.Lock()

    @property
    def path(self) -> Path:
        return self.watcher.path

    def current(self) -> Policy:
        """The policy in force, after a reload check if the last one is over ``check_every`` seconds old."""
        with self._lock:
            now = self._monotonic()
            if now >= self._next_check:
                self._next_check = now + self.check_every
                self._check()
            return self.watcher.policy

    def _check(self) -> None:
        if self.watcher.check():
            log.warning("alert policy reloaded from %s: %s", self.watcher.path, self.watcher.policy.summary())
        elif self.watcher.failures != self._failures_seen:  # one warning per refused change, not per check
            self._failures_seen = self.watcher.failures
            # the message names the file and field only, never a value: the policy file holds no case data
            log.warning("alert policy change refused, previous policy stays in force: %s", self.watcher.last_error)

    def describe(self) -> dict[str, Any]:
        """The effective policy in force (defaults plus the file's overrides, each rule naming the keys the
        file set), for admins: rule ids, severities and thresholds, no case data."""
        return self.current().describe()

    def after(self, severity: str) -> timedelta | None:
        """How long an unacknowledged alert of ``severity`` waits per level (None: it never escalates)."""
        return self.current().escalation_after(severity)
