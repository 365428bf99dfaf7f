"""Catalogues complete, language choice, Peruvian dates, form checks."""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from services.console import i18n
from services.console.__main__ import seed
from services.console.domain import forms
from services.console.settings import ConsoleSettings
from services.console.web import labels

CONSOLE = Path(i18n.__file__).resolve().parent
LIMA = ZoneInfo("America/Lima")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def catalogue(lang: str) -> dict[str, str]:
    return dict(i18n.msgids(CONSOLE / "locale" / lang / "LC_MESSAGES" / "messages.po"))


def test_every_message_is_translated_to_spanish_with_the_same_placeholders() -> None:
    es = catalogue("es")
    assert len(es) > 300
    untranslated = [m for m, t in es.items() if not t.strip()]
    assert untranslated == []
    broken = [m for m, t in es.items() if set(PLACEHOLDER.findall(m)) != set(PLACEHOLDER.findall(t))]
    assert broken == []


def test_the_catalogues_hold_every_label_and_every_sentence_of_the_code() -> None:
    es, en = catalogue("es"), catalogue("en")
    assert set(es) == set(en)
    for table in (
        labels.RULES,
        labels.ROLES,
        labels.SEVERITIES,
        labels.STAGES,
        labels.COURT_KINDS,
        labels.SERVICE_KINDS,
        labels.RISK_KINDS,
        labels.ALERT_STATUSES,
    ):
        assert set(table.values()) <= set(es), table
    # sentences in routes and form checks (not docstrings or log lines) must be in the catalogue
    missing = []
    for path in [*(CONSOLE / "web").glob("*.py"), CONSOLE / "domain" / "forms.py", CONSOLE / "main.py"]:
        tree = ast.parse(path.read_text())
        docstrings = {
            id(n.body[0].value)
            for n in ast.walk(tree)
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module)
            and n.body
            and isinstance(n.body[0], ast.Expr)
        }
        logs = {
            id(a)
            for n in ast.walk(tree)
            if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr in ("warning", "error", "info", "debug")
            for a in n.args
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and id(node) not in logs
                and re.match(r"^[A-Z][a-z].* .*[.?]$", node.value)
                and node.value not in es
            ):
                missing.append(f"{path.name}:{node.lineno}: {node.value}")
    assert missing == []


def test_templates_render_spanish_by_default() -> None:
    t = i18n.translations("es")
    assert t.gettext("Inbox") == "Bandeja"
    assert i18n.translations("en").gettext("Inbox") == "Inbox"


@pytest.mark.parametrize(
    ("preferred", "accept", "expected"),
    [
        (None, None, "es"),
        (None, "en-US,en;q=0.9", "en"),
        (None, "fr-FR,fr;q=0.9,en;q=0.5", "en"),
        (None, "fr", "es"),
        (None, "es-PE,es;q=0.9,en;q=0.8", "es"),
        ("en", "es-PE", "en"),
        ("xx", "en", "en"),
    ],
)
def test_language_from_the_setting_then_the_browser(preferred: str | None, accept: str | None, expected: str) -> None:
    assert i18n.pick_language(preferred, accept, "es") == expected


def test_dates_in_lima_in_peruvian_order() -> None:
    fmt = i18n.Formatter("America/Lima")
    assert fmt.datetime("2026-03-01T04:30:00Z") == "28/02/2026 23:30"
    assert fmt.datetime(datetime(2026, 12, 31, 15, 0, tzinfo=UTC)) == "31/12/2026 10:00"
    assert fmt.date("2026-07-28") == "28/07/2026"
    assert fmt.date(None) == "—"
    assert fmt.datetime("not a date") == "—"


def test_session_form_names_the_wrong_field() -> None:
    now = datetime(2026, 3, 1, 10, 0, tzinfo=LIMA)

    def check(form: dict[str, str]) -> tuple[dict[str, object], dict[str, str]]:
        return forms.session_body(form, LIMA, labels.SESSION_OUTCOMES, labels.MISSED_REASONS, now=now)

    _, errors = check({"outcome": "attended", "occurred_at_date": "2026-03-02", "occurred_at_time": "09:00"})
    assert errors == {"occurred_at": "must not be in the future"}
    _, errors = check({"outcome": "missed", "occurred_at_date": "2026-03-01"})
    assert errors == {"missed_reason": "Say why the session was missed."}
    body, errors = check({"outcome": "attended", "occurred_at_date": "2026-03-01", "occurred_at_time": "08:15"})
    assert errors == {}
    assert body == {"outcome": "attended", "occurred_at": "2026-03-01T08:15:00-05:00"}


