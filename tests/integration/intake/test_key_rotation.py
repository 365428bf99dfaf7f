"""Identity key rotation on the real database, through the real API (issue 11 item 5).

Cases and documents are registered under key ``a``; the active key becomes ``b`` (``a`` kept as an old key),
``python -m services.intake rekey`` moves every encrypted value to ``b``; with ``a`` removed every case and
document still reads back the same; a second run changes nothing; a value no configured key opens stops
the run with exit 1, named by id and field only. A private database: the run walks every case in it.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import MongoClient

from services.intake.domain.identity import DOCUMENT, IdentityCipher, Keyring
from services.intake.store.case_files import CaseFiles
from tests.integration.intake.conftest import Token, case_body, identity, start_intake
from tests.support import ROOT, Proc, isolated_env

KEY_A = base64.b64encode(os.urandom(32)).decode()
KEY_B = base64.b64encode(os.urandom(32)).decode()
KEY_C = base64.b64encode(os.urandom(32)).decode()  # never configured: what "lost key" looks like


@pytest.fixture(scope="module")
def env(stack_env: dict[str, str], db_name: Callable[[str], str]) -> dict[str, str]:
    return {
        **isolated_env(stack_env),
        "CENTINELA_MONGO_DB": db_name(f"intake_rekey_{uuid.uuid4().hex[:6]}"),
        "CENTINELA_OUTBOX_POLL_SECONDS": "0.2",
    }


@pytest.fixture(scope="module")
def db(env: dict[str, str]) -> Iterator[Any]:
    client: MongoClient[Any] = MongoClient(env["CENTINELA_MONGO_URI"])
    yield client[env["CENTINELA_MONGO_DB"]]
    client.close()


def keys(**overrides: str) -> dict[str, str]:
    return {
        "CENTINELA_IDENTITY_KEYS": overrides.get("keys", ""),
        "CENTINELA_IDENTITY_ACTIVE_KEY": overrides.get("active", ""),
        "CENTINELA_IDENTITY_OLD_KEYS": overrides.get("old", ""),
    }


def rekey(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.intake", "rekey", "--actor", "rekey-test", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=180,
    )


def client(proc: Proc, token: Token, role: str, **kw: Any) -> httpx.Client:
    return httpx.Client(base_url=proc.url, headers={"Authorization": f"Bearer {token(role, **kw)}"}, timeout=30)


def snapshot(proc: Proc, token: Token, case_ids: list[str]) -> dict[str, Any]:
    """What the API answers for every case and document: identity, place, titles, names, content."""
    officer = client(proc, token, "intake_officer", sub="officer-rekey")
    out: dict[str, Any] = {}
    with officer:
        for case_id in case_ids:
            r = officer.get(f"/v1/cases/{case_id}", params={"include_identity": "true"})
            assert r.status_code == 200, r.text
            body = r.json()
            docs = officer.get(f"/v1/cases/{case_id}/documents")
            assert docs.status_code == 200, docs.text
            contents = {}
            for meta in docs.json():
                got = officer.get(f"/v1/cases/{case_id}/documents/{meta['doc_id']}")
                assert got.status_code == 200, got.text
                contents[meta["doc_id"]] = (meta["title"], meta["filename"], got.content)
            out[case_id] = (body["identity"], body["place_of_exploitation"], contents)
    return out


def kids_at_rest(db: Any) -> set[str]:
    """Every key id anything in the database is stored under."""
    found: set[str] = set()
    for case in db["cases"].find({}, {"identity": 1, "protected": 1}):
        found |= {b["kid"] for group in ("identity", "protected") for b in (case.get(group) or {}).values()}
    for doc in db["case_documents"].find({}):
        found |= {doc["kid"]} | {doc[n]["kid"] for n in ("title", "filename") if doc.get(n)}
        chunk_kids = {c.get("kid") or doc["kid"] for c in db["case_document_chunks"].find({"doc_id": doc["_id"]})}
        found |= chunk_kids
    return found


def at_rest(db: Any) -> list[Any]:
    return [list(db[name].find({}).sort([("_id", 1)])) for name in ("cases", "case_documents", "case_document_chunks")]


def test_rotation_rekeys_everything_and_old_key_can_go(
    env: dict[str, str], db: Any, token: Token, log_dir: Path, procs: list[Proc]
) -> None:
    marker = "Zq" + secrets.token_hex(6)
    first = start_intake("intake-key-a", {**env, **keys(keys=f"a:{KEY_A}")}, log_dir, procs)
    case_ids: list[str] = []
    with client(first, token, "intake_officer", sub="officer-rekey") as officer:
        for i in range(3):
            body = case_body(uuid.uuid4().hex, identity=identity(f"{marker}{i}"), place_of_exploitation=f"bar {marker}")
            r = officer.post("/v1/cases", json=body)
            assert r.status_code == 201, r.text
            case_ids.append(r.json()["case_id"])
        big = b"%PDF-1.7\n" + marker.encode() + os.urandom(2_300_000)  # three stored chunks
        r = officer.post(
            f"/v1/cases/{case_ids[0]}/documents",
            files={"file": (f"acta {marker}.pdf", big, "application/pdf")},
            data={"category": "prosecutor_disposition", "title": f"Acta {marker}"},
        )
        assert r.status_code == 201, r.text
        big_id = r.json()["doc_id"]
        r = officer.post(
            f"/v1/cases/{case_ids[1]}/documents",
            files={"file": ("nota.txt", f"nota {marker}\n".encode(), "text/plain")},
            data={"category": "note"},
        )
        assert r.status_code == 201, r.text
    before = snapshot(first, token, case_ids)
    first.stop()
    assert kids_at_rest(db) == {"a"}

    # b encrypts, a only decrypts: old values read, new ones go under b
    rotated = {**env, **keys(keys=f"b:{KEY_B}", active="b", old=f"a:{KEY_A}")}
    second = start_intake("intake-key-b-a", rotated, log_dir, procs)
    assert snapshot(second, token, case_ids) == before
    with client(second, token, "intake_officer", sub="officer-rekey") as officer:
        r = officer.post("/v1/cases", json=case_body(uuid.uuid4().hex, place_of_exploitation=f"mina {marker}"))
        assert r.status_code == 201
        case_ids.append(r.json()["case_id"])
    assert db["cases"].find_one({"_id": case_ids[-1]})["protected"]["place_of_exploitation"]["kid"] == "b"

    # a run interrupted after one chunk: the document reads under two keys, and the run resumes
    cipher = IdentityCipher(Keyring.parse(f"b:{KEY_B}", retired=f"a:{KEY_A}"))
    files = CaseFiles(db["case_documents"], db["case_document_chunks"])
    chunk0 = files.chunk_records(big_id, 3)[0]
    moved = cipher.rekey_chunk(case_ids[0], big_id, 0, 3, "a", bytes(chunk0["data"]))
    assert moved is not None
    files.replace_chunk(big_id, 0, "b", moved)
    mixed = snapshot(second, token, case_ids)
    assert {k: v for k, v in mixed.items() if k in before} == before
    before = mixed

    dry = rekey(rotated, "--dry-run", "--batch", "2")
    assert dry.returncode == 0, dry.stderr
    counts = json.loads(dry.stdout)
    assert counts["dry_run"] and counts["cases_scanned"] == 4 and counts["documents_scanned"] == 2
    assert counts["chunks_rekeyed"] == 3 and counts["case_values_rekeyed"] > 0  # would be
    assert "b" in kids_at_rest(db) and "a" in kids_at_rest(db)  # nothing written

    run = rekey(rotated, "--batch", "2")
    assert run.returncode == 0, run.stderr
    counts = json.loads(run.stdout)
    # 3 cases x (4 identity fields + the place) under a; the 4th case under b already
    assert counts["cases_changed"] == 3 and counts["case_values_rekeyed"] == 15
    assert counts["documents_changed"] == 2 and counts["document_fields_rekeyed"] == 3
    assert counts["chunks_rekeyed"] == 3  # 2 left of the big one, 1 of the note
    assert counts["case_values_current"] == 5 and counts["problems"] == 0
    assert "cases 4 scanned" in run.stderr  # progress, counts only
    for stream in (run.stdout, run.stderr, dry.stdout, dry.stderr):
        assert marker not in stream and KEY_A[:8] not in stream and KEY_B[:8] not in stream
    assert kids_at_rest(db) == {"b"}
    assert marker not in str(at_rest(db)[:2])
    assert snapshot(second, token, case_ids) == before  # the running process reads the rekeyed values too
    second.stop()

    # a second run changes nothing
    stored = at_rest(db)
    again = rekey(rotated)
    assert again.returncode == 0, again.stderr
    counts = json.loads(again.stdout)
    assert counts["cases_changed"] == counts["documents_changed"] == counts["chunks_rekeyed"] == 0
    assert counts["case_values_current"] == 4 * 5 and at_rest(db) == stored

    # a is gone: everything still reads through the API
    only_b = {**env, **keys(keys=f"b:{KEY_B}")}
    third = start_intake("intake-key-b", only_b, log_dir, procs)
    assert snapshot(third, token, case_ids) == before

    # the runs are in the audit trail, counts only
    with client(third, token, "admin", sub="admin-rekey", org=None) as admin:
        items = admin.get("/v1/audit", params={"actor": "rekey-test", "limit": 200}).json()["items"]
    finished = [i for i in items if i["action"] == "keys.rekey"]
    started = [i for i in items if i["action"] == "keys.rekey.started"]
    assert len(finished) == len(started) == 3
    assert {i["details"]["result"] for i in finished} == {"complete"}
    assert sorted(i["details"]["dry_run"] for i in finished) == [False, False, True]
    assert all(i["details"]["active_kid"] == "b" for i in finished) and marker not in str(items)

    # a value no configured key opens: exit 1, named by id and field, nothing else touched
    lost = IdentityCipher(Keyring.parse(f"c:{KEY_C}"))
    db["cases"].update_one(
        {"_id": case_ids[2]},
        {"$set": {"identity.given_names": lost.encrypt_field(case_ids[2], "given_names", f"Lost {marker}")}},
    )
    db["case_documents"].update_one(
        {"_id": big_id},
        {"$set": {"title": lost.encrypt_field(case_ids[0], f"{big_id}.title", f"Lost {marker}", DOCUMENT)}},
    )
    failed = rekey(only_b)
    assert failed.returncode == 1
    assert f"case {case_ids[2]} field identity.given_names: not decryptable" in failed.stderr
    assert f"document {big_id} field title: not decryptable" in failed.stderr
    assert marker not in failed.stderr + failed.stdout and "Lost" not in failed.stderr
    assert json.loads(failed.stdout)["problems"] == 2
    third.stop()


def test_bad_rotation_settings_stop_the_command_naming_the_variable(env: dict[str, str]) -> None:
    result = rekey({**env, **keys(keys=f"b:{KEY_B}", active="a", old=f"a:{KEY_A}")})
    assert result.returncode == 2
    assert "CENTINELA_IDENTITY_ACTIVE_KEY" in result.stderr and KEY_A[:8] not in result.stderr
