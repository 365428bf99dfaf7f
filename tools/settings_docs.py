"""Settings tables for docs/operations.md, generated from the pydantic-settings models.

    python tools/settings_docs.py            # rewrite the tables between the markers
    python tools/settings_docs.py --check    # exit 1 when the committed tables are stale

The models are found, not listed: ``shared/settings.py`` and every ``services/*/settings.py``
(or ``services/*/settings/__init__.py``), so a new service's settings reach the docs without
touching this script. Each class gets one table of the fields it declares itself (inherited
fields are documented once, under the class that declares them): environment variable, type
with its bounds, default, and the field's ``description``. A field without a description is
printed with an empty cell and listed by ``--undocumented``: the fix is a ``description=`` in
the code, never a hand edit of the table.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import inspect
import json
import os
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo
    from pydantic_settings import BaseSettings

    SettingsClass = type[BaseSettings]

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "operations.md"
BEGIN = "<!-- settings:begin -->"
END = "<!-- settings:end -->"
REGENERATE = "python tools/settings_docs.py"

if str(ROOT) not in sys.path:  # run as a script from anywhere: the project's packages are at the root
    sys.path.insert(0, str(ROOT))


@dataclass(frozen=True)
class Row:
    env: str
    type: str
    default: str
    description: str


@dataclass(frozen=True)
class Model:
    cls: SettingsClass
    path: Path  # the settings file, relative to ROOT
    rows: tuple[Row, ...]


def settings_files(root: Path = ROOT) -> list[Path]:
    """shared/settings.py first, then every service's settings module, in name order."""
    found = [root / "shared" / "settings.py"]
    for service in sorted(p for p in (root / "services").iterdir() if p.is_dir()):
        for candidate in (service / "settings.py", service / "settings" / "__init__.py"):
            if candidate.is_file():
                found.append(candidate)
    return [p for p in found if p.is_file()]


def module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def settings_classes(module: types.ModuleType) -> list[SettingsClass]:
    """Classes of ``module`` that are pydantic-settings models defined there (not re-exported)."""
    from pydantic_settings import BaseSettings

    own = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseSettings)
        and obj is not BaseSettings
        and obj.__module__ == module.__name__
    ]
    return sorted(own, key=lambda c: inspect.getsourcelines(c)[1])


def reexports(module: types.ModuleType) -> list[SettingsClass]:
    """Settings classes a module only imports (e.g. a deployable that reads another's settings)."""
    from pydantic_settings import BaseSettings

    names = getattr(module, "__all__", None) or list(vars(module))
    found = []
    for name in names:
        obj = getattr(module, name, None)
        if inspect.isclass(obj) and issubclass(obj, BaseSettings) and obj.__module__ != module.__name__:
            if obj is not BaseSettings and obj not in found:
                found.append(obj)
    return found


def env_name(cls: SettingsClass, name: str, field: FieldInfo) -> str:
    for alias in (field.validation_alias, field.alias):
        if isinstance(alias, str):
            return alias.upper()
    config = getattr(cls, "model_config", {})
    prefix = str(config.get("env_prefix", ""))
    return f"{prefix}{name}".upper()


def type_name(annotation: Any) -> str:
    """Short, reader-facing spelling of a field's type."""
    from pydantic import SecretStr

    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is SecretStr:
        return "secret"
    if origin is typing.Literal:
        return "one of " + ", ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args if a is not type(None)) + (
            " or none" if type(None) in args else ""
        )
    if origin in (list, tuple, set, frozenset):
        inner = ", ".join(type_name(a) for a in args if a is not Ellipsis)
        return f"list of {inner} (JSON)" if inner else "list (JSON)"
    if origin is dict:
        return "mapping (JSON)"
    if inspect.isclass(annotation) and issubclass(annotation, Path):
        return "path"
    if inspect.isclass(annotation):
        return {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}.get(
            annotation.__name__, annotation.__name__
        )
    return str(annotation).replace("typing.", "")


def bounds(field: FieldInfo) -> str:
    symbols = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<", "min_length": "length ≥", "max_length": "length ≤"}
    found = []
    for meta in field.metadata:
        for attr, symbol in symbols.items():
            value = getattr(meta, attr, None)
            if value is not None:
                found.append(f"{symbol} {value}")
    return ", ".join(found)


def default_text(field: FieldInfo) -> str:
    from pydantic import SecretStr
    from pydantic_core import PydanticUndefined

    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    if field.default is PydanticUndefined and field.default_factory is None:
        return "*(required)*"
    value = field.get_default(call_default_factory=True, validated_data={})
    if isinstance(value, SecretStr):
        if extra.get("dev_secret"):
            return "dev-only value (refused outside `dev`)"
        return "*(empty)*" if not value.get_secret_value() else "*(set)*"
    if isinstance(value, Path):
        try:  # defaults resolved from __file__ are machine paths; the docs show them from the repo root
            value = value.resolve().relative_to(ROOT)
        except ValueError:
            pass
        return f"`{value.as_posix()}`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list | tuple | dict):
        return f"`{json.dumps(list(value) if isinstance(value, tuple) else value)}`"
    if value is None:
        return "*(none)*"
    if value == "":
        return "*(empty)*"
    return f"`{value}`"


def cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def own_fields(cls: SettingsClass) -> list[str]:
    """Fields the class declares in its own body (overrides included), in declaration order."""
    declared = inspect.get_annotations(cls)
    return [name for name in cls.model_fields if name in declared]


def inherited_description(cls: SettingsClass, name: str) -> str:
    """An override that only changes a default (``service_name = "legal"``) keeps the base's words."""
    for base in cls.__mro__[1:]:
        field = getattr(base, "model_fields", {}).get(name)
        if field is not None and field.description:
            return str(field.description)
    return ""


def rows_for(cls: SettingsClass) -> tuple[Row, ...]:
    rows = []
    for name in own_fields(cls):
        field = cls.model_fields[name]
        kind = type_name(field.annotation)
        limits = bounds(field)
        rows.append(
            Row(
                env=env_name(cls, name, field),
                type=f"{kind} ({limits})" if limits else kind,
                default=default_text(field),
                description=field.description or inherited_description(cls, name),
            )
        )
    return tuple(rows)


def discover(root: Path = ROOT) -> tuple[list[Model], list[tuple[Path, SettingsClass]]]:
    models: list[Model] = []
    aliases: list[tuple[Path, SettingsClass]] = []
    for path in settings_files(root):
        module = importlib.import_module(module_name(path, root))
        own = settings_classes(module)
        for cls in own:
            models.append(Model(cls, path.relative_to(root), rows_for(cls)))
        if not own:
            aliases.extend((path.relative_to(root), cls) for cls in reexports(module))
    return models, aliases


def render(models: list[Model], aliases: list[tuple[Path, SettingsClass]], docs_dir: Path = DOCS.parent) -> str:
    def link(path: Path) -> str:
        rel = Path(os.path.relpath(ROOT / path, docs_dir))
        return f"[{path.as_posix()}]({rel.as_posix()})"

    where = {m.cls: m.path for m in models}
    out = [
        f"<!-- generated by `{REGENERATE}` from the settings models; edit the field descriptions, not this table -->",
        "",
    ]
    for model in models:
        bases = [b.__name__ for b in model.cls.__bases__ if b in where]
        doc = inspect.getdoc(model.cls) or ""
        summary = doc.split("\n\n")[0].replace("\n", " ").strip() if model.cls.__doc__ else ""
        out.append(f"### `{model.cls.__name__}` — {link(model.path)}")
        out.append("")
        intro = []
        if summary:
            intro.append(summary)
        if bases:
            intro.append(f"Adds to `{'`, `'.join(bases)}` (every field above applies too).")
        if intro:
            out.extend([" ".join(intro), ""])
        out.append("| variable | type | default | description |")
        out.append("|---|---|---|---|")
        for row in model.rows:
            out.append(f"| `{row.env}` | {cell(row.type)} | {cell(row.default)} | {cell(row.description)} |")
        out.append("")
    for path, cls in aliases:
        target = where.get(cls)
        source = f" ({link(target)})" if target else ""
        out.append(f"{link(path)} reads `{cls.__name__}`{source}: the same variables.")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def splice(document: str, tables: str) -> str:
    start = document.find(BEGIN)
    stop = document.find(END)
    if start < 0 or stop < 0 or stop < start:
        raise ValueError(f"markers {BEGIN} … {END} not found (in this order)")
    return document[: start + len(BEGIN)] + "\n" + tables + document[stop:]


def undocumented(models: list[Model]) -> list[str]:
    return [f"{m.path.as_posix()}: {row.env}" for m in models for row in m.rows if not row.description]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 when the docs differ from the code")
    parser.add_argument("--docs", type=Path, default=DOCS, help="the markdown file holding the markers")
    parser.add_argument("--undocumented", action="store_true", help="list fields without a description")
    args = parser.parse_args(argv)

    models, aliases = discover()
    if args.undocumented:
        for line in undocumented(models):
            print(line)
        return 0
    docs: Path = args.docs.resolve()
    current = docs.read_text(encoding="utf-8")
    try:
        wanted = splice(current, render(models, aliases, docs.parent))
    except ValueError as exc:
        print(f"{docs}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        if wanted == current:
            return 0
        diff = difflib.unified_diff(
            current.splitlines(keepends=True), wanted.splitlines(keepends=True), "docs (committed)", "code (wanted)"
        )
        sys.stderr.writelines(diff)
        print(f"{docs}: settings tables are stale; run `make docs` ({REGENERATE})", file=sys.stderr)
        return 1
    if wanted != current:
        docs.write_text(wanted, encoding="utf-8")
        print(f"{docs}: settings tables rewritten")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
