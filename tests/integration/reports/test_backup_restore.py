"""Backup and restore (deploy/backup/mongo_backup.py) against the real database server.

Lives beside the reports tests because the reports read model is the restore drill's proof of a
working system: restored under a fresh name, ``rebuild`` gives the same figures.
"""

from __future__ import annotations

import gzip
import importlib.util
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from bson import Binary, ObjectId
from pymongo import ASCENDING, DESCENDING, MongoClient

from services.reports.service.projector import Materialiser
from services.reports.service.reports import ReportQuery, Reports
from services.reports.store.readmodel import CellRepository, FactsRepository, ensure_indexes
from tests.support import ROOT
from tests.unit.reports.helpers import synthetic_population

SCRIPT = ROOT / "deploy" / "backup" / "mongo_backup.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("centinela_mongo_backup", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


backup = _load()


@pytest.fixture
def client(stack_env: dict[str, str]) -> Iterator[MongoClient[Any]]:
    c: MongoClient[Any] = MongoClient(stack_env["CENTINELA_MONGO_URI"], tz_aware=True, uuidRepresentation="standard")
    yield c
    c.close()


@pytest.fixture
def names(db_name: Callable[[str], str], client: MongoClient[Any]) -> Iterator[tuple[str, str, str]]:
    tag = uuid.uuid4().hex[:6]
    made = (db_name(f"bk_intake_{tag}"), db_name(f"bk_reports_{tag}"), db_name(f"bk_restored_{tag}"))
    yield made
    for name in (*made, made[1] + "_restored"):
        client.drop_database(name)


def _contents(client: MongoClient[Any], name: str) -> dict[str, Any]:
    db = client[name]
    out: dict[str, Any] = {}
    for coll in sorted(db.list_collection_names()):
        indexes = {
            n: (i["key"], i.get("unique", False), i.get("expireAfterSeconds"))
            for n, i in db[coll].index_information().items()
        }
        out[coll] = (list(db[coll].find({}).sort("_id", 1)), indexes)
    return out


def test_dump_then_restore_under_a_fresh_name_is_identical(
    client: MongoClient[Any], names: tuple[str, str, str], tmp_path: Path
) -> None:
    source, _reports, target = names
    db = client[source]
    now = datetime(2026, 12, 1, 10, 30, 15, 123000, tzinfo=UTC)
    db.cases.insert_many(
        [
            {
                "_id": f"cs_{i:022d}",
                "org_id": f"org-{i % 3}",
                "registered_at": now,
                # encrypted identity as stored by intake: bytes with a key id, must round-trip exactly
                "identity": {"kid": "k1", "ct": Binary(bytes(range(i % 200, i % 200 + 40)))},
                "services": [{"service_id": f"sv_{i:016d}", "sessions": [{"n": j} for j in range(i % 4)]}],
                "v": i,
            }
            for i in range(2500)
        ]
    )
    db.cases.create_index([("org_id", ASCENDING), ("registered_at", DESCENDING)], name="org_registered")
    db.audit.insert_many([{"_id": ObjectId(), "at": now, "action": "case.read", "n": i} for i in range(30)])
    db.audit.create_index([("at", ASCENDING)], name="at_ttl", expireAfterSeconds=3600 * 24 * 3650)
    db.outbox.create_index([("key", ASCENDING)], name="key_unique", unique=True)  # empty: must still exist

    out = tmp_path / "backup"
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "dump", "--uri", client_uri(client), "--out", str(out), "--db", source],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    manifest = backup.verify(out)
    assert manifest["databases"][source]["cases"]["documents"] == 2500

    run = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "restore",
            "--uri",
            client_uri(client),
            "--in",
            str(out),
            "--rename",
            f"{source}={target}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
    assert _contents(client, target) == _contents(client, source)

    # a second restore over the restored data is refused unless asked for
    with pytest.raises(backup.BackupError, match="--drop"):
        backup.restore(client_uri(client), out, {source: target})
    client[target].cases.delete_one({"_id": "cs_" + "0" * 22})
    backup.restore(client_uri(client), out, {source: target}, drop=True)
    assert client[target].cases.count_documents({}) == 2500


def test_a_damaged_backup_restores_nothing(
    client: MongoClient[Any], names: tuple[str, str, str], tmp_path: Path
) -> None:
    source, _reports, target = names
    client[source].things.insert_many([{"_id": i, "x": "y" * i} for i in range(50)])
    out = tmp_path / "backup"
    backup.dump(client_uri(client), out, [source])
    file = out / source / "things.bson.gz"
    raw = gzip.decompress(file.read_bytes())
    # one character of one value changed: still valid BSON, no longer the data that was dumped
    file.write_bytes(gzip.compress(raw.replace(b"yyyy", b"yyyz", 1)))
    with pytest.raises(backup.BackupError, match="checksum"):
        backup.restore(client_uri(client), out, {source: target})
    assert target not in client.list_database_names()
    run = subprocess.run([sys.executable, str(SCRIPT), "verify", "--in", str(out)], capture_output=True, text=True)
    assert run.returncode == 1 and "things" in run.stderr


def test_restored_reports_read_model_gives_the_same_figures(
    client: MongoClient[Any], names: tuple[str, str, str], tmp_path: Path
) -> None:
    _source, reports_db, _target = names
    db = client[reports_db]
    ensure_indexes(db)
    FactsRepository(db).insert_many(synthetic_population(600, seed=6))
    Materialiser(db, 1.0, 1000, 10.0).rebuild_all()
    before = Reports(CellRepository(db), FactsRepository(db), None, 5).justice_access(ReportQuery(group_by="org"))
    out = tmp_path / "backup"
    backup.dump(client_uri(client), out, [reports_db])
    restored_name = reports_db + "_restored"
    backup.restore(client_uri(client), out, {reports_db: restored_name})
    restored = client[restored_name]
    restored.cells.delete_many({})  # the cells are derived: rebuild them from the restored facts
    Materialiser(restored, 1.0, 1000, 10.0).rebuild_all()
    after = Reports(CellRepository(restored), FactsRepository(restored), None, 5).justice_access(
        ReportQuery(group_by="org")
    )
    assert after == before


def client_uri(client: MongoClient[Any]) -> str:
    host, port = client.address or ("127.0.0.1", 27017)
    return f"mongodb://{host}:{port}/"
