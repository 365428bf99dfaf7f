"""From rule results to alert lifecycle events (pure).

* A finding with no open alert for (case, rule) raises episode + 1.
* An open alert whose finding is gone resolves itself (``auto=True``) with the rule's reason.
* Per-signal rules (risk.revictimisation) raise one episode per distinct signal and never
  auto-resolve: no fact says a risk is over, a person decides that in the alerts service.
* An episode a person resolved by hand (``centinela.alert.resolved`` with ``auto: false``, from the
  alerts service) is closed here too. If the condition goes on, a new episode opens at the first
  check after the rule's ``quiet_after_manual_resolve``; if it clears first, the next occurrence
  opens one at once.

Event ids are derived from the alert id, so re-emitting after a crash produces byte-for-byte
the same lifecycle fact and consumers drop the duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from services.processor.domain.rules import PER_SIGNAL_RULES, RuleResult
from services.processor.domain.state import AlertTrack, CaseState
from shared.events import CloudEvent, new_event
from shared.events.alerts import AlertRaised, AlertResolved, alert_id_for

_NS = uuid.UUID("7b0f5f3e-2f59-4d51-9a43-8f3c1c6a1e20")


def lifecycle_event_id(alert_id: str, what: str) -> str:
    return str(uuid.uuid5(_NS, f"{alert_id}/{what}"))


def reconcile(
    state: CaseState,
    results: list[RuleResult],
    now: datetime,
    quiet_after: Mapping[str, timedelta] | None = None,
) -> tuple[CaseState, list[CloudEvent]]:
    """Compare findings with the open alerts of ``state``; return the new state and the facts to publish.

    ``quiet_after``: per rule, how long a condition resolved by hand stays quiet (default: none).
    """
    st = state.model_copy(deep=True)
    out: list[CloudEvent] = []
    for result in results:
        track = st.alerts.get(result.rule) or AlertTrack()
        if result.rule in PER_SIGNAL_RULES:
            while result.finding is not None and track.episode < result.signals:
                track.episode += 1
                out.append(_raise(st, result, track, now))
        elif result.finding is not None and not track.open:
            if track.resolved_at is not None:
                track.quiet_until = track.resolved_at + (quiet_after or {}).get(result.rule, timedelta(0))
            if track.quiet_until is None or now >= track.quiet_until:
                track.resolved_by = track.resolved_at = track.quiet_until = None
                track.episode += 1
                out.append(_raise(st, result, track, now))
        elif result.finding is None:
            if track.open:
                out.append(_resolve(st, result, track, now))
            # the condition ended: whatever a person resolved is over, a recurrence is news at once
            track.resolved_by = track.resolved_at = track.quiet_until = None
        if track.episode:
            st.alerts[result.rule] = track
    return st, out


def quiet_wakeup(state: CaseState, now: datetime) -> datetime | None:
    """The earliest end of a quiet period still ahead: the case must be looked at again then."""
    ends = [t.quiet_until for t in state.alerts.values() if t.quiet_until is not None and t.quiet_until > now]
    return min(ends) if ends else None


def _raise(st: CaseState, result: RuleResult, track: AlertTrack, now: datetime) -> CloudEvent:
    assert result.finding is not None
    alert_id = alert_id_for(st.case_id, result.rule, track.episode)
    track.open, track.alert_id, track.raised_at = True, alert_id, now
    track.severity = result.finding.severity
    payload = AlertRaised(
        case_id=st.case_id,
        alert_id=alert_id,
        rule=result.rule,
        episode=track.episode,
        severity=result.finding.severity,  # type: ignore[arg-type]
        org_id=st.org_id,
        advocate_id=st.advocate_id,
        summary=result.finding.summary,
        evidence=result.finding.evidence,
        raised_at=now,
    )
    return new_event(payload, event_id=lifecycle_event_id(alert_id, "raised"), time=now)


def _resolve(st: CaseState, result: RuleResult, track: AlertTrack, now: datetime) -> CloudEvent:
    alert_id = track.alert_id or alert_id_for(st.case_id, result.rule, track.episode)
    track.open = False
    payload = AlertResolved(
        case_id=st.case_id,
        alert_id=alert_id,
        rule=result.rule,
        episode=track.episode,
        auto=True,
        reason=result.clear_reason,
        resolved_at=now,
        severity=track.severity,  # type: ignore[arg-type]
    )
    return new_event(payload, event_id=lifecycle_event_id(alert_id, "resolved"), time=now)
