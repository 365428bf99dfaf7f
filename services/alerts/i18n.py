"""Spanish first, English second: the gettext catalogues (Babel) of the alerts service's e-mails.

The same approach as the console (``services/console/i18n.py``), kept here rather than imported so
the alerts service does not pull in the console's dependencies: the ``.po`` files under
``services/alerts/locale/<lang>/LC_MESSAGES/messages.po`` are the source of truth and are compiled
in memory at start-up (no ``.mo`` to forget to rebuild on a fresh clone). Message ids are English.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
#: languages alert e-mails are written in; the first is the default of the setting
LANGUAGES = ("es", "en")


class CatalogueError(RuntimeError):
    pass


@cache
def translations(language: str) -> gettext.GNUTranslations:
    """The compiled catalogue of ``language`` (one of ``LANGUAGES``); raises ``CatalogueError`` otherwise."""
    if language not in LANGUAGES:
        raise CatalogueError(f"no alert e-mail catalogue for language {language!r} (one of {', '.join(LANGUAGES)})")
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    try:
        with path.open("rb") as f:
            catalog = read_po(f, locale=language)
    except (OSError, ValueError) as exc:
        raise CatalogueError(f"alert e-mail catalogue {path} unreadable: {exc}") from exc
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def load_catalogues() -> None:
    """Compile every catalogue now (start-up): a broken ``.po`` stops the service, not the first e-mail."""
    for language in LANGUAGES:
        translations(language)


def pick(language: str | None, default: str) -> str:
    """The recipient's language when it is one we write in, else the default."""
    return language if language in LANGUAGES else default
