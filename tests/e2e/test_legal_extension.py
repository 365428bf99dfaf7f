"""An advocate records a granted extension and the overdue alert moves with it (issue 12, "Done when").

The whole stack as real processes on the real broker and database: intake, legal, the alerts
processor and the alerts service. The deadlines file gives the preparatory investigation a term of
seconds (20 s + 60 s extension, "CPP art. 342.1") so the story an NGO's legal team lives over months
runs in about a minute:

1. the advocate assigned to the case records the formalisation (stage_changed) herself;
2. the term runs out: ``legal.stage_overdue`` appears in her inbox;
3. she records the extension the judge granted: the alert resolves by itself, and the timeline shows
   the extension, who recorded it and the new deadline;
4. the extended deadline runs out too: a *new episode* of the overdue alert is raised;
5. an extension beyond term + extension is refused with a reason naming the article;
6. another advocate of the same organisation cannot record on (or read) the case: 404.

The reminder rules (``legal.deadline_approaching`` fires 10 days before a deadline, i.e. at once for
a term of seconds) are disabled in this test's policy so that only the overdue alert is in play.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.e2e.stack import REMINDER_RULES, Stack, StackConfig, StartStack, court_update
from tests.support import wait_for

pytestmark = pytest.mark.e2e

ORG = "org-ext-e2e"
ADVOCATE = "adv-x"
OTHER_ADVOCATE = "adv-y"
RULE = "legal.stage_overdue"
TERM = timedelta(seconds=20)
EXTENSION = timedelta(seconds=60)
ARTICLE = "CPP art. 342.1"
PERSON_SOURCE = "centinela-web"  # CENTINELA_LEGAL_PERSON_SOURCE_SYSTEM's default
# how long after its extension the new deadline falls: long enough to see the alert resolve before it
EXTENDED_BY = timedelta(seconds=30)


def record(s: Stack, update: dict[str, Any], sub: str = ADVOCATE) -> httpx.Response:
    """POST one court update as an advocate (source_system left out: the service fills it in)."""
    return httpx.post(f"{s.legal.url}/v1/court-updates", json=update, headers=s.advocate_headers(sub), timeout=10)


def timeline(s: Stack, case_id: str, sub: str = ADVOCATE) -> httpx.Response:
    return httpx.get(f"{s.legal.url}/v1/cases/{case_id}/legal-timeline", headers=s.advocate_headers(sub), timeout=10)


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> Stack:
    # terms shorter than a day are exact durations (services.legal.domain.calendar)
    deadlines = {
        "stages": {
            "preparatory_investigation": {
                "ordinary": {"term": f"{TERM.seconds}s", "extension": f"{EXTENSION.seconds}s", "article": ARTICLE}
            }
        }
    }
    # over the shipped policy: the reminders off (a 10-day lead time fires at once on a 20 s term)
    policy = {"rules": {rule: {"enabled": False} for rule in REMINDER_RULES}}
    return start_stack(StackConfig("ext", org=ORG, advocate=ADVOCATE, policy=policy, deadlines=deadlines))


def _register_case(s: Stack) -> str:
    # a different child each run (no re-registration signal)
    return s.register_case(
        given_names="Extension",
        birth_date="2010-09-14",
        exploitation_types=["ForcedLabour"],
        region="Cusco",
        rescue_date=(datetime.now(UTC) - timedelta(days=10)).date().isoformat(),
    )


def _extension(case_id: str, granted_at: datetime | None = None, **term: Any) -> dict[str, Any]:
    """The judge's extension of the preparatory investigation (``term``: new_deadline or extra_days)."""
    at = granted_at or _millis(datetime.now(UTC))
    return court_update(
        case_id, "deadline_extended", at, granted_by="juez_investigacion_preparatoria", legal_basis=ARTICLE, **term
    )


