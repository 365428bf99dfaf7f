"""Per-case state folded from case-events and legal-events (pure, JSON-serialisable).

Folding is idempotent by event id within a bounded window: the last :data:`MAX_SEEN_EVENT_IDS`
event ids of a case are remembered as 8-byte hashes (``CaseState.seen_ids``), so the repeats this
system makes (a redelivered run after a takeover, an outbox re-publish after a crash) change
nothing; see :func:`fold` for why that window is what idempotency needs here. The state holds only
pseudonymous ids and times — never identity.

:func:`fold` never changes the state it is given (the engine tells "nothing changed" by identity):
it makes a shallow copy, fresh copies of the top-level lists and dicts, and copies of the nested
tracks an event changes in place — not a deep copy of the whole state.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field, field_serializer, field_validator, model_validator

from shared.events import Event
from shared.events import case as ce
from shared.events import legal as le
from shared.events.alerts import AlertResolved
from shared.vocab import CLOSED_STATUSES

__all__ = [
    "CLOSED_STATUSES",
    "ENDED_STAGES",
    "MAX_DONE_IDS",
    "MAX_SEEN_EVENT_IDS",
    "CaseState",
    "day_end",
    "fold",
    "seen_hash",
    "utc",
]

# event ids remembered per case for idempotency (8 bytes each: at most 8 KiB for a case with that many
# events; a typical case has a few dozen). 1,024 covers a redelivered REST batch of 500 court updates
# for one case (up to two facts each), the largest chunk one case can receive at once.
MAX_SEEN_EVENT_IDS = 1024
SEEN_HASH_BYTES = 8
MAX_DONE_IDS = 64
# stages where the prosecution is over: no stall can happen any more
ENDED_STAGES = frozenset({"final", "archived"})


def utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def day_end(d: date, tz: str | tzinfo | None = None) -> datetime:
    """A date-only deadline is met until the end of that day in the organisation's time zone
    (``tz``: an IANA name such as ``America/Lima``; None keeps UTC), returned in UTC."""
    zone: tzinfo = UTC if tz is None else (ZoneInfo(tz) if isinstance(tz, str) else tz)
    return datetime.combine(d + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)


def seen_hash(event_id: str) -> bytes:
    """The 8 bytes remembered for ``event_id`` (BLAKE2b): with at most 1,024 of them per case, the chance
    that a new id collides with a remembered one is below 1e-16 per event."""
    return hashlib.blake2b(event_id.encode("utf-8"), digest_size=SEEN_HASH_BYTES).digest()


def _ring_has(ring: bytes, digest: bytes) -> bool:
    """Is ``digest`` one of the 8-byte entries of ``ring`` (a match must start on an entry boundary)?"""
    at = ring.find(digest)
    while at != -1:
        if at % SEEN_HASH_BYTES == 0:
            return True
        at = ring.find(digest, at + 1)
    return False


def _ring_add(ring: bytes, digest: bytes) -> bytes:
    ring += digest
    excess = len(ring) - MAX_SEEN_EVENT_IDS * SEEN_HASH_BYTES
    return ring[excess:] if excess > 0 else ring


def _bounded_append(items: list[str], value: str, limit: int) -> None:
    items.append(value)
    if len(items) > limit:
        del items[: len(items) - limit]


class ServiceTrack(BaseModel):
    service_kind: str
    spl_type: str
    first_due_at: datetime
    interval_days: int | None = None
    sessions_planned: int | None = None
    sessions_recorded: int = 0
    session_ids: list[str] = Field(default_factory=list)
    consecutive_missed: int = 0
    missed_event_ids: list[str] = Field(default_factory=list)
    planned_event_id: str = ""

    def next_due_at(self) -> datetime | None:
        """Due date of the next session not yet recorded (None: the plan is complete)."""
        if self.sessions_planned is not None and self.sessions_recorded >= self.sessions_planned:
            return None
        if self.sessions_recorded == 0:
            return self.first_due_at
        if not self.interval_days:
            return None  # a one-off service: its only session was recorded
        return self.first_due_at + timedelta(days=self.interval_days * self.sessions_recorded)


class HearingTrack(BaseModel):
    scheduled_for: datetime
    event_id: str


class FollowUpTrack(BaseModel):
    planned_date: date
    done: bool = False
    event_id: str = ""


class RiskSignal(BaseModel):
    signal_id: str
    kind: str
    severity: str
    at: datetime
    event_id: str


class Mark(BaseModel):
    """One dated legal fact kept for counting by when it happened, not by when it arrived."""

    at: datetime
    event_id: str
    kind: str = ""
    ref: str = ""  # what it is about (a hearing id)


class Decision(BaseModel):
    """An archive, a verdict or a dismissal (sobreseimiento): the child must be told of it."""

    trigger: str
    at: datetime
    event_id: str


class Notice(BaseModel):
    at: datetime
    about: str


class OpenDeadline(BaseModel):
    """A non-stage deadline from ``centinela.legal.deadline_set`` while it is open."""

    kind: str
    due_at: datetime
    nature: str = "duty"
    article: str | None = None
    event_id: str = ""


class Outcome(BaseModel):
    """The latest reintegration status of one domain (by effective date)."""

    status: str
    effective_date: date
    event_id: str


class MeasureTrack(BaseModel):
    """A protective measure, from its grant, renewals and end (by when they happened in court)."""

    measure: str = ""
    expires_at: datetime | None = None
    # occurred_at of the grant or renewal that set expires_at: an older one arriving late changes nothing
    set_at: datetime | None = None
    renewals: int = 0
    ended_at: datetime | None = None
    event_id: str = ""

    @property
    def active(self) -> bool:
        """Not ended, or granted again after it ended."""
        return self.ended_at is None or (self.set_at is not None and self.set_at > self.ended_at)


class AlertTrack(BaseModel):
    """The processor's view of one (case, rule[, subject]) alert: which episode, open or not."""

    episode: int = 0
    # per-signal rules: the signal ids already raised (each opens one episode, whatever the floor was)
    raised_signals: list[str] = Field(default_factory=list)
    # per-signal rules: the episodes nobody resolved yet (each signal's alert stays open until a person decides)
    open_episodes: list[int] = Field(default_factory=list)
    # a digest of the summary and evidence last published, and the advocate it was published for:
    # when either changes while the alert is open, an update is published
    digest: str | None = None
    advocate_id: str | None = None
    open: bool = False
    alert_id: str | None = None
    raised_at: datetime | None = None
    severity: str | None = None
    # a person resolved the open episode by hand (alerts service): while the same condition goes on,
    # no new episode before quiet_until (the rule's quiet_after_manual_resolve)
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    quiet_until: datetime | None = None


