"""Query parameters of intake's keyset-paged lists (``GET /v1/cases``, ``GET /v1/audit``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query

from services.intake.service.core import Invalid

DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Paging:
    limit: int
    limit_field: str  # the parameter that set it, named by a 422
    cursor: str | None
    page: int | None  # deprecated page-number paging
    total: bool


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
    page: Annotated[
        int | None,
        Query(
            ge=1,
            le=100_000,
            deprecated=True,
            description="replaced by `cursor`: page numbers repeat and skip items while the list grows; "
            "accepted for one release",
        ),
    ] = None,
    page_size: Annotated[int | None, Query(ge=1, deprecated=True, description="replaced by `limit`")] = None,
) -> Paging:
    if limit is not None and page_size is not None and limit != page_size:
        raise Invalid("query.page_size", "conflict", "differs from limit; send limit only")
    if limit is None and page_size is not None:
        size, field = page_size, "query.page_size"
    else:
        size, field = limit or DEFAULT_LIMIT, "query.limit"
    with_total = total if total is not None else cursor is None
    return Paging(size, field, cursor, page, with_total)


PagingParams = Annotated[Paging, Depends(paging)]
