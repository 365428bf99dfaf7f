"""One audit trail for every service: one record shape, one writer, one collection.

Every service that reads or changes case data (intake, legal, alerts), and reports (figures and exports),
appends to the same ``audit`` collection, so an admin reads the whole trail with one ``GET /v1/audit`` on
intake (filterable by case, actor, request id, service, time). A record is::

    {_id, at, service, actor, role, roles, org, action, case_id, outcome, request_id, route, reason, details}

``outcome`` is ``ok``, ``denied`` (role or scope refused: 401 is never recorded, there is no actor;
403 and out-of-scope 404 are) or ``not_found`` (the id does not exist). ``route`` is the route template
(``GET /v1/cases/{case_id}``), never the concrete path. ``details`` holds ids and codes only: never a
name, a free text or anything else that could identify a person.

Where the collection lives: ``CENTINELA_AUDIT_MONGO_URI`` (empty: the service's own server) and
``CENTINELA_AUDIT_DB`` (empty: intake's database, see :func:`audit_database`). The services only
insert; there is no update or delete path.
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, MongoClient
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError, OperationFailure
from starlette.types import ASGIApp, Receive, Scope, Send

from shared.logging import allow_log_keys
from shared.settings import CommonSettings

log = logging.getLogger(__name__)
allow_log_keys("audit_db", "audit_service")

COLLECTION = "audit"
OUTCOMES = ("ok", "denied", "not_found")
SERVICES = ("intake", "legal", "alerts", "reports")
#: the service of a record written before records named their service (legal's actions began "legal.")
_LEGACY_PREFIXES = {"legal.": "legal", "alerts.": "alerts"}

# The ASGI scope of the request being served (set by AuditContext): the writer reads the matched route
# template from it, so a record names its route without every call site passing it.
_scope: contextvars.ContextVar[Scope | None] = contextvars.ContextVar("centinela_audit_scope", default=None)


class AuditContext:
    """ASGI middleware: remembers the request's scope for :func:`current_route`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _scope.set(scope)
        try:
            await self.app(scope, receive, send)
        finally:
            _scope.reset(token)


def current_route() -> str | None:
    """``METHOD /template`` of the request being served, once routed; None outside a request."""
    scope = _scope.get()
    if scope is None:
        return None
    route = scope.get("route")
    template = getattr(route, "path", None)
    if not isinstance(template, str):
        return None
    # an included router's route knows only its own part of the template (FastAPI >= 0.16x): the prefix is
    # what the concrete path has before the route's part, filled in with this request's path parameters
    params = scope.get("path_params") or {}
    filled = _PARAM.sub(lambda m: str(params.get(m.group(1), m.group(0))), template)
    path = str(scope.get("path") or "")
    if filled and path.endswith(filled) and path != filled:
        template = path[: -len(filled)] + template
    return f"{scope.get('method', '')} {template}"[:200]


_PARAM = re.compile(r"\{(\w+)(?::[^}]*)?\}")


def service_of(doc: Mapping[str, Any]) -> str:
    """The service that wrote ``doc`` (records from before the shared trail carry no ``service``)."""
    service = doc.get("service")
    if isinstance(service, str) and service:
        return service
    action = str(doc.get("action") or "")
    for prefix, name in _LEGACY_PREFIXES.items():
        if action.startswith(prefix):
            return name
    return "intake"


@dataclass(frozen=True)
class AuditQuery:
    """Equality filters and a time range over the trail (every field optional)."""

    case_id: str | None = None
    actor: str | None = None
    action: str | None = None
    org: str | None = None
    outcome: str | None = None
    request_id: str | None = None
    service: str | None = None
    since: datetime | None = None  # inclusive, aware UTC
    until: datetime | None = None  # exclusive, aware UTC

    def equalities(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k not in ("since", "until") and v is not None}

    def filters(self) -> dict[str, Any]:
        """The filters named (for cursors bound to them and for the audit record of the read)."""
        out = self.equalities()
        if self.since is not None:
            out["at__gte"] = self.since
        if self.until is not None:
            out["at__lt"] = self.until
        return out

    def mongo(self) -> dict[str, Any]:
        """A MongoDB filter. ``service`` also matches the older records that did not name it."""
        out: dict[str, Any] = {k: v for k, v in self.equalities().items() if k != "service"}
        if self.service is not None:
            out.update(_service_clause(self.service))  # one top-level $or: no key of its own clashes
        if self.since is not None or self.until is not None:
            at: dict[str, Any] = {}
            if self.since is not None:
                at["$gte"] = self.since
            if self.until is not None:
                at["$lt"] = self.until
            out["at"] = at
        return out

    def keep(self, doc: Mapping[str, Any]) -> bool:
        """Whether ``doc`` matches the equalities (for reads that filter some of them in memory)."""
        for name, value in self.equalities().items():
            if name == "service":
                if service_of(doc) != value:
                    return False
            elif doc.get(name) != value:
                return False
        return True


