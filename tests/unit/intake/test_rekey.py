"""The re-encryption walk (service.rekey) on in-memory stores: races retried, unreadable values named by id
and field only, dry runs write nothing, a second run changes nothing."""

from __future__ import annotations

import base64
import copy
import os
from collections.abc import Iterator
from typing import Any, cast

from services.intake.domain.identity import CASE_FIELD, DOCUMENT, IdentityCipher, Keyring
from services.intake.service.rekey import Rekeyer
from services.intake.store.case_files import CaseFiles
from services.intake.store.repository import CaseRepository

A = base64.b64encode(os.urandom(32)).decode()
B = base64.b64encode(os.urandom(32)).decode()
C = base64.b64encode(os.urandom(32)).decode()
OLD = IdentityCipher(Keyring.parse(f"a:{A}"))
NEW = IdentityCipher(Keyring.parse(f"b:{B}", retired=f"a:{A}"))


class FakeCases:
    def __init__(self, records: dict[str, dict[str, Any]], lose: int = 0) -> None:
        self.records = records
        self.lose = lose  # compare-and-set writes that lose to a "concurrent" change first
        self.writes = 0

    def encrypted_all(self, batch: int) -> Iterator[dict[str, Any]]:
        return iter(copy.deepcopy(list(self.records.values())))

    def encrypted_one(self, case_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.records.get(case_id))

    def replace_ciphertext(self, case_id: str, version: int, blobs: dict[str, dict[str, str]]) -> bool:
        record = self.records[case_id]
        if self.lose:
            self.lose -= 1
            record["version"] += 1  # someone else changed the case meanwhile
            return False
        if record["version"] != version:
            return False
        for path, blob in blobs.items():
            group, name = path.split(".")
            record[group][name] = blob
        record["version"] += 1
        self.writes += 1
        return True


class FakeFiles:
    def __init__(self) -> None:
        self.meta: dict[str, dict[str, Any]] = {}
        self.chunks: dict[str, dict[str, Any]] = {}

    def add(self, case_id: str, doc_id: str, data: bytes, title: str | None) -> None:
        kid, chunks = OLD.encrypt_chunks(case_id, doc_id, data, 4)
        self.meta[doc_id] = {"_id": doc_id, "case_id": case_id, "kid": kid, "chunks": len(chunks)}
        if title is not None:
            self.meta[doc_id]["title"] = OLD.encrypt_field(case_id, f"{doc_id}.title", title, DOCUMENT)
        for n, c in enumerate(chunks):
            self.chunks[f"{doc_id}:{n}"] = {"_id": f"{doc_id}:{n}", "data": c}

    def keys_all(self, batch: int) -> Iterator[dict[str, Any]]:
        return iter(copy.deepcopy(list(self.meta.values())))

    def keys_one(self, doc_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.meta.get(doc_id))

    def chunk_records(self, doc_id: str, total: int) -> list[dict[str, Any]]:
        return [copy.deepcopy(self.chunks[f"{doc_id}:{n}"]) for n in range(total) if f"{doc_id}:{n}" in self.chunks]

    def replace_chunk(self, doc_id: str, n: int, kid: str, data: bytes) -> None:
        self.chunks[f"{doc_id}:{n}"].update(kid=kid, data=data)

    def replace_keys(self, doc_id: str, changes: dict[str, Any]) -> bool:
        self.meta[doc_id].update(changes)
        return True

    def read(self, doc_id: str) -> bytes:
        meta = self.meta[doc_id]
        keyed = [(c.get("kid") or meta["kid"], c["data"]) for c in self.chunk_records(doc_id, meta["chunks"])]
        return IdentityCipher(Keyring.parse(f"b:{B}")).decrypt_keyed_chunks(meta["case_id"], doc_id, keyed)


def case(case_id: str, cipher: IdentityCipher = OLD) -> dict[str, Any]:
    return {
        "_id": case_id,
        "version": 1,
        "identity": cipher.encrypt(case_id, {"given_names": "Ana", "birth_date": "2010-01-02"}),
        "protected": {"place_of_exploitation": cipher.encrypt_field(case_id, "place_of_exploitation", "x", CASE_FIELD)},
    }


