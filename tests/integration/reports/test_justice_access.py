"""Figures from real events: publish on the real broker, read them back through the real service."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from pymongo.database import Database

from services.reports.settings import ReportsSettings
from shared.auth import mint
from shared.events import EventPayload, new_event
from shared.kafka import Producer
from shared.topics import ALERTS, CASE_EVENTS, LEGAL_EVENTS
from tests.support import Proc, wait_for
from tests.unit.reports.helpers import T0, ack, alert, planned, registered, session, stage

N_CASES = 8


def _settings(env: dict[str, str]) -> ReportsSettings:
    return ReportsSettings(kafka_bootstrap=env["CENTINELA_KAFKA_BOOTSTRAP"], topic_prefix=env["CENTINELA_TOPIC_PREFIX"])


def _publish(producer: Producer, topic: str, payload: EventPayload, event_id: str) -> None:
    producer.publish(topic, new_event(payload, event_id=event_id))


def _token(env: dict[str, str], role: str, org: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(_settings(env), sub='it-user', roles=[role], org=org)}"}


def test_events_become_figures_and_a_replay_changes_nothing(
    reports_proc: Proc, reports_env: dict[str, str], reports_db: Database[Any]
) -> None:
    producer = Producer(_settings(reports_env), client_id="reports-it")
    sent: list[tuple[str, EventPayload, str]] = []
    for i in range(N_CASES):
        case = f"cs_reportsit{i:02d}aaaaaaaaaaa"[:25]
        sent += [
            (CASE_EVENTS, registered(case, org_id="org-it", region="150101"), f"reg-{i}"),
            (CASE_EVENTS, planned(case, 4), f"plan-{i}"),
            (CASE_EVENTS, session(case, f"ss_it{i:02d}aaaaaaaaaaa", T0 + timedelta(days=10 + i)), f"ses-{i}"),
            (LEGAL_EVENTS, stage(case, "complaint_filed", T0, f"u{i}a"), f"st1-{i}"),
            (LEGAL_EVENTS, stage(case, "preliminary_investigation", T0 + timedelta(days=20 + i), f"u{i}b"), f"st2-{i}"),
            (ALERTS, alert(case, "legal.no_activity", T0 + timedelta(days=120)), f"al-{i}"),
            (ALERTS, ack(case, "legal.no_activity", T0 + timedelta(days=120, hours=2)), f"ack-{i}"),
        ]
    for topic, payload, eid in sent:
        _publish(producer, topic, payload, eid)
    producer.flush(30)

    headers = _token(reports_env, "ops_viewer")

    def figures() -> dict[str, Any] | None:
        r = httpx.get(f"{reports_proc.url}/v1/reports/justice-access", params={"org": "org-it"}, headers=headers)
        assert r.status_code == 200, r.text
        fig = r.json()["groups"][0]["figures"]
        done = (
            fig["cases"] == N_CASES
            and (fig["alerts"] or {}).get("hours_to_acknowledge", {}).get("n") == N_CASES
            and (fig["service_coverage"] or {}).get("sessions_attended") == N_CASES
            and (fig["prosecution"] or {}).get("stage_days", {}).get("complaint_filed", {}).get("n") == N_CASES
        )
        return fig if done else None

    fig = wait_for(figures, timeout=60, what="figures of every published case")
    assert fig["prosecution"]["cases"] == N_CASES
    assert fig["prosecution"]["stalled"] == {"n": N_CASES, "share": 1.0}
    assert fig["prosecution"]["stage_days"]["complaint_filed"] == {"n": N_CASES, "median": 23.0, "p90": 27.0}
    assert fig["rescue_to_psychosocial_days"]["median"] == 13.0
    assert fig["service_coverage"]["coverage"] == 0.25
    assert fig["alerts"]["per_case"] == 1.0 and fig["alerts"]["hours_to_acknowledge"]["median"] == 2.0

    # the overall figures reach /metrics for the Justice access dashboard (no organisation label)
    def exported() -> str | None:
        text = httpx.get(f"{reports_proc.url}/metrics").text
        return text if "centinela_reports_cases " in text and "centinela_reports_cases 0.0" not in text else None

    metrics_text = wait_for(exported, timeout=60, what="figure gauges")
    assert "org-it" not in metrics_text

    # the supervisor of another organisation sees none of it; the CSV agrees with the JSON
    other = httpx.get(
        f"{reports_proc.url}/v1/reports/justice-access", headers=_token(reports_env, "supervisor", "org-x")
    )
    assert other.json()["groups"][0]["figures"]["cases"] == 0
    csv_text = httpx.get(
        f"{reports_proc.url}/v1/reports/justice-access.csv", params={"org": "org-it"}, headers=headers
    ).text
    assert csv_text.splitlines()[1].startswith(f",all,{N_CASES},{N_CASES},")

    # a replay (same event ids) is folded idempotently: the per-case facts do not change
    before = {d["_id"]: d["contrib"] for d in reports_db.case_facts.find({"org": "org-it"})}
    for topic, payload, eid in sent:
        _publish(producer, topic, payload, eid)
    _publish(producer, CASE_EVENTS, registered("cs_reportsitmarkeraaaaaaa", org_id="org-marker"), "marker")
    producer.close()
    wait_for(lambda: reports_db.case_facts.find_one({"_id": "cs_reportsitmarkeraaaaaaa"}), timeout=60, what="marker")
    after = {d["_id"]: d["contrib"] for d in reports_db.case_facts.find({"org": "org-it"})}
    assert after == before
    assert wait_for(figures, timeout=30, what="same figures after replay") == fig


def test_small_groups_are_suppressed_through_the_service(reports_proc: Proc, reports_env: dict[str, str]) -> None:
    producer = Producer(_settings(reports_env), client_id="reports-it-small")
    for i in range(2):
        case = f"cs_reportssmall{i:02d}aaaaaaaa"[:25]
        _publish(producer, CASE_EVENTS, registered(case, org_id="org-small"), f"small-{i}")
    producer.close()

    def shown() -> dict[str, Any] | None:
        r = httpx.get(
            f"{reports_proc.url}/v1/reports/justice-access",
            params={"org": "org-small"},
            headers=_token(reports_env, "admin"),
        )
        fig = r.json()["groups"][0]["figures"]
        return fig if fig.get("suppressed") == ["*"] else None

    fig = wait_for(shown, timeout=60, what="the small organisation's figures")
    assert fig["cases"] is None
