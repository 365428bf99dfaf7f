"""Dump and restore centinela's MongoDB databases with a manifest and checksums (pymongo only).

    python deploy/backup/mongo_backup.py dump    --uri URI --out DIR [--db NAME ...]
    python deploy/backup/mongo_backup.py verify  --in DIR
    python deploy/backup/mongo_backup.py restore --uri URI --in DIR [--rename OLD=NEW ...] [--drop]

``dump`` writes, per database and collection, the documents as raw BSON (the exact bytes the server
returned, so encrypted identity fields, dates and binary ids round-trip untouched), gzip-compressed,
in ``_id`` order, plus the collection's indexes; ``manifest.json`` lists every file with its document
count and the SHA-256 of its uncompressed BSON. Without ``--db`` every database whose name starts with
``centinela_`` is dumped. Inside a replica set the reads share one snapshot session (one point in time
across collections of a database); a server without snapshot reads is read collection by collection.

``restore`` first verifies every checksum (a damaged or edited backup restores nothing), refuses a
target collection that already holds documents unless ``--drop``, inserts the documents, recreates
the indexes and checks the counts. ``--rename centinela_intake=restored_intake`` restores a database
under another name (a restore drill beside production). Nothing here prints a document.

MongoDB's own tools do the same for a real deployment (``mongodump --oplog --gzip --archive``); this
script needs only the project's Python environment, so it also works against the local stack's
SecantusDB, and its format is checked by tests/integration/reports/test_backup_restore.py.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bson import decode_file_iter
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient
from pymongo.client_session import ClientSession
from pymongo.errors import OperationFailure

FORMAT = "centinela-mongo-backup/1"
DEFAULT_PREFIX = "centinela_"
RAW = CodecOptions(document_class=RawBSONDocument)
BATCH = 1000


class BackupError(Exception):
    """A backup that cannot be trusted or a restore that would overwrite data."""


def _client(uri: str) -> MongoClient[Any]:
    return MongoClient(uri, serverSelectionTimeoutMS=5000, tz_aware=True, uuidRepresentation="standard")


@contextmanager
def _snapshot(client: MongoClient[Any]) -> Iterator[ClientSession | None]:
    """One point in time for a database's reads when the server offers snapshot sessions."""
    try:
        session = client.start_session(snapshot=True)
    except Exception:
        yield None
        return
    try:
        yield session
    finally:
        session.end_session()


def _indexes(coll: Any) -> list[dict[str, Any]]:
    out = []
    for name, info in sorted(coll.index_information().items()):
        if name == "_id_":
            continue
        spec = {k: v for k, v in info.items() if k not in ("v", "ns", "key")}
        out.append({"name": name, "key": [[field, direction] for field, direction in info["key"]], "options": spec})
    return out


def dump(uri: str, out: Path, databases: list[str] | None = None) -> dict[str, Any]:
    client = _client(uri)
    try:
        names = databases or sorted(n for n in client.list_database_names() if n.startswith(DEFAULT_PREFIX))
        out.mkdir(parents=True, exist_ok=True)
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "created_at": datetime.now(UTC).isoformat(),
            "databases": {},
        }
        for db_name in names:
            db = client[db_name]
            entry: dict[str, Any] = {}
            with _snapshot(client) as session:
                try:
                    collections = sorted(db.list_collection_names(session=session))
                except OperationFailure:  # the server refused the snapshot: read without it
                    session = None
                    collections = sorted(db.list_collection_names())
                for coll_name in collections:
                    coll = db.get_collection(coll_name, codec_options=RAW)
                    rel = Path(db_name) / f"{coll_name}.bson.gz"
                    (out / db_name).mkdir(parents=True, exist_ok=True)
                    digest = hashlib.sha256()
                    count = 0
                    with gzip.open(out / rel, "wb") as fh:
                        for doc in coll.find({}, session=session).sort("_id", 1):
                            raw = doc.raw
                            digest.update(raw)
                            fh.write(raw)
                            count += 1
                    entry[coll_name] = {
                        "file": rel.as_posix(),
                        "documents": count,
                        "sha256": digest.hexdigest(),
                        "indexes": _indexes(coll),
                    }
            manifest["databases"][db_name] = entry
        tmp = out / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(out / "manifest.json")
        return manifest
    finally:
        client.close()


