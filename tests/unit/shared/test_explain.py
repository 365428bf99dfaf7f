"""parse_explain reads both servers' explain replies (samples captured from SecantusDB and MongoDB 8)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.explain import CollectionScan, assert_indexed, parse_explain

SECANTUS_COLLSCAN: dict[str, Any] = {
    "explainVersion": "1",
    "queryPlanner": {
        "namespace": "db.docs",
        "winningPlan": {"isCached": False, "stage": "COLLSCAN", "filter": {"x": {"$eq": 5}}, "direction": "forward"},
        "rejectedPlans": [],
    },
    "executionStats": {"nReturned": 0, "totalKeysExamined": 0, "totalDocsExamined": 200},
    "ok": 1.0,
}
SECANTUS_SPARSE: dict[str, Any] = {
    "queryPlanner": {
        "winningPlan": {
            "stage": "LIMIT",
            "inputStage": {
                "stage": "PROJECTION_SIMPLE",
                "inputStage": {
                    "stage": "FETCH",
                    "inputStage": {"stage": "IXSCAN", "indexName": "outbox_pending", "isSparse": True},
                },
            },
        },
        "rejectedPlans": [{"stage": "COLLSCAN"}],
    },
    "executionStats": {"nReturned": 20, "totalKeysExamined": 20, "totalDocsExamined": 20},
    "ok": 1.0,
}
MONGO8_EXPRESS: dict[str, Any] = {
    "queryPlanner": {
        "winningPlan": {"isCached": False, "stage": "EXPRESS_IXSCAN", "keyPattern": "{ _id: 1 }", "indexName": "_id_"}
    },
    "command": {"find": "leases", "filter": {"_id": "x"}, "$db": "db"},
    "ok": 1,
}
MONGO8_SBE: dict[str, Any] = {
    "queryPlanner": {
        "winningPlan": {
            "queryPlan": {
                "stage": "SORT",
                "inputStage": {"stage": "FETCH", "inputStage": {"stage": "IXSCAN", "indexName": "due_1"}},
            },
            "slotBasedPlan": {"slots": "...", "stages": "..."},
        }
    },
    "ok": 1,
}
MONGO_AGG: dict[str, Any] = {
    "stages": [
        {
            "$cursor": {
                "queryPlanner": {"winningPlan": {"stage": "COLLSCAN"}},
                "executionStats": {"totalDocsExamined": 9},
            }
        },
        {"$group": {"_id": None}},
    ],
    "ok": 1,
}
MONGO_OR: dict[str, Any] = {
    "queryPlanner": {
        "winningPlan": {
            "stage": "SUBPLAN",
            "inputStage": {
                "stage": "FETCH",
                "inputStage": {
                    "stage": "OR",
                    "inputStages": [
                        {"stage": "IXSCAN", "indexName": "a_1"},
                        {"stage": "IXSCAN", "indexName": "b_1"},
                    ],
                },
            },
        }
    }
}


def test_collection_scan_detected_with_counts() -> None:
    plan = parse_explain(SECANTUS_COLLSCAN)
    assert plan.collection_scan and not plan.uses_index
    assert (plan.docs_examined, plan.keys_examined, plan.returned) == (200, 0, 0)
    with pytest.raises(CollectionScan, match=r"outbox poll: not served by an index \(COLLSCAN; docs examined 200"):
        assert_indexed(plan, "outbox poll")


def test_index_scan_through_nested_stages_ignores_rejected_plans() -> None:
    plan = parse_explain(SECANTUS_SPARSE)
    assert plan.stages == ("LIMIT", "PROJECTION_SIMPLE", "FETCH", "IXSCAN")
    assert plan.indexes == ("outbox_pending",)
    assert plan.uses_index and not plan.collection_scan and not plan.blocking_sort
    assert assert_indexed(plan, "outbox poll") is plan


def test_mongodb_8_shapes() -> None:
    assert parse_explain(MONGO8_EXPRESS).uses_index
    sbe = parse_explain(MONGO8_SBE)
    assert sbe.uses_index and sbe.blocking_sort and sbe.indexes == ("due_1",)
    agg = parse_explain(MONGO_AGG)
    assert agg.collection_scan and agg.docs_examined == 9
    assert parse_explain(MONGO_OR).indexes == ("a_1", "b_1")


def test_reply_without_a_plan_is_an_error() -> None:
    with pytest.raises(ValueError, match="no winningPlan"):
        parse_explain({"ok": 1})
