"""The settings tables in docs/operations.md are generated from the settings models: a field added,
renamed, re-defaulted or re-described in code without `make docs` fails here."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "tools" / "settings_docs.py"
OPERATIONS = ROOT / "docs" / "operations.md"


def load_tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("settings_docs", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def tool() -> ModuleType:
    return load_tool()


def test_committed_tables_match_the_code() -> None:
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, f"docs/operations.md is stale; run `make docs`\n{run.stderr[-4000:]}"


def test_every_settings_module_is_discovered(tool: ModuleType) -> None:
    models, aliases = tool.discover()
    covered = {m.path for m in models} | {path for path, _ in aliases}
    expected = {p.relative_to(ROOT) for p in tool.settings_files()}
    assert expected == covered
    assert Path("shared/settings.py") in covered
    assert any(p.parts[0] == "services" for p in covered)
    names = {m.cls.__name__ for m in models}
    assert "CommonSettings" in names


def test_every_field_of_every_model_is_in_the_docs(tool: ModuleType) -> None:
    text = OPERATIONS.read_text(encoding="utf-8")
    begin, end = text.index(tool.BEGIN), text.index(tool.END)
    tables = text[begin:end]
    models, _ = tool.discover()
    for model in models:
        for name, field in model.cls.model_fields.items():
            env = tool.env_name(model.cls, name, field)
            assert f"`{env}`" in tables, f"{env} ({model.path}) is not documented"


def test_check_fails_on_a_stale_copy_and_write_fixes_it(tool: ModuleType, tmp_path: Path) -> None:
    doc = tmp_path / "operations.md"
    doc.write_text(f"# ops\n\nintro\n\n{tool.BEGIN}\nold table\n{tool.END}\n\nafter\n", encoding="utf-8")
    assert tool.main(["--check", "--docs", str(doc)]) == 1
    assert tool.main(["--docs", str(doc)]) == 0
    assert tool.main(["--check", "--docs", str(doc)]) == 0
    text = doc.read_text(encoding="utf-8")
    assert text.startswith("# ops\n\nintro\n\n") and text.endswith("\n\nafter\n")
    assert "old table" not in text
    # a hand edit inside the markers (a changed default) is caught
    doc.write_text(text.replace("`127.0.0.1:9092`", "`kafka:9092`", 1), encoding="utf-8")
    assert tool.main(["--check", "--docs", str(doc)]) == 1


def test_missing_markers_are_an_error(tool: ModuleType, tmp_path: Path) -> None:
    doc = tmp_path / "operations.md"
    doc.write_text("# ops without markers\n", encoding="utf-8")
    assert tool.main(["--check", "--docs", str(doc)]) == 2


def test_secrets_are_never_printed(tool: ModuleType) -> None:
    from shared.settings import DEV_JWT_SECRET

    text = OPERATIONS.read_text(encoding="utf-8")
    assert DEV_JWT_SECRET not in text
    models, _ = tool.discover()
    for model in models:
        for row in model.rows:
            if row.type == "secret":
                assert row.default in {"dev-only value (refused outside `dev`)", "*(empty)*", "*(set)*"}
