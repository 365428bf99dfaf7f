"""One processing step for one case: fold the event (if any), evaluate every rule, reconcile alerts.

The faust agent is thin glue around :func:`step`; unit tests drive it with a fake clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from services.processor.domain.episodes import quiet_wakeup, reconcile
from services.processor.domain.policy import Policy
from services.processor.domain.rules import evaluate, next_check
from services.processor.domain.state import CaseState, fold
from shared.events import CloudEvent, Event


@dataclass
class Step:
    state: CaseState
    emissions: list[CloudEvent] = field(default_factory=list)
    next_due: datetime | None = None
    applied: bool = True


def step(
    state: CaseState | None,
    event: Event | None,
    now: datetime,
    policy: Policy,
    *,
    case_id: str | None = None,
    partition: int | None = None,
) -> Step:
    """``event=None`` is a wall-clock re-evaluation (a deadline came due, or the policy changed)."""
    if event is not None:
        new, applied = fold(state, event, partition=partition)
        if not applied:
            return Step(new, applied=False, next_due=None)
    else:
        if state is None:
            if case_id is None:
                raise ValueError("case_id is required to re-evaluate a case without state")
            state = CaseState(case_id=case_id, partition=partition)
        new = state
    results = evaluate(new, now, policy)
    new, emissions = reconcile(new, results, now, policy.quiet_after_manual_resolve())
    return Step(new, emissions, _earliest(next_check(results), quiet_wakeup(new, now)))


def due_for(state: CaseState, now: datetime, policy: Policy) -> datetime | None:
    """When this case must next be looked at: ``now`` if its alerts disagree with the rules already
    (a deadline passed while no worker owned it, or the policy changed), else its next deadline."""
    results = evaluate(state, now, policy)
    new, emissions = reconcile(state, results, now, policy.quiet_after_manual_resolve())
    return now if emissions else _earliest(next_check(results), quiet_wakeup(new, now))


def _earliest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None
