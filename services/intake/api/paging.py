"""Query parameters of intake's keyset-paged lists (``GET /v1/cases``, ``GET /v1/audit``).

Page-number paging (``page``, ``page_size``) was deprecated for a release and is gone: a request that
still sends either gets a 422 naming the parameter and its replacement, never a silent first page
(a client looping over page numbers would otherwise read page 1 for ever, or stop early).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from services.intake.service.core import Invalid

DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Paging:
    limit: int
    cursor: str | None
    total: bool

    limit_field = "query.limit"  # named by a 422 when the limit is above the maximum


#: parameters of the page-number paging that was removed, and what replaces each
REMOVED = {
    "page": "page numbers are no longer served: pass the previous page's next_cursor as cursor",
    "page_size": "replaced by limit",
}


def paging(
    limit: Annotated[
        int | None, Query(ge=1, description="items per page (at most CENTINELA_PAGE_SIZE_MAX, 200 by default)")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=512, description="`next_cursor` of the previous page (same filters)")
    ] = None,
    total: Annotated[
        bool | None,
        Query(description="count the items matching the filters (default: on the first page only)"),
    ] = None,
    page: Annotated[str | None, Query(include_in_schema=False)] = None,
    page_size: Annotated[str | None, Query(include_in_schema=False)] = None,
) -> Paging:
    for name, sent in (("page", page), ("page_size", page_size)):
        if sent is not None:
            raise Invalid(f"query.{name}", "removed", REMOVED[name])
    with_total = total if total is not None else cursor is None
    return Paging(limit or DEFAULT_LIMIT, cursor, with_total)


PagingParams = Annotated[Paging, Depends(paging)]
