"""Command line of the intake service.

    python -m services.intake rekey [--batch N] [--dry-run] [--actor ID] [--reason TEXT]

``rekey`` re-encrypts every value intake holds encrypted (identity fields, protected case fields such as
``place_of_exploitation``, document titles, file names and content chunks) under the active identity key
(``CENTINELA_IDENTITY_ACTIVE_KEY``, or the first of ``CENTINELA_IDENTITY_KEYS``), opening each with its
own key id among every configured key (``CENTINELA_IDENTITY_KEYS`` and ``CENTINELA_IDENTITY_OLD_KEYS``).
Values already under the active key are skipped: a second run changes nothing, an interrupted run resumes.
``--dry-run`` decrypts and counts without writing (a check that every value opens before a key is removed).

Progress (counts only) goes to stderr after each batch; the summary (JSON counts) to stdout; the run is
written to intake's audit log (action ``keys.rekey``, actor ``--actor`` or the OS user). Exit codes: 0 every
value is under the active key (would be, in a dry run); 1 some value could not be re-encrypted (each one
named on stderr by case or document id and field, never by value: restore its key and run again);
2 configuration or database error.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
import uuid

from pydantic import ValidationError
from pymongo.errors import PyMongoError

from services.intake.domain.identity import IdentityCipher, IdentityKeyError
from services.intake.service.rekey import Rekeyer, RekeyReport
from services.intake.settings import IntakeSettings
from services.intake.store import case_files
from services.intake.store.audit import AuditLog
from services.intake.store.documents import CaseDocument
from services.intake.store.repository import CaseRepository, ensure_indexes
from shared.audit import open_trail
from shared.mongo import connect

AUDIT_ACTION = "keys.rekey"


def _progress(report: RekeyReport) -> None:
    print(
        f"rekey: cases {report.cases_scanned} scanned, {report.cases_changed} changed; "
        f"documents {report.documents_scanned} scanned, {report.documents_changed} changed; "
        f"{len(report.problems)} problem(s)",
        file=sys.stderr,
        flush=True,
    )


def rekey(settings: IntakeSettings, *, batch: int, dry_run: bool, actor: str, reason: str) -> int:
    try:
        cipher = IdentityCipher(settings.keyring())
    except IdentityKeyError as exc:
        print(f"intake rekey: {exc}", file=sys.stderr)
        return 2
    client = connect(settings)
    run_id = f"rekey-{uuid.uuid4().hex[:12]}"
    audit = AuditLog(open_trail(settings, client, "intake"))
    try:
        ensure_indexes()
        case_files.ensure_indexes()

        def record(action: str, details: dict[str, object]) -> None:
            audit.record(
                actor=actor,
                role="admin",
                roles=["admin"],
                org=None,
                action=action,
                case_id=None,
                outcome="ok",
                request_id=run_id,
                reason=reason,
                details=details,
            )

        # Started and finished are both recorded, so a run that died half-way is visible in the trail.
        record(f"{AUDIT_ACTION}.started", {"active_kid": cipher.keyring.current, "dry_run": dry_run, "batch": batch})
        rekeyer = Rekeyer(cipher, CaseRepository(CaseDocument._get_collection()), case_files.CaseFiles.default())
        report = rekeyer.run(batch=batch, dry_run=dry_run, progress=_progress)
        for problem in report.problems:
            print(f"rekey: cannot re-encrypt {problem.line()}", file=sys.stderr)
        record(
            AUDIT_ACTION,
            {
                **report.counts(),
                "result": "complete" if report.complete else "incomplete",
                # ids and field names only, bounded: the stderr listing has them all
                "problem_records": [f"{p.kind}:{p.record_id}:{p.field}" for p in report.problems[:50]],
            },
        )
    except PyMongoError as exc:
        # the URI carries the database password: name the failure, never the URI
        print(f"intake rekey: database error ({type(exc).__name__}); run again, it resumes", file=sys.stderr)
        return 2
    finally:
        client.close()
    print(json.dumps({**report.counts(), "run_id": run_id, "complete": report.complete}))
    return 0 if report.complete else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.intake")
    sub = parser.add_subparsers(dest="cmd", required=True)
    rk = sub.add_parser("rekey", help="re-encrypt every encrypted value under the active identity key (audited)")
    rk.add_argument("--batch", type=int, default=200, help="cases or documents read per page (default 200)")
    rk.add_argument("--dry-run", action="store_true", help="decrypt and count, write nothing but the audit record")
    rk.add_argument("--actor", default=None, help="who runs it (audit log; default: the OS user)")
    rk.add_argument("--reason", default="identity key rotation", help="why (audit log)")
    args = parser.parse_args(argv)
    if args.batch < 1 or args.batch > 10_000:
        parser.error("--batch must be between 1 and 10000")
    try:
        settings = IntakeSettings()
    except ValidationError as exc:
        # hide_input_in_errors: the messages name the variable, never its value
        print(f"intake rekey: bad settings: {exc}", file=sys.stderr)
        return 2
    return rekey(
        settings, batch=args.batch, dry_run=args.dry_run, actor=args.actor or getpass.getuser(), reason=args.reason
    )


if __name__ == "__main__":
    sys.exit(main())