class CaseState(BaseModel):
    case_id: str
    partition: int | None = None
    # the last MAX_SEEN_EVENT_IDS event ids folded, oldest first, as 8-byte hashes (base64 in JSON)
    seen_ids: bytes = b""
    # intake
    org_id: str | None = None
    advocate_id: str | None = None
    status: str | None = None
    registered_at: datetime | None = None
    registered_event_id: str | None = None
    closed_at: datetime | None = None
    services: dict[str, ServiceTrack] = Field(default_factory=dict)
    # last attended session per "kind:<service_kind>" and "spl:<spl_type>": the policy decides which count
    last_attended: dict[str, datetime] = Field(default_factory=dict)
    last_contact_at: datetime | None = None
    followups: dict[str, FollowUpTrack] = Field(default_factory=dict)
    followups_done_after_closure: int = 0
    risk_signals: list[RiskSignal] = Field(default_factory=list)
    # legal
    legal_seen: bool = False
    stage: str | None = None
    stage_started_at: datetime | None = None
    deadline_at: datetime | None = None
    stage_event_id: str | None = None
    last_legal_at: datetime | None = None
    last_legal_event_id: str | None = None
    postponements_in_stage: int = 0
    postponement_event_ids: list[str] = Field(default_factory=list)
    hearings: dict[str, HearingTrack] = Field(default_factory=dict)
    done_hearing_ids: list[str] = Field(default_factory=list)
    represented: bool = False
    notification_due_since: datetime | None = None
    notification_trigger: str | None = None
    notification_event_id: str | None = None
    # latest notification of the child (by when it happened): only one at or after an archive or
    # verdict answers it, whichever order the two updates arrive in
    last_notified_at: datetime | None = None
    consecutive_absences: int = 0
    absence_event_ids: list[str] = Field(default_factory=list)
    # attendance marks (kind "present" / "absent") by occurred_at: absences in a row are counted after
    # the latest attendance by when it happened, so a late report cannot clear later absences
    attendance: list[Mark] = Field(default_factory=list)
    # stage history (kind = stage) by start: a late postponement is counted in the stage it happened in
    stage_history: list[Mark] = Field(default_factory=list)
    postponements: list[Mark] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)
    notices: list[Notice] = Field(default_factory=list)
    deadlines: dict[str, OpenDeadline] = Field(default_factory=dict)
    # reintegration outcomes, by domain (education, employment, placement, documentation)
    reintegration: dict[str, Outcome] = Field(default_factory=dict)
    # attended support sessions (kind = service kind) by when they happened: the policy decides which are
    # psychosocial accompaniment of a hearing
    attended_sessions: list[Mark] = Field(default_factory=list)
    reparation_orders: list[Mark] = Field(default_factory=list)
    # protective measures by measure_id (issue 13 item 14)
    protective_measures: dict[str, MeasureTrack] = Field(default_factory=dict)
    # the child's testimonies (kind = camara_gesell / other) by when they were taken
    testimonies: list[Mark] = Field(default_factory=list)
    last_reparation_paid_at: datetime | None = None
    # the legal fact being folded belongs to a batch whose end has not arrived yet (issue 18 item 1)
    batch_pending: bool = False
    batch_pending_until: datetime | None = None
    # what the last applied event was, so an auto-resolution can say what cleared it
    last_event_type: str | None = None
    # lifecycle
    alerts: dict[str, AlertTrack] = Field(default_factory=dict)

    @property
    def case_open(self) -> bool:
        return self.status not in CLOSED_STATUSES

    @property
    def prosecution_open(self) -> bool:
        return self.legal_seen and self.stage not in ENDED_STAGES

    def seen(self, event_id: str) -> bool:
        return _ring_has(self.seen_ids, seen_hash(event_id))

    @field_serializer("seen_ids", when_used="json")
    def _seen_ids_text(self, value: bytes) -> str:
        return base64.b64encode(value).decode("ascii")

    @field_validator("seen_ids", mode="before")
    @classmethod
    def _seen_ids_bytes(cls, value: object) -> object:
        if isinstance(value, str):
            raw = base64.b64decode(value, validate=True)
            return raw[len(raw) % SEEN_HASH_BYTES :][-MAX_SEEN_EVENT_IDS * SEEN_HASH_BYTES :]
        return value

    @model_validator(mode="before")
    @classmethod
    def _migrate_seen_event_ids(cls, data: Any) -> Any:
        """A state written before the hashes (``seen_event_ids``: up to 512 id strings) keeps its
        newest MAX_SEEN_EVENT_IDS ids, hashed."""
        if isinstance(data, dict) and "seen_event_ids" in data:
            data = dict(data)
            ids = data.pop("seen_event_ids") or []
            ring = b"".join(seen_hash(str(i)) for i in ids[-MAX_SEEN_EVENT_IDS:])
            data.setdefault("seen_ids", ring)
        return data

    def to_json(self) -> dict[str, object]:
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, doc: object) -> CaseState:
        return cls.model_validate(doc)

    def to_bytes(self) -> bytes:
        """The table's and changelog's form: JSON without the fields at their defaults (they are most
        of an empty state), read back by :meth:`from_bytes` (or any JSON reader, defaults filled in)."""
        return self.model_dump_json(exclude_defaults=True).encode()

    @classmethod
    def from_bytes(cls, raw: bytes | bytearray | str) -> CaseState:
        return cls.model_validate_json(raw)


