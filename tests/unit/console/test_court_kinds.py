"""The legal-event form offers every court update legal accepts, with every field (issue 13 item 14).

The kinds and fields come from legal's format itself (services/legal/domain/updates.py); these tests fail
when legal accepts a kind or a field the form cannot fill, or that has no words in the console.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, get_args
from zoneinfo import ZoneInfo

import pytest
import yaml

from services.console import i18n
from services.console.domain import forms
from services.console.web import labels
from services.legal.domain import updates as legal

CONSOLE = Path(i18n.__file__).resolve().parent
LIMA = ZoneInfo("America/Lima")
NOW = datetime(2030, 1, 1, 12, 0, tzinfo=LIMA)
EXAMPLES = legal.schema_examples()
ARGS = (LIMA, labels.COURT_KINDS, labels.COURT_FIELDS, labels.STAGES, labels.COMPLEXITIES, labels.VERDICTS)
WIDGETS = set(re.findall(r'name == "(\w+)"', (CONSOLE / "templates/partials/legal_fields.html").read_text()))
LABELS_YAML = yaml.safe_load((CONSOLE / "labels.yaml").read_text(encoding="utf-8"))


def catalogue(lang: str) -> dict[str, str]:
    return dict(i18n.msgids(CONSOLE / "locale" / lang / "LC_MESSAGES" / "messages.po"))


def as_form(example: dict[str, Any]) -> dict[str, str]:
    """What a person types for legal's example: dates and times in Lima's pickers, codes as text."""
    kind = example["kind"]
    form: dict[str, str] = {"kind": kind, "update_id": example["update_id"]}
    for name, value in example.items():
        if name in ("source_system", "case_id", "kind", "update_id"):
            continue
        name = "elevation_outcome" if (kind, name) == ("elevation_decided", "outcome") else name
        if isinstance(value, str) and re.match(r"^\d{4}-\d\d-\d\dT", value):
            local = datetime.fromisoformat(value).astimezone(LIMA)
            form[f"{name}_date"], form[f"{name}_time"] = local.strftime("%Y-%m-%d"), local.strftime("%H:%M")
        else:
            form[name] = str(value)
    return form


def test_every_kind_legal_accepts_is_offered_with_its_words() -> None:
    assert list(labels.COURT_KINDS) == [k for k in LABELS_YAML["court_kinds"] if k in legal.KINDS]  # yaml's order
    assert set(labels.COURT_KINDS) == set(legal.KINDS) == set(EXAMPLES)
    assert set(legal.KINDS) <= set(LABELS_YAML["court_kinds"]), "a kind legal accepts has no label in labels.yaml"
    es = catalogue("es")
    assert all(es.get(label) for label in labels.COURT_KINDS.values())
    for kind in ("protective_measure_renewed", "protective_measure_ended", "testimony_taken"):
        assert kind in labels.COURT_KINDS and labels.COURT_KINDS[kind] != kind


def test_every_field_of_every_kind_has_a_widget() -> None:
    fields = {name for names in labels.COURT_FIELDS.values() for name in names}
    assert fields - WIDGETS == set()
    assert labels.COURT_FIELDS["protective_measure_granted"] == ("measure", "measure_id", "expires_at")
    assert labels.COURT_FIELDS["protective_measure_renewed"] == ("measure_id", "expires_at")
    assert labels.COURT_FIELDS["protective_measure_ended"] == ("measure_id", "reason")
    assert labels.COURT_FIELDS["testimony_taken"] == ("method",)


@pytest.mark.parametrize("kind", legal.KINDS)
def test_legal_example_of_each_kind_goes_through_the_form_into_an_update_legal_accepts(kind: str) -> None:
    example = EXAMPLES[kind]
    body, errors = forms.court_update_body(as_form(example), example["case_id"], "sgf-lima", *ARGS, now=NOW)
    assert errors == {}
    update = legal.parse_update(body)
    assert legal.dump_update(update) == legal.dump_update(legal.parse_update(example))


@pytest.mark.parametrize("kind", legal.KINDS)
def test_the_form_requires_what_legal_requires(kind: str) -> None:
    full = as_form(EXAMPLES[kind])
    for name in labels.COURT_FIELDS[kind]:
        if kind == "deadline_extended" and name in ("new_deadline", "extra_days"):
            continue  # one of the two, checked on its own
        form = {k: v for k, v in full.items() if k != name and not k.startswith(f"{name}_")}
        _, errors = forms.court_update_body(form, "c-1", "", *ARGS, now=NOW)
        if name in labels.COURT_REQUIRED[kind]:
            assert errors.get(name) == forms.REQUIRED, (kind, name)
        else:
            assert name not in errors, (kind, name)


def test_testimony_methods_are_legal_s_with_words() -> None:
    method = legal.ChildTestimonyUpdate.model_fields["method"].annotation
    assert forms.TESTIMONY_METHODS == get_args(method) == tuple(labels.TESTIMONY_METHODS)
    es = catalogue("es")
    assert all(es.get(label) for label in labels.TESTIMONY_METHODS.values())
    _, errors = forms.court_update_body(
        {"kind": "testimony_taken", "occurred_at_date": "2029-12-01", "method": "hallway"}, "c-1", "", *ARGS, now=NOW
    )
    assert errors == {"method": forms.CHOOSE}


def test_a_measure_ends_after_it_was_ordered_in_the_organisation_s_time() -> None:
    base = {"kind": "protective_measure_granted", "measure": "restraining_order", "occurred_at_date": "2029-12-01"}
    form = {**base, "occurred_at_time": "10:00", "expires_at_date": "2029-12-01", "expires_at_time": "09:00"}
    _, errors = forms.court_update_body(form, "c-1", "", *ARGS, now=NOW)
    assert errors == {"expires_at": "The measure must end after the date it was ordered."}
    body, errors = forms.court_update_body(
        {**form, "expires_at_date": "2030-06-01", "expires_at_time": "23:59"}, "c-1", "", *ARGS, now=NOW
    )
    assert errors == {} and body["expires_at"] == "2030-06-01T23:59:00-05:00"
    assert "measure_id" not in body  # legal names it by the update
    _, errors = forms.court_update_body(
        {"kind": "protective_measure_renewed", "occurred_at_date": "2029-12-01", "measure_id": "mp 1"},
        "c-1",
        "",
        *ARGS,
        now=NOW,
    )
    assert errors == {"measure_id": "Use only letters, digits and . _ : - (at most 64).", "expires_at": forms.REQUIRED}


def test_every_rule_of_the_policy_has_words_in_both_languages() -> None:
    policy = yaml.safe_load((CONSOLE.parent / "processor" / "policy.yaml").read_text(encoding="utf-8"))
    rules = set(policy["rules"])
    assert {"harm.protective_measure_expired", "harm.second_testimony"} <= rules
    assert rules - set(labels.RULES) == set()
    es, en = catalogue("es"), catalogue("en")
    for rule in rules:
        assert es.get(labels.RULES[rule]) and en.get(labels.RULES[rule]), rule
