"""Court updates for the legal domain's unit tests: one record builder, one arrival-order integrator."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from services.legal.domain.deadlines import DeadlinePolicy
from services.legal.domain.timeline import Recorded, integrate
from services.legal.domain.updates import parse_update

_seq = itertools.count()


def recorded(kind: str, at: datetime, *, case_id: str = "c-1", prefix: str = "u", **fields: object) -> Recorded:
    """A parsed update of ``kind`` at ``at``, received now (later calls are received later)."""
    n = next(_seq)
    update = parse_update(
        {
            "source_system": "sgf",
            "update_id": f"{prefix}{n}",
            "case_id": case_id,
            "kind": kind,
            "occurred_at": at.isoformat(),
        }
        | fields
    )
    return Recorded(update=update, received_at=datetime.now(UTC) + timedelta(microseconds=n))


def build_with(policy: DeadlinePolicy, *records: Recorded) -> list[Recorded]:
    """Integrate one by one in arrival order, as the pipeline does."""
    accepted: list[Recorded] = []
    for r in records:
        integrate(accepted, r, policy)
        accepted.append(r)
    return accepted
