"""The reference client's file readers and batching (HTTP faked with httpx.MockTransport)."""

from __future__ import annotations

import io
import json

import httpx
import pytest

from services.legal.cli import ClientError, main, read_items, replay


def test_reads_csv_dropping_empty_cells(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "source_system,update_id,case_id,kind,occurred_at,stage,hearing_id\n"
        "sgf,u1,c1,stage_changed,2025-01-01T00:00:00Z,complaint_filed,\n"
        "sgf,u2,c1,hearing_held,2025-01-02T00:00:00Z,,h1\n"
        "sgf,u3,c1,hearing_held,2025-01-02T00:00:00Z,,h1,extra\n"
    )
    items = read_items(path)
    assert items[0].value == {
        "source_system": "sgf",
        "update_id": "u1",
        "case_id": "c1",
        "kind": "stage_changed",
        "occurred_at": "2025-01-01T00:00:00Z",
        "stage": "complaint_filed",
    }
    assert "stage" not in items[1].value and items[1].value["hearing_id"] == "h1"
    assert items[2].local_error and items[2].where == "line 4"


def test_reads_json_array_batch_object_and_ndjson(tmp_path):
    one = {"update_id": "u1"}
    (tmp_path / "a.json").write_text(json.dumps([one, one]))
    (tmp_path / "b.json").write_text(json.dumps({"updates": [one]}))
    (tmp_path / "c.ndjson").write_text(json.dumps(one) + "\n\n{broken\n" + json.dumps(one) + "\n")
    assert len(read_items(tmp_path / "a.json")) == 2
    assert len(read_items(tmp_path / "b.json")) == 1
    items = read_items(tmp_path / "c.ndjson")
    assert [i.where for i in items] == ["line 1", "line 3", "line 4"]
    assert items[1].local_error == "not JSON"
    (tmp_path / "d.json").write_text("{nope")
    with pytest.raises(ClientError):
        read_items(tmp_path / "d.json")


def _server(seen: list[int]) -> httpx.Client:
    def handle(request: httpx.Request) -> httpx.Response:
        assert request.headers["authorization"] == "Bearer tok"
        updates = json.loads(request.content)["updates"]
        seen.append(len(updates))
        results = [
            {"index": i, "status": "rejected" if u.get("bad") else "accepted", "reason": "kind: missing"}
            for i, u in enumerate(updates)
        ]
        return httpx.Response(200, json={"results": results})

    return httpx.Client(transport=httpx.MockTransport(handle))


def test_replay_batches_and_summarises(tmp_path):
    path = tmp_path / "x.ndjson"
    lines = [json.dumps({"n": i, **({"bad": True} if i == 3 else {})}) for i in range(5)] + ["{oops"]
    path.write_text("\n".join(lines))
    seen: list[int] = []
    progress = io.StringIO()
    summary = replay(read_items(path), url="http://x", token="tok", batch_size=2, progress=progress, http=_server(seen))
    assert seen == [2, 2, 1]
    assert (summary.accepted, summary.duplicate, summary.rejected) == (4, 0, 2)
    assert ("line 4", "kind: missing") in summary.problems and ("line 6", "not JSON") in summary.problems
    assert "batch 3/3" in progress.getvalue()


def test_http_error_is_reported_not_retried_for_4xx():
    calls = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(403, json={"detail": "nope"})

    from services.legal.cli import Item

    with pytest.raises(ClientError, match="403"):
        replay(
            [Item("item 0", {})], url="http://x", token="t", http=httpx.Client(transport=httpx.MockTransport(handle))
        )
    assert calls == [1]


def test_cli_needs_a_token(monkeypatch, tmp_path, capsys):
    monkeypatch.delenv("CENTINELA_LEGAL_TOKEN", raising=False)
    assert main([str(tmp_path / "x.json")]) == 2
    assert "--token" in capsys.readouterr().err