def verify(src: Path) -> dict[str, Any]:
    """Check every file against the manifest; returns the manifest, raises BackupError naming the file."""
    path = src / "manifest.json"
    if not path.is_file():
        raise BackupError(f"{path} missing: not a backup (or an unfinished one)")
    manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}; expected {FORMAT}")
    for db_name, collections in manifest["databases"].items():
        for coll_name, info in collections.items():
            file = src / info["file"]
            if not file.is_file():
                raise BackupError(f"{db_name}.{coll_name}: file {info['file']} missing")
            digest = hashlib.sha256()
            count = 0
            try:
                with gzip.open(file, "rb") as fh:
                    for doc in decode_file_iter(fh, RAW):
                        digest.update(doc.raw)
                        count += 1
            except Exception as exc:
                raise BackupError(f"{db_name}.{coll_name}: {info['file']} unreadable ({type(exc).__name__})") from None
            if digest.hexdigest() != info["sha256"] or count != info["documents"]:
                raise BackupError(f"{db_name}.{coll_name}: checksum or count mismatch in {info['file']}")
    return manifest


def _renames(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old or not new:
            raise BackupError(f"--rename {pair!r}: expected OLD=NEW")
        out[old] = new
    return out


def restore(uri: str, src: Path, rename: dict[str, str] | None = None, drop: bool = False) -> dict[str, int]:
    """Restore every database of the backup (renamed per ``rename``); returns documents per target collection."""
    manifest = verify(src)
    rename = rename or {}
    client = _client(uri)
    restored: dict[str, int] = {}
    try:
        plan = [(db_name, rename.get(db_name, db_name), colls) for db_name, colls in manifest["databases"].items()]
        # refuse before writing anything: a restore over live data must be asked for (--drop)
        for _src_db, target_db, collections in plan:
            for coll_name in collections:
                existing = client[target_db][coll_name].estimated_document_count()
                if existing and not drop:
                    raise BackupError(f"{target_db}.{coll_name} holds {existing} documents; use --drop to replace")
        for _src_db, target_db, collections in plan:
            db = client[target_db]
            for coll_name, info in collections.items():
                if drop:
                    db.drop_collection(coll_name)
                coll = db.get_collection(coll_name, codec_options=RAW)
                batch: list[RawBSONDocument] = []
                with gzip.open(src / info["file"], "rb") as fh:
                    for doc in decode_file_iter(fh, RAW):
                        batch.append(doc)
                        if len(batch) >= BATCH:
                            coll.insert_many(batch, ordered=True)
                            batch = []
                if batch:
                    coll.insert_many(batch, ordered=True)
                if coll_name not in db.list_collection_names():
                    db.create_collection(coll_name)  # an empty collection still exists after restore
                for index in info["indexes"]:
                    db[coll_name].create_index(
                        [(field, direction) for field, direction in index["key"]],
                        name=index["name"],
                        **index["options"],
                    )
                count = db[coll_name].count_documents({})
                if count != info["documents"]:
                    raise BackupError(
                        f"{target_db}.{coll_name}: {count} documents after restore, {info['documents']} expected"
                    )
                restored[f"{target_db}.{coll_name}"] = count
        return restored
    finally:
        client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mongo_backup.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("dump", help="dump databases into a directory")
    d.add_argument("--uri", required=True)
    d.add_argument("--out", required=True, type=Path)
    d.add_argument("--db", action="append", help="database to dump (repeat); default every centinela_* database")
    v = sub.add_parser("verify", help="check a backup's files against its manifest")
    v.add_argument("--in", dest="src", required=True, type=Path)
    r = sub.add_parser("restore", help="restore a backup")
    r.add_argument("--uri", required=True)
    r.add_argument("--in", dest="src", required=True, type=Path)
    r.add_argument("--rename", action="append", default=[], help="OLD=NEW database name (repeat)")
    r.add_argument("--drop", action="store_true", help="replace collections that already hold documents")
    args = parser.parse_args(argv)
    try:
        if args.cmd == "dump":
            manifest = dump(args.uri, args.out, args.db)
            total = sum(c["documents"] for colls in manifest["databases"].values() for c in colls.values())
            print(f"backup: {len(manifest['databases'])} database(s), {total} document(s) -> {args.out}")
        elif args.cmd == "verify":
            manifest = verify(args.src)
            print(f"backup: {args.src} verified ({len(manifest['databases'])} database(s))")
        else:
            restored = restore(args.uri, args.src, _renames(args.rename), args.drop)
            print(f"backup: restored {len(restored)} collection(s), {sum(restored.values())} document(s)")
    except BackupError as exc:
        print(f"backup: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
