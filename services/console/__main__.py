"""Console commands.

python -m services.console seed [--org org-dev]   # dev only: one account per role, prints how to sign in
python -m services.console i18n                   # extract messages and merge them into the catalogues
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path
from typing import TextIO

from pymongo import MongoClient

from services.console.domain.accounts import CONSOLE_ROLES, User, totp_required
from services.console.service.accounts import Accounts, hash_password, new_totp_secret
from services.console.settings import ConsoleSettings
from services.console.store.accounts import LinkRepository, SessionRepository, UserRepository

DEV_PASSWORD = "centinela-dev-password"  # dev only; seed refuses to run outside env=dev
HERE = Path(__file__).resolve().parent


def seed(settings: ConsoleSettings, org: str, out: TextIO = sys.stdout) -> list[dict[str, str]]:
    if settings.env != "dev":
        raise SystemExit(f"seed: refused: CENTINELA_ENV={settings.env}; dev accounts exist only in dev")
    client: MongoClient = MongoClient(settings.mongo_uri, tz_aware=True, serverSelectionTimeoutMS=5000)
    try:
        db = client[settings.database]
        accounts = Accounts(settings, UserRepository(db), SessionRepository(db), LinkRepository(db))
        accounts.users.ensure_indexes()
        rows = []
        for role in CONSOLE_ROLES:
            username = f"dev-{role.replace('_', '-')}"
            existing = accounts.users.by_username(username)
            user_id = existing.user_id if existing else f"dev-{role}"
            secret = (accounts.unseal(user_id, existing.totp_secret) if existing else None) or new_totp_secret()
            needs = totp_required([role])
            sealed = accounts.seal(user_id, secret) if needs else None
            if existing is None:
                accounts.users.create(
                    User(
                        user_id=user_id,
                        username=username,
                        org=org,
                        roles=[role],
                        language="es",
                        display_name=f"Dev {role}",
                        password_hash=hash_password(DEV_PASSWORD),
                        totp_secret=sealed,
                        totp_enrolled=needs,
                    )
                )
            else:
                accounts.users.update(
                    user_id,
                    password_hash=hash_password(DEV_PASSWORD),
                    active=True,
                    failed_attempts=0,
                    locked_until=None,
                    totp_secret=sealed if needs else existing.totp_secret,
                    totp_enrolled=needs or existing.totp_enrolled,
                )
            rows.append(
                {"username": username, "role": role, "user_id": user_id, "totp_secret": secret if needs else ""}
            )
    finally:
        client.close()
    print(f"console: dev accounts in organisation {org}; password for all: {DEV_PASSWORD}", file=out)
    print(f"console: sign in at {settings.console_public_url}/login", file=out)
    for row in rows:
        totp = (
            (
                f'  TOTP secret {row["totp_secret"]} (code now: python -c "import pyotp; '
                f"print(pyotp.TOTP('{row['totp_secret']}').now())\")"
            )
            if row["totp_secret"]
            else ""
        )
        print(f"  {row['username']:<24} {row['role']:<18} id {row['user_id']}{totp}", file=out)
    return rows


def extract() -> int:
    pot = HERE / "locale" / "messages.pot"
    cmd = [sys.executable, "-m", "babel.messages.frontend"]
    subprocess.run(
        [
            *cmd,
            "extract",
            "-F",
            str(HERE / "babel.cfg"),
            "-k",
            "N_",
            "-k",
            "_",
            "--no-location",
            "--sort-output",
            "-o",
            str(pot),
            str(HERE),
        ],
        check=True,
    )
    for lang in ("es", "en"):
        po = HERE / "locale" / lang / "LC_MESSAGES" / "messages.po"
        action = "update" if po.exists() else "init"
        subprocess.run(
            [*cmd, action, "-i", str(pot), "-d", str(HERE / "locale"), "-l", lang, "--no-wrap"]
            + (["--ignore-obsolete"] if action == "update" else []),
            check=True,
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.console")
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("seed", help="dev only: one account per role")
    s.add_argument("--org", default="org-dev", help="organisation of the dev accounts (default org-dev)")
    sub.add_parser("i18n", help="extract messages and merge them into locale/{es,en}")
    args = parser.parse_args(argv)
    if args.cmd == "seed":
        seed(ConsoleSettings(), args.org)
        return 0
    return extract()


if __name__ == "__main__":
    sys.exit(main())
