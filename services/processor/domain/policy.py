"""The alert policy: every rule's id, severity and thresholds, and escalation times, from one YAML file.

The file is configuration, not code (DESIGN.md: deadlines must be confirmed with Peruvian counsel),
so the processor re-reads it when its mtime changes; a broken new file keeps the previous policy.

API used by the alerts service::

    policy = load_policy(path)              # raises PolicyError naming the bad field
    policy.escalation_after("critical")     # -> timedelta | None
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from shared.events.alerts import Severity

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent.parent / "policy.yaml"

RULE_IDS: tuple[str, ...] = (
    "legal.stage_overdue",
    "legal.no_activity",
    "legal.hearing_postponed_repeatedly",
    "legal.hearing_outcome_missing",
    "legal.no_representation",
    "legal.victim_not_notified",
    "legal.victim_absent",
    "service.overdue",
    "service.missed_consecutive",
    "service.no_psychosocial",
    "risk.revictimisation",
    "followup.contact_lost",
    "followup.overdue",
)

SEVERITIES: tuple[str, ...] = ("low", "medium", "high", "critical")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class PolicyError(ValueError):
    """The policy file is unusable; the message names the file section/field, never case data."""


def parse_duration(value: Any) -> timedelta:
    """``"90d"``, ``"2d"``, ``"4h"``, ``"30m"``, ``"3s"``, ``"500ms"``, ``"1w"`` or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("a duration like '2d', '4h' or '3s' is required")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("duration must not be negative")
        return timedelta(seconds=value)
    if isinstance(value, str):
        m = _DURATION.match(value)
        if m:
            return timedelta(seconds=float(m.group(1)) * _UNIT_SECONDS[m.group(2)])
    raise ValueError("a duration like '2d', '4h' or '3s' is required")


def format_duration(value: timedelta) -> str:
    """Shortest exact spelling, for summaries (``2d``, ``36h``, ``3s``)."""
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


class RuleConfig(BaseModel):
    """One rule's knobs. ``after`` is the time threshold, ``count`` the repetition threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity
    enabled: bool = True
    after: timedelta | None = None
    count: int | None = Field(default=None, ge=1)
    grace: timedelta = timedelta(0)
    # rule-specific lists (which service kinds count as psychosocial, the post-closure schedule...)
    service_kinds: tuple[str, ...] = ()
    spl_types: tuple[str, ...] = ()
    schedule_after_closure: tuple[timedelta, ...] = ()
    min_flag_severity: Severity = "low"
    description: str = ""

    @field_validator("after", "grace", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return None if v is None else parse_duration(v)

    @field_validator("schedule_after_closure", mode="before")
    @classmethod
    def _durations(cls, v: Any) -> Any:
        if v is None:
            return ()
        if not isinstance(v, list | tuple):
            raise ValueError("a list of durations is required")
        return tuple(parse_duration(x) for x in v)


# Which threshold each rule cannot do without: a file that omits it is refused, not silently inert.
_REQUIRED: dict[str, tuple[str, ...]] = {
    "legal.no_activity": ("after",),
    "legal.hearing_postponed_repeatedly": ("count",),
    "legal.hearing_outcome_missing": ("after",),
    "legal.no_representation": ("after",),
    "legal.victim_not_notified": ("after",),
    "legal.victim_absent": ("count",),
    "service.overdue": ("after",),
    "service.missed_consecutive": ("count",),
    "service.no_psychosocial": ("after",),
    "followup.contact_lost": ("after",),
}


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
    for rule_id, needed in _REQUIRED.items():
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
