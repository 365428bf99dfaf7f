"""Spanish first, English second: gettext catalogues (Babel) and Peruvian date formats.

The ``.po`` files under ``locale/`` are the source of truth and are compiled in memory at
start-up (no compiled ``.mo`` to forget to rebuild on a fresh clone). Message ids are English;
Spanish is the default language. Update the catalogues with
``python -m services.console i18n`` (extract + merge); translate; commit the ``.po`` files.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from babel import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from services.console.domain.accounts import LANGUAGES

LOCALE_DIR = Path(__file__).resolve().parent / "locale"


@cache
def translations(language: str) -> gettext.NullTranslations:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=language)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def pick_language(preferred: str | None, accept_language: str | None, default: str) -> str:
    """The user's setting, else the browser's Accept-Language, else the organisation default."""
    if preferred in LANGUAGES:
        return str(preferred)
    if accept_language:
        wanted = []
        for part in accept_language.split(",")[:20]:
            tag, _, q = part.strip().partition(";q=")
            try:
                weight = float(q) if q else 1.0
            except ValueError:
                weight = 0.0
            if tag:
                wanted.append((weight, tag.strip().replace("-", "_")))
        ordered = [tag for _, tag in sorted(wanted, key=lambda w: -w[0])]
        found = negotiate_locale(ordered, list(LANGUAGES), sep="_") or negotiate_locale(
            [t.split("_")[0] for t in ordered], list(LANGUAGES)
        )
        if found:
            return str(found)
    return default


class Formatter:
    """Dates in the organisation's time zone and Peruvian order (dd/mm/aaaa, 24 h)."""

    def __init__(self, time_zone: str) -> None:
        self.tz = ZoneInfo(time_zone)

    def local(self, value: datetime | str | None) -> datetime | None:
        if not isinstance(value, datetime | str) or value == "":
            return None  # missing fields (None, a template's Undefined) show as a dash
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=ZoneInfo("UTC"))
        return value.astimezone(self.tz)

    def datetime(self, value: datetime | str | None) -> str:
        local = self.local(value)
        return local.strftime("%d/%m/%Y %H:%M") if local else "—"

    def date(self, value: dt.date | dt.datetime | str | None) -> str:
        if isinstance(value, str) and len(value) == 10:
            try:
                value = date.fromisoformat(value)
            except ValueError:
                return "—"
        if isinstance(value, date) and not isinstance(value, datetime):
            return value.strftime("%d/%m/%Y")
        local = self.local(value)
        return local.strftime("%d/%m/%Y") if local else "—"

    def iso(self, value: dt.datetime | str | None) -> str:
        local = self.local(value)
        return local.isoformat() if local else ""


def language_name(code: str) -> str:
    return (Locale.parse(code).get_display_name(code) or code).capitalize()


def extract_labels(
    fileobj: Any, keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, None, str, list[str]]]:
    """Babel extractor for ``labels.yaml`` (babel.cfg): every label, list item and string is a msgid."""
    data = yaml.safe_load(fileobj.read().decode("utf-8")) or {}
    for value in data.values():
        items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
        for text in items:
            yield 0, None, str(text), []


def msgids(po_path: Path) -> Iterable[tuple[str, str]]:
    with po_path.open("rb") as f:
        catalog = read_po(f)
    for message in catalog:
        if message.id:
            yield str(message.id), str(message.string)
