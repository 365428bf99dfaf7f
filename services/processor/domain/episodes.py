"""From rule results to alert lifecycle events (pure).

* A finding with no open alert for (case, rule) raises episode + 1.
* An open alert whose finding is gone resolves itself (``auto=True``) with the rule's reason.
* Per-signal rules (risk.revictimisation) raise one episode per distinct signal and never
  auto-resolve: no fact says a risk is over, a person decides that in the alerts service.

Event ids are derived from the alert id, so re-emitting after a crash produces byte-for-byte
the same lifecycle fact and consumers drop the duplicate.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from services.processor.domain.rules import PER_SIGNAL_RULES, RuleResult
from services.processor.domain.state import AlertTrack, CaseState
from shared.events import CloudEvent, new_event
from shared.events.alerts import AlertRaised, AlertResolved, alert_id_for

_NS = uuid.UUID("7b0f5f3e-2f59-4d51-9a43-8f3c1c6a1e20")


def lifecycle_event_id(alert_id: str, what: str) -> str:
    return str(uuid.uuid5(_NS, f"{alert_id}/{what}"))


def reconcile(state: CaseState, results: list[RuleResult], now: datetime) -> tuple[CaseState, list[CloudEvent]]:
    """Compare findings with the open alerts of ``state``; return the new state and the facts to publish."""
    st = state.model_copy(deep=True)
    out: list[CloudEvent] = []
    for result in results:
        track = st.alerts.get(result.rule) or AlertTrack()
        if result.rule in PER_SIGNAL_RULES:
            while result.finding is not None and track.episode < result.signals:
                track.episode += 1
                out.append(_raise(st, result, track, now))
        elif result.finding is not None and not track.open:
            track.episode += 1
            out.append(_raise(st, result, track, now))
        elif result.finding is None and track.open:
            out.append(_resolve(st, result, track, now))
        if track.episode:
            st.alerts[result.rule] = track
    return st, out


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
