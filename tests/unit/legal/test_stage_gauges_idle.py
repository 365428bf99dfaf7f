"""The legal stage gauges count again only after a write in this process or every ``recount_every``
passes; in between the ages move on without a query (an idle legal service does not count its cases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.legal.metrics import CASES_BY_STAGE, OLDEST_STAGE_AGE, StageGauges


class Repo:
    def __init__(self) -> None:
        self.counts = 0
        self.started = datetime.now(UTC) - timedelta(days=2)

    def stage_stats(self) -> list[dict[str, Any]]:
        self.counts += 1
        return [{"_id": "trial", "cases": 3, "oldest": self.started.replace(tzinfo=None)}]


def test_counts_after_a_local_write_or_every_recount_passes_and_ages_move_without_a_query() -> None:
    repo = Repo()
    gauges = StageGauges(repo, interval=15, recount_every=4)
    assert gauges.step() == 15 and repo.counts == 1  # the first pass counts
    assert CASES_BY_STAGE.labels("trial")._value.get() == 3
    age = OLDEST_STAGE_AGE.labels("trial")._value.get()
    assert 2 * 86400 <= age < 2 * 86400 + 60
    OLDEST_STAGE_AGE.labels("trial").set(0)
    gauges.step()
    gauges.step()
    assert repo.counts == 1  # idle: no query
    assert OLDEST_STAGE_AGE.labels("trial")._value.get() >= age  # the age still moves on
    gauges.changed()
    gauges.step()
    assert repo.counts == 2  # a write here: counted at the next pass
    for _ in range(3):
        gauges.step()
    assert repo.counts == 2
    gauges.step()
    assert repo.counts == 3  # every recount_every passes: other processes' writes


def test_a_failed_count_is_tried_again_at_the_next_pass() -> None:
    repo = Repo()
    gauges = StageGauges(repo, interval=1, recount_every=100)

    def down() -> list[dict[str, Any]]:
        repo.counts += 1
        raise ConnectionError("database away")

    repo.stage_stats = down  # type: ignore[method-assign]
    gauges.step()
    gauges.step()
    assert repo.counts == 2
