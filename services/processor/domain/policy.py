"""The alert policy: every rule's id, severity and thresholds, and escalation times, from one YAML file.

The file is configuration, not code (DESIGN.md: deadlines must be confirmed with Peruvian counsel),
so the processor re-reads it when its mtime changes; a broken new file keeps the previous policy.

API used by the alerts service::

    policy = load_policy(path)              # raises PolicyError naming the bad field
    policy.escalation_after("critical")     # -> timedelta | None
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.processor.domain.rules import PER_SIGNAL_RULES, REQUIRED_THRESHOLDS, RULE_IDS
from services.processor.domain.thresholds import SEVERITIES, RuleConfig, format_duration, parse_duration
from shared.events.alerts import Severity

__all__ = [
    "DEFAULT_POLICY_FILE",
    "PER_SIGNAL_RULES",
    "RULE_IDS",
    "SEVERITIES",
    "Policy",
    "PolicyError",
    "PolicyWatcher",
    "RuleConfig",
    "format_duration",
    "load_policy",
    "parse_duration",
    "parse_policy",
]

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent.parent / "policy.yaml"


class PolicyError(ValueError):
    """The policy file is unusable; the message names the file section/field, never case data."""


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    escalation: dict[Severity, timedelta] = Field(default_factory=dict)
    rules: dict[str, RuleConfig]

    @field_validator("escalation", mode="before")
    @classmethod
    def _escalation(cls, v: Any) -> Any:
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise ValueError("a mapping severity -> duration is required")
        return {k: parse_duration(d) for k, d in v.items()}


@dataclass(frozen=True)
class Policy:
    rules: dict[str, RuleConfig]
    escalation: dict[str, timedelta] = field(default_factory=dict)
    version: int = 1
    source: str = ""

    def rule(self, rule_id: str) -> RuleConfig:
        return self.rules[rule_id]

    def enabled(self, rule_id: str) -> bool:
        cfg = self.rules.get(rule_id)
        return cfg is not None and cfg.enabled

    def escalation_after(self, severity: str) -> timedelta | None:
        """How long an unacknowledged alert of ``severity`` waits before escalating (None: never)."""
        return self.escalation.get(severity)


def parse_policy(doc: Any, source: str = "<memory>") -> Policy:
    if not isinstance(doc, dict):
        raise PolicyError(f"{source}: the policy must be a YAML mapping with 'rules' and 'escalation'")
    try:
        parsed = _PolicyFile.model_validate(doc)
    except ValidationError as exc:
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err["loc"]) or "(root)"
            parts.append(f"{loc}: {err['msg']}")
        raise PolicyError(f"{source}: " + "; ".join(parts)) from None
    unknown = sorted(set(parsed.rules) - set(RULE_IDS))
    if unknown:
        raise PolicyError(f"{source}: rules.{unknown[0]}: unknown rule id (known: {', '.join(RULE_IDS)})")
    missing = [r for r in RULE_IDS if r not in parsed.rules]
    if missing:
        raise PolicyError(f"{source}: rules.{missing[0]}: missing (every rule must be configured)")
    for rule_id, needed in REQUIRED_THRESHOLDS.items():
        for attr in needed:
            if getattr(parsed.rules[rule_id], attr) is None:
                raise PolicyError(f"{source}: rules.{rule_id}.{attr}: required")
    escalation: dict[str, timedelta] = {k: v for k, v in parsed.escalation.items()}  # noqa: C416 (key type widens)
    return Policy(rules=dict(parsed.rules), escalation=escalation, version=parsed.version, source=source)


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """Read and validate a policy file (default: services/processor/policy.yaml)."""
    p = Path(path) if path else DEFAULT_POLICY_FILE
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{p}: cannot read ({type(exc).__name__})") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{p}: not valid YAML{where}") from None
    return parse_policy(doc, str(p))


class PolicyWatcher:
    """Holds the current policy and swaps it when the file's mtime changes.

    ``check()`` is cheap (one ``stat``) so it can run on every tick. A new file that does not
    validate leaves the previous policy in force and records the error.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path else DEFAULT_POLICY_FILE
        self._mtime = self._stat()
        self.policy = load_policy(self.path)
        self.last_error: str | None = None
        self.reloads = 0
        self.failures = 0

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        # size too: two writes inside one mtime tick on coarse filesystems still differ in size
        return (st.st_mtime_ns, st.st_size)

    def check(self) -> bool:
        """Reload if the file changed. True when a new policy was installed."""
        stamp = self._stat()
        if stamp == self._mtime:
            return False
        self._mtime = stamp
        try:
            policy = load_policy(self.path)
        except PolicyError as exc:
            self.last_error = str(exc)
            self.failures += 1
            return False
        self.policy = policy
        self.last_error = None
        self.reloads += 1
        return True
