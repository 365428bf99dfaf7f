"""Does a query shape use an index? ``explain`` read the same way on MongoDB and on SecantusDB.

DESIGN.md: every query shape must be served by an index on both servers, because a collection scan
per write or per poll makes cost grow with the data. Tests and the ``python -m shared.explain``
command ask the server for the plan of a shape and fail on a ``COLLSCAN``.

How the two servers answer (probed on MongoDB 8 and SecantusDB 0.7):

* ``find`` / ``count`` / ``findAndModify`` / ``aggregate``: both return ``queryPlanner.winningPlan``, a
  tree of ``{"stage": ..., "inputStage" | "inputStages" | "queryPlan": ...}``; MongoDB's aggregate may
  nest it under ``stages[0].$cursor`` and sharded clusters under ``shards``; MongoDB 8 reports single
  ``_id`` lookups as ``EXPRESS_IXSCAN`` / ``IDHACK``. With ``executionStats`` both add
  ``totalDocsExamined`` / ``totalKeysExamined``.
* ``update`` / ``delete``: SecantusDB's explain ignores the ``updates`` / ``deletes`` filters and
  always reports a ``COLLSCAN``, while its write path does use the index. So a write's filter is
  explained as a ``find`` with the same filter (:func:`explain_filter`): both servers plan a write's
  filter exactly like a find's.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CollectionScan",
    "QueryPlan",
    "assert_indexed",
    "explain_aggregate",
    "explain_filter",
    "explain_find_and_modify",
    "parse_explain",
]

SCAN_STAGES = frozenset({"COLLSCAN", "TABLE_SCAN", "CLUSTERED_COLLSCAN"})
INDEX_STAGES = frozenset(
    {"IXSCAN", "IDHACK", "EXPRESS_IXSCAN", "EXPRESS_CLUSTERED_IXSCAN", "COUNT_SCAN", "DISTINCT_SCAN"}
)


class CollectionScan(AssertionError):
    """A query shape that the server answers by reading the whole collection."""


@dataclass(frozen=True)
class QueryPlan:
    """What the server said it does for one query shape."""

    stages: tuple[str, ...]
    indexes: tuple[str, ...]
    docs_examined: int | None = None
    keys_examined: int | None = None
    returned: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def collection_scan(self) -> bool:
        return any(s in SCAN_STAGES for s in self.stages)

    @property
    def uses_index(self) -> bool:
        return any(s in INDEX_STAGES for s in self.stages) and not self.collection_scan

    @property
    def blocking_sort(self) -> bool:
        """An in-memory ``SORT`` over what the index returned (cost grows with the matches)."""
        return "SORT" in self.stages

    def summary(self) -> str:
        parts = ["->".join(self.stages) or "?"]
        if self.indexes:
            parts.append("index " + ",".join(self.indexes))
        if self.docs_examined is not None:
            parts.append(f"docs examined {self.docs_examined}")
        if self.keys_examined is not None:
            parts.append(f"keys examined {self.keys_examined}")
        if self.returned is not None:
            parts.append(f"returned {self.returned}")
        return "; ".join(parts)


def _walk_plans(node: Any) -> Iterator[Mapping[str, Any]]:
    """Every ``winningPlan`` in an explain document, wherever the server put it."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "winningPlan" and isinstance(value, Mapping):
                yield value
            elif key not in ("rejectedPlans", "command", "serverInfo"):
                yield from _walk_plans(value)
    elif isinstance(node, list | tuple):
        for item in node:
            yield from _walk_plans(item)


def _stages(node: Any, stages: list[str], indexes: list[str]) -> None:
    if isinstance(node, Mapping):
        stage = node.get("stage")
        if isinstance(stage, str):
            stages.append(stage)
        name = node.get("indexName")
        if isinstance(name, str):
            indexes.append(name)
        for key, value in node.items():
            if key in ("inputStage", "inputStages", "queryPlan", "innerStage", "outerStage", "thenStage", "elseStage"):
                _stages(value, stages, indexes)
    elif isinstance(node, list | tuple):
        for item in node:
            _stages(item, stages, indexes)


def _find_number(node: Any, key: str) -> int | None:
    """The first ``key`` under any ``executionStats`` (summed over shards is not needed here)."""
    if isinstance(node, Mapping):
        stats = node.get("executionStats")
        if isinstance(stats, Mapping) and isinstance(stats.get(key), int | float):
            return int(stats[key])
        for k, value in node.items():
            if k in ("command", "serverInfo"):
                continue
            found = _find_number(value, key)
            if found is not None:
                return found
    elif isinstance(node, list | tuple):
        for item in node:
            found = _find_number(item, key)
            if found is not None:
                return found
    return None


