"""The legal service's use cases. REST routes and Kafka consumers call these, never the store.

Recording a court update: load the case's history, decide with the domain (validate, place by
``occurred_at``, derive the facts), then write once (the update and its outgoing events in one
insert: the outbox). Both ways in (REST and Kafka) and both kinds of author (integrator systems,
advocates and supervisors) go through :meth:`LegalService.submit_many`.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from services.legal import metrics as m
from services.legal.domain.deadlines import DeadlinePolicy
from services.legal.domain.errors import IllegalUpdate, Rejection
from services.legal.domain.reconcile import find_match
from services.legal.domain.timeline import Recorded, TimelineState, envelopes, facts_for, integrate, replay
from services.legal.domain.updates import CourtUpdate, InvalidUpdate, parse_update
from services.legal.settings import LegalSettings
from services.legal.store.audit import AuditLog, AuditQuery
from services.legal.store.feeds import FeedRepository
from services.legal.store.shares import ShareRepository
from services.legal.store.timelines import Loaded, TimelineRepository, agenda
from shared.auth import Principal
from shared.logging import allow_log_keys
from shared.topics import LEGAL_EVENTS

log = logging.getLogger(__name__)
allow_log_keys("source_system")

Status = Literal["accepted", "duplicate", "rejected"]
Path = Literal["rest", "kafka"]


@dataclass(frozen=True)
class Outcome:
    """What became of one update. A rejection carries a ``code`` callers branch on, and a reason."""

    status: Status
    reason: str | None = None
    code: str | None = None
    reconciled_with: str | None = None  # update_id of the entry recording the same fact

    @classmethod
    def rejected(cls, rejection: Rejection) -> Outcome:
        return cls("rejected", rejection.reason, rejection.code)

    @property
    def rejection(self) -> Rejection | None:
        return Rejection(self.reason or "rejected", self.code) if self.status == "rejected" else None


class WriteContention(RuntimeError):
    """Too many concurrent writers on one case: transient, the caller retries."""

    transient = True  # what consumers read to retry instead of dead-lettering (as shared.errors.Transient)


class CaseNotFound(LookupError):
    """Unknown case, or one outside the caller's scope: the two look the same from outside."""

    def __init__(self, case_id: str, field: str = "case_id") -> None:
        super().__init__(f"{field}: no legal timeline for this case")
        self.case_id = case_id
        self.field = field


