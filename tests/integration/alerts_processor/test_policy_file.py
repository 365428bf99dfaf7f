"""The running processor reads an operator's partial policy file over the shipped defaults (issue 18
item 3): a file naming two rules starts, those two change, every other rule keeps its default, and
the effective policy is logged at start-up; a bad file stops it with an error naming the key."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

from shared.events import case as ce
from shared.events import new_event
from tests.integration.alerts_processor import helpers
from tests.integration.alerts_processor.helpers import find, new_case, now, producer
from tests.support import Proc, consumer, drain, free_port, wait_for

pytestmark = pytest.mark.integration

TWO_RULES = """\
rules:
  service.overdue: {after: 2s, severity: high}
  legal.no_activity: {after: 1h}
"""


def test_partial_policy_file_overrides_two_rules_and_keeps_the_rest(
    stack_env: dict[str, str], log_dir: Path, procs: list[Proc], tmp_path: Path
) -> None:
    proc = helpers.processor_reading("processor-partial-policy", TWO_RULES, stack_env, log_dir, procs, tmp_path)
    try:
        wait_for(lambda: "alert policy in force" in proc.log_text(), timeout=30, what="the policy logged")
        line = next(x for x in proc.log_text().splitlines() if "alert policy in force" in x)
        assert "service.overdue[severity=high* enabled=True after=2s*]" in line
        assert "legal.no_activity[severity=medium enabled=True after=1h*]" in line
        assert "risk.revictimisation[severity=critical enabled=True]" in line  # a default, untouched

        case_id = new_case()
        t = now()
        pub = producer(stack_env)
        try:
            for payload in (
                helpers.registered(case_id, "org-p", "adv-p", t),
                helpers.service_planned(
                    case_id,
                    t,
                    service_kind="health_checkup",
                    spl_type="Health",
                    provider_org_id="org-x",
                    sessions_planned=1,
                    planned_at=t,
                ),
                ce.RiskFlagged(case_id=case_id, flag_id="f1", kind="other", severity="medium", raised_at=t),
            ):
                pub.publish("case-events", new_event(payload)).get(timeout=15)
        finally:
            pub.close()
        with consumer(stack_env, "alerts") as c:
            recs = drain(
                c,
                lambda rs: (
                    bool(find(rs, case_id, ".raised", "service.overdue"))
                    and bool(find(rs, case_id, ".raised", "risk.revictimisation"))
                ),
                timeout=60,
            )
        overdue = find(recs, case_id, ".raised", "service.overdue")[0].payload
        risk = find(recs, case_id, ".raised", "risk.revictimisation")[0].payload
        assert overdue.severity == "high"  # type: ignore[attr-defined]  # the file's
        assert "2s" in overdue.summary  # type: ignore[attr-defined]
        assert risk.severity == "critical"  # type: ignore[attr-defined]  # the shipped default
    finally:
        proc.stop()


def test_bad_policy_file_stops_the_processor_naming_the_key(
    stack_env: dict[str, str], log_dir: Path, tmp_path: Path
) -> None:
    policy = tmp_path / "bad.yaml"
    policy.write_text("rules:\n  service.overdue: {after: 90}\n  no.such_rule: {after: 1d}\n")
    port = free_port()
    proc = Proc(
        "processor-bad-policy",
        [sys.executable, "-m", "services.processor", "worker", "--web-port", str(port), "-l", "warn"],
        {**stack_env, "CENTINELA_POLICY_FILE": str(policy)},
        log_dir,
        port=port,
    )
    try:
        wait_for(lambda: not proc.alive(), timeout=60, what="the processor to exit")
        assert proc.popen.returncode != 0
        log = proc.log_text()
        assert "refuses to start" in log and str(policy) in log
        assert "rules.no.such_rule: unknown rule id" in log
        assert "rules.service.overdue.after: a bare number has no unit" in log
        assert "Traceback" not in log
    finally:
        proc.stop()


QUIET_OVERDUE = """\
rules:
  service.overdue: {after: 1h}
"""
SHORT_OVERDUE = """\
rules:
  service.overdue: {after: 2s}
"""


def _case_with_a_session_due_now(env: dict[str, str]) -> str:
    case_id = new_case()
    t = now()
    pub = producer(env)
    try:
        for payload in (helpers.registered(case_id, "org-p", "adv-p", t), helpers.service_planned(case_id, t)):
            pub.publish("case-events", new_event(payload)).get(timeout=15)
    finally:
        pub.close()
    return case_id


def _overdue_raised(env: dict[str, str], case_id: str, timeout: float) -> bool:
    """Whether ``service.overdue`` is raised for ``case_id`` on `alerts` within ``timeout`` seconds."""
    with consumer(env, "alerts") as c:
        try:
            drain(c, lambda rs: bool(find(rs, case_id, ".raised", "service.overdue")), timeout=timeout)
        except AssertionError:  # drain's "timed out": not raised in time
            return False
    return True


def _processed(proc: Proc) -> float:
    text = httpx.get(proc.url + "/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("centinela_alerts_events_processed_total{") and 'topic="case-events"' in line
    )


def test_a_restart_under_a_shorter_threshold_does_not_trust_the_deadlines_stored_under_the_old_one(
    stack_env: dict[str, str], log_dir: Path, procs: list[Proc], tmp_path: Path
) -> None:
    """Each stored state carries its next deadline and the fingerprint of the policy that computed
    it (services/processor/tables.py); a worker restarted on the same disk with another policy must
    evaluate the cases again, not wait for the old (1 h) deadline."""
    env = {**stack_env, "CENTINELA_TOPIC_PREFIX": f"{stack_env['CENTINELA_TOPIC_PREFIX']}rs."}
    datadir = tmp_path / "processor-data"
    policy = tmp_path / "policy.yaml"
    policy.write_text(QUIET_OVERDUE)
    first = helpers.start_processor("processor-policy-before", env, log_dir, policy, datadir=datadir)
    procs.append(first)
    try:
        case_id = _case_with_a_session_due_now(env)
        wait_for(lambda: _processed(first) >= 2, timeout=60, what="both events folded")
        assert not _overdue_raised(env, case_id, timeout=4)  # 1 h threshold: nothing yet
    finally:
        first.stop()
    policy.write_text(SHORT_OVERDUE)
    second = helpers.start_processor("processor-policy-after", env, log_dir, policy, datadir=datadir)
    procs.append(second)
    try:
        assert _overdue_raised(env, case_id, timeout=60), "the old policy's stored deadline was trusted"
    finally:
        second.stop()


def test_a_policy_file_changed_while_running_re_evaluates_every_case(
    stack_env: dict[str, str], log_dir: Path, procs: list[Proc], tmp_path: Path
) -> None:
    env = {**stack_env, "CENTINELA_TOPIC_PREFIX": f"{stack_env['CENTINELA_TOPIC_PREFIX']}rl."}
    policy = tmp_path / "policy.yaml"
    policy.write_text(QUIET_OVERDUE)
    proc = helpers.start_processor("processor-policy-reload", env, log_dir, policy)
    procs.append(proc)
    try:
        case_id = _case_with_a_session_due_now(env)
        wait_for(lambda: _processed(proc) >= 2, timeout=60, what="both events folded")
        assert not _overdue_raised(env, case_id, timeout=4)
        policy.write_text(SHORT_OVERDUE)
        assert _overdue_raised(env, case_id, timeout=60), "the reloaded policy did not re-evaluate the case"
        assert "alert policy reloaded" in proc.log_text()
    finally:
        proc.stop()