def parse_explain(doc: Mapping[str, Any]) -> QueryPlan:
    """Read an ``explain`` reply of either server; ValueError when it carries no plan at all."""
    plans = list(_walk_plans(doc))
    if not plans:
        raise ValueError("explain reply has no winningPlan (unknown server or command)")
    stages: list[str] = []
    indexes: list[str] = []
    for plan in plans:
        _stages(plan, stages, indexes)
    return QueryPlan(
        stages=tuple(stages),
        indexes=tuple(dict.fromkeys(indexes)),
        docs_examined=_find_number(doc, "totalDocsExamined"),
        keys_examined=_find_number(doc, "totalKeysExamined"),
        returned=_find_number(doc, "nReturned"),
        raw=doc,
    )


def _explain(db: Any, command: dict[str, Any], verbosity: str) -> QueryPlan:
    return parse_explain(db.command("explain", command, verbosity=verbosity))


def explain_filter(
    coll: Any,
    filter: Mapping[str, Any],
    *,
    projection: Mapping[str, Any] | None = None,
    sort: Sequence[tuple[str, int]] | Mapping[str, int] | None = None,
    limit: int = 0,
    verbosity: str = "executionStats",
) -> QueryPlan:
    """The plan of a ``find`` (and so of any ``update``/``delete``/``count`` with this filter)."""
    command: dict[str, Any] = {"find": coll.name, "filter": dict(filter)}
    if projection:
        command["projection"] = dict(projection)
    if sort:
        command["sort"] = dict(sort)
    if limit:
        command["limit"] = limit
    return _explain(coll.database, command, verbosity)


def explain_find_and_modify(
    coll: Any,
    filter: Mapping[str, Any],
    update: Mapping[str, Any],
    *,
    sort: Mapping[str, int] | None = None,
    upsert: bool = False,
    verbosity: str = "queryPlanner",
) -> QueryPlan:
    """The plan of a ``findAndModify`` (``find_one_and_update``); explain never applies the update."""
    command: dict[str, Any] = {"findAndModify": coll.name, "query": dict(filter), "update": dict(update)}
    if sort:
        command["sort"] = dict(sort)
    if upsert:
        command["upsert"] = True
    return _explain(coll.database, command, verbosity)


def explain_aggregate(
    coll: Any, pipeline: Sequence[Mapping[str, Any]], *, verbosity: str = "queryPlanner"
) -> QueryPlan:
    """The plan of the pipeline's initial read (a leading ``$match`` is what can use an index)."""
    command = {"aggregate": coll.name, "pipeline": [dict(p) for p in pipeline], "cursor": {}}
    return _explain(coll.database, command, verbosity)


def assert_indexed(plan: QueryPlan, what: str) -> QueryPlan:
    """Raise :class:`CollectionScan` naming the shape ``what`` when ``plan`` scans the collection."""
    if plan.collection_scan or not plan.uses_index:
        raise CollectionScan(f"{what}: not served by an index ({plan.summary()})")
    return plan


def main(argv: list[str] | None = None) -> int:
    """``python -m shared.explain <db> <collection> '<filter JSON>' [--sort '<JSON>']``: print the plan."""
    from pymongo import MongoClient

    from shared.settings import CommonSettings

    parser = argparse.ArgumentParser(prog="python -m shared.explain", description=main.__doc__)
    parser.add_argument("database")
    parser.add_argument("collection")
    parser.add_argument("filter", help='query filter as JSON, e.g. \'{"outbox.created_at": {"$exists": true}}\'')
    parser.add_argument("--sort", default="", help="sort as JSON, e.g. '{\"due_at\": 1}'")
    args = parser.parse_args(argv)
    settings = CommonSettings()
    client: MongoClient[Any] = MongoClient(settings.mongo_uri, serverSelectionTimeoutMS=settings.mongo_timeout_ms)
    try:
        coll = client[args.database][args.collection]
        plan = explain_filter(coll, json.loads(args.filter), sort=json.loads(args.sort) if args.sort else None)
    finally:
        client.close()
    print(("COLLECTION SCAN: " if plan.collection_scan else "indexed: ") + plan.summary())
    return 1 if plan.collection_scan else 0


if __name__ == "__main__":
    sys.exit(main())