def _service_clause(service: str) -> dict[str, Any]:
    """Records naming ``service``, and the older ones without a ``service`` whose action says it was ``service``."""
    if service == "intake":
        legacy: dict[str, Any] = {"$not": re.compile(r"^(legal|alerts)\.")}
    elif f"{service}." in _LEGACY_PREFIXES:
        legacy = {"$regex": f"^{service}\\."}
    else:
        return {"service": service}
    return {"$or": [{"service": service}, {"service": None, "action": legacy}]}


@dataclass(frozen=True)
class AuditEntry:
    """One record as read back (``pk`` is its id, the tie-breaker of a cursor)."""

    pk: ObjectId
    at: datetime
    service: str
    actor: str
    role: str
    roles: list[str] = field(default_factory=list)
    org: str | None = None
    action: str = ""
    case_id: str | None = None
    outcome: str = "ok"
    request_id: str | None = None
    route: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> AuditEntry:
        at = doc["at"]
        return cls(
            pk=doc["_id"],
            at=at if at.tzinfo else at.replace(tzinfo=UTC),
            service=service_of(doc),
            actor=str(doc.get("actor") or ""),
            role=str(doc.get("role") or ""),
            roles=list(doc.get("roles") or []),
            org=doc.get("org"),
            action=str(doc.get("action") or ""),
            case_id=doc.get("case_id"),
            outcome=str(doc.get("outcome") or "ok"),
            request_id=doc.get("request_id"),
            route=doc.get("route"),
            reason=doc.get("reason"),
            details=dict(doc.get("details") or {}),
        )

    def public(self) -> dict[str, Any]:
        """The fields an API shows (everything but the storage id)."""
        return {k: v for k, v in vars(self).items() if k != "pk"}


class AuditTrail:
    """The writer every service uses: ``service`` names the writer in each record."""

    def __init__(self, collection: Collection[Any], service: str) -> None:
        self.coll = collection
        self.service = service

    def ensure_indexes(self) -> None:
        # (field, at) pairs: the keyset reads of GET /v1/audit and /v1/cases/{id}/views use one equality + at
        for name in ("case_id", "actor", None, "request_id", "service"):
            keys = [(name, ASCENDING), ("at", ASCENDING)] if name else [("at", ASCENDING)]
            try:
                self.coll.create_index(keys)
            except OperationFailure as exc:
                # 85/86: the same keys exist with other options (intake's older index, made with
                # ``background: false``); the index is there, which is all a read needs
                if exc.code not in (85, 86):
                    raise

    def entry(
        self,
        *,
        actor: str,
        role: str,
        roles: list[str] | None = None,
        org: str | None = None,
        action: str,
        case_id: str | None = None,
        outcome: str = "ok",
        request_id: str | None = None,
        reason: str | None = None,
        details: dict[str, Any] | None = None,
        route: str | None = None,
    ) -> dict[str, Any]:
        """One record in the shared shape (not yet written)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"audit outcome must be one of {OUTCOMES}")
        return {
            "_id": ObjectId(),
            "at": datetime.now(UTC),
            "service": self.service,
            "actor": actor,
            "role": role,
            "roles": sorted(roles) if roles is not None else [role],
            "org": org,
            "action": action,
            "case_id": case_id,
            "outcome": outcome,
            "request_id": request_id,
            "route": route if route is not None else current_route(),
            "reason": reason[:500] if reason else None,
            "details": details or {},
        }

    def record(self, **fields: Any) -> None:
        """Write one record (keyword arguments of :meth:`entry`)."""
        self.write([self.entry(**fields)])

    def write(self, docs: list[dict[str, Any]]) -> None:
        if not docs:
            return
        try:
            self.coll.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            # ids are made here, so "duplicate key" on them means a retried insert whose first reply was
            # lost had already stored them; anything else is a real failure
            if any(e.get("code") != 11000 for e in exc.details.get("writeErrors") or []):
                raise


def audit_database(settings: CommonSettings) -> str:
    """The database of the shared trail: ``CENTINELA_AUDIT_DB``; when empty, intake's database named the
    way this service's is (``centinela_intake`` by default; ``<x>_intake`` when ``CENTINELA_MONGO_DB`` is
    ``<x>_<service>``, as the test runs name theirs), else this service's own database."""
    configured = settings.audit_db
    if configured:
        return str(configured)
    if not settings.mongo_db:
        return "centinela_intake"
    suffix = f"_{settings.service_name}"
    if settings.mongo_db.endswith(suffix):
        return settings.mongo_db[: -len(suffix)] + "_intake"
    return settings.mongo_db


def open_trail(settings: CommonSettings, client: MongoClient[Any], service: str | None = None) -> AuditTrail:
    """The trail of this service: on the service's own server unless ``CENTINELA_AUDIT_MONGO_URI`` names
    another (the client is then made here and lives as long as the process)."""
    uri = settings.audit_mongo_uri
    audit_client = client
    if uri:
        audit_client = MongoClient(
            uri,
            tz_aware=True,
            serverSelectionTimeoutMS=settings.mongo_timeout_ms,
            connectTimeoutMS=settings.mongo_timeout_ms,
        )
    trail = AuditTrail(audit_client[audit_database(settings)][COLLECTION], service or settings.service_name)
    log.info("audit trail", extra={"audit_db": audit_database(settings), "audit_service": trail.service})
    return trail
