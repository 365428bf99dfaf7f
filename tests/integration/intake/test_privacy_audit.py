"""Identity never leaves intake (topic, logs, metrics, errors); every read and change is audited."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

import httpx
from pymongo import MongoClient

from tests.integration.intake.conftest import ORG, AsRole, case_body, case_events
from tests.support import Proc, wait_for


def sentinel() -> str:
    return "Zq" + secrets.token_hex(8)


def test_sentinel_identity_never_appears_outside(
    as_role: AsRole, intake: Proc, intake_env: dict[str, str], db_name: Callable[[str], str]
) -> None:
    officer = as_role("intake_officer")
    given, family, doc, phone = sentinel(), sentinel(), sentinel().upper(), sentinel()
    body = case_body("x")
    body["identity"] = {
        "given_names": given,
        "family_names": family,
        "birth_date": "2011-07-08",
        "documents": [{"type": "passport", "number": doc}],
        "contacts": [{"kind": "phone", "value": phone}],
    }
    r = officer.post("/v1/cases", json=body)
    assert r.status_code == 201
    case_id = r.json()["case_id"]
    twin = officer.post("/v1/cases", json=body)  # re-registration: the fact travels, the identity does not
    assert twin.json()["person_ref_known"] is True
    # reads with identity, and bad requests that carry the sentinels
    assert given in officer.get(f"/v1/cases/{case_id}", params={"include_identity": "true"}).text
    bad = officer.post("/v1/cases", json={"identity": {"given_names": given, "birth_date": "3000-01-01", "x": family}})
    assert bad.status_code == 422 and given not in bad.text and family not in bad.text
    bad = officer.post("/v1/cases", json={"identity": {"documents": [{"type": "DNI", "number": doc + ";;"}]}})
    assert bad.status_code == 422 and doc not in bad.text
    bad = officer.post("/v1/cases", json={"identity": {"contacts": [{"kind": phone, "value": phone}]}})
    assert bad.status_code == 422 and phone not in bad.text
    secrets_ = (given, family, doc, phone)

    events = case_events(intake_env, {case_id, twin.json()["case_id"]}, lambda evs: len(evs) >= 3)
    assert {e["type"] for e in events} >= {"centinela.case.registered", "centinela.person.reregistered"}
    # every record of the topic, not only this test's
    from tests.support import consumer, drain

    with consumer(intake_env, "case-events") as c:
        records = drain(c, lambda recs: any(case_id.encode() in r.value for r in recs), timeout=30)
        wire = b"\n".join((r.key or b"") + b" " + r.value for r in records).decode()
    logs = intake.log_text()
    metrics = httpx.get(intake.url + "/metrics").text
    assert case_id in wire
    for value in secrets_:
        assert value not in wire and value.lower() not in wire.lower()
        assert value not in logs
        assert value not in metrics
    # at rest: ciphertext only
    client: MongoClient = MongoClient(intake_env["CENTINELA_MONGO_URI"])
    try:
        stored = str(client[db_name("intake")]["cases"].find_one({"_id": case_id}))
    finally:
        client.close()
    assert all(v not in stored for v in secrets_) and "'kid': 'dev1'" in stored


def test_audit_trail_records_reads_changes_and_denials(as_role: AsRole) -> None:
    officer = as_role("intake_officer", sub="officer-audit")
    case_id = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex)).json()["case_id"]
    rid = f"req-{uuid.uuid4().hex[:12]}"
    officer.get(f"/v1/cases/{case_id}", params={"include_identity": "true"}, headers={"X-Request-ID": rid})
    as_role("intake_officer", sub="nosy", org="org-elsewhere").get(f"/v1/cases/{case_id}")
    admin = as_role("admin", sub="admin-audit", org=None)
    admin.get(f"/v1/cases/{case_id}")  # break-glass without reason: refused and recorded
    admin.get(f"/v1/cases/{case_id}", headers={"X-Access-Reason": "ombudsman complaint 42"})
    sup = as_role("supervisor", sub="sup-audit")
    etag = sup.get(f"/v1/cases/{case_id}").headers["etag"]
    assert sup.patch(f"/v1/cases/{case_id}", json={"status": "FollowUp"}, headers={"If-Match": etag}).status_code == 200

    def trail() -> list[dict]:
        page = admin.get("/v1/audit", params={"case_id": case_id, "limit": 100}).json()
        return list(reversed(page["items"])) if len(page["items"]) >= 7 else []

    items = wait_for(trail, timeout=10, what="audit records")
    actions = [(i["actor"], i["action"], i["outcome"]) for i in items]
    assert actions == [
        ("officer-audit", "case.create", "ok"),
        ("officer-audit", "case.read_identity", "ok"),
        ("nosy", "case.read", "denied"),
        ("admin-audit", "case.read", "denied"),
        ("admin-audit", "case.read", "ok"),
        ("sup-audit", "case.read", "ok"),
        ("sup-audit", "case.update", "ok"),
    ]
    read = items[1]
    assert read["request_id"] == rid and read["role"] == "intake_officer" and read["org"] == ORG and read["at"]
    glass = items[4]
    assert glass["reason"] == "ombudsman complaint 42" and glass["details"]["break_glass"] is True
    assert items[6]["details"]["events"] == ["centinela.case.status_changed"]
    # filters
    only_denied = admin.get("/v1/audit", params={"case_id": case_id, "outcome": "denied"}).json()
    assert only_denied["total"] == 2
    by_actor = admin.get("/v1/audit", params={"actor": "sup-audit", "action": "case.update"}).json()["items"]
    assert [i["case_id"] for i in by_actor] == [case_id]
    since = items[5]["at"]
    later = admin.get("/v1/audit", params={"case_id": case_id, "since": since}).json()["items"]
    assert {i["action"] for i in later} <= {"case.read", "case.update", "audit.read"} and len(later) >= 2
