"""The alert policy: each rule's severity and thresholds, and escalation times, from YAML.

The shipped file (``services/processor/policy.yaml``) holds every rule's defaults. An operator's
file (``CENTINELA_POLICY_FILE``) overrides them rule by rule, key by key: a file naming two rules
changes those two and every other rule keeps its default, so a release that adds a rule does not
stop anybody's processor. The ``escalation`` section is taken as written (a severity it leaves
out never escalates; that is how a deployment says "never"). A rule id the code does not know, a
key a rule does not have, or a bad value is refused with an error naming the file and the key
(``rules.service.overdue.after``), without repeating the value.

The file is configuration, not code (DESIGN.md: deadlines must be confirmed with Peruvian counsel),
so the processor re-reads it when its mtime changes; a broken new file keeps the previous policy.

API used by the alerts service::

    policy = load_policy(path)              # raises PolicyError naming the file and the bad key
    policy.escalation_after("critical")     # -> timedelta | None
    policy.describe()                       # the effective policy, JSON-able, with what the file overrode
"""

from __future__ import annotations

import copy
import functools
import os
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from services.processor.domain.rules import PER_SIGNAL_RULES, REQUIRED_THRESHOLDS, RULE_IDS
from services.processor.domain.thresholds import Duration, RuleConfig
from shared.durations import format_duration, parse_duration
from shared.vocab import SEVERITIES, Severity

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
    "shipped_policy",
]

DEFAULT_POLICY_FILE = Path(__file__).resolve().parent.parent / "policy.yaml"


class PolicyError(ValueError):
    """The policy file is unusable; the message names the file and key, never case data."""


class _Organisation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # date-only deadlines end at midnight in this zone (issue 13 item 11)
    time_zone: str = "America/Lima"

    @field_validator("time_zone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("unknown time zone; write an IANA name such as 'America/Lima'") from None
        return v


class _PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = 1
    escalation: dict[Severity, Duration] = Field(default_factory=dict)
    organisation: _Organisation = Field(default_factory=_Organisation)
    # publish centinela.alert.updated (evidence recomputed, advocate changed); the alerts service
    # consumes it, off only for an older alerts service that would dead-letter it
    publish_alert_updates: bool = True
    # a legal fact of a batch whose end has not arrived: evaluate the case at the latest this long after
    batch_grace: Duration = timedelta(minutes=5)
    rules: dict[str, RuleConfig]

    @field_validator("escalation", mode="before")
    @classmethod
    def _escalation(cls, v: Any) -> Any:
        if v is None:
            return {}
        if not isinstance(v, dict):
            raise ValueError("a mapping severity -> duration is required")
        return v


@dataclass(frozen=True)
class Policy:
    rules: dict[str, RuleConfig]
    escalation: dict[str, timedelta] = field(default_factory=dict)
    version: int = 1
    source: str = ""
    # what the operator's file changed: rule id -> the keys it set ("escalation" -> severities)
    overrides: dict[str, tuple[str, ...]] = field(default_factory=dict)
    timezone: str = "America/Lima"
    publish_alert_updates: bool = True
    batch_grace: timedelta = timedelta(minutes=5)

    def rule(self, rule_id: str) -> RuleConfig:
        return self.rules[rule_id]

    def enabled(self, rule_id: str) -> bool:
        cfg = self.rules.get(rule_id)
        return cfg is not None and cfg.enabled

    def escalation_after(self, severity: str) -> timedelta | None:
        """How long an unacknowledged alert of ``severity`` waits before escalating (None: never)."""
        return self.escalation.get(severity)

    def escalates(self, rule_id: str) -> bool:
        """Whether an unacknowledged alert of ``rule_id`` escalates at all (reminders do not)."""
        cfg = self.rules.get(rule_id)
        return cfg is None or cfg.escalate

    def quiet_after_manual_resolve(self) -> dict[str, timedelta]:
        """Per rule: how long a condition a person resolved by hand stays quiet while it goes on."""
        return {rule_id: cfg.quiet_after_manual_resolve for rule_id, cfg in self.rules.items()}

    def describe(self) -> dict[str, Any]:
        """The effective policy (defaults plus overrides) as plain data: for the start-up log and admins.

        Holds rule ids, severities, thresholds and which keys the operator's file set; no case data.
        """
        return {
            "source": self.source,
            "version": self.version,
            "escalation": {sev: format_duration(d) for sev, d in sorted(self.escalation.items(), key=_severity_order)},
            "rules": {
                rule_id: {**cfg.describe(), "overridden": list(self.overrides.get(rule_id, ()))}
                for rule_id, cfg in self.rules.items()
            },
            "escalation_overridden": list(self.overrides.get("escalation", ())),
            "timezone": self.timezone,
            "publish_alert_updates": self.publish_alert_updates,
            "batch_grace": format_duration(self.batch_grace),
        }

    def summary(self) -> str:
        """One log line: every rule's severity and thresholds, ``*`` marking what the file overrode."""
        parts = []
        for rule_id, cfg in self.rules.items():
            changed = set(self.overrides.get(rule_id, ()))
            knobs = [f"{k}={_short(v)}{'*' if k in changed else ''}" for k, v in cfg.describe().items()]
            parts.append(f"{rule_id}[{' '.join(knobs)}]")
        changed = set(self.overrides.get("escalation", ()))
        esc = " ".join(
            f"{sev}={format_duration(d)}{'*' if sev in changed else ''}"
            for sev, d in sorted(self.escalation.items(), key=_severity_order)
        )
        return f"source={self.source} escalation[{esc}] " + " ".join(parts)


def _severity_order(item: tuple[str, Any]) -> int:
    return SEVERITIES.index(item[0]) if item[0] in SEVERITIES else len(SEVERITIES)


def _short(value: Any) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, list) else str(value)