@dataclass(frozen=True)
class Actor:
    """Who is asking, as the audit trail keeps it (intake's shape)."""

    sub: str
    role: str
    roles: tuple[str, ...]
    org: str | None
    request_id: str | None = None

    @classmethod
    def of(cls, principal: Principal, request_id: str | None = None) -> Actor:
        return cls(principal.sub, principal.role, tuple(sorted(principal.roles)), principal.org, request_id)

    @classmethod
    def system(cls, source_system: str) -> Actor:
        """An integrator writing straight to Kafka: its source system is who."""
        return cls(f"system:{source_system}", "court_integrator", ("court_integrator",), None)

    def record(
        self, action: str, case_id: str | None, outcome: str, details: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return {
            "actor": self.sub,
            "role": self.role,
            "roles": list(self.roles),
            "org": self.org,
            "action": action,
            "case_id": case_id,
            "outcome": outcome,
            "request_id": self.request_id,
            "details": details or {},
        }


@dataclass(frozen=True)
class AgendaItem:
    case_id: str
    kind: str  # hearing, stage_deadline, or a deadline kind (appeal_sentence, archive_elevation...)
    at: datetime
    ref: str | None = None
    article: str | None = None


@dataclass(frozen=True)
class CaseListQuery:
    """The supervisors' list filters and page (see TimelineRepository.list_cases)."""

    stage: str | None
    stalled_since: datetime | None
    overdue_at: datetime | None
    skip: int
    limit: int


@dataclass(frozen=True)
class _Batch:
    """Several updates in one call: which is the last valid one of each case (it carries batch_last)."""

    batch_id: str
    items: list[Any]  # parsed where valid (so each is parsed once), raw otherwise
    last: frozenset[int]

    @classmethod
    def of(cls, raws: list[Any]) -> _Batch:
        items: list[Any] = []
        last_of: dict[str, int] = {}
        for index, raw in enumerate(raws):
            try:
                update: Any = raw if isinstance(raw, BaseModel) else parse_update(raw)
            except InvalidUpdate:
                items.append(raw)
                continue
            items.append(update)
            last_of[str(update.case_id)] = index
        return cls(uuid.uuid4().hex, items, frozenset(last_of.values()))

    def marks(self, index: int) -> dict[str, Any]:
        return {"batch_id": self.batch_id, "batch_last": index in self.last}


def person(principal: Principal) -> dict[str, str]:
    """Provenance of an update recorded by a person (pseudonymous subject id and the role used)."""
    role = "legal_advocate" if principal.has("legal_advocate") else "supervisor"
    return {"type": "person", "sub": principal.sub, "role": role}


class LegalService:
    def __init__(
        self,
        settings: LegalSettings,
        repo: TimelineRepository,
        policy: DeadlinePolicy,
        notify: Callable[[], None] = lambda: None,
        *,
        max_attempts: int = 20,
        audit: AuditLog | None = None,
        feeds: FeedRepository | None = None,
        shares: ShareRepository | None = None,
    ) -> None:
        self.settings = settings
        self.repo = repo
        self.audit = audit
        self.feeds = feeds
        self.shares = shares
        self.policy = policy
        self.notify = notify
        self.max_attempts = max_attempts
        # One case at a time within this process (REST threads and the Kafka consumer): no wasted
        # retries and no stale stage projection. Other processes are fenced by the log's (case_id, seq).
        self._locks = [threading.Lock() for _ in range(64)]
        # Caught-up histories of recently written cases (LRU, bounded by records held): a batch on a
        # case this process wrote last needs no read of its cache and no replay. Checked before use.
        self._memory: OrderedDict[str, Loaded] = OrderedDict()
        self._memory_records = 0
        self._memory_lock = threading.Lock()

    # -- recording court updates
    def submit_raw(self, raw: Any, path: Path) -> Outcome:
        """Validate the JSON value and submit it; format errors are a rejection, never an exception."""
        return self.submit_many([raw], path)[0]

    def submit(self, update: CourtUpdate, path: Path) -> Outcome:
        return self.submit_many([update], path)[0]

    def submit_many(
        self,
        items: list[Any],
        path: Path,
        *,
        recorded_by: dict[str, str] | None = None,
        actor: Actor | None = None,
    ) -> list[Outcome]:
        """Place each item in order; one outcome per item.

        A batch costs a fixed number of database round trips, whatever its size and the cases'
        history: the cases' caches read in one query (or taken from this process's memory of them,
        checked against the cache's ``seq`` and the log's next slot in two queries), every item
        decided in memory, the accepted ones inserted into the log with their events in one ordered
        bulk write, the caches appended to in one more and the audit trail in one insert. Correctness
        never rests on memory: every insert is fenced by the log's ``<case_id>#<seq>``; when one is
        refused (another writer took the slot, the key belongs to another case), that item and the
        ones after it are settled one by one as before.
        """
        start = time.perf_counter()
        batch = _Batch.of(items) if len(items) > 1 else None
        work = batch.items if batch is not None else list(items)
        outcomes: list[Outcome | None] = [None] * len(items)
        ready: list[tuple[int, Recorded]] = []
        for index, raw in enumerate(work):
            checked = self._check(raw, path, recorded_by)
            if isinstance(checked, Outcome):
                outcomes[index] = checked
            else:
                ready.append((index, checked))
        cases = sorted({rec.update.case_id for _, rec in ready})
        with self._locked(cases):
            histories = self._histories(cases)
            try:
                self._place_batch(ready, path, histories, outcomes, batch)
            finally:
                self._write_caches(histories)
        done = [o if o is not None else Outcome("rejected", "case_id: not processed", "internal") for o in outcomes]
        each = (time.perf_counter() - start) / max(1, len(items))
        for outcome in done:
            m.UPDATES.labels(path, outcome.status).inc()
            m.LATENCY.labels(path).observe(each)
        self._audit_updates(items, done, path, actor)
        return done

    def _check(self, raw: Any, path: Path, recorded_by: dict[str, str] | None) -> Recorded | Outcome:
        """What an item can be told without the database: format, a future date, a source not allowed."""
        if isinstance(raw, BaseModel):
            update: CourtUpdate = raw  # type: ignore[assignment]
        else:
            try:
                update = parse_update(raw)
            except InvalidUpdate as exc:
                return Outcome.rejected(exc)
        now = datetime.now(UTC)
        if update.occurred_at > now + timedelta(seconds=self.settings.legal_max_future_skew_seconds):
            return Outcome("rejected", "occurred_at: in the future", "future")
        if path == "kafka" and self.settings.legal_kafka_sources:
            if update.source_system not in self.settings.legal_kafka_sources:
                return Outcome("rejected", "source_system: not allowed to publish on court-updates", "source")
        received_at = now.replace(microsecond=now.microsecond // 1000 * 1000)
        return Recorded(update=update, received_at=received_at, path=path, recorded_by=recorded_by)

    def _histories(self, cases: list[str]) -> dict[str, Loaded]:
        """Each case's history, caught up with the log: from memory when its cache document has not moved."""
        if not cases:
            return {}
        with self._memory_lock:
            remembered = {c: self._memory[c] for c in cases if c in self._memory}
        seqs = self.repo.cached_seqs(list(remembered)) if remembered else {}
        # a cache document that moved (another process, a crash, an operator) is read again
        fresh = [c for c in cases if c not in remembered or seqs.get(c, 0) != remembered[c].cached_seq]
        histories = self.repo.load_many(fresh) if fresh else {}
        kept = [loaded for c, loaded in remembered.items() if c not in histories]
        histories.update(self.repo.catch_up_many(kept))
        return histories

    def _remember(self, loaded: Loaded) -> None:
        """Keep a case's caught-up history (bounded by records held) so the next batch needs no replay."""
        limit = self.settings.legal_history_memory_records
        with self._memory_lock:
            old = self._memory.pop(loaded.case_id, None)
            self._memory_records -= len(old.records) if old is not None else 0
            if limit <= 0 or len(loaded.records) > limit:
                return
            self._memory[loaded.case_id] = loaded
            self._memory_records += len(loaded.records)
            while self._memory_records > limit and self._memory:
                _, evicted = self._memory.popitem(last=False)
                self._memory_records -= len(evicted.records)

    def _forget(self, case_id: str) -> None:
        with self._memory_lock:
            old = self._memory.pop(case_id, None)
            self._memory_records -= len(old.records) if old is not None else 0

    def _write_caches(self, histories: dict[str, Loaded]) -> None:
        """Append what each case's cache lacks (one bulk write), and remember the histories that are current."""
        stale = [loaded for loaded in histories.values() if loaded.stale_cache]
        pairs = [
            (loaded, loaded.state if loaded.state is not None else replay(loaded.records, self.policy))
            for loaded in stale
        ]
        current = self.repo.write_timelines(pairs) if pairs else set()
        for loaded, state in pairs:
            if loaded.case_id in current:
                seq = loaded.next_seq - 1
                self._remember(replace(loaded, stale_cache=False, cached_seq=seq, state=state))
            else:
                self._forget(loaded.case_id)
        for loaded in histories.values():
            if not loaded.stale_cache and loaded.cached_seq >= 0:
                self._remember(loaded)

    def _place_batch(
        self,
        ready: list[tuple[int, Recorded]],
        path: Path,
        histories: dict[str, Loaded],
        outcomes: list[Outcome | None],
        batch: _Batch | None,
    ) -> None:
        """Decide every item in memory, insert the accepted ones in one ordered bulk write."""
        planned: list[tuple[int, Recorded, Outcome, Loaded, dict[str, Any]]] = []  # index, item, outcome, after, doc
        before_of: dict[str, Loaded] = {}
        working = dict(histories)  # ``histories`` only ever holds what the log holds (the caches are written from it)
        for index, new in ready:
            case_id = new.update.case_id
            loaded = working[case_id]
            if loaded.state is None:  # a case not remembered: its history replayed once for the whole batch
                loaded = working[case_id] = replace(loaded, state=replay(loaded.records, self.policy))
            marks = batch.marks(index) if batch is not None else None
            decision = self._decide(new, loaded, marks)
            if isinstance(decision, Outcome):
                outcomes[index] = decision
                continue
            outcome, after, events = decision
            before_of.setdefault(case_id, loaded)
            doc = self.repo.log_document(loaded, after.records[-1], events, LEGAL_EVENTS)
            planned.append((index, new, outcome, after, doc))
            working[case_id] = after
        inserted = self.repo.insert_many([doc for *_, doc in planned])
        if inserted:
            self.notify()
            log.info("court updates accepted", extra={"count": inserted, "cases": len(before_of), "topic": path})
        for index, _new, outcome, _after, _doc in planned[:inserted]:
            outcomes[index] = outcome
        if inserted == len(planned):
            histories.update(working)
            return
        # A refusal at ``inserted``: every case's history is its last insert that went in, and that item
        # and every item after it are settled one by one (catch up, decide, insert).
        first = planned[inserted][0]
        for _index, _new, _outcome, after, _doc in planned[:inserted]:
            histories[after.case_id] = after
        for index, new in ready:
            if index < first:
                continue  # decided on histories whose inserts all went in
            marks = batch.marks(index) if batch is not None else None
            case_id = new.update.case_id
            try:
                loaded = self.repo.catch_up(histories[case_id])
                outcomes[index], histories[case_id] = self._place(new, path, loaded, marks)
            except WriteContention:
                if path == "kafka":
                    raise  # transient: the consumer retries the record without committing it
                outcomes[index] = Outcome(
                    "rejected", "case_id: too many concurrent writes on this case; send it again", "contention"
                )

    def _decide(
        self, new: Recorded, loaded: Loaded, marks: dict[str, Any] | None
    ) -> Outcome | tuple[Outcome, Loaded, list[Any]]:
        """In memory: a final outcome, or (the outcome if stored, the history after it, its events)."""
        if new.key in loaded.keys:
            return Outcome("duplicate")
        before = loaded.state if loaded.state is not None else replay(loaded.records, self.policy)
        loaded = replace(loaded, state=before)
        match = find_match(loaded.records, new, self.settings.legal_time_zone)
        if match is not None and new.by_person:
            # The integrator already reported this fact: nothing to store, nothing to publish.
            return Outcome("duplicate", reconciled_with=match.update.update_id)
        if match is not None:
            new = replace(new, reconciles=match.key)
            result_state: TimelineState = before
            events: list[Any] = []
        else:
            try:
                result = integrate(loaded.records, new, self.policy, before)
            except IllegalUpdate as exc:
                return Outcome.rejected(exc)
            result_state = result.after
            facts = facts_for(new.update, result)
            if marks:
                facts = [f.model_copy(update=marks) for f in facts]
            events = envelopes(facts)
        after = Loaded(
            loaded.case_id,
            [*loaded.records, new],
            loaded.next_seq + 1,
            stale_cache=True,
            state=result_state,
            cached_seq=loaded.cached_seq,
        )
        reconciled = match.update.update_id if match is not None else None
        return Outcome("accepted", reconciled_with=reconciled), after, events

    def _audit_updates(self, items: list[Any], outcomes: list[Outcome], path: Path, actor: Actor | None) -> None:
        """One audit record per update (who, role, case, outcome, request id), in one insert."""
        if self.audit is None:
            return
        records = []
        for raw, outcome in zip(items, outcomes, strict=False):
            data: dict[str, Any] = (
                raw.model_dump() if isinstance(raw, BaseModel) else raw if isinstance(raw, dict) else {}
            )
            raw_case, raw_source = data.get("case_id"), data.get("source_system")
            case_id = raw_case if isinstance(raw_case, str) else None
            source = raw_source if isinstance(raw_source, str) else "unknown"
            who = actor or Actor.system(source[:64])
            details: dict[str, Any] = {"status": outcome.status, "path": path}
            if isinstance(data.get("kind"), str) and len(data["kind"]) <= 64:
                details["kind"] = data["kind"]
            if outcome.code:
                details["code"] = outcome.code
            records.append(who.record("legal.court_update.record", case_id[:64] if case_id else None, "ok", details))
        self.audit.record_many(records)

    def audit_refusal(self, actor: Actor, action: str, case_id: str | None, outcome: str, why: str) -> None:
        if self.audit is not None:
            self.audit.record_many([actor.record(action, case_id, outcome, {"why": why})])

    def _lock(self, case_id: str) -> threading.Lock:
        return self._locks[zlib.crc32(case_id.encode()) % len(self._locks)]

    @contextmanager
    def _locked(self, case_ids: Iterable[str]) -> Iterator[None]:
        """The locks of all ``case_ids``, taken in one global order (no two batches can deadlock)."""
        stripes = sorted({zlib.crc32(c.encode()) % len(self._locks) for c in case_ids})
        with ExitStack() as stack:
            for stripe in stripes:
                stack.enter_context(self._locks[stripe])
            yield

    def _place(
        self, new: Recorded, path: Path, loaded: Loaded, marks: dict[str, Any] | None = None
    ) -> tuple[Outcome, Loaded]:
        """Decide and insert one item, catching up and deciding again while another writer takes its slot."""
        for _ in range(self.max_attempts):
            decision = self._decide(new, loaded, marks)
            if isinstance(decision, Outcome):
                return decision, loaded
            outcome, after, events = decision
            saved = self.repo.save(loaded, after.records[-1], events, LEGAL_EVENTS)
            if saved == "saved":
                if events:
                    self.notify()
                log.info("court update accepted", extra={"case_id": new.update.case_id, "topic": path})
                return outcome, after
            if saved == "other_case":
                reason = "update_id: already used by this source_system for another case"
                return Outcome("rejected", reason, "key_taken"), loaded
            loaded = self.repo.catch_up(loaded)  # "conflict": someone appended first
        raise WriteContention("too many concurrent writes on one case")

    # -- who may do what on a case
    def check_scope(self, principal: Principal, case_ids: Iterable[tuple[str, str]]) -> None:
        """Every ``(field, case_id)`` must be readable by ``principal``; else :class:`CaseNotFound` (404)."""
        wanted = list(case_ids)
        access = self.repo.access_of_many(sorted({case_id for _, case_id in wanted}))  # one query per 500 cases
        for where, case_id in wanted:
            if not self._in_scope(principal, access.get(case_id) or {}):
                raise CaseNotFound(case_id, where)

    @staticmethod
    def _in_scope(principal: Principal, access: dict[str, Any]) -> bool:
        advocate_id, org_id = access.get("advocate_id"), access.get("org_id")
        if principal.has("legal_advocate") and advocate_id and advocate_id == principal.sub:
            return True
        return bool(principal.has("supervisor") and org_id and principal.org == org_id)

    def record_access(self, case_id: str, org_id: str, advocate_id: str | None, at: datetime) -> None:
        """From intake's case-events: who may read and record on the case."""
        self.repo.set_access(case_id, org_id, advocate_id, at)

    def record_shares(self, case_id: str, org_id: str, systems: list[str], at: datetime) -> None:
        """From intake's case-events (prosecutor references set): the integrator systems the case's
        organisation shares it with; the latest list replaces the one before."""
        if self.shares is not None:
            self.shares.set_shares(case_id, org_id, systems, at)

    def check_shared(self, source_system: str, case_ids: Iterable[tuple[str, str]], actor: Actor) -> None:
        """A court integrator publishes only for cases shared with its system: every ``(field, case_id)``
        must be, else :class:`CaseNotFound` for the first that is not (404 on REST, ``not_shared`` on Kafka)
        and the refusal is audited. With ``CENTINELA_LEGAL_INTEGRATOR_BINDING=warn`` nothing is refused:
        each unshared case is logged and audited (``details.binding: warn``)."""
        wanted = list(case_ids)
        if not wanted:
            return
        shares = self.shares.systems_of_many(sorted({c for _, c in wanted})) if self.shares is not None else {}
        for field, case_id in wanted:
            if source_system in shares.get(case_id, ()):
                continue
            known = case_id in shares or self.repo.access_of(case_id) is not None
            if self.settings.legal_integrator_binding == "warn":
                log.warning(
                    "court update for a case not shared with its integrator (binding in warn mode)",
                    extra={"case_id": case_id, "source_system": source_system},
                )
                if self.audit is not None:
                    details = {"why": "not_shared", "binding": "warn", "field": field}
                    self.audit.record_many([actor.record("legal.court_update.unshared", case_id, "ok", details)])
                continue
            outcome, why = ("denied", "not_shared") if known else ("not_found", "case_not_found")
            self.audit_refusal(actor, "legal.court_update.record", case_id, outcome, why)
            raise CaseNotFound(case_id, field)

    # -- reading
    def timeline(self, principal: Principal, case_id: str, request_id: str | None = None) -> TimelineState:
        """The case's timeline for its advocate or its org's supervisors; every read is audited.

        Outside the caller's scope the case looks exactly like an unknown one (:class:`CaseNotFound`),
        so the answer never confirms that a case exists (the audit trail tells the two apart).
        """
        actor = Actor.of(principal, request_id)
        access = self.repo.access_of(case_id)
        if not self._in_scope(principal, access or {}):
            outcome, why = ("denied", "out_of_scope") if access else ("not_found", "case_not_found")
            self.audit_refusal(actor, "legal.timeline.read", case_id, outcome, why)
            raise CaseNotFound(case_id)
        loaded = self.repo.load(case_id)  # the per-case cache; a write after a crash heals any lag
        if self.audit is not None:
            self.audit.record_many([actor.record("legal.timeline.read", case_id, "ok")])
        return replay(loaded.records, self.policy)

    # -- calendar
    def calendar(
        self, *, advocate_id: str | None = None, org_id: str | None = None, start: datetime, end: datetime
    ) -> list[AgendaItem]:
        """Hearings and deadlines between ``start`` and ``end`` of an advocate's cases, or an org's."""
        case_ids = self.repo.cases_of(advocate_id=advocate_id, org_id=org_id)
        items: list[AgendaItem] = []
        for doc in self.repo.agendas(case_ids):
            entries = doc.get("agenda")
            if entries is None and doc.get("updates"):
                # a cache written before agendas existed: rebuilt from its copy of the log
                from services.legal.store.timelines import record_from_entry

                entries = agenda(replay([record_from_entry(e) for e in doc["updates"]], self.policy))
            for entry in entries or []:
                at = entry["at"] if entry["at"].tzinfo else entry["at"].replace(tzinfo=UTC)
                if start <= at < end:
                    items.append(AgendaItem(doc["_id"], entry["kind"], at, entry.get("ref"), entry.get("article")))
        return sorted(items, key=lambda i: (i.at, i.case_id, i.kind))

    def calendar_for(
        self, sub: str, org: str | None, roles: list[str] | tuple[str, ...], now: datetime
    ) -> list[AgendaItem]:
        """The calendar a user sees: their own cases (advocates), their organisation's (supervisors)."""
        end = now + timedelta(days=self.settings.legal_calendar_horizon_days)
        start = now - timedelta(days=1)  # a hearing earlier today still shows
        if "supervisor" in roles and org:
            return self.calendar(org_id=org, start=start, end=end)
        if "legal_advocate" in roles:
            return self.calendar(advocate_id=sub, start=start, end=end)
        return []

    # -- audit (admins)
    def audit_search(self, query: AuditQuery, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
        if self.audit is None:
            return [], 0
        return self.audit.search(query, page, page_size)

    def list_cases(self, org_id: str, query: CaseListQuery) -> tuple[list[dict[str, Any]], int]:
        return self.repo.list_cases(org_id, **dataclasses.asdict(query))
