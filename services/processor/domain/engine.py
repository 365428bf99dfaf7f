"""One processing step for one case: fold the event (if any), evaluate every rule, reconcile alerts.

The faust agent is thin glue around :func:`step`; unit tests drive it with a fake clock.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    """``event=None`` is a wall-clock re-evaluation (a deadline came due, or the policy changed).

    The whole folded state is evaluated against ``now``: a back-dated fact never makes the case look
    as it was when the fact happened. A legal fact of a batch whose last fact has not arrived yet
    (``batch_id`` without ``batch_last``) is folded only; the case is evaluated once, at the batch's
    end (or ``policy.batch_grace`` later if the end never comes), so a condition that ended inside
    the batch raises nothing and nothing flashes (issue 18 item 1).
    """
    if event is not None:
        new, applied = fold(state, event, partition=partition)
        if not applied:
            return Step(new, applied=False, next_due=None)
        if new.batch_pending:
            until = now + policy.batch_grace
            return Step(new.model_copy(update={"batch_pending_until": until}), next_due=until)
    elif state is not None and state.batch_pending and state.batch_pending_until and now < state.batch_pending_until:
        return Step(state, next_due=state.batch_pending_until)  # mid-batch: the batch's end evaluates it
    else:
        if state is None:
            if case_id is None:
                raise ValueError("case_id is required to re-evaluate a case without state")
            state = CaseState(case_id=case_id, partition=partition)
        new = state
    return _evaluate(new, now, policy)


def step_many(
    state: CaseState | None,
    events: Iterable[Event],
    now: datetime,
    policy: Policy,
    *,
    case_id: str | None = None,
    partition: int | None = None,
) -> Step:
    """Fold several events of one case, then evaluate once at ``now`` (a batch, an import, a replay)."""
    new = state
    applied = False
    for event in events:
        new, done = fold(new, event, partition=partition)
        applied = applied or done
    if new is None:
        if case_id is None:
            raise ValueError("case_id is required to re-evaluate a case without state")
        new = CaseState(case_id=case_id, partition=partition)
    new = new.model_copy(update={"batch_pending": False, "batch_pending_until": None})
    result = _evaluate(new, now, policy)
    result.applied = applied
    return result


def _evaluate(state: CaseState, now: datetime, policy: Policy) -> Step:
    results = evaluate(state, now, policy)
    new, emissions = reconcile(
        state, results, now, policy.quiet_after_manual_resolve(), publish_updates=policy.publish_alert_updates
    )
    return Step(new, _without_flashes(emissions), _earliest(next_check(results), quiet_wakeup(new, now)))


def _without_flashes(emissions: list[CloudEvent]) -> list[CloudEvent]:
    """An alert raised and resolved inside one evaluation is not news: publish neither (issue 18 item 1)."""
    raised = {e.subject_alert for e in map(_Key, emissions) if e.kind == "raised"}
    resolved = {e.subject_alert for e in map(_Key, emissions) if e.kind == "resolved"}
    flashes = raised & resolved
    if not flashes:
        return emissions
    return [e for e in emissions if _Key(e).subject_alert not in flashes]


class _Key:
    def __init__(self, event: CloudEvent) -> None:
        data = event.data if isinstance(event.data, dict) else {}
        self.subject_alert = str(data.get("alert_id", ""))
        self.kind = event.type.rsplit(".", 1)[-1]


def due_for(state: CaseState, now: datetime, policy: Policy) -> datetime | None:
    """When this case must next be looked at: ``now`` if its alerts disagree with the rules already
    (a deadline passed while no worker owned it, or the policy changed), else its next deadline."""
    results = evaluate(state, now, policy)
    new, emissions = reconcile(
        state, results, now, policy.quiet_after_manual_resolve(), publish_updates=policy.publish_alert_updates
    )
    return now if emissions else _earliest(next_check(results), quiet_wakeup(new, now))


def _earliest(*times: datetime | None) -> datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None
