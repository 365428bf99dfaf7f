"""One processing step for one case: fold the event (if any), evaluate every rule, reconcile alerts.

:func:`step` is the whole path from an input fact to the alert lifecycle facts it causes; the faust
agent is thin glue around it and unit tests drive it with a fake clock.

From rule results to alert lifecycle events (:func:`reconcile`):

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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from services.processor.domain.policy import Policy
from services.processor.domain.rules import PER_SIGNAL_RULES, Finding, RuleResult, evaluate, next_check
from services.processor.domain.state import AlertTrack, CaseState, fold
from services.processor.domain.updates import AlertUpdated
from shared.events import CloudEvent, Event, new_event
from shared.events.alerts import AlertRaised, AlertResolved, alert_id_for


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


# -- reconcile: rule results against the open alerts

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

    ``state`` is not changed. Only the alert tracks can change here, so only they are copied (the
    rest of the new state is shared with ``state``, which nobody mutates); when no track changed,
    ``state`` itself is returned, so the caller can tell "nothing to write" by identity.
    """
    before = state.alerts
    st = state.model_copy(update={"alerts": {key: _own(track) for key, track in before.items()}})
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
    if not out and _same_tracks(before, st.alerts):
        return state, out
    return st, out


def _own(track: AlertTrack) -> AlertTrack:
    """A copy of ``track`` that reconcile may change (its lists are the only mutable fields)."""
    return track.model_copy(
        update={"raised_signals": list(track.raised_signals), "open_episodes": list(track.open_episodes)}
    )


def _same_tracks(before: Mapping[str, AlertTrack], after: Mapping[str, AlertTrack]) -> bool:
    if before.keys() != after.keys():
        return False
    return all(vars(track) == vars(after[key]) for key, track in before.items())


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
