"""Measure the processor's per-case state in-process (no Kafka): time per fold and per step, bytes per case.

``python -m tests.unit.processor_perf.measure_state [--cases 100000] [--long 600]``

* a *typical* open case: registered, two services planned, sessions, a follow-up, a risk flag and a
  prosecution's legal facts (stage changes, hearings, attendance, a notification, a deadline, a
  protective measure), 26 events;
* a *long-lived* case: the same plus ``--long`` more sessions (what the dedup memory costs over time).

It prints µs per fold and per ``engine.step`` (fold + every rule + reconcile), the serialised size per
state as the table and its changelog hold it, and the resident memory of ``--cases`` states held as
the table holds them (bytes) and parsed (``CaseState``), with the extrapolation to 1 M cases.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.processor.domain.engine import step
from services.processor.domain.policy import load_policy
from services.processor.domain.state import CaseState, fold
from shared.events import Event, EventPayload, decode, encode, new_event
from shared.events import case as ce
from shared.events import legal as le

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)
CASE = "case-0000template"


def _wrap(payload: EventPayload, at: datetime) -> Event:
    return decode(encode(new_event(payload, time=at)))


def typical_events(case_id: str = CASE, extra_sessions: int = 0) -> list[Event]:
    """The facts of one realistic open case, in arrival order."""
    n = iter(range(1, 1_000_000))

    def legal(at: datetime) -> dict[str, Any]:
        return {"case_id": case_id, "source_system": "sgf", "update_id": f"upd-{next(n)}", "occurred_at": at}

    out: list[EventPayload] = [
        ce.CaseRegistered(case_id=case_id, org_id="org-1", advocate_id="adv-1", registered_at=T0),
        ce.ServicePlanned(
            case_id=case_id,
            service_id="svc-1",
            spl_type="Health",
            service_kind="health_checkup",
            provider_org_id="org-2",
            first_due_at=T0 + 3 * DAY,
            interval_days=7,
            planned_at=T0,
        ),
        ce.ServicePlanned(
            case_id=case_id,
            service_id="svc-2",
            spl_type="Psychosocial",
            service_kind="psychological_support",
            provider_org_id="org-3",
            first_due_at=T0 + 5 * DAY,
            interval_days=14,
            planned_at=T0,
        ),
        ce.FollowUpPlanned(case_id=case_id, followup_id="fu-1", planned_date=date(2026, 3, 1), planned_at=T0),
        ce.RiskFlagged(case_id=case_id, flag_id="flag-1", kind="other", severity="medium", raised_at=T0 + DAY),
        le.StageChanged(
            **legal(T0 + DAY),
            stage="preliminary_investigation",
            stage_started_at=T0 + DAY,
            deadline_at=T0 + 120 * DAY,
        ),
        le.RepresentationAssigned(**legal(T0 + 2 * DAY), representative_ref="rep-1"),
        le.ProtectiveMeasureGranted(
            **legal(T0 + 2 * DAY), measure="restraining_order", measure_id="pm-1", expires_at=T0 + 180 * DAY
        ),
        le.HearingScheduled(**legal(T0 + 3 * DAY), hearing_id="h-1", scheduled_for=T0 + 20 * DAY),
        le.TestimonyTaken(**legal(T0 + 4 * DAY), method="camara_gesell"),
        le.DeadlineSet(
            **legal(T0 + 4 * DAY),
            deadline_id="dl-1",
            deadline_kind="archive_elevation",
            status="open",
            due_at=T0 + 60 * DAY,
            opened_at=T0 + 4 * DAY,
        ),
        le.HearingPostponed(
            **legal(T0 + 19 * DAY), hearing_id="h-1", reason="judge unavailable", new_date=T0 + 30 * DAY
        ),
        le.VictimAttended(**legal(T0 + 30 * DAY), hearing_id="h-1"),
        le.HearingScheduled(**legal(T0 + 31 * DAY), hearing_id="h-2", scheduled_for=T0 + 45 * DAY),
        le.VictimAbsent(**legal(T0 + 45 * DAY), hearing_id="h-2"),
        le.StageChanged(
            **legal(T0 + 50 * DAY),
            stage="intermediate_stage",
            previous_stage="preliminary_investigation",
            stage_started_at=T0 + 50 * DAY,
            deadline_at=T0 + 140 * DAY,
        ),
        le.VictimNotified(**legal(T0 + 51 * DAY), about="stage"),
    ]
    sessions = 9 + extra_sessions
    for i in range(sessions):
        service, every = ("svc-1", 7) if i % 2 == 0 else ("svc-2", 14)
        out.append(
            ce.SessionRecorded(
                case_id=case_id,
                service_id=service,
                session_id=f"ses-{i}",
                service_kind="health_checkup" if service == "svc-1" else "psychological_support",
                outcome="attended" if i % 5 else "missed",
                occurred_at=T0 + (3 + every * (i // 2)) * DAY,
                recorded_at=T0 + (3 + every * (i // 2)) * DAY,
            )
        )
    return [_wrap(p, T0 + DAY) for p in out]


def rss() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def dump(state: CaseState) -> bytes:
    """The bytes the table and its changelog hold for ``state`` (whatever services.processor.tables uses)."""
    to_bytes: Callable[[], bytes] | None = getattr(state, "to_bytes", None)
    return to_bytes() if to_bytes is not None else state.model_dump_json().encode()


def load(raw: bytes) -> CaseState:
    from_bytes: Callable[[bytes], CaseState] | None = getattr(CaseState, "from_bytes", None)
    return from_bytes(raw) if from_bytes is not None else CaseState.model_validate_json(raw)


def per_event(events: list[Event], cases: int, with_rules: bool) -> float:
    """µs per event: ``cases`` cases each folded (and stepped) through ``events``."""
    policy = load_policy()
    now = T0 + 60 * DAY
    n = 0
    start = time.perf_counter()
    for i in range(cases):
        state: CaseState | None = CaseState(case_id=f"case-{i:012x}")
        for event in events:
            if with_rules:
                state = step(state, event, now, policy).state
            else:
                state, _ = fold(state, event)
            n += 1
    return (time.perf_counter() - start) / n * 1e6


def build(events: list[Event]) -> CaseState:
    state: CaseState | None = CaseState(case_id=CASE)
    for event in events:
        state, _ = fold(state, event)
    assert state is not None
    return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000, help="states held in memory (RSS delta)")
    parser.add_argument("--long", type=int, default=600, help="extra sessions of the long-lived case")
    parser.add_argument("--timing-cases", type=int, default=300, help="cases folded for the µs figures")
    args = parser.parse_args()

    typical = typical_events()
    long_lived = typical_events(extra_sessions=args.long)
    report: dict[str, Any] = {"events_per_typical_case": len(typical), "events_per_long_case": len(long_lived)}
    report["us_per_fold"] = round(per_event(typical, args.timing_cases, with_rules=False), 1)
    report["us_per_step"] = round(per_event(typical, args.timing_cases, with_rules=True), 1)

    t_state, l_state = build(typical), build(long_lived)
    t_raw, l_raw = dump(t_state), dump(l_state)
    assert load(t_raw) == t_state and load(l_raw) == l_state, "a state must survive its own serialisation"
    report["json_bytes_typical"] = len(t_raw)
    report["json_bytes_long"] = len(l_raw)
    old = t_state.model_dump_json().encode()
    start = time.perf_counter()
    for _ in range(2000):
        load(t_raw)
    report["us_parse_typical"] = round((time.perf_counter() - start) / 2000 * 1e6, 1)
    del old

    for name, raw in (("typical", t_raw), ("long", l_raw)):
        ids = [f"case-{i:012x}" for i in range(args.cases)]
        template = CASE.encode()
        gc.collect()
        before = rss()
        table = {cid: raw.replace(template, cid.encode()) for cid in ids}  # the table: case id -> bytes
        gc.collect()
        held = rss() - before
        report[f"rss_bytes_per_case_table_{name}"] = round(held / args.cases)
        report[f"rss_mb_1m_cases_table_{name}"] = round(held / args.cases * 1_000_000 / 2**20)
        parsed_n = min(args.cases, 20_000)
        before = rss()
        parsed = [load(table[cid]) for cid in ids[:parsed_n]]  # what the worker keeps parsed (LIVE_CASES)
        gc.collect()
        report[f"rss_bytes_per_case_parsed_{name}"] = round((rss() - before) / parsed_n)
        del parsed, table
        gc.collect()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
