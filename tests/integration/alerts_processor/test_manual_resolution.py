"""A manual resolution reaches the running processor (issue 10 item 5): the alerts service's
``centinela.alert.resolved`` (``auto: false``, with the actor) on `alerts` closes the episode in the
processor, and while the condition goes on a new episode is raised after the quiet period."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from services.processor.domain.engine import alert_id
from shared.events import new_event
from shared.events.alerts import AlertResolved
from tests.integration.alerts_processor import helpers
from tests.integration.alerts_processor.helpers import find, new_case, now, producer
from tests.support import Proc, consumer, drain

pytestmark = pytest.mark.integration

QUIET = 4.0
POLICY = f"""\
rules:
  service.overdue: {{after: 1s, quiet_after_manual_resolve: {QUIET:g}s}}
  legal.deadline_approaching: {{enabled: false}}
  legal.hearing_upcoming: {{enabled: false}}
"""


def test_manual_resolution_then_a_new_episode_after_the_quiet_period(
    stack_env: dict[str, str], log_dir: Path, procs: list[Proc], tmp_path: Path
) -> None:
    proc = helpers.processor_reading("processor-manual-resolution", POLICY, stack_env, log_dir, procs, tmp_path)
    pub = producer(stack_env)
    try:
        case_id = new_case()
        t = now()
        for payload in (
            helpers.registered(case_id, "org-m", "adv-m", t),
            helpers.service_planned(case_id, t, interval_days=7, planned_at=t),
        ):
            pub.publish("case-events", new_event(payload)).get(timeout=15)
        with consumer(stack_env, "alerts") as c:
            first = drain(c, lambda rs: bool(find(rs, case_id, ".raised", "service.overdue")), timeout=60)
            raised = find(first, case_id, ".raised", "service.overdue")[0].payload
            # one alert per late service: the person resolves that service's alert, by its id
            assert raised.alert_id == alert_id(case_id, "service.overdue", "service:s1", 1)  # type: ignore[attr-defined]
            # what the alerts service publishes when an advocate resolves it by hand
            resolved_at = now()
            manual = AlertResolved(
                case_id=case_id,
                alert_id=raised.alert_id,  # type: ignore[attr-defined]
                rule="service.overdue",
                episode=1,
                auto=False,
                reason="resolved by hand",
                by="adv-m",
                resolved_at=resolved_at,
            )
            pub.publish("alerts", new_event(manual)).get(timeout=15)
            sent = time.monotonic()
            recs = drain(
                c,
                lambda rs: any(e.payload.episode == 2 for e in find(rs, case_id, ".raised", "service.overdue")),  # type: ignore[attr-defined]
                timeout=60,
            )
        waited = time.monotonic() - sent
        second = next(e for e in find(recs, case_id, ".raised", "service.overdue") if e.payload.episode == 2)  # type: ignore[attr-defined]
        assert second.payload.raised_at >= resolved_at + timedelta(seconds=QUIET)  # type: ignore[attr-defined]
        assert waited < QUIET + 15
        # the processor never auto-resolves what a person already resolved
        assert not find(recs, case_id, ".resolved", "service.overdue") or all(
            not e.payload.auto  # type: ignore[attr-defined]
            for e in find(recs, case_id, ".resolved", "service.overdue")
        )
    finally:
        pub.close()
        proc.stop()
