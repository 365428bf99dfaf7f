"""What the dashboards and alerting rules may name: the metrics the services really export.

The catalogue is derived from the code, never a list kept by hand:

* every module under ``services/`` and ``shared/`` that defines a Prometheus metric (a call to
  ``Counter(``, ``Gauge(``, ``Histogram(``, ``Summary(`` or to ``shared.metrics``' ``counter(``,
  ``gauge(``, ``histogram(``) is imported, and prometheus_client's registry lists what it made;
* a metric whose name is built per service at run time (an f-string such as
  ``f"centinela_{service}_http_requests_total"``) is expanded with every service's ``service_name``
  (the default of each settings class under ``services/``);
* names are the exposed sample names (``_total``, ``_bucket``, ``_sum``, ``_count``, ``_created``).

Metric names in PromQL are found by a small tokenizer that drops strings, label matchers, range
selectors, grouping clauses and function names; ``promtool`` checks that each expression parses.
"""

from __future__ import annotations

import ast
import importlib
import re
import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import yaml
from prometheus_client import REGISTRY
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[3]
PROMTOOL = shutil.which("promtool")
PROMTOOL_MISSING = "promtool not found: apt-get install prometheus (Debian's package; .ci/run installs it)"

# series Prometheus itself writes for every target or rule, not exported by a service
SYNTHETIC = {
    "up",
    "scrape_duration_seconds",
    "scrape_samples_scraped",
    "scrape_samples_post_metric_relabeling",
    "scrape_series_added",
    "ALERTS",
    "ALERTS_FOR_STATE",
}
_KINDS = {"counter", "gauge", "histogram", "summary", "info", "enum"}
_DEFINES = re.compile(
    r"(?<![\w.])(?:Counter|Gauge|Histogram|Summary|Info|Enum)\(|(?<![\w])(?:metrics\.)?(?:counter|gauge|histogram)\("
)
_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "gauge": ("",),
    "info": ("_info",),
    "enum": ("",),
}


def _source_files() -> list[Path]:
    return sorted(p for d in ("services", "shared") for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts)


def metric_modules() -> list[Path]:
    """Source files that define a metric."""
    return [p for p in _source_files() if _DEFINES.search(p.read_text(encoding="utf-8"))]


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def _exposed(name: str, kind: str) -> set[str]:
    base = name.removesuffix("_total") if kind == "counter" else name
    return {base + suffix for suffix in _SUFFIXES.get(kind, ("",))}


def service_names() -> set[str]:
    """Every service's ``service_name`` (the default of each settings class under services/)."""
    names = set()
    for path in sorted((ROOT / "services").glob("*/settings.py")):
        module = importlib.import_module(_module_name(path))
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseSettings) and "service_name" in value.model_fields:
                default = value.model_fields["service_name"].default
                if isinstance(default, str):
                    names.add(default)
    return names


def _templates(path: Path) -> list[tuple[str, list[str]]]:
    """(kind, literal parts) of each metric whose name is an f-string, e.g. ("counter", ["centinela_", "_x_total"])."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.JoinedStr)):
            continue
        func = node.func
        kind = (func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")).lower()
        if kind not in _KINDS:
            continue
        parts = [v.value if isinstance(v, ast.Constant) else "\0" for v in node.args[0].values]
        out.append((kind, "".join(str(p) for p in parts).split("\0")))
    return out


def exported_metrics() -> set[str]:
    """Every sample name a centinela process can expose on /metrics."""
    modules = metric_modules()
    for path in modules:
        importlib.import_module(_module_name(path))
    names: set[str] = set()
    for family in REGISTRY.collect():
        names |= _exposed(family.name, family.type)
        names |= {sample.name for sample in family.samples}
    services = service_names()
    for path in modules:
        for kind, parts in _templates(path):
            if len(parts) == 2:  # one placeholder: the service name
                names |= {n for s in services for n in _exposed(f"{parts[0]}{s}{parts[1]}", kind)}
    return names | SYNTHETIC


# ---------------------------------------------------------------- PromQL
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "inf", "nan", "by", "without", "on", "ignoring", "atan2"}
_KEYWORDS |= {"group_left", "group_right"}
_GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def grafana_to_promql(expr: str) -> str:
    """Replace Grafana's built-in interval variables by durations, so promtool can parse the query."""
    for var, value in _GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects."""
    s = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`', '""', expr)
    s = re.sub(r"\{[^}]*\}", " ", s)
    s = re.sub(r"\[[^\]]*\]", " ", s)
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", s)
    s = re.sub(r"\boffset\s+-?[0-9a-z]+", " ", s)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        token = m.group(0)
        before = s[m.start() - 1] if m.start() else " "
        if before.isdigit() or before == ".":  # 1e3, 0.5 and durations are numbers
            continue
        if s[m.end() :].lstrip().startswith("("):  # a function or an aggregation
            continue
        if token.lower() in _KEYWORDS:
            continue
        names.add(token)
    return names


def promtool_parse(exprs: Iterable[tuple[str, str]], tmp: Path) -> subprocess.CompletedProcess[str]:
    """``promtool check rules`` on one recording rule per (label, expression): it parses every expression."""
    rules = [{"record": f"check:{i}", "expr": expr} for i, (_, expr) in enumerate(exprs)]
    path = tmp / "exprs.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "exprs", "rules": rules}]}, sort_keys=False))
    assert PROMTOOL is not None, PROMTOOL_MISSING
    return subprocess.run([PROMTOOL, "check", "rules", str(path)], capture_output=True, text=True, timeout=60)