# the top-level lists and dicts of CaseState: fold gives the new state its own copy of each
_CONTAINERS: tuple[tuple[str, type], ...] = tuple(
    (name, f.default_factory) for name, f in CaseState.model_fields.items() if f.default_factory in (list, dict)
)


def fold(state: CaseState | None, event: Event, *, partition: int | None = None) -> tuple[CaseState, bool]:
    """Apply ``event`` to a copy of ``state``. Returns (new state, applied); a seen id is not applied.

    ``state`` is never changed. The copy is shallow plus what folding may change in place: every
    top-level list and dict (cheap: small, and their items are shared), and each nested track
    (service, follow-up, protective measure, alert) an event changes is copied where it changes.

    Idempotency: the repeats this system makes are (1) a run redelivered after a takeover or a
    cleared buffer: the records after the partition's committed offset, in their original order; the
    agent finishes records at most one batch after folding them and faust commits finished offsets
    every few seconds, so a case's repeats are of its events of the last seconds; (2) an outbox
    re-publish after a failed or interrupted chunk: the entries still in the case's documents, that is
    its events written since its previous successful publish. No envelope carries a per-source sequence
    (ids are random, ``time`` is a wall clock that several writers may order differently), so a
    high-water mark could drop a genuine fact; the last MAX_SEEN_EVENT_IDS ids of the case, hashed,
    are what is kept instead: a repeat is recognised while fewer than MAX_SEEN_EVENT_IDS other events
    of the same case were folded between it and its original, which both kinds of repeat stay within
    unless one case receives more than MAX_SEEN_EVENT_IDS facts inside one commit interval or one outbox
    chunk (a REST batch is at most 500 updates).
    """
    base = state if state is not None else CaseState(case_id=event.case_id)
    digest = seen_hash(event.id)
    if _ring_has(base.seen_ids, digest):
        return base, False
    st = base.model_copy()
    fields = st.__dict__
    for name, kind in _CONTAINERS:
        fields[name] = kind(fields[name])
    if partition is not None:
        st.partition = partition
    st.seen_ids = _ring_add(st.seen_ids, digest)
    st.last_event_type = event.type
    st.batch_pending = False
    _apply(st, event)
    if not st.batch_pending:
        st.batch_pending_until = None
    return st, True