def _validation_error(source: str, exc: ValidationError) -> PolicyError:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "(root)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}")
    return PolicyError(f"{source}: " + "; ".join(parts))


def _validate(doc: dict[str, Any], source: str, overrides: dict[str, tuple[str, ...]]) -> Policy:
    try:
        parsed = _PolicyFile.model_validate(doc)
    except ValidationError as exc:
        raise _validation_error(source, exc) from None
    unknown = sorted(set(parsed.rules) - set(RULE_IDS))
    if unknown:
        raise PolicyError(f"{source}: rules.{unknown[0]}: unknown rule id (known: {', '.join(RULE_IDS)})")
    missing = [r for r in RULE_IDS if r not in parsed.rules]
    if missing:
        raise PolicyError(f"{source}: rules.{missing[0]}: missing (the shipped policy must configure every rule)")
    for rule_id, needed in REQUIRED_THRESHOLDS.items():
        for attr in needed:
            if getattr(parsed.rules[rule_id], attr) is None:
                raise PolicyError(f"{source}: rules.{rule_id}.{attr}: required")
    escalation: dict[str, timedelta] = {k: v for k, v in parsed.escalation.items()}  # noqa: C416 (key type widens)
    rules = {
        r: parsed.rules[r]
        if parsed.rules[r].timezone
        else parsed.rules[r].model_copy(update={"timezone": parsed.organisation.time_zone})
        for r in RULE_IDS
    }
    return Policy(
        rules=rules,
        escalation=escalation,
        version=parsed.version,
        source=source,
        overrides=overrides,
        timezone=parsed.organisation.time_zone,
        publish_alert_updates=parsed.publish_alert_updates,
        batch_grace=parsed.batch_grace,
    )


def _read_yaml(p: Path) -> Any:
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{p}: cannot read ({type(exc).__name__})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise PolicyError(f"{p}: not valid YAML{where}") from None


@functools.cache
def _shipped_doc() -> dict[str, Any]:
    doc = _read_yaml(DEFAULT_POLICY_FILE)
    if not isinstance(doc, dict):
        raise PolicyError(f"{DEFAULT_POLICY_FILE}: the policy must be a YAML mapping")
    _validate(doc, str(DEFAULT_POLICY_FILE), {})  # the defaults alone must be complete and valid
    return doc


