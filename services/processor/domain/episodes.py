"""From rule results to alert lifecycle events (pure).

* A finding with no open alert for (case, rule[, subject]) raises episode + 1; a per-subject rule
  (one alert per late service, hearing, follow-up, deadline) keeps one track per subject.
* An open alert whose finding changed (summary, evidence) or whose case changed advocate publishes
  ``centinela.alert.updated`` (when the policy says the alerts service consumes it).
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

import hashlib
import json
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta

from services.processor.domain.rules import PER_SIGNAL_RULES, Finding, RuleResult
from services.processor.domain.state import AlertTrack, CaseState
from services.processor.domain.updates import AlertUpdated
from shared.events import CloudEvent, new_event
from shared.events.alerts import AlertRaised, AlertResolved, alert_id_for

_NS = uuid.UUID("7b0f5f3e-2f59-4d51-9a43-8f3c1c6a1e20")


def lifecycle_event_id(alert_id: str, what: str) -> str:
    return str(uuid.uuid5(_NS, f"{alert_id}/{what}"))


def track_key(rule: str, subject: str | None = None) -> str:
    """The key of an alert in ``CaseState.alerts``: the rule, or ``rule#subject`` for a per-subject rule."""
    return rule if not subject else f"{rule}#{subject}"


def alert_id(case_id: str, rule: str, subject: str | None, episode: int) -> str:
    """Deterministic (case, rule, subject, episode); a case-level rule keeps the (case, rule, episode) id."""
    return alert_id_for(case_id, track_key(rule, subject), episode)


def reconcile(
    state: CaseState,
    results: list[RuleResult],
    now: datetime,
    quiet_after: Mapping[str, timedelta] | None = None,
    *,
    publish_updates: bool = False,
) -> tuple[CaseState, list[CloudEvent]]:
    """Compare findings with the open alerts of ``state``; return the new state and the facts to publish.

    ``quiet_after``: per rule, how long a condition resolved by hand stays quiet (default: none).
    ``publish_updates``: publish ``centinela.alert.updated`` when an open alert's evidence or the
    case's advocate changes (off until the alerts service consumes it).
    """
    st = state.model_copy(deep=True)
    out: list[CloudEvent] = []
    quiet = quiet_after or {}
    for result in results:
        if result.rule in PER_SIGNAL_RULES:
            _signals(st, result, now, out, publish_updates)
        elif result.findings is not None:
            legacy = st.alerts.get(result.rule)
            if legacy is not None and legacy.open:
                # an alert of this rule raised per case before the rule went per subject: close it, the
                # per-subject alerts below take over (said in the reason, so the advocate knows why)
                out.append(_resolve(st, result, None, legacy, now, reason=SUPERSEDED))
            prefix = track_key(result.rule, "x")[:-1]
            subjects = set(result.findings) | {k[len(prefix) :] for k in st.alerts if k.startswith(prefix)}
            for subject in sorted(subjects):
                _one(st, result, subject, result.findings.get(subject), now, quiet, out, publish_updates)
        else:
            _one(st, result, None, result.finding, now, quiet, out, publish_updates)
    return st, out


def _one(
    st: CaseState,
    result: RuleResult,
    subject: str | None,
    finding: Finding | None,
    now: datetime,
    quiet: Mapping[str, timedelta],
    out: list[CloudEvent],
    publish_updates: bool,
) -> None:
    key = track_key(result.rule, subject)
    track = st.alerts.get(key) or AlertTrack()
    if finding is not None and not track.open:
        if track.resolved_at is not None:
            track.quiet_until = track.resolved_at + quiet.get(result.rule, timedelta(0))
        if track.quiet_until is None or now >= track.quiet_until:
            track.resolved_by = track.resolved_at = track.quiet_until = None
            track.episode += 1
            out.append(_raise(st, result.rule, subject, finding, track, now))
    elif finding is not None:
        update = _update(st, result.rule, subject, finding, track, now)
        if update is not None and publish_updates:
            out.append(update)
    else:
        if track.open:
            out.append(_resolve(st, result, subject, track, now))
        # the condition ended: whatever a person resolved is over, a recurrence is news at once
        track.resolved_by = track.resolved_at = track.quiet_until = None
    if track.episode:
        st.alerts[key] = track


