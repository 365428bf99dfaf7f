"""Re-encryption under the active identity key (``python -m services.intake rekey``).

Walks every encrypted value intake holds: each case's identity fields and protected fields (such as
``place_of_exploitation``), each document's title, file name and content chunks. A value not yet under
the active key is opened with its own key id and sealed again under the active one with the same
associated data, so it stays bound to its case, field, document and chunk. A value already under the
active key is skipped, so a run is idempotent and an interrupted run resumes where it stopped.

Cases are written with a compare-and-set on ``version`` (a lost race re-reads the case and tries again);
a document's chunks first, its metadata (``kid``, title, file name) last. Nothing here logs, prints or
raises with a value: problems name the case or document id and the field only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.intake.domain.identity import CASE_FIELD, DOCUMENT, IDENTITY, IdentityCipher, IdentityKeyError
from services.intake.store.case_files import CaseFiles
from services.intake.store.repository import CaseRepository

MAX_RACES = 5  # a case changed this many times under one re-encryption is left for the next run


@dataclass(frozen=True)
class Problem:
    """A value that cannot be re-encrypted: which record and which field, never the value."""

    kind: str  # "case" or "document"
    record_id: str
    field: str
    why: str  # "not decryptable" (no configured key opens it), "busy" (kept changing), "missing chunk"

    def line(self) -> str:
        return f"{self.kind} {self.record_id} field {self.field}: {self.why}"


@dataclass
class RekeyReport:
    active_kid: str
    dry_run: bool
    cases_scanned: int = 0
    cases_changed: int = 0
    case_values_rekeyed: int = 0  # identity and protected fields (would be, in a dry run)
    case_values_current: int = 0  # already under the active key
    documents_scanned: int = 0
    documents_changed: int = 0
    document_fields_rekeyed: int = 0  # titles and file names
    chunks_rekeyed: int = 0
    races: int = 0  # case writes that lost to a concurrent change and were retried
    problems: list[Problem] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.problems

    def counts(self) -> dict[str, Any]:
        """Counts and key ids only: what may go to a terminal, a log or the audit trail."""
        return {
            "active_kid": self.active_kid,
            "dry_run": self.dry_run,
            "cases_scanned": self.cases_scanned,
            "cases_changed": self.cases_changed,
            "case_values_rekeyed": self.case_values_rekeyed,
            "case_values_current": self.case_values_current,
            "documents_scanned": self.documents_scanned,
            "documents_changed": self.documents_changed,
            "document_fields_rekeyed": self.document_fields_rekeyed,
            "chunks_rekeyed": self.chunks_rekeyed,
            "races": self.races,
            "problems": len(self.problems),
        }


Progress = Callable[[RekeyReport], None]


class _Unreadable(Exception):
    def __init__(self, field: str, why: str = "not decryptable") -> None:
        self.field = field
        self.why = why


class Rekeyer:
    """Two passes per collection: a read-only scan that finds what is not under the active key (ids only are
    kept), then the work, each record re-read and written by ``_id``. No write happens while the scan's
    cursor is open, and the slow part (a document's chunks) never holds a cursor idle."""

    def __init__(self, cipher: IdentityCipher, cases: CaseRepository, files: CaseFiles) -> None:
        self.cipher = cipher
        self.cases = cases
        self.files = files

    def run(self, *, batch: int = 200, dry_run: bool = False, progress: Progress | None = None) -> RekeyReport:
        report = RekeyReport(active_kid=self.cipher.keyring.current, dry_run=dry_run)
        stale_cases: list[str] = []
        for n, record in enumerate(self.cases.encrypted_all(batch), start=1):
            report.cases_scanned += 1
            if self._stale_case(record):
                stale_cases.append(record["_id"])
            else:
                report.case_values_current += self._values(record)
            if progress and n % batch == 0:
                progress(report)
        for n, case_id in enumerate(stale_cases, start=1):
            self._case(report, self.cases.encrypted_one(case_id), dry_run)
            if progress and n % batch == 0:
                progress(report)
        stale_docs: list[str] = []
        for n, meta in enumerate(self.files.keys_all(batch), start=1):
            report.documents_scanned += 1
            if self._stale_document(meta):
                stale_docs.append(meta["_id"])
            if progress and n % batch == 0:
                progress(report)
        for n, doc_id in enumerate(stale_docs, start=1):
            found = self.files.keys_one(doc_id)
            if found is not None:  # gone since the scan: nothing left to protect
                self._document(report, found, dry_run)
            if progress and n % batch == 0:
                progress(report)
        if progress:
            progress(report)
        return report

    # cases

    @staticmethod
    def _values(record: dict[str, Any]) -> int:
        return sum(len(record.get(group) or {}) for group in ("identity", "protected"))

    def _stale_case(self, record: dict[str, Any]) -> bool:
        active = self.cipher.keyring.current
        return any(
            not isinstance(blob, dict) or blob.get("kid") != active
            for group in ("identity", "protected")
            for blob in (record.get(group) or {}).values()
        )

    def _case_changes(self, record: dict[str, Any]) -> tuple[dict[str, dict[str, str]], int]:
        """Re-encrypted blobs by update path, and how many values were already current."""
        case_id = record["_id"]
        changes: dict[str, dict[str, str]] = {}
        current = 0
        for group, purpose in (("identity", IDENTITY), ("protected", CASE_FIELD)):
            for name, blob in sorted((record.get(group) or {}).items()):
                path = f"{group}.{name}"
                try:
                    new = self.cipher.rekey_field(case_id, name, blob, purpose)
                except (IdentityKeyError, AttributeError):
                    raise _Unreadable(path) from None
                if new is None:
                    current += 1
                else:
                    changes[path] = new
        return changes, current

    def _case(self, report: RekeyReport, record: dict[str, Any] | None, dry_run: bool) -> None:
        case_id = record["_id"] if record else "?"
        for _ in range(MAX_RACES):
            if record is None:  # gone since the scan: nothing left to protect
                return
            try:
                changes, current = self._case_changes(record)
            except _Unreadable as exc:
                report.problems.append(Problem("case", case_id, exc.field, exc.why))
                return
            if not changes or dry_run or self.cases.replace_ciphertext(case_id, int(record["version"]), changes):
                report.case_values_current += current
                report.case_values_rekeyed += len(changes)
                report.cases_changed += bool(changes)
                return
            report.races += 1
            record = self.cases.encrypted_one(case_id)
        report.problems.append(Problem("case", case_id, "version", "busy"))

    # documents

    def _stale_document(self, meta: dict[str, Any]) -> bool:
        active = self.cipher.keyring.current
        blobs = [meta.get(name) for name in ("title", "filename")]
        return meta.get("kid") != active or any(
            blob is not None and (not isinstance(blob, dict) or blob.get("kid") != active) for blob in blobs
        )

    def _document(self, report: RekeyReport, meta: dict[str, Any], dry_run: bool) -> None:
        doc_id, case_id, kid = meta["_id"], meta["case_id"], meta["kid"]
        active = self.cipher.keyring.current
        changes: dict[str, Any] = {}
        try:
            for name in ("title", "filename"):
                blob = meta.get(name)
                if blob is None:
                    continue
                try:
                    new = self.cipher.rekey_field(case_id, f"{doc_id}.{name}", blob, DOCUMENT)
                except (IdentityKeyError, AttributeError):
                    raise _Unreadable(name) from None
                if new is not None:
                    changes[name] = new
            sealed: list[tuple[int, bytes]] = []
            if kid != active:  # a document under the active key has every chunk under it (see CaseFiles)
                total = int(meta["chunks"])
                records = self.files.chunk_records(doc_id, total)
                if len(records) != total:
                    raise _Unreadable("content", "missing chunk")
                for n, chunk in enumerate(records):
                    try:
                        new_chunk = self.cipher.rekey_chunk(
                            case_id, doc_id, n, total, str(chunk.get("kid") or kid), bytes(chunk["data"])
                        )
                    except IdentityKeyError:
                        raise _Unreadable(f"content chunk {n}") from None
                    if new_chunk is not None:
                        sealed.append((n, new_chunk))
                changes["kid"] = active
        except _Unreadable as exc:
            report.problems.append(Problem("document", doc_id, exc.field, exc.why))
            return
        if not dry_run:
            for n, data in sealed:
                self.files.replace_chunk(doc_id, n, active, data)
            if changes:  # the metadata last: its kid says every chunk is done
                self.files.replace_keys(doc_id, changes)
        report.document_fields_rekeyed += sum(name in changes for name in ("title", "filename"))
        report.chunks_rekeyed += len(sealed)
        report.documents_changed += bool(changes)