def _apply(st: CaseState, event: Event) -> None:  # noqa: C901 - one branch per event type reads best
    p = event.payload
    eid = event.id
    # -- intake facts
    if isinstance(p, ce.CaseRegistered):
        st.org_id = p.org_id
        st.advocate_id = p.advocate_id or st.advocate_id
        st.status = p.status
        st.registered_at = utc(p.registered_at)
        st.registered_event_id = eid
    elif isinstance(p, ce.AdvocateAssigned):
        st.advocate_id = p.advocate_id
        st.org_id = p.org_id
    elif isinstance(p, ce.CaseStatusChanged):
        st.status = p.status
        if p.status in CLOSED_STATUSES:
            st.closed_at = st.closed_at or utc(p.changed_at)
        else:
            # a reopened case starts a new post-closure schedule when it closes again
            st.closed_at = None
            st.followups_done_after_closure = 0
    elif isinstance(p, ce.CaseClosed):
        st.status = p.status
        st.closed_at = utc(p.closed_at)
    elif isinstance(p, ce.ServicePlanned):
        if p.service_id not in st.services:
            st.services[p.service_id] = ServiceTrack(
                service_kind=p.service_kind,
                spl_type=p.spl_type,
                first_due_at=utc(p.first_due_at),
                interval_days=p.interval_days,
                sessions_planned=p.sessions_planned,
                planned_event_id=eid,
            )
    elif isinstance(p, ce.SessionRecorded):
        _session(st, p, eid)
    elif isinstance(p, ce.RiskFlagged):
        _signal(
            st, RiskSignal(signal_id=p.flag_id, kind=p.kind, severity=p.severity, at=utc(p.raised_at), event_id=eid)
        )
    elif isinstance(p, ce.PersonReregistered):
        # the re-registration itself is the signal; its id is the detecting event (one per detection)
        _signal(
            st,
            RiskSignal(
                signal_id=f"rereg:{eid}", kind="reregistered", severity="high", at=utc(p.detected_at), event_id=eid
            ),
        )
    elif isinstance(p, ce.CasePersonReregistered):
        # on the EARLIER case: the same child was registered again (a new case, maybe elsewhere)
        _signal(
            st,
            RiskSignal(
                signal_id=f"rereg-later:{eid}",
                kind="registered_again",
                severity="high",
                at=utc(p.detected_at),
                event_id=eid,
            ),
        )
    elif isinstance(p, ce.ReintegrationRecorded):
        known = st.reintegration.get(p.domain)
        if known is None or p.effective_date >= known.effective_date:
            st.reintegration[p.domain] = Outcome(status=p.status, effective_date=p.effective_date, event_id=eid)
    elif isinstance(p, ce.FollowUpPlanned):
        if p.followup_id not in st.followups:
            st.followups[p.followup_id] = FollowUpTrack(planned_date=p.planned_date, event_id=eid)
    elif isinstance(p, ce.FollowUpRecorded):
        track = st.followups.get(p.followup_id)
        if track is not None and track.done:
            return  # the same follow-up recorded twice (a correction) counts once
        track = FollowUpTrack(planned_date=p.done_date, event_id=eid) if track is None else track.model_copy()
        st.followups[p.followup_id] = track
        track.done = True
        done_at = day_end(p.done_date) - timedelta(microseconds=1)
        st.last_contact_at = _max(st.last_contact_at, min(done_at, utc(p.recorded_at)))
        if st.closed_at is not None and day_end(p.done_date) > st.closed_at:
            st.followups_done_after_closure += 1
    # -- legal facts
    elif isinstance(p, le.LegalFact):
        _legal(st, p, eid)
    # -- a person resolved an alert by hand (the alerts service); quiet_until is set by the episode logic
    elif isinstance(p, AlertResolved) and not p.auto:
        # per-subject alerts are keyed rule#subject: find the track by the alert id first
        key = next((k for k, a in st.alerts.items() if a.alert_id == p.alert_id), None)
        key = key if key is not None else p.rule if p.rule in st.alerts else None
        alert = None if key is None else _own_alert(st, key)
        if alert is not None and p.episode in alert.open_episodes:
            alert.open_episodes.remove(p.episode)
        if alert is not None and alert.episode == p.episode and alert.open:
            alert.open = False
            alert.resolved_by = p.by
            alert.resolved_at = utc(p.resolved_at)