def rekeyer(cases: FakeCases, files: FakeFiles) -> Rekeyer:
    return Rekeyer(NEW, cast(CaseRepository, cases), cast(CaseFiles, files))


def test_everything_moves_to_the_active_key_and_a_second_run_changes_nothing() -> None:
    cases = FakeCases({"cs_1": case("cs_1"), "cs_2": case("cs_2", NEW)})
    files = FakeFiles()
    files.add("cs_1", "dc_1", b"0123456789", "acta")
    files.add("cs_1", "dc_2", b"", None)
    seen: list[int] = []
    report = rekeyer(cases, files).run(batch=1, progress=lambda r: seen.append(r.cases_scanned))
    assert report.complete and report.cases_changed == 1 and report.case_values_rekeyed == 3
    assert report.case_values_current == 3 and report.documents_changed == 2
    assert report.chunks_rekeyed == 4 and report.document_fields_rekeyed == 1 and seen
    only_b = IdentityCipher(Keyring.parse(f"b:{B}"))
    plain = only_b.decrypt("cs_1", cases.records["cs_1"]["identity"])
    assert plain == {"given_names": "Ana", "birth_date": "2010-01-02"}
    assert files.read("dc_1") == b"0123456789" and files.read("dc_2") == b""
    assert only_b.decrypt_field("cs_1", "dc_1.title", files.meta["dc_1"]["title"], DOCUMENT) == "acta"
    before = copy.deepcopy((cases.records, files.meta, files.chunks))
    again = rekeyer(cases, files).run()
    assert again.cases_changed == again.documents_changed == again.chunks_rekeyed == 0 and again.complete
    assert (cases.records, files.meta, files.chunks) == before


def test_a_lost_race_is_retried_on_the_fresh_record() -> None:
    cases = FakeCases({"cs_1": case("cs_1")}, lose=2)
    report = rekeyer(cases, FakeFiles()).run()
    assert report.complete and report.races == 2 and cases.writes == 1
    assert {b["kid"] for b in cases.records["cs_1"]["identity"].values()} == {"b"}


def test_a_case_that_keeps_changing_is_reported_busy() -> None:
    cases = FakeCases({"cs_1": case("cs_1")}, lose=100)
    report = rekeyer(cases, FakeFiles()).run()
    assert not report.complete and [p.line() for p in report.problems] == ["case cs_1 field version: busy"]


def test_dry_run_writes_nothing_but_counts_and_checks() -> None:
    cases = FakeCases({"cs_1": case("cs_1")})
    files = FakeFiles()
    files.add("cs_1", "dc_1", b"0123456789", "acta")
    before = copy.deepcopy((cases.records, files.meta, files.chunks))
    report = rekeyer(cases, files).run(dry_run=True)
    assert report.complete and report.case_values_rekeyed == 3 and report.chunks_rekeyed == 3
    assert (cases.records, files.meta, files.chunks) == before


def test_unreadable_values_are_named_by_id_and_field_and_the_rest_moves_on() -> None:
    lost = IdentityCipher(Keyring.parse(f"c:{C}"))
    broken = case("cs_1")
    broken["identity"]["given_names"] = lost.encrypt_field("cs_1", "given_names", "Secret Name")
    cases = FakeCases({"cs_1": broken, "cs_2": case("cs_2")})
    files = FakeFiles()
    files.add("cs_2", "dc_1", b"0123456789", "acta")
    files.add("cs_2", "dc_2", b"abcdefgh", None)
    files.chunks["dc_1:1"]["data"] = b"\0" * 20  # damaged
    del files.chunks["dc_2:1"]
    report = rekeyer(cases, files).run()
    lines = sorted(p.line() for p in report.problems)
    assert lines == [
        "case cs_1 field identity.given_names: not decryptable",
        "document dc_1 field content chunk 1: not decryptable",
        "document dc_2 field content: missing chunk",
    ]
    assert "Secret" not in str(report.counts()) + str(lines)
    assert cases.records["cs_1"]["identity"]["birth_date"]["kid"] == "a"  # nothing of a broken case written
    assert {b["kid"] for b in cases.records["cs_2"]["identity"].values()} == {"b"}
    assert files.meta["dc_1"]["kid"] == "a" and "kid" not in files.chunks["dc_1:0"]  # nothing of a broken doc
