"""Statutory deadlines per stage and complexity: configuration, never code.

The shipped defaults (``services/legal/deadlines.yaml``) follow DESIGN.md and must be confirmed
with Peruvian counsel before use; operators point ``CENTINELA_LEGAL_DEADLINES_FILE`` elsewhere
(found by :func:`shared.config.resolve_config_file`, like ``policy.yaml``). Durations follow the
project's one grammar, :mod:`shared.durations` (``60d``, ``8mo`` in calendar months; a bare number
or ``m`` is refused naming the file and key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from services.legal.domain.calendar import COUNTINGS, CalendarConfigError, Counting, LegalCalendar
from services.legal.domain.stages import COMPLEXITIES, STAGES, Complexity, Stage
from shared.config import load_yaml_mapping, resolve_config_file
from shared.durations import CalendarDuration as Duration
from shared.durations import DurationError, parse_calendar_duration
from shared.errors import ConfigError

# Deadlines that are not a stage's: what opens and what meets each is code (services.legal.domain.timeline),
# how long it runs and on which article it rests is the deadlines file (section ``deadlines``).
DeadlineKind = Literal[
    "archive_elevation",  # art. 334.5: the victim's days to ask that an archive / reserve be elevated
    "elevation_decision",  # art. 334.6: the superior prosecutor's days to decide
    "appeal_sentence",  # art. 414.1.c: appeal window against a sentence
    "appeal_order",  # art. 414.1.b: appeal window against an order (auto)
    "cassation",  # art. 414.1.a: cassation window against the appeal court's sentence
    "trial_resumption",  # art. 360.3: a suspended trial must resume within this term
    "accusation_observations",  # art. 350.1: the parties' days to answer the notified accusation
]
DEADLINE_KINDS: tuple[str, ...] = (
    "archive_elevation",
    "elevation_decision",
    "appeal_sentence",
    "appeal_order",
    "cassation",
    "trial_resumption",
    "accusation_observations",
)
# duty: someone must act by then (missing it is an alert); window: a right that lapses (reminders only)
Nature = Literal["duty", "window"]


class DeadlineConfigError(ConfigError):
    pass


@dataclass(frozen=True)
class Term:
    term: Duration
    extension: Duration | None = None
    article: str | None = None
    counting: Counting = "calendar"
    nature: Nature = "duty"

    def describe(self) -> str:
        """``120d + 60d extension`` as people read it (for refusals that name the rule)."""
        days = " working days" if self.counting == "working" else ""
        base = f"{self.term}{days}"
        return f"{base} + {self.extension} extension" if self.extension else base


@dataclass(frozen=True)
class Deadline:
    deadline_at: datetime
    extended_deadline_at: datetime | None
    basis: str | None = None  # the article of the term, or the legal basis of the extension that set it


@dataclass(frozen=True)
class DeadlinePolicy:
    terms: dict[Stage, dict[Complexity, Term]] = field(default_factory=dict)
    # non-stage deadlines by kind and complexity (a missing complexity falls back to ordinary)
    others: dict[str, dict[Complexity, Term]] = field(default_factory=dict)
    calendar: LegalCalendar = field(default_factory=LegalCalendar)

    def term_for(self, stage: Stage | None, complexity: Complexity) -> Term | None:
        if stage is None:
            return None
        by_complexity = self.terms.get(stage) or {}
        return by_complexity.get(complexity) or by_complexity.get("ordinary")

    def other_term(self, kind: str, complexity: Complexity = "ordinary") -> Term | None:
        by_complexity = self.others.get(kind) or {}
        return by_complexity.get(complexity) or by_complexity.get("ordinary")

    def due(self, started_at: datetime, term: Duration, counting: Counting = "calendar") -> datetime:
        return self.calendar.due(started_at, term, counting)

    def longest(self, stage: Stage | None, complexity: Complexity, started_at: datetime) -> datetime | None:
        """The term plus the longest extension the law allows, when the file gives one."""
        term = self.term_for(stage, complexity)
        if term is None or term.extension is None:
            return None
        return self.due(started_at, term.term + term.extension, term.counting)

    def deadline(self, stage: Stage | None, complexity: Complexity, started_at: datetime | None) -> Deadline | None:
        """The deadline that applies now: the term; the extension is reported, not assumed granted."""
        term = self.term_for(stage, complexity)
        if term is None or started_at is None:
            return None
        deadline_at = self.due(started_at, term.term, term.counting)
        extended = self.longest(stage, complexity, started_at)
        return Deadline(deadline_at=deadline_at, extended_deadline_at=extended, basis=term.article)

    @classmethod
    def from_mapping(cls, doc: Any, calendar: LegalCalendar | None = None) -> DeadlinePolicy:
        if not isinstance(doc, dict) or not isinstance(doc.get("stages"), dict):
            raise DeadlineConfigError("deadlines file: top-level 'stages' mapping is required")
        unknown_top = set(doc) - {"stages", "deadlines", "calendar"}
        if unknown_top:
            raise DeadlineConfigError(f"deadlines file: unknown top-level keys {sorted(unknown_top)}")
        terms: dict[Stage, dict[Complexity, Term]] = {}
        for stage, by_complexity in doc["stages"].items():
            if stage not in STAGES:
                raise DeadlineConfigError(f"deadlines file: unknown stage {stage!r}; known: {', '.join(STAGES)}")
            terms[stage] = _by_complexity(by_complexity, f"stages.{stage}")
        others: dict[str, dict[Complexity, Term]] = {}
        extra = doc.get("deadlines") or {}
        if not isinstance(extra, dict):
            raise DeadlineConfigError("deadlines file: 'deadlines' must map a deadline kind to its term")
        for kind, spec in extra.items():
            if kind not in DEADLINE_KINDS:
                raise DeadlineConfigError(
                    f"deadlines file: unknown deadline {kind!r}; known: {', '.join(DEADLINE_KINDS)}"
                )
            if isinstance(spec, dict) and "term" in spec:
                others[kind] = {"ordinary": _term(spec, f"deadlines.{kind}")}
            else:
                others[kind] = _by_complexity(spec, f"deadlines.{kind}")
        return cls(terms=terms, others=others, calendar=calendar or LegalCalendar())


def _by_complexity(by_complexity: Any, where: str) -> dict[Complexity, Term]:
    if not isinstance(by_complexity, dict):
        raise DeadlineConfigError(f"deadlines file: {where} must map complexity to a term")
    out: dict[Complexity, Term] = {}
    for complexity, spec in by_complexity.items():
        if complexity not in COMPLEXITIES:
            raise DeadlineConfigError(
                f"deadlines file: {where}.{complexity}: unknown complexity; known: {', '.join(COMPLEXITIES)}"
            )
        out[complexity] = _term(spec, f"{where}.{complexity}")
    return out


def _term(spec: Any, where: str) -> Term:
    if isinstance(spec, str | int):
        spec = {"term": spec}
    if not isinstance(spec, dict) or "term" not in spec:
        raise DeadlineConfigError(f"deadlines file: {where}: needs a 'term' (e.g. '60d')")
    unknown = set(spec) - {"term", "extension", "article", "counting", "nature"}
    if unknown:
        raise DeadlineConfigError(f"deadlines file: {where}: unknown keys {sorted(unknown)}")
    try:
        term = parse_calendar_duration(spec["term"], where=f"{where}.term")
        extension = (
            parse_calendar_duration(spec["extension"], where=f"{where}.extension")
            if spec.get("extension") is not None
            else None
        )
    except DurationError as exc:
        raise DeadlineConfigError(f"deadlines file: {exc}") from None
    article = spec.get("article")
    if article is not None and not isinstance(article, str):
        raise DeadlineConfigError(f"deadlines file: {where}.article: must be text such as 'CPP art. 342.1'")
    counting = spec.get("counting", "calendar")
    if counting not in COUNTINGS:
        raise DeadlineConfigError(f"deadlines file: {where}.counting: one of calendar, working")
    if counting == "working":
        for name, value in (("term", term), ("extension", extension)):
            if value is not None and (value.months or value.seconds % 86400):
                raise DeadlineConfigError(
                    f"deadlines file: {where}.{name}: working days are counted in whole days (e.g. '5d')"
                )
    nature = spec.get("nature", "duty")
    if nature not in ("duty", "window"):
        raise DeadlineConfigError(f"deadlines file: {where}.nature: one of duty, window")
    return Term(term=term, extension=extension, article=article, counting=counting, nature=nature)


def load_policy(
    path: str | Path, *, time_zone: str = "America/Lima", holidays_dir: Path | None = None
) -> DeadlinePolicy:
    """Read and check the whole file (and the holiday files); every error names the file and the key.

    ``holidays_dir``: where the ``<year>.yaml`` holiday files are; the deadlines file's
    ``calendar.holidays_dir`` (relative to that file) wins over it.
    """
    try:
        resolved = resolve_config_file(path, setting="CENTINELA_LEGAL_DEADLINES_FILE")
        doc = load_yaml_mapping(resolved)
    except ConfigError as exc:
        raise DeadlineConfigError(f"deadlines file: {exc.message}") from None
    try:
        calendar = _calendar(doc.get("calendar"), resolved.parent, time_zone, holidays_dir)
        return DeadlinePolicy.from_mapping(doc, calendar)
    except CalendarConfigError as exc:
        raise DeadlineConfigError(f"{resolved.name}: calendar: {exc.message}") from None
    except DeadlineConfigError as exc:
        raise DeadlineConfigError(f"{resolved.name}: {exc.message.removeprefix('deadlines file: ')}") from None


def _calendar(spec: Any, base: Path, time_zone: str, holidays_dir: Path | None) -> LegalCalendar:
    spec = spec if spec is not None else {}
    if not isinstance(spec, dict):
        raise CalendarConfigError("must be a mapping")
    unknown = set(spec) - {"holidays_dir", "weekend", "judicial_vacation_is_non_working"}
    if unknown:
        raise CalendarConfigError(f"unknown keys {sorted(unknown)}")
    directory = holidays_dir
    if spec.get("holidays_dir"):
        directory = Path(str(spec["holidays_dir"]))
        if not directory.is_absolute():
            directory = base / directory
    vacation = spec.get("judicial_vacation_is_non_working", False)
    if not isinstance(vacation, bool):
        raise CalendarConfigError("judicial_vacation_is_non_working: true or false")
    weekend = spec.get("weekend", ["saturday", "sunday"])
    if not isinstance(weekend, list):
        raise CalendarConfigError("weekend: a list of weekday names")
    return LegalCalendar.load(directory, time_zone=time_zone, vacation_is_non_working=vacation, weekend=weekend)
