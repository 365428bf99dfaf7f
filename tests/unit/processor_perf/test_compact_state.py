"""The compact case state (issue 16 items 3-4): fold copies only what it changes and never changes its
input; idempotency by a bounded ring of 8-byte id hashes; older states (the 512-id list) still load;
the table's form leaves out the fields at their defaults."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from services.processor.domain.engine import step
from services.processor.domain.policy import load_policy
from services.processor.domain.state import MAX_SEEN_EVENT_IDS, SEEN_HASH_BYTES, CaseState, fold, seen_hash
from shared.events import Event, decode, encode, new_event, registered_types
from shared.events import case as ce
from shared.events.alerts import AlertResolved
from tests.unit.processor_perf.measure_state import CASE, T0, typical_events

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
DAY = timedelta(days=1)


def sample_events(case_id: str = CASE) -> list[Event]:
    """One event of every registered type (its committed sample), all about ``case_id``."""
    out = []
    for name, cls in sorted(registered_types().items()):
        path = SAMPLES / name / f"v{cls.VERSION}.json"
        if not path.exists():
            continue
        doc = json.loads(path.read_text())
        doc["subject"] = doc["data"]["case_id"] = case_id
        out.append(decode(json.dumps(doc)))
    return out


def again(event: Event) -> Event:
    """The same fact under a new event id (so it is applied, onto the tracks it touched before)."""
    return Event(envelope=event.envelope.model_copy(update={"id": str(uuid.uuid4())}), payload=event.payload)


def rich_state() -> CaseState:
    """A state with every kind of track: typical facts, every sample, and the alerts they raise."""
    state: CaseState | None = None
    for event in [*typical_events(), *sample_events()]:
        state = step(state, event, T0 + 400 * DAY, load_policy()).state
    assert state is not None and state.alerts and state.services and state.protective_measures
    return state


def changing_events(state: CaseState) -> list[Event]:
    """Facts that change nested tracks in place (a plan advancing, a follow-up done, a measure renewed,
    an alert resolved by hand), plus every sample and typical fact again under new ids."""
    track_key, track = next((k, t) for k, t in state.alerts.items() if t.open and t.alert_id)
    extra = [
        ce.SessionRecorded(
            case_id=CASE,
            service_id="svc-1",
            session_id="ses-new",
            service_kind="health_checkup",
            outcome="missed",
            occurred_at=T0 + 90 * DAY,
            recorded_at=T0 + 90 * DAY,
        ),
        ce.FollowUpRecorded(
            case_id=CASE, followup_id="fu-1", done_date=date(2026, 3, 2), outcome="ok", recorded_at=T0 + 60 * DAY
        ),
        AlertResolved(
            case_id=CASE,
            alert_id=track.alert_id or "",
            rule=track_key.split("#", 1)[0],
            episode=track.episode,
            auto=False,
            reason="seen to",
            by="adv-1",
            resolved_at=T0 + 61 * DAY,
        ),
    ]
    wrapped = [decode(encode(new_event(p, time=T0))) for p in extra]
    return [*wrapped, *map(again, sample_events()), *map(again, typical_events())]


def test_fold_never_changes_the_state_it_is_given_for_any_event_type() -> None:
    state = rich_state()
    events = changing_events(state)
    assert {e.type for e in sample_events()} <= {e.type for e in events}
    for event in events:
        snapshot = copy.deepcopy(state)
        as_json = state.to_json()
        new, applied = fold(state, event)
        assert applied and new is not state, event.type
        assert state == snapshot and state.to_json() == as_json, f"{event.type} changed the state it was given"
    # and the copies did change where the facts say (the in-place paths really ran)
    session, followup, resolution = events[:3]
    after, _ = fold(state, session)
    assert after.services["svc-1"].sessions_recorded == state.services["svc-1"].sessions_recorded + 1
    assert after.services["svc-1"].session_ids is not state.services["svc-1"].session_ids
    after, _ = fold(state, followup)
    assert after.followups["fu-1"].done and not state.followups["fu-1"].done
    after, _ = fold(state, resolution)
    assert isinstance(resolution.payload, AlertResolved)
    resolved = next(t for t in after.alerts.values() if t.alert_id == resolution.payload.alert_id)
    assert not resolved.open and resolved.resolved_by == "adv-1"
    assert next(t for t in state.alerts.values() if t.alert_id == resolution.payload.alert_id).open


def test_a_repeat_is_not_applied_and_hands_back_the_same_state() -> None:
    state: CaseState | None = None
    events = typical_events()
    for event in events:
        state, _ = fold(state, event)
    assert state is not None
    for event in events:  # a redelivered run: every one of them already folded
        again_state, applied = fold(state, event)
        assert not applied and again_state is state


def test_the_dedup_memory_is_a_bounded_ring_of_8_byte_hashes() -> None:
    st: CaseState | None = None
    upd = ce.CaseUpdated(case_id="c1", changed_fields=["region"], updated_at=T0)
    events = [decode(encode(new_event(upd, event_id=f"e{i}"))) for i in range(MAX_SEEN_EVENT_IDS + 40)]
    for event in events:
        st, _ = fold(st, event)
    assert st is not None
    assert len(st.seen_ids) == MAX_SEEN_EVENT_IDS * SEEN_HASH_BYTES
    assert st.seen_ids[-SEEN_HASH_BYTES:] == seen_hash(events[-1].id)
    assert all(st.seen(e.id) for e in events[-MAX_SEEN_EVENT_IDS:])  # the window: every repeat dropped
    assert not st.seen(events[39].id) and fold(st, events[39])[1]  # beyond it: applied again
    assert not st.seen("e-never")
    # a hash found at an offset that is not an entry boundary is no match
    st2 = CaseState(case_id="c2", seen_ids=b"\x00" * 4 + seen_hash("x") + b"\x00" * 4)
    assert not st2.seen("x")
    # in JSON the ring is one base64 string
    assert isinstance(st.to_json()["seen_ids"], str)
    assert CaseState.from_json(st.to_json()) == st == CaseState.from_bytes(st.to_bytes())


def test_a_state_written_with_the_512_id_list_still_loads() -> None:
    ids = [str(uuid.uuid4()) for _ in range(512)]
    fresh = CaseState(case_id="c-old", status="Active", registered_at=datetime(2025, 1, 1, tzinfo=UTC))
    doc = fresh.model_dump(mode="json")
    del doc["seen_ids"]
    doc["seen_event_ids"] = ids  # the form before: every field, the newest 512 ids
    for raw in (json.dumps(doc).encode(), doc):
        st = CaseState.from_bytes(raw) if isinstance(raw, bytes) else CaseState.from_json(raw)
        assert st.status == "Active" and st.registered_at == fresh.registered_at
        kept = min(len(ids), MAX_SEEN_EVENT_IDS)  # every id of the old list fits the window now
        assert len(st.seen_ids) == kept * SEEN_HASH_BYTES
        assert all(st.seen(i) for i in ids[-kept:])
        assert not st.seen(str(uuid.uuid4()))
        assert "seen_event_ids" not in json.loads(st.to_bytes())


def test_the_table_form_leaves_out_defaults_and_reads_back_equal() -> None:
    state = rich_state()
    raw = state.to_bytes()
    assert CaseState.from_bytes(raw) == state
    assert len(raw) < len(state.model_dump_json())
    empty = CaseState(case_id="c-empty")
    assert set(json.loads(empty.to_bytes())) <= {"case_id", "seen_ids"}  # nothing else of an empty state
    assert CaseState.from_bytes(empty.to_bytes()) == empty
