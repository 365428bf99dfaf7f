"""The alerts service through real HTTP, on the real broker and database, with real SMTP and webhooks."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from services.alerts.adapters.webhook_signing import verify
from shared.events import DecodeError, decode, encode, new_event
from shared.events.alerts import AlertResolved
from shared.kafka import dlq_headers
from shared.topics import ALERTS, dlq
from tests.integration.alerts_service.conftest import SENTINEL, AlertsService, same_alert, uid
from tests.support import Receiver, alert_raised, consumer, drain, wait_for

pytestmark = pytest.mark.integration


def facts_for(records: list[Any], alert_id: str, type_suffix: str) -> list[Any]:
    out = []
    for r in records:
        try:
            ev = decode(r.value)
        except DecodeError:  # the poison test's records share the topic
            continue
        if ev.type.endswith(type_suffix) and ev.payload.alert_id == alert_id:  # type: ignore[attr-defined]
            out.append(ev)
    return out


def test_ready_checks_kafka_and_mongodb(alerts_service: AlertsService) -> None:
    r = httpx.get(alerts_service.url + "/readyz", timeout=5)
    assert r.status_code == 200
    assert set(r.json()["checks"]) >= {"kafka", "mongodb"}


def test_inbox_is_need_to_know(alerts_service: AlertsService) -> None:
    s = alerts_service
    adv, other_adv, org, other_org = uid("adv"), uid("adv"), uid("org"), uid("org")
    alert = s.raise_alert(advocate=adv, org=org, evidence={"deadline": "2025-01-01", "events": ["ev-1"]})
    mine = s.token("legal_advocate", adv, org)
    detail = s.wait_alert(alert.alert_id, mine)
    assert detail["status"] == "open"
    assert detail["case_id"] == alert.case_id
    assert detail["evidence"] == {"deadline": "2025-01-01", "events": ["ev-1"]}
    assert detail["link"] == f"https://centinela.test/v1/alerts/{alert.alert_id}"

    inbox = s.get("/v1/alerts", mine).json()
    assert [a["id"] for a in inbox["items"]] == [alert.alert_id]

    theirs = s.token("legal_advocate", other_adv, org)
    assert s.get("/v1/alerts", theirs).json()["items"] == []
    assert s.get(f"/v1/alerts/{alert.alert_id}", theirs).status_code == 404
    assert s.post(f"/v1/alerts/{alert.alert_id}/ack", theirs).status_code == 404
    assert s.post(f"/v1/alerts/{alert.alert_id}/resolve", theirs).status_code == 404

    supervisor = s.token("supervisor", uid("sup"), org)
    sup_inbox = s.get("/v1/alerts", supervisor, params={"case_id": alert.case_id}).json()
    assert [a["id"] for a in sup_inbox["items"]] == [alert.alert_id]
    foreign_sup = s.token("supervisor", uid("sup"), other_org)
    assert s.get(f"/v1/alerts/{alert.alert_id}", foreign_sup).status_code == 404

    for role in ("service_provider", "ops_viewer", "intake_officer", "admin"):
        assert s.get("/v1/alerts", s.token(role, org=org)).status_code == 403, role
        assert s.get(f"/v1/alerts/{alert.alert_id}", s.token(role, org=org)).status_code == 403, role
    assert httpx.get(s.url + "/v1/alerts", timeout=5).status_code == 401


def test_inbox_filters_and_paging_newest_first(alerts_service: AlertsService) -> None:
    s = alerts_service
    adv, org = uid("adv"), uid("org")
    case_id = uid("case")
    first = s.raise_alert(advocate=adv, org=org, case_id=case_id, rule="service.overdue", severity="high")
    second = s.raise_alert(advocate=adv, org=org, case_id=case_id, rule="legal.no_activity", severity="medium")
    third = s.raise_alert(advocate=adv, org=org, case_id=case_id, rule="risk.revictimisation", severity="critical")
    mine = s.token("legal_advocate", adv, org)
    wait_for(lambda: len(s.get("/v1/alerts", mine).json()["items"]) == 3, timeout=30, what="three alerts")
    assert s.get("/v1/alerts", mine).json()["total"] is None  # counted only when asked
    assert s.get("/v1/alerts", mine, params={"total": "true"}).json()["total"] == 3

    page1 = s.get("/v1/alerts", mine, params={"limit": 2}).json()
    assert [a["id"] for a in page1["items"]] == [third.alert_id, second.alert_id]
    assert page1["next_cursor"]
    page2 = s.get("/v1/alerts", mine, params={"limit": 2, "cursor": page1["next_cursor"]}).json()
    assert [a["id"] for a in page2["items"]] == [first.alert_id]
    assert page2["next_cursor"] is None

    by_rule = s.get("/v1/alerts", mine, params={"rule": "legal.no_activity"}).json()
    assert [a["id"] for a in by_rule["items"]] == [second.alert_id]
    by_sev = s.get("/v1/alerts", mine, params={"severity": "critical"}).json()
    assert [a["id"] for a in by_sev["items"]] == [third.alert_id]
    assert s.get("/v1/alerts", mine, params={"status": "resolved"}).json()["items"] == []

    bad = s.get("/v1/alerts", mine, params={"status": "closed"})
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "query.status"
    assert s.get("/v1/alerts", mine, params={"limit": 0}).status_code == 422

    # a cursor is only good for the query (and the caller) it came from, and cannot be forged
    cursor = page1["next_cursor"]
    body, _, mac = cursor.partition(".")
    tampered = body[:-2] + ("AA" if body[-2:] != "AA" else "BB") + "." + mac
    other_query = s.get("/v1/alerts", mine, params={"limit": 2, "rule": "service.overdue", "cursor": cursor})
    someone_else = s.get("/v1/alerts", s.token("legal_advocate", uid("adv"), org), params={"cursor": cursor})
    for refused in (
        s.get("/v1/alerts", mine, params={"cursor": "garbage"}),
        s.get("/v1/alerts", mine, params={"limit": 2, "cursor": tampered}),
        other_query,
        someone_else,
    ):
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"][0]["field"] == "query.cursor"
    # offset paging is gone from the inbox (it repeated items while alerts arrived): refused, not ignored
    old = s.get("/v1/alerts", mine, params={"offset": 2})
    assert old.status_code == 422 and old.json()["detail"][0]["field"] == "query.offset"


def test_walking_the_pages_while_alerts_arrive_yields_each_alert_once(alerts_service: AlertsService) -> None:
    """Alerts raised between page reads, newer than everything, tied on raised_at with a served one,
    or older than the page boundary: none shifts the pages, so every alert stored before the walk is
    served exactly once and none twice (offset paging served some twice and skipped others)."""
    s = alerts_service
    adv, org = uid("adv"), uid("org")
    mine = s.token("legal_advocate", adv, org)
    base = datetime.now(UTC) - timedelta(hours=1)
    before: list[str] = []
    for i in range(30):  # pairs share a raised_at: the id breaks the tie
        p = alert_raised(org=org, advocate=adv, raised_at=base + timedelta(seconds=i // 2))
        s.publish(p)
        before.append(p.alert_id)
    wait_for(
        lambda: s.get("/v1/alerts", mine, params={"total": "true"}).json()["total"] == 30, timeout=60, what="30 alerts"
    )
    seen: list[str] = []
    arrived: list[str] = []
    cursor = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 4}
        if cursor:
            params["cursor"] = cursor
        page = s.get("/v1/alerts", mine, params=params).json()
        seen += [a["id"] for a in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if not cursor:
            break
        # while the client reads: a newest alert, one tied with the last served, one older than it
        last_at = datetime.fromisoformat(page["items"][-1]["raised_at"])
        for at in (datetime.now(UTC), last_at, last_at - timedelta(milliseconds=500)):
            p = alert_raised(org=org, advocate=adv, raised_at=at)
            s.publish(p)
            arrived.append(p.alert_id)
        wait_for(lambda: s.get(f"/v1/alerts/{arrived[-1]}", mine).status_code == 200, timeout=30, what="arrival")
    assert pages >= 8
    assert len(seen) == len(set(seen)), "an alert was served twice"
    assert set(before) <= set(seen), "an alert stored before the walk was skipped"
    assert set(seen) <= set(before) | set(arrived)


def test_replayed_raised_event_is_one_alert(alerts_service: AlertsService) -> None:
    s = alerts_service
    adv, org, case_id = uid("adv"), uid("org"), uid("case")
    event_id = str(uuid.uuid4())
    alert = s.raise_alert(advocate=adv, org=org, case_id=case_id, event_id=event_id)
    s.raise_alert(advocate=adv, org=org, case_id=case_id, event_id=event_id)  # the same event again
    s.raise_alert(advocate=adv, org=org, case_id=case_id)  # the same alert id under a new event id
    # a later alert on the same case (same partition, so consumed after the duplicates) marks "all processed"
    marker = s.raise_alert(advocate=adv, org=org, case_id=case_id, rule="legal.no_activity")
    mine = s.token("legal_advocate", adv, org)
    s.wait_alert(marker.alert_id, mine)
    page = s.get("/v1/alerts", mine, params={"case_id": case_id, "rule": "service.overdue"}).json()
    assert len(page["items"]) == 1
    assert page["items"][0]["id"] == alert.alert_id


def test_ack_resolve_publish_events_and_conflicts(alerts_service: AlertsService) -> None:
    s = alerts_service
    alert, mine, adv, org = s.deliver()
    with consumer(s.env, ALERTS) as c:  # from the beginning: no group-join race; facts_for filters by alert
        acked = s.post(f"/v1/alerts/{alert.alert_id}/ack", mine, {"comment": f"calling the shelter about {SENTINEL}"})
        assert acked.status_code == 200, acked.text
        assert acked.json()["status"] == "acknowledged"
        assert acked.json()["acknowledged_by"] == adv
        assert acked.json()["history"][-1]["comment"].startswith("calling the shelter")
        again = s.post(f"/v1/alerts/{alert.alert_id}/ack", mine)
        assert again.status_code == 409
        resolved = s.post(f"/v1/alerts/{alert.alert_id}/resolve", mine, {"comment": "session held"})
        assert resolved.status_code == 200
        assert resolved.json()["status"] == "resolved"
        assert resolved.json()["resolved_auto"] is False
        assert s.post(f"/v1/alerts/{alert.alert_id}/resolve", mine).status_code == 409

        def both(records: list[Any]) -> bool:
            return bool(
                facts_for(records, alert.alert_id, "acknowledged") and facts_for(records, alert.alert_id, "resolved")
            )

        records = drain(c, both, timeout=30)
    ack_event = facts_for(records, alert.alert_id, "acknowledged")[0]
    assert ack_event.payload.by == adv
    assert ack_event.payload.comment is None  # free-text comments never leave the service
    res_event = facts_for(records, alert.alert_id, "resolved")[0]
    assert res_event.payload.auto is False and res_event.payload.by == adv
    for r in records:
        assert SENTINEL.encode() not in r.value


def test_snooze_validates_and_hides(alerts_service: AlertsService) -> None:
    s = alerts_service
    alert, mine, adv, org = s.deliver()
    past = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    r = s.post(f"/v1/alerts/{alert.alert_id}/snooze", mine, {"until": past})
    assert r.status_code == 422
    assert r.json()["detail"][0]["field"] == "body.until"
    naive = s.post(f"/v1/alerts/{alert.alert_id}/snooze", mine, {"until": "2030-01-01T00:00:00"})
    assert naive.status_code == 422
    assert naive.json()["detail"][0]["field"] == "body.until"
    # the edges of what a datetime can hold: 422 naming the field, never a 500 (OverflowError in the UTC conversion)
    for edge in ("9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2200-01-01T00:00:00Z"):
        r = s.post(f"/v1/alerts/{alert.alert_id}/snooze", mine, {"until": edge})
        assert r.status_code == 422, (edge, r.text)
        assert r.json()["detail"][0]["field"] == "body.until"
        assert edge not in r.text
    until = datetime.now(UTC) + timedelta(hours=2)
    ok = s.post(f"/v1/alerts/{alert.alert_id}/snooze", mine, {"until": until.isoformat()})
    assert ok.status_code == 200, ok.text
    assert ok.json()["status"] == "snoozed"
    assert datetime.fromisoformat(ok.json()["snoozed_until"]) == until.replace(
        microsecond=until.microsecond // 1000 * 1000
    )
    snoozed = s.get("/v1/alerts", mine, params={"status": "snoozed"}).json()
    assert [a["id"] for a in snoozed["items"]] == [alert.alert_id]
    assert s.get("/v1/alerts", mine, params={"status": "open"}).json()["items"] == []
    # snoozed alerts can still be acknowledged
    assert s.post(f"/v1/alerts/{alert.alert_id}/ack", mine).json()["status"] == "acknowledged"


def test_poison_on_the_alerts_topic_goes_to_the_dlq_and_the_rest_goes_on(alerts_service: AlertsService) -> None:
    """A record that can never be stored (a time at the edge of what a datetime holds, not JSON) is
    dead-lettered with its reason at once; the valid alerts after it on the same partition are stored."""
    s = alerts_service
    adv, org, case_id = uid("adv"), uid("org"), uid("case")
    overflow = alert_raised(
        org=org, advocate=adv, case_id=case_id, raised_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    )
    body = json.loads(encode(new_event(overflow)))
    body["data"]["raised_at"] = "9999-12-31T23:59:59-14:00"
    key = case_id.encode()
    with consumer(s.env, dlq(ALERTS)) as c:
        s.producer.send_raw(ALERTS, key, json.dumps(body).encode()).get(timeout=30)
        s.producer.send_raw(ALERTS, key, b"not json at all").get(timeout=30)
        valid = [
            s.raise_alert(advocate=adv, org=org, case_id=case_id, rule=rule)
            for rule in ("legal.no_activity", "service.missed_consecutive", "followup.contact_lost")
        ]
        mine = s.token("legal_advocate", adv, org)
        for alert in valid:
            s.wait_alert(alert.alert_id, mine)

        def both(records: list[Any]) -> bool:
            return len([r for r in records if r.key == key]) >= 2

        records = [r for r in drain(c, both, timeout=30) if r.key == key]
    reasons = sorted(dlq_headers(r.headers)["dlq.reason"] for r in records)
    assert any("data.raised_at" in r for r in reasons), reasons
    assert all("9999" not in r for r in reasons)
    assert len(reasons) == 2
    assert s.get(f"/v1/alerts/{overflow.alert_id}", mine).status_code == 404
    ready = httpx.get(s.url + "/readyz", timeout=5).json()
    assert ready["checks"]["consumer:alerts"] == "ok"
    assert s.metric("centinela_alerts_service_dead_lettered_total") >= 2


def test_auto_resolve_from_the_processor(alerts_service: AlertsService) -> None:
    s = alerts_service
    alert, mine, adv, org = s.deliver()
    s.publish(
        AlertResolved(
            **same_alert(alert),
            auto=True,
            reason="the overdue session was recorded",
            resolved_at=datetime.now(UTC),
        )
    )
    detail = s.wait_alert(alert.alert_id, mine, until=lambda a: a["status"] == "resolved")
    assert detail["resolved_auto"] is True
    assert detail["resolution_reason"] == "the overdue session was recorded"
    assert s.post(f"/v1/alerts/{alert.alert_id}/ack", mine).status_code == 409


def subject(msg: Any) -> str:
    """The Subject as the reader sees it (non-ASCII headers travel RFC 2047-encoded)."""
    from email.header import decode_header, make_header

    return str(make_header(decode_header(msg["Subject"])))


def test_email_to_the_advocate_without_personal_data(alerts_service: AlertsService) -> None:
    s = alerts_service
    adv, org = uid("adv"), uid("org")
    address = f"{adv}@defensoria.test"
    s.directory(adv, address, org, "legal_advocate")
    alert = s.raise_alert(advocate=adv, org=org, evidence={"child_name_leak_probe": SENTINEL, "due_at": "2025-01-01"})
    msgs = wait_for(lambda: s.mailbox.to(address), timeout=30, what="e-mail to the advocate")
    assert len(msgs) == 1
    msg = msgs[0]
    assert msg["To"] == address
    assert msg["From"] == "centinela@alerts.test"
    # Spanish (the default language): the rule in plain words, the case code; the rule id in the body
    assert alert.case_id in subject(msg) and "Una sesión de un servicio de apoyo está vencida" in subject(msg)
    body = msg.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert alert.case_id in body and alert.rule in body
    assert f"https://centinela.test/v1/alerts/{alert.alert_id}" in body
    for part in SENTINEL.split():
        assert part not in body and part not in msg["Subject"]
    wait_for(lambda: s.metric("centinela_alerts_notifications_total", {"channel": "email", "outcome": "sent"}) >= 1)


def test_emails_in_the_recipients_language_link_to_the_console(alerts_service: AlertsService) -> None:
    """Through the real SMTP receiver: Spanish by default, English for a contact who chose it (issue 14 item 4)."""
    s = alerts_service
    org = uid("org")
    es_adv, en_adv = uid("adv"), uid("adv")
    es_addr, en_addr = f"{es_adv}@defensoria.test", f"{en_adv}@defensoria.test"
    s.directory(es_adv, es_addr, org, "legal_advocate")  # no language: the default (es)
    put = s.put(
        f"/v1/directory/{en_adv}",
        s.token("admin"),
        {"email": en_addr, "org_id": org, "role": "legal_advocate", "language": "en"},
    )
    assert put.status_code == 200 and put.json()["language"] == "en"
    bad = s.put(
        f"/v1/directory/{en_adv}",
        s.token("admin"),
        {"email": en_addr, "org_id": org, "role": "legal_advocate", "language": "fr"},
    )
    assert bad.status_code == 422 and "language" in bad.text

    es_alert = s.raise_alert(advocate=es_adv, org=org, rule="legal.no_activity", severity="critical",
                             evidence={"probe": SENTINEL})  # fmt: skip
    en_alert = s.raise_alert(advocate=en_adv, org=org, rule="legal.no_activity", severity="critical")
    es_msg = wait_for(lambda: s.mailbox.to(es_addr), timeout=30, what="Spanish e-mail")[0]
    en_msg = wait_for(lambda: s.mailbox.to(en_addr), timeout=30, what="English e-mail")[0]

    assert subject(es_msg) == (
        f"[centinela] Alerta crítica: El proceso penal lleva demasiado tiempo sin actividad (caso {es_alert.case_id})"
    )
    es_body = es_msg.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert (
        f"Abra la alerta en la consola (requiere iniciar sesión): https://centinela.test/v1/alerts/{es_alert.alert_id}"
        in es_body
    )
    assert "Gravedad: crítica" in es_body
    for part in SENTINEL.split():
        assert part not in es_body and part not in subject(es_msg)
    en_body = en_msg.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert subject(en_msg).startswith("[centinela] critical alert: The prosecution has had no activity")
    assert (
        f"Open the alert in the console (sign-in required): https://centinela.test/v1/alerts/{en_alert.alert_id}"
        in en_body
    )


def test_directory_is_admin_only_and_validated(alerts_service: AlertsService) -> None:
    s = alerts_service
    user = uid("sup")
    body = {"email": "x@y.test", "org_id": "org-1", "role": "supervisor"}
    assert s.put(f"/v1/directory/{user}", s.token("supervisor", org="org-1"), body).status_code == 403
    bad = s.put(f"/v1/directory/{user}", s.token("admin"), {**body, "email": "not-an-address"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "body.email"
    assert "not-an-address" not in bad.text
    assert s.put(f"/v1/directory/{user}", s.token("admin"), body).status_code == 200
    got = s.get(f"/v1/directory/{user}", s.token("admin")).json()
    assert got == {**body, "user_id": user, "language": None, "updated_at": got["updated_at"]}


def test_webhook_signed_and_retried(alerts_service: AlertsService, receiver: Receiver) -> None:
    s = alerts_service
    receiver.fail_first = 1
    org, adv = uid("org"), uid("adv")
    secret = "whsec-" + uuid.uuid4().hex
    admin = s.token("admin")
    for role in ("supervisor", "legal_advocate", "ops_viewer"):
        denied = s.post("/v1/subscriptions", s.token(role, org=org), {"url": receiver.url, "secret": secret})
        assert denied.status_code == 403
    bad = s.post("/v1/subscriptions", admin, {"url": "ftp://example.test/x", "secret": secret})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "body.url"
    # nothing inside: loopback beyond the allow-list, link-local metadata, private ranges, credentials
    for inside in (
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://192.168.1.1:8080/",
        "http://[::1]:9000/",
        "http://127.0.0.2/",
        "http://localhost:9000/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "https://admin:hunter2@hooks.example.test/x",
    ):
        refused = s.post("/v1/subscriptions", admin, {"url": inside, "secret": secret})
        assert refused.status_code == 422, (inside, refused.text)
        assert refused.json()["detail"][0]["field"] == "body.url"
        assert "hunter2" not in refused.text
    created = s.post("/v1/subscriptions", admin, {"url": receiver.url, "secret": secret, "filter": {"org_id": org}})
    assert created.status_code == 201, created.text
    sub = created.json()
    assert "secret" not in sub and secret not in created.text
    listed = s.get("/v1/subscriptions", admin)
    assert sub["id"] in [x["id"] for x in listed.json()] and secret not in listed.text

    alert = s.raise_alert(advocate=adv, org=org, evidence={"probe": SENTINEL})
    wait_for(lambda: len(receiver.requests) >= 2, timeout=30, what="webhook retried after a 500")
    first, second = receiver.requests[:2]
    for req in (first, second):
        headers = {k.lower(): v for k, v in req["headers"].items()}
        assert verify(secret, headers["x-centinela-timestamp"], req["body"], headers["x-centinela-signature"])
        assert not verify(
            "wrong-secret-0123456789", headers["x-centinela-timestamp"], req["body"], headers["x-centinela-signature"]
        )
        event = json.loads(req["body"])
        assert event["type"] == "centinela.alert.raised"
        assert event["data"]["alert_id"] == alert.alert_id
        assert headers["x-centinela-event-id"] == event["id"]
    assert first["headers"]["X-Centinela-Event-Id"] == second["headers"]["X-Centinela-Event-Id"]

    def attempts() -> list[dict[str, Any]] | None:
        rows = s.get(f"/v1/subscriptions/{sub['id']}/deliveries", admin).json()["items"]
        return rows if len(rows) >= 2 else None

    rows = sorted(wait_for(attempts, timeout=30, what="two recorded attempts"), key=lambda r: r["attempt"])
    assert [(r["attempt"], r["outcome"], r["status_code"]) for r in rows] == [(1, "failed", 500), (2, "delivered", 200)]
    assert all(r["alert_id"] == alert.alert_id for r in rows)

    # the org filter: an alert of another organisation, then one of ours on the same case (same partition,
    # consumed and queued in that order): only ours arrives
    shared_case = uid("case")
    foreign = s.raise_alert(advocate=adv, org=uid("org"), case_id=shared_case, rule="legal.no_activity")
    ours = s.raise_alert(advocate=adv, org=org, case_id=shared_case, rule="service.overdue")

    def delivered_ids() -> set[str]:
        return {json.loads(r["body"])["data"]["alert_id"] for r in list(receiver.requests)}

    wait_for(lambda: ours.alert_id in delivered_ids(), timeout=30, what="second webhook")
    assert foreign.alert_id not in delivered_ids()

    assert httpx.delete(s.url + f"/v1/subscriptions/{sub['id']}", headers=admin, timeout=5).status_code == 204
    assert s.get(f"/v1/subscriptions/{sub['id']}", admin).status_code == 404


def test_escalation_once_per_level_with_supervisor_email(alerts_service: AlertsService) -> None:
    s = alerts_service
    org, adv, sup = uid("org"), uid("adv"), uid("sup")
    sup_address = f"{sup}@supervision.test"
    s.directory(sup, sup_address, org, "supervisor")
    mine = s.token("legal_advocate", adv, org)
    with consumer(s.env, ALERTS) as c:  # from the beginning: no group-join race; facts_for filters by alert
        unacked = s.raise_alert(advocate=adv, org=org, severity="critical")
        acked = s.raise_alert(advocate=adv, org=org, severity="critical")
        s.wait_alert(acked.alert_id, mine)
        assert s.post(f"/v1/alerts/{acked.alert_id}/ack", mine).status_code == 200

        records = drain(c, lambda rs: bool(facts_for(rs, unacked.alert_id, "escalated")), timeout=30)
        escalated_at = time.time()
        detail = s.wait_alert(unacked.alert_id, mine, until=lambda a: a["escalation_level"] == 1)
        raised_at = datetime.fromisoformat(detail["raised_at"])
        assert datetime.fromisoformat(detail["escalated_at"]) - raised_at >= timedelta(seconds=s.escalation_seconds)
        msgs = wait_for(lambda: s.mailbox.to(sup_address), timeout=30, what="supervisor e-mail")
        assert unacked.case_id in subject(msgs[0]) and "Escalamiento nivel 1" in subject(msgs[0])

        # let several more escalation ticks pass, then count: one level-1 escalation, one e-mail
        s.wait_ticks(after=escalated_at + 2 * s.escalation_seconds)
        # a marker on the same case (same partition) published now: once it is read, everything before it is too
        marker = s.raise_alert(advocate=adv, org=org, case_id=unacked.case_id, rule="legal.no_activity")
        records += drain(c, lambda rs: bool(facts_for(rs, marker.alert_id, "raised")), timeout=30)
    escalations = facts_for(records, unacked.alert_id, "escalated")
    assert [e.payload.level for e in escalations] == [1]
    assert facts_for(records, acked.alert_id, "escalated") == []
    assert len(s.mailbox.to(sup_address)) == 1
    assert s.get(f"/v1/alerts/{acked.alert_id}", mine).json()["escalation_level"] == 0
    assert s.metric("centinela_alerts_escalations_total", {"rule": unacked.rule, "severity": "critical"}) >= 1


class SseReader:
    def __init__(self, url: str, headers: dict[str, str]) -> None:
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(url, headers), daemon=True)
        self._thread.start()

    def _run(self, url: str, headers: dict[str, str]) -> None:
        with (
            httpx.Client(timeout=httpx.Timeout(10, read=30)) as client,
            client.stream("GET", url, headers=headers) as r,
        ):
            self.status = r.status_code
            for line in r.iter_lines():
                self.lines.append(line)
                if self._stop.is_set():
                    return

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(line[len("data: ") :]) for line in list(self.lines) if line.startswith("data: {")]

    def heartbeats(self) -> int:
        return sum(1 for line in list(self.lines) if line == ": heartbeat")

    def close(self) -> None:
        self._stop.set()


def test_live_stream_receives_new_alerts_for_the_caller_only(alerts_service: AlertsService) -> None:
    s = alerts_service
    org, adv, other = uid("org"), uid("adv"), uid("adv")
    mine = SseReader(s.url + "/v1/alerts/stream", s.token("legal_advocate", adv, org))
    theirs = SseReader(s.url + "/v1/alerts/stream", s.token("legal_advocate", other, org))
    try:
        wait_for(lambda: ": connected" in mine.lines and ": connected" in theirs.lines, timeout=15, what="streams open")
        alert = s.raise_alert(advocate=adv, org=org)
        got = wait_for(
            lambda: [e for e in mine.events() if e["alert"]["id"] == alert.alert_id], timeout=30, what="SSE event"
        )
        assert got[0]["change"] == "raised" and got[0]["alert"]["status"] == "open"
        # the other advocate's stream: a heartbeat after the event proves the event was not queued for them
        beats = theirs.heartbeats()
        wait_for(lambda: theirs.heartbeats() > beats, timeout=15, what="heartbeat")
        assert [e for e in theirs.events() if e["alert"]["id"] == alert.alert_id] == []
        ack = s.post(f"/v1/alerts/{alert.alert_id}/ack", s.token("legal_advocate", adv, org))
        assert ack.status_code == 200
        wait_for(lambda: [e for e in mine.events() if e["change"] == "acknowledged"], timeout=15, what="ack event")
    finally:
        mine.close()
        theirs.close()
    assert httpx.get(s.url + "/v1/alerts/stream", headers=s.token("ops_viewer"), timeout=5).status_code == 403


def test_service_metrics_exposed(alerts_service: AlertsService) -> None:
    s = alerts_service
    alert, mine, adv, org = s.deliver(severity="low")
    before = s.metric("centinela_alerts_time_to_ack_seconds_count")
    assert s.post(f"/v1/alerts/{alert.alert_id}/ack", mine).status_code == 200
    assert s.metric("centinela_alerts_time_to_ack_seconds_count") == before + 1
    wait_for(lambda: s.metric("centinela_alerts_open_alerts", {"severity": "low"}) >= 1, what="open gauge")
    assert (
        s.metric("centinela_alerts_service_alerts_ingested_total", {"rule": "service.overdue", "severity": "low"}) >= 1
    )


def test_an_open_alert_follows_the_cases_new_advocate(alerts_service: AlertsService) -> None:
    """``centinela.alert.updated`` naming a new advocate (case reassigned): the same alert moves to
    them, the previous advocate loses it, its history keeps the move, and the new one is e-mailed."""
    from services.processor.domain.updates import AlertUpdated

    s = alerts_service
    org, old, new = uid("org"), uid("adv"), uid("adv")
    new_address = f"{new}@defensoria.test"
    s.directory(new, new_address, org, "legal_advocate")
    alert = s.raise_alert(advocate=old, org=org)
    old_token, new_token = s.token("legal_advocate", old, org), s.token("legal_advocate", new, org)
    s.wait_alert(alert.alert_id, old_token)
    assert s.get(f"/v1/alerts/{alert.alert_id}", new_token).status_code == 404

    s.publish(
        AlertUpdated(
            **same_alert(alert),
            severity=alert.severity,
            org_id=org,
            advocate_id=new,
            previous_advocate_id=old,
            summary=alert.summary,
            evidence=alert.evidence,
            changed=["advocate"],
            updated_at=datetime.now(UTC),
        )
    )
    moved = s.wait_alert(alert.alert_id, new_token, until=lambda a: a["advocate_id"] == new)
    assert moved["id"] == alert.alert_id and moved["status"] == "open"
    moves = [h for h in moved["history"] if h["action"] == "reassigned"]
    assert [(h["previous_advocate_id"], h["advocate_id"]) for h in moves] == [(old, new)]
    assert s.get(f"/v1/alerts/{alert.alert_id}", old_token).status_code == 404
    inbox = s.get("/v1/alerts", old_token).json()
    assert alert.alert_id not in [a["id"] for a in inbox["items"]]
    assert alert.alert_id in [a["id"] for a in s.get("/v1/alerts", new_token).json()["items"]]
    mail = wait_for(lambda: s.mailbox.to(new_address), timeout=30, what="e-mail to the new advocate")
    assert alert.case_id in subject(mail[0])
