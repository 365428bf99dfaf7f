"""Coded places: where a child was exploited, at a grain that cannot single the child out.

``place_of_exploitation`` (free text: "the bar behind the market in ...") can identify a child, so it is
encrypted at rest like identity and shown only to those who may read the case. What reports and events
use instead is ``place_of_exploitation_code``:

* in Peru, an INEI UBIGEO code of the department (2 digits, ``01`` Amazonas .. ``25`` Ucayali; ``07`` is
  Callao) or of the province (4 digits: department + province, e.g. ``1701`` Tambopata, Madre de Dios);
  never a district (6 digits), which can be small enough to point at one family;
* abroad, an ISO 3166-2 subdivision code (``BO-L`` La Paz, ``EC-P`` Pichincha) or a bare country code.
"""

from __future__ import annotations

import re

UBIGEO_RE = re.compile(r"^(\d{2})(\d{2})?$", re.ASCII)
ISO_3166_RE = re.compile(r"^[A-Z]{2}(-[A-Z0-9]{1,3})?$", re.ASCII)
PERU_DEPARTMENTS = range(1, 26)
EXAMPLE = "17 (Madre de Dios), 1701 (Tambopata) or BO-L"


def normalise_place_code(value: str) -> str:
    """The code in its stored form; ValueError (no value echoed) for anything else."""
    code = value.strip().upper()
    match = UBIGEO_RE.fullmatch(code)
    if match:
        if int(match.group(1)) not in PERU_DEPARTMENTS:
            raise ValueError("a UBIGEO department is 01 to 25")
        if match.group(2) is not None and int(match.group(2)) == 0:
            raise ValueError("a UBIGEO province is 01 or more")
        return code
    if ISO_3166_RE.fullmatch(code):
        return code
    raise ValueError(f"expected a UBIGEO department or province code, or an ISO 3166-2 code, e.g. {EXAMPLE}")
