"""Where configuration files (policy.yaml, deadlines.yaml) are found, and how they are read.

One rule for every service, so the same relative setting works from the repository root, from a
service's working directory and from an installed package: an absolute path is used as is; a
relative one is tried against the current directory first (an operator's own file wins), then
against the project root (the shipped defaults).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from shared.errors import ConfigError

__all__ = ["PROJECT_ROOT", "ConfigError", "load_yaml_mapping", "resolve_config_file"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def resolve_config_file(path: str | Path | None, *, default: Path | None = None, setting: str = "") -> Path:
    """The existing file ``path`` names (see module doc); ``default`` when ``path`` is empty.

    ``setting`` names the variable the path came from (``CENTINELA_POLICY_FILE``) so the error says
    what to change. Raises :class:`ConfigError` when no candidate exists.
    """
    if path is None or str(path).strip() == "":
        if default is None:
            raise ConfigError(f"{setting or 'config file'}: no path given", field=setting or None)
        path = default
    p = Path(path).expanduser()
    candidates = [p] if p.is_absolute() else [Path.cwd() / p, PROJECT_ROOT / p]
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    label = f"{setting}: " if setting else ""
    raise ConfigError(f"{label}config file {str(path)!r} not found (tried {tried})", field=setting or None)


def load_yaml_mapping(path: Path) -> dict[str, Any]:
    """A YAML file whose top level is a mapping; ConfigError naming the file otherwise."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path.name}: cannot read ({type(exc).__name__})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path.name}: not valid YAML{where}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name}: the top level must be a mapping")
    return data