def _accepted(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert body["accepted"] == 1, body
    return body


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _millis(value: datetime) -> datetime:
    """The legal service keeps instants to the millisecond (MongoDB's precision)."""
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def test_an_advocates_extension_moves_the_overdue_alert(stack: Stack) -> None:
    s = stack
    case_id = _register_case(s)

    # The legal service learns who may record on the case from intake's case-events: until it has,
    # the case is unknown to it (404). Nothing of a 404 request is applied, so retrying is safe.
    complaint = court_update(
        case_id, "stage_changed", datetime.now(UTC) - timedelta(minutes=5), stage="complaint_filed"
    )

    def recorded() -> httpx.Response | None:
        r = record(s, complaint)
        return r if r.status_code == 200 else None

    _accepted(wait_for(recorded, timeout=30, interval=0.3, what="the legal service to know the case's advocate"))

    # Another advocate of the same organisation: the case does not exist for her.
    intruder = record(
        s,
        court_update(case_id, "stage_changed", datetime.now(UTC), stage="preparatory_investigation"),
        sub=OTHER_ADVOCATE,
    )
    assert intruder.status_code == 404, intruder.text
    assert timeline(s, case_id, sub=OTHER_ADVOCATE).status_code == 404

    # 1. the prosecutor formalises the investigation; the advocate records it
    started = _millis(datetime.now(UTC))
    _accepted(record(s, court_update(case_id, "stage_changed", started, stage="preparatory_investigation")))
    first_deadline = started + TERM
    longest = started + TERM + EXTENSION
    tl = timeline(s, case_id).json()
    assert tl["stage"] == "preparatory_investigation"
    assert _at(tl["deadline_at"]) == first_deadline
    assert _at(tl["extended_deadline_at"]) == longest
    assert tl["deadline_basis"] == ARTICLE

    # 2. the term runs out: the overdue alert reaches the advocate's inbox
    overdue = s.wait_alert(case_id, RULE, timeout=TERM.seconds + 45, status="open")
    assert overdue["episode"] == 1
    assert overdue["advocate_id"] == ADVOCATE
    assert overdue["severity"] == "high"
    assert _at(overdue["raised_at"]) >= first_deadline
    assert _at(s.alert_detail(overdue["id"])["evidence"]["deadline_at"]) == first_deadline

    # 3. the judge granted an extension; the advocate records it
    granted_at = _millis(datetime.now(UTC))
    new_deadline = granted_at + EXTENDED_BY
    assert new_deadline < longest, "the machine is too slow for this test's terms: the overdue alert came very late"
    extension = _extension(case_id, granted_at, new_deadline=new_deadline.isoformat())
    _accepted(record(s, extension))

    # the alert resolves by itself, because the deadline moved (before the new one passes)
    resolved = s.wait_alert(case_id, RULE, timeout=EXTENDED_BY.seconds, id=overdue["id"], status="resolved")
    detail = s.alert_detail(resolved["id"])
    assert detail["resolved_auto"] is True, detail
    assert "deadline moved" in detail["resolution_reason"], detail
    assert detail["resolved_by"] != ADVOCATE, detail  # nobody resolved it by hand
    assert _at(detail["resolved_at"]) < new_deadline, detail

    # the timeline: the new deadline, resting on the extension, and who recorded it
    tl = timeline(s, case_id).json()
    assert _at(tl["deadline_at"]) == new_deadline
    assert tl["deadline_basis"] == ARTICLE
    assert tl["overdue"] is False or datetime.now(UTC) >= new_deadline
    assert [(x["granted_by"], x["legal_basis"], _at(x["new_deadline"])) for x in tl["extensions"]] == [
        ("juez_investigacion_preparatoria", ARTICLE, new_deadline)
    ]
    assert tl["extensions"][0]["stage"] == "preparatory_investigation"
    entry = next(e for e in tl["entries"] if e["update_id"] == extension["update_id"])
    assert entry["kind"] == "deadline_extended"
    assert entry["applied"] is True
    assert entry["source_system"] == PERSON_SOURCE
    assert entry["recorded_by"] == {"type": "person", "sub": ADVOCATE, "role": "legal_advocate", "source_system": None}
    assert entry["details"]["legal_basis"] == ARTICLE
    assert _at(entry["details"]["new_deadline"]) == new_deadline

    # 4. the extended deadline passes too: a new episode of the same rule, on the new deadline
    second = s.wait_alert(case_id, RULE, timeout=EXTENDED_BY.seconds + 45, episode=2, status="open")
    assert second["id"] != overdue["id"]
    assert _at(second["raised_at"]) >= new_deadline
    assert _at(s.alert_detail(second["id"])["evidence"]["deadline_at"]) == new_deadline
    first_again = s.alert_detail(overdue["id"])
    assert first_again["status"] == "resolved", first_again  # the old episode is not reopened

    # 5. an extension beyond term + extension is refused, naming the article; nothing moves
    too_far = _extension(case_id, new_deadline=(longest + timedelta(seconds=30)).isoformat())
    r = record(s, too_far)
    assert r.status_code == 200, r.text
    [result] = r.json()["results"]
    assert result["status"] == "rejected", result
    assert ARTICLE in result["reason"], result
    assert "new_deadline" in result["reason"], result
    # in days too: a day on a term of seconds is beyond it as well
    by_days = _extension(case_id, extra_days=1)
    [result] = record(s, by_days).json()["results"]
    assert result["status"] == "rejected", result
    assert ARTICLE in result["reason"], result
    tl = timeline(s, case_id).json()
    assert _at(tl["deadline_at"]) == new_deadline
    assert len(tl["extensions"]) == 1
    assert {e["update_id"] for e in tl["entries"]}.isdisjoint({too_far["update_id"], by_days["update_id"]})

    # 6. the other advocate still cannot record on the case, and sees none of its alerts
    r = record(
        s,
        _extension(case_id, new_deadline=(longest - timedelta(seconds=1)).isoformat()),
        sub=OTHER_ADVOCATE,
    )
    assert r.status_code == 404, r.text
    assert s.alerts_of(case_id, sub=OTHER_ADVOCATE) == []
    assert [a["episode"] for a in s.alerts_of(case_id) if a["rule"] == RULE and a["status"] == "open"] == [2]