def shipped_policy() -> Policy:
    """The defaults every operator file starts from (services/processor/policy.yaml)."""
    return _validate(copy.deepcopy(_shipped_doc()), str(DEFAULT_POLICY_FILE), {})


def _merge(base: dict[str, Any], doc: dict[str, Any], source: str) -> tuple[dict[str, Any], dict[str, tuple[str, ...]]]:
    """The operator's ``doc`` over the shipped ``base``: rules per rule, per key; escalation as written."""
    merged = copy.deepcopy(base)
    overrides: dict[str, tuple[str, ...]] = {}
    for key, value in doc.items():
        if key not in ("rules", "escalation"):
            merged[key] = value  # version, timezone..., or an unknown top-level key the validation names
            if key in ("organisation", "publish_alert_updates", "batch_grace"):
                overrides[key] = (key,)
    rules = doc.get("rules")
    if "rules" in doc and rules is not None:
        if not isinstance(rules, dict):
            raise PolicyError(f"{source}: rules: a mapping of rule id -> settings is required")
        for rule_id, cfg in rules.items():
            if rule_id not in RULE_IDS:
                continue  # named by parse_policy, together with any bad value of the known rules
            if cfg is None:
                cfg = {}
            if not isinstance(cfg, dict):
                raise PolicyError(f"{source}: rules.{rule_id}: a mapping of settings is required")
            merged["rules"][rule_id] = {**merged["rules"].get(rule_id, {}), **cfg}
            overrides[rule_id] = tuple(str(k) for k in cfg)
    # Escalation is read as written, not merged: a severity the file leaves out never escalates
    # (the only way to say "never"), and a file without the section escalates nothing.
    escalation = doc.get("escalation")
    if escalation is not None and not isinstance(escalation, dict):
        raise PolicyError(f"{source}: escalation: a mapping severity -> duration is required")
    merged["escalation"] = escalation or {}
    if escalation:
        overrides["escalation"] = tuple(str(k) for k in escalation)
    return merged, overrides


def parse_policy(doc: Any, source: str = "<memory>") -> Policy:
    """An operator's policy document over the shipped defaults (see the module doc)."""
    if not isinstance(doc, dict):
        raise PolicyError(f"{source}: the policy must be a YAML mapping with 'rules' and/or 'escalation'")
    if "rules" not in doc:
        # a file with no rules section at all is more likely a mistake (a truncated or wrong file)
        # than a wish for every default; `rules: {}` says the latter explicitly
        raise PolicyError(f"{source}: rules: required (write `rules: {{}}` to keep every default)")
    rules = doc.get("rules")
    unknown = sorted(str(r) for r in rules if r not in RULE_IDS) if isinstance(rules, dict) else []
    unknown_msg = (
        f"rules.{unknown[0]}: unknown rule id (known: {', '.join(RULE_IDS)})"
        + (f"; also unknown: {', '.join(f'rules.{u}' for u in unknown[1:])}" if unknown[1:] else "")
        if unknown
        else ""
    )
    merged, overrides = _merge(_shipped_doc(), doc, source)
    try:
        policy = _validate(merged, source, overrides)
    except PolicyError as exc:
        if unknown_msg:
            raise PolicyError(f"{source}: {unknown_msg}; {str(exc).removeprefix(source + ': ')}") from None
        raise
    if unknown_msg:
        raise PolicyError(f"{source}: {unknown_msg}")
    return policy


def load_policy(path: str | os.PathLike[str] | None = None) -> Policy:
    """Read and validate a policy file over the shipped defaults (default: the shipped file itself)."""
    p = Path(path) if path else DEFAULT_POLICY_FILE
    doc = _read_yaml(p)
    if p.resolve() == DEFAULT_POLICY_FILE.resolve():
        if not isinstance(doc, dict):
            raise PolicyError(f"{p}: the policy must be a YAML mapping")
        return _validate(doc, str(p), {})
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