def test_court_update_form_builds_the_integrators_body() -> None:
    now = datetime(2026, 3, 1, 10, 0, tzinfo=LIMA)
    args = (LIMA, labels.COURT_KINDS, labels.COURT_FIELDS, labels.STAGES, labels.COMPLEXITIES, labels.VERDICTS)
    body, errors = forms.court_update_body(
        {"kind": "hearing_postponed", "occurred_at_date": "2026-02-27", "reason": "Judge absent"},
        "cs_1",
        "console",
        *args,
        now=now,
    )
    assert errors == {"hearing_id": "This field is required."}
    body, errors = forms.court_update_body(
        {
            "kind": "stage_changed",
            "occurred_at_date": "2026-02-27",
            "occurred_at_time": "11:00",
            "stage": "preparatory_investigation",
            "complexity": "complex",
            "update_id": "con-abc",
        },
        "cs_1",
        "console",
        *args,
        now=now,
    )
    assert errors == {}
    assert body == {
        "source_system": "console",
        "update_id": "con-abc",
        "case_id": "cs_1",
        "kind": "stage_changed",
        "occurred_at": "2026-02-27T11:00:00-05:00",
        "stage": "preparatory_investigation",
        "complexity": "complex",
    }
    # people's updates leave source_system out: the legal service fills in its own namespace
    body, _ = forms.court_update_body(
        {"kind": "appeal_filed", "occurred_at_date": "2026-02-27"}, "cs_1", "", *args, now=now
    )
    assert "source_system" not in body and body["kind"] == "appeal_filed"
    assert forms.api_field("body.identity.birth_date") == "birth_date"
    assert forms.api_field("stage: illegal transition a -> b") == "stage"


def test_seed_refuses_outside_dev() -> None:
    with pytest.raises(SystemExit, match="refused"):
        seed(ConsoleSettings(env="prod", jwt_secret="x" * 40, console_totp_key="a" * 43 + "="), "org-dev")


def test_the_prosecution_model_paths_have_their_fields() -> None:
    now = datetime(2026, 3, 1, 10, 0, tzinfo=LIMA)
    args = (LIMA, labels.COURT_KINDS, labels.COURT_FIELDS, labels.STAGES, labels.COMPLEXITIES, labels.VERDICTS)
    base = {"occurred_at_date": "2026-02-27", "occurred_at_time": "10:00", "update_id": "con-1"}
    body, errors = forms.court_update_body(
        {
            **base,
            "kind": "deadline_extended",
            "granted_by": "judge",
            "legal_basis": "CPP art. 342.1",
            "extra_days": "60",
        },
        "cs_1",
        "",
        *args,
        now=now,
    )
    assert errors == {}
    assert body["granted_by"] == "judge" and body["legal_basis"] == "CPP art. 342.1" and body["extra_days"] == 60
    _, errors = forms.court_update_body(
        {**base, "kind": "deadline_extended", "granted_by": "judge", "legal_basis": "because"},
        "cs_1",
        "",
        *args,
        now=now,
    )
    assert errors["legal_basis"] == "Cite the article, e.g. CPP art. 342.1"
    _, errors = forms.court_update_body(
        {**base, "kind": "deadline_extended", "granted_by": "judge", "legal_basis": "art. 342.1"},
        "cs_1",
        "",
        *args,
        now=now,
    )
    assert errors == {"extra_days": "Give either the new deadline or the extra days, not both."}
    body, errors = forms.court_update_body(
        {**base, "kind": "elevation_decided", "elevation_outcome": "formalise"}, "cs_1", "", *args, now=now
    )
    assert errors == {} and body["outcome"] == "formalise" and "elevation_outcome" not in body
    body, errors = forms.court_update_body({**base, "kind": "complexity_declared"}, "cs_1", "", *args, now=now)
    assert errors == {"complexity": "This field is required."}
    assert set(labels.COURT_FIELDS) == set(labels.COURT_KINDS)