def _own_alert(st: CaseState, key: str) -> AlertTrack:
    """The alert track ``key`` of ``st``, copied (with its lists) so that changing it leaves the old state alone."""
    track = st.alerts[key]
    own = track.model_copy(
        update={"raised_signals": list(track.raised_signals), "open_episodes": list(track.open_episodes)}
    )
    st.alerts[key] = own
    return own


def _own_measure(st: CaseState, measure_id: str) -> MeasureTrack:
    known = st.protective_measures.get(measure_id)
    own = MeasureTrack() if known is None else known.model_copy()
    st.protective_measures[measure_id] = own
    return own


def _max(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def _session(st: CaseState, p: ce.SessionRecorded, eid: str) -> None:
    track = st.services.get(p.service_id)
    occurred = utc(p.occurred_at)
    if p.outcome == "attended":
        st.last_contact_at = _max(st.last_contact_at, occurred)
        keys = [f"kind:{p.service_kind}"] + ([f"spl:{track.spl_type}"] if track is not None else [])
        for key in keys:
            st.last_attended[key] = _max(st.last_attended.get(key), occurred)
        _insert(st.attended_sessions, Mark(at=occurred, event_id=eid, kind=p.service_kind))
    if track is None or p.session_id in track.session_ids:
        return  # a session of an unknown service, or the same session corrected: the plan does not advance
    track = track.model_copy(
        update={"session_ids": list(track.session_ids), "missed_event_ids": list(track.missed_event_ids)}
    )
    st.services[p.service_id] = track
    _bounded_append(track.session_ids, p.session_id, MAX_DONE_IDS)
    track.sessions_recorded += 1
    if p.outcome == "missed":
        track.consecutive_missed += 1
        _bounded_append(track.missed_event_ids, eid, MAX_DONE_IDS)
    elif p.outcome == "attended":
        track.consecutive_missed = 0
        track.missed_event_ids = []


def _signal(st: CaseState, signal: RiskSignal) -> None:
    if any(s.signal_id == signal.signal_id for s in st.risk_signals):
        return
    st.risk_signals.append(signal)


def _insert(items: list[Mark], mark: Mark, limit: int = MAX_DONE_IDS) -> None:
    """Keep ``items`` ordered by ``at`` (then arrival) and bounded, dropping the oldest."""
    if any(m.event_id == mark.event_id for m in items):
        return
    items.append(mark)
    items.sort(key=lambda m: m.at)
    if len(items) > limit:
        del items[: len(items) - limit]


def stage_at(st: CaseState, at: datetime) -> str | None:
    """The stage the prosecution was in at ``at`` (from the stage history), None if unknown."""
    current = None
    for m in st.stage_history:
        if m.at <= at:
            current = m.kind
    return current


def _enter_stage(st: CaseState, stage: str | None, started: datetime, eid: str) -> None:
    if stage is None:
        return
    if st.stage_history and st.stage_history[-1].kind == stage and st.stage_history[-1].at <= started:
        return  # the same stage again (a deadline moved): it did not start anew
    _insert(st.stage_history, Mark(at=started, event_id=eid, kind=stage))


def recount(st: CaseState) -> None:
    """Derive the counters the rules read from the dated marks (arrival order never matters)."""
    absences: list[Mark] = []
    for m in st.attendance:
        absences = [] if m.kind == "present" else [*absences, m]
    st.consecutive_absences = len(absences)
    st.absence_event_ids = [m.event_id for m in absences][-MAX_DONE_IDS:]
    start = st.stage_started_at
    in_stage = [m for m in st.postponements if start is None or m.at >= start]
    counted = max((int(m.kind or 0) for m in in_stage), default=0)
    st.postponements_in_stage = max(len(in_stage), counted)
    st.postponement_event_ids = [m.event_id for m in in_stage]


def _legal(st: CaseState, p: le.LegalFact, eid: str) -> None:  # noqa: C901 - one branch per fact
    st.legal_seen = True
    occurred = utc(p.occurred_at)
    st.batch_pending = bool(p.batch_id) and not p.batch_last
    if st.last_legal_at is None or occurred >= st.last_legal_at:
        st.last_legal_at = occurred
        st.last_legal_event_id = eid
    if isinstance(p, le.StageChanged):
        started = utc(p.stage_started_at)
        _enter_stage(st, p.stage, started, eid)
        if p.stage != st.stage or st.stage_started_at is None or started > st.stage_started_at:
            st.stage = p.stage
            st.stage_started_at = started
        st.deadline_at = utc(p.deadline_at) if p.deadline_at else None
        st.stage_event_id = eid
        if p.stage in ("archived", "final"):
            _drop_pending_hearings(st)
        if p.stage in ("archived", "verdict"):
            _decision(st, p.stage, occurred, eid)
        elif p.stage == "final" and p.previous_stage == "intermediate_stage":
            _decision(st, "dismissal", occurred, eid)  # sobreseimiento, CPP art. 344-347
    elif isinstance(p, le.HearingScheduled):
        if p.hearing_id not in st.done_hearing_ids and st.prosecution_open:
            st.hearings[p.hearing_id] = HearingTrack(scheduled_for=utc(p.scheduled_for), event_id=eid)
    elif isinstance(p, le.HearingPostponed):
        # counted in the stage the postponement happened in (by occurred_at), whatever arrives later
        when_stage = stage_at(st, occurred) or st.stage
        named_ok = p.stage is None or st.stage is None or p.stage == st.stage
        if named_ok and (when_stage == st.stage or st.stage is None):
            _insert(st.postponements, Mark(at=occurred, event_id=eid, kind=str(p.postponements_in_stage)))
        if p.new_date is not None and st.prosecution_open:
            st.hearings[p.hearing_id] = HearingTrack(scheduled_for=utc(p.new_date), event_id=eid)
        else:
            _hearing_done(st, p.hearing_id)
    elif isinstance(p, le.HearingHeld):
        _hearing_done(st, p.hearing_id)
    elif isinstance(p, le.VictimAttended):
        _insert(st.attendance, Mark(at=occurred, event_id=eid, kind="present", ref=p.hearing_id or ""))
        st.last_contact_at = _max(st.last_contact_at, occurred)
        if p.hearing_id:
            _hearing_done(st, p.hearing_id)
    elif isinstance(p, le.VictimAbsent):
        _insert(st.attendance, Mark(at=occurred, event_id=eid, kind="absent"))
        if p.hearing_id:
            _hearing_done(st, p.hearing_id)
    elif isinstance(p, le.RepresentationAssigned):
        st.represented = True
    elif isinstance(p, le.VictimNotified):
        st.last_notified_at = _max(st.last_notified_at, occurred)
        st.notices.append(Notice(at=occurred, about=p.about))
        del st.notices[:-MAX_DONE_IDS]
        if st.notification_due_since is not None and occurred >= st.notification_due_since:
            st.notification_due_since = st.notification_trigger = st.notification_event_id = None
    elif isinstance(p, le.VerdictIssued):
        _decision(st, "verdict", occurred, eid)
    elif isinstance(p, le.CaseArchived):
        _enter_stage(st, "archived", occurred, eid)
        st.stage = "archived"
        st.stage_started_at = occurred
        st.deadline_at = None
        st.stage_event_id = eid
        _drop_pending_hearings(st)
        _decision(st, "archived", occurred, eid)
    elif isinstance(p, le.OpportunityApplied) and p.outcome == "dismissal":
        _decision(st, "dismissal", occurred, eid)
    elif isinstance(p, le.CaseReopened):
        stage = p.stage if p.stage and p.stage != "archived" else None
        if stage is not None and stage == st.stage and st.stage_started_at is not None:
            return  # the stage change into this stage (with its deadline) came first: keep its deadline
        _enter_stage(st, stage, occurred, eid)
        st.stage = stage
        st.stage_started_at = occurred if stage else st.stage_started_at
        st.deadline_at = None
        st.stage_event_id = eid
    elif isinstance(p, le.DeadlineSet):
        if p.status == "open":
            st.deadlines[p.deadline_id] = OpenDeadline(
                kind=p.deadline_kind, due_at=utc(p.due_at), nature=p.nature, article=p.article, event_id=eid
            )
        else:
            st.deadlines.pop(p.deadline_id, None)
    elif isinstance(p, le.ReparationOrdered):
        _insert(st.reparation_orders, Mark(at=occurred, event_id=eid))
    elif isinstance(p, le.ReparationPaid):
        st.last_reparation_paid_at = _max(st.last_reparation_paid_at, occurred)
    elif isinstance(p, le.ProtectiveMeasureGranted | le.ProtectiveMeasureRenewed):
        measure_id = p.measure_id or p.update_id
        track = _own_measure(st, measure_id)
        if isinstance(p, le.ProtectiveMeasureGranted):
            track.measure = p.measure
        else:
            track.renewals += 1
        if track.set_at is None or occurred >= track.set_at:
            track.expires_at = utc(p.expires_at) if p.expires_at else None
            track.set_at, track.event_id = occurred, eid
    elif isinstance(p, le.ProtectiveMeasureEnded):
        track = _own_measure(st, p.measure_id)
        track.ended_at = _max(track.ended_at, occurred)
    elif isinstance(p, le.TestimonyTaken):
        _insert(st.testimonies, Mark(at=occurred, event_id=eid, kind=p.method))
    recount(st)


def _drop_pending_hearings(st: CaseState) -> None:
    """An archived or final case has no hearing left to report on (the legal service refuses outcomes)."""
    for hearing_id in list(st.hearings):
        _hearing_done(st, hearing_id)


def _decision(st: CaseState, trigger: str, at: datetime, eid: str) -> None:
    if any(d.event_id == eid or (d.trigger == trigger and d.at == at) for d in st.decisions):
        return
    st.decisions.append(Decision(trigger=trigger, at=at, event_id=eid))
    del st.decisions[:-MAX_DONE_IDS]
    # kept for readers of the earlier fields: the earliest decision not yet followed by a notification
    if st.notification_due_since is None and (st.last_notified_at is None or st.last_notified_at < at):
        st.notification_due_since = at
        st.notification_trigger = trigger
        st.notification_event_id = eid


def _hearing_done(st: CaseState, hearing_id: str) -> None:
    st.hearings.pop(hearing_id, None)
    if hearing_id not in st.done_hearing_ids:
        _bounded_append(st.done_hearing_ids, hearing_id, MAX_DONE_IDS)
