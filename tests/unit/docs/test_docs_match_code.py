"""The docs name what the code has, and the code has what the docs name: every route, topic, event
type, rule, make target and ``CENTINELA_*`` variable. A rename in code without the docs (or a doc
that promises something the code does not do) fails here instead of misleading a reader."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
ALL_DOCS = "\n".join(p.read_text(encoding="utf-8") for p in PAGES)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ROUTE_IN_DOCS = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/v1/[^`\s?]*)")
ENV_IN_DOCS = re.compile(r"\bCENTINELA_[A-Z0-9_]*[A-Z0-9]\b(?!_|\*)")
MAKE_IN_DOCS = re.compile(r"`make ([a-z][a-z0-9-]*)")


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def template(path: str) -> str:
    """`/v1/cases/{id}` and `/v1/cases/{case_id}` are the same route."""
    return re.sub(r"\{[^}]*\}", "{}", path.rstrip("/"))


def api_modules() -> list[str]:
    return sorted(
        f"services.{p.parent.name}.main" for p in (ROOT / "services").glob("*/main.py") if p.parent.name != "console"
    )


def code_routes() -> set[tuple[str, str]]:
    routes = set()
    for name in api_modules():
        app = importlib.import_module(name).app
        for path, operations in app.openapi()["paths"].items():
            if path.startswith("/v1/"):
                routes |= {(m.upper(), template(path)) for m in operations if m.upper() in METHODS}
    return routes


def doc_routes() -> set[tuple[str, str]]:
    found = set()
    for match in ROUTE_IN_DOCS.finditer(ALL_DOCS):
        found.add((match.group(1), template(match.group(2))))
    # "GET / DELETE the same path", "`GET /v1/x`, `DELETE /v1/x`": each method is written out in the tables
    return found


def test_every_api_route_is_documented() -> None:
    missing = sorted(code_routes() - doc_routes())
    assert not missing, f"routes without docs (add them to docs/integrators.md): {missing}"


def test_every_documented_route_exists() -> None:
    stale = sorted(doc_routes() - code_routes())
    assert not stale, f"documented routes the APIs do not serve: {stale}"


def test_every_topic_is_documented() -> None:
    from shared.topics import CATALOGUE

    events = page("events.md")
    missing = [spec.name for spec in CATALOGUE if f"`{spec.name}`" not in events]
    assert not missing, f"topics missing from docs/events.md: {missing}"


def test_every_event_type_is_documented() -> None:
    import shared.events  # noqa: F401  (registers every payload type)
    from shared.events.envelope import registered_types

    events = page("events.md")
    missing = sorted(t for t in registered_types() if f"`{t}`" not in events)
    assert not missing, f"event types missing from docs/events.md: {missing}"


def test_every_rule_is_documented_for_deciders_and_advocates() -> None:
    from services.processor.domain.rules import RULES

    rules, advocates = page("rules.md"), page("advocates.md")
    assert RULES
    for rule_id in RULES:
        assert f"`{rule_id}`" in rules, f"{rule_id}: no row in docs/rules.md"
        # one paragraph in Spanish, one in English
        assert advocates.count(f"`{rule_id}`") >= 2, f"{rule_id}: docs/advocates.md needs it in both languages"


def test_documented_rules_exist() -> None:
    from services.processor.domain.rules import RULES

    named = set(re.findall(r"^\| `([a-z]+\.[a-z_]+)` \|", page("rules.md"), re.M))
    assert named, "docs/rules.md has no rule table"
    assert named <= set(RULES), f"docs/rules.md names rules the processor does not have: {sorted(named - set(RULES))}"


def known_variables() -> set[str]:
    """Settings fields of every model, plus any variable a script, compose file or test reads."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("settings_docs", ROOT / "tools" / "settings_docs.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = tool
    spec.loader.exec_module(tool)
    models, _ = tool.discover()
    names = {tool.env_name(m.cls, n, f) for m in models for n, f in m.cls.model_fields.items()}
    sources = [ROOT / "Makefile", ROOT / "docker-compose.yml"]
    for folder in ("deploy", "services", "shared", "tests", "tools", ".ci"):
        sources += [p for p in (ROOT / folder).rglob("*") if p.is_file() and p.suffix in {".py", ".sh", ".yml", ""}]
    for source in sources:
        try:
            names |= set(re.findall(r"CENTINELA_[A-Z0-9_]*[A-Z0-9]", source.read_text(encoding="utf-8")))
        except (UnicodeDecodeError, OSError):
            continue
    return names


def test_every_documented_variable_exists() -> None:
    known = known_variables()
    stale = sorted({v for v in ENV_IN_DOCS.findall(ALL_DOCS)} - known)
    assert not stale, f"variables named in the docs that nothing reads: {stale}"


def makefile_targets() -> set[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    return set(re.findall(r"^([a-z][a-z0-9-]*):", text, re.M))


@pytest.mark.parametrize("target", sorted(set(MAKE_IN_DOCS.findall(ALL_DOCS))))
def test_documented_make_targets_exist(target: str) -> None:
    assert target in makefile_targets(), f"`make {target}` is documented but the Makefile has no such target"


def test_every_court_update_kind_is_documented() -> None:
    import typing

    from pydantic import BaseModel

    from services.legal.domain import updates

    kinds = set()
    for obj in vars(updates).values():
        if isinstance(obj, type) and issubclass(obj, BaseModel) and "kind" in obj.model_fields:
            kinds |= set(typing.get_args(obj.model_fields["kind"].annotation))
    assert kinds
    integrators = page("integrators.md")
    missing = sorted(k for k in kinds if f"| `{k}`" not in integrators and f"/ `{k}`" not in integrators)
    assert not missing, f"court-update kinds missing from the format table in docs/integrators.md: {missing}"
