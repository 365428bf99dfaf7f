"""The prosecutor's references of a case: carpeta fiscal, prosecutor office, court file (expediente).

Court integrators know a case by the prosecutor's file number, not by centinela's ``cs_...`` id; these
references let them resolve one to the other. The formats below follow the numbers Peru's Ministerio
Público and Poder Judicial print (to be confirmed with the legal teams using it):

* carpeta fiscal: ``<office code digits>-<year>-<number>[-<digit>]``, e.g. ``3306014501-2023-245-0``;
* prosecutor office: a code, e.g. the despacho code ``3306014501`` or ``FPETP-LIMA-01``;
* expediente (Consulta de Expedientes Judiciales): ``00123-2023-0-1801-JR-PE-01``.

Values are normalised (spaces dropped, upper case) before they are validated, stored or looked up, so
``3306014501 - 2023-245-0`` and ``3306014501-2023-245-0`` are the same file. A file number is not
personal data about the child; it may travel in events (never a name).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# re.ASCII: ``\d`` is 0-9 only (other scripts' digits are not file numbers)
CARPETA_RE = re.compile(r"^\d{4,12}-(\d{4})-\d{1,7}(-\d{1,3})?$", re.ASCII)
OFFICE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{1,39}$", re.ASCII)
EXPEDIENTE_RE = re.compile(r"^\d{5}-(\d{4})-\d{1,4}-\d{4}-[A-Z]{2}-[A-Z]{2}-\d{2}$", re.ASCII)
FIRST_YEAR = 1990  # no carpeta under any code of criminal procedure in use is older

CARPETA_EXAMPLE = "3306014501-2023-245-0"
OFFICE_EXAMPLE = "FPETP-LIMA-01"
EXPEDIENTE_EXAMPLE = "00123-2023-0-1801-JR-PE-01"


def _compact(value: str) -> str:
    return "".join(value.split()).upper()


def _year_ok(year: str) -> bool:
    return FIRST_YEAR <= int(year) <= datetime.now(UTC).year + 1


def normalise_carpeta(value: str) -> str:
    """The carpeta fiscal number in its stored form; ValueError (no value echoed) when malformed."""
    compact = _compact(value)
    match = CARPETA_RE.fullmatch(compact)
    if not match:
        raise ValueError(f"expected a carpeta fiscal number like {CARPETA_EXAMPLE}")
    if not _year_ok(match.group(1)):
        raise ValueError(f"the year must lie between {FIRST_YEAR} and next year")
    return compact


def normalise_office(value: str) -> str:
    compact = _compact(value)
    if not OFFICE_RE.fullmatch(compact):
        raise ValueError(f"expected a prosecutor office code (letters, digits, '-'), like {OFFICE_EXAMPLE}")
    return compact


def normalise_expediente(value: str) -> str:
    compact = _compact(value)
    match = EXPEDIENTE_RE.fullmatch(compact)
    if not match:
        raise ValueError(f"expected a court file number like {EXPEDIENTE_EXAMPLE}")
    if not _year_ok(match.group(1)):
        raise ValueError(f"the year must lie between {FIRST_YEAR} and next year")
    return compact


def ref_key(office: str, carpeta_fiscal: str) -> str:
    """The unique key of a carpeta within its office (a unique index in the store)."""
    return f"{office}|{carpeta_fiscal}"