def _signals(st: CaseState, result: RuleResult, now: datetime, out: list[CloudEvent], publish_updates: bool) -> None:
    """One episode per signal at or above the floor that has not had one (whatever the floor was then)."""
    track = st.alerts.get(result.rule) or AlertTrack()
    if track.episode and not track.raised_signals:
        # state from before raised_signals was kept: the first `episode` signals had their alerts
        track.raised_signals = [s.signal_id for s in st.risk_signals[: track.episode]]
    if track.open and not track.open_episodes:
        track.open_episodes = [track.episode]
    for signal_id, finding in result.signal_findings.items():
        if signal_id in track.raised_signals:
            continue
        track.episode += 1
        track.raised_signals.append(signal_id)
        track.open_episodes.append(track.episode)
        out.append(_raise(st, result.rule, None, finding, track, now))
    if track.open_episodes and st.advocate_id is not None and track.advocate_id != st.advocate_id:
        # every signal alert still open follows the case to its new advocate
        previous, track.advocate_id = track.advocate_id, st.advocate_id
        for episode in track.open_episodes:
            signal = track.raised_signals[episode - 1] if episode <= len(track.raised_signals) else None
            current = result.signal_findings.get(signal or "") or result.finding
            if current is not None and publish_updates:
                aid = alert_id(st.case_id, result.rule, None, episode)
                out.append(_updated(st, result.rule, aid, episode, current, previous, ["advocate"], now))
    if track.episode:
        st.alerts[result.rule] = track


def _digest(finding: Finding) -> str:
    body = json.dumps([finding.severity, finding.summary, finding.evidence], sort_keys=True, default=str)
    return hashlib.sha256(body.encode()).hexdigest()[:16]


def quiet_wakeup(state: CaseState, now: datetime) -> datetime | None:
    """The earliest end of a quiet period still ahead: the case must be looked at again then."""
    ends = [t.quiet_until for t in state.alerts.values() if t.quiet_until is not None and t.quiet_until > now]
    return min(ends) if ends else None


def _raise(
    st: CaseState, rule: str, subject: str | None, finding: Finding, track: AlertTrack, now: datetime
) -> CloudEvent:
    aid = alert_id(st.case_id, rule, subject, track.episode)
    track.open, track.alert_id, track.raised_at = True, aid, now
    track.severity = finding.severity
    track.digest, track.advocate_id = _digest(finding), st.advocate_id
    payload = AlertRaised(
        case_id=st.case_id,
        alert_id=aid,
        rule=rule,
        episode=track.episode,
        severity=finding.severity,
        org_id=st.org_id,
        advocate_id=st.advocate_id,
        summary=finding.summary,
        evidence=finding.evidence,
        raised_at=now,
    )
    return new_event(payload, event_id=lifecycle_event_id(aid, "raised"), time=now)


def _update(
    st: CaseState, rule: str, subject: str | None, finding: Finding, track: AlertTrack, now: datetime
) -> CloudEvent | None:
    """The open alert's evidence or advocate changed: record it, and say so (``centinela.alert.updated``)."""
    digest = _digest(finding)
    changed = []
    if track.digest is not None and digest != track.digest:
        changed.append("evidence")
    if track.advocate_id != st.advocate_id and st.advocate_id is not None:
        changed.append("advocate")
    if track.digest is None:
        track.digest = digest  # state from before digests were kept: the published text is unknown, keep quiet
    if not changed:
        return None
    previous = track.advocate_id
    track.digest, track.advocate_id = digest, st.advocate_id
    aid = track.alert_id or alert_id(st.case_id, rule, subject, track.episode)
    return _updated(st, rule, aid, track.episode, finding, previous if "advocate" in changed else None, changed, now)


def _updated(
    st: CaseState,
    rule: str,
    aid: str,
    episode: int,
    finding: Finding,
    previous: str | None,
    changed: list[str],
    now: datetime,
) -> CloudEvent:
    payload = AlertUpdated(
        case_id=st.case_id,
        alert_id=aid,
        rule=rule,
        episode=episode,
        severity=finding.severity,
        org_id=st.org_id,
        advocate_id=st.advocate_id,
        previous_advocate_id=previous,
        summary=finding.summary,
        evidence=finding.evidence,
        changed=changed,
        updated_at=now,
    )
    # one id per (alert, content, advocate): a replay publishes the same fact, a later change a new one
    tag = f"updated/{_digest(finding)}/{st.advocate_id}"
    return new_event(payload, event_id=lifecycle_event_id(aid, tag), time=now)


SUPERSEDED = "replaced by one alert per late item (service, hearing, follow-up, decision, deadline)"


def _resolve(
    st: CaseState, result: RuleResult, subject: str | None, track: AlertTrack, now: datetime, reason: str = ""
) -> CloudEvent:
    aid = track.alert_id or alert_id(st.case_id, result.rule, subject, track.episode)
    track.open = False
    payload = AlertResolved(
        case_id=st.case_id,
        alert_id=aid,
        rule=result.rule,
        episode=track.episode,
        auto=True,
        reason=reason or result.clear_reason,
        resolved_at=now,
        severity=track.severity,
    )
    return new_event(payload, event_id=lifecycle_event_id(aid, "resolved"), time=now)
