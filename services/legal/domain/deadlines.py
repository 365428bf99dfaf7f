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
from typing import Any

from services.legal.domain.stages import COMPLEXITIES, STAGES, Complexity, Stage
from shared.config import load_yaml_mapping, resolve_config_file
from shared.durations import CalendarDuration as Duration
from shared.durations import DurationError, parse_calendar_duration
from shared.errors import ConfigError


class DeadlineConfigError(ConfigError):
    pass


@dataclass(frozen=True)
class Term:
    term: Duration
    extension: Duration | None = None
    article: str | None = None

    def describe(self) -> str:
        """``120d + 60d extension`` as people read it (for refusals that name the rule)."""
        return f"{self.term} + {self.extension} extension" if self.extension else str(self.term)


@dataclass(frozen=True)
class Deadline:
    deadline_at: datetime
    extended_deadline_at: datetime | None
    basis: str | None = None  # the article of the term, or the legal basis of the extension that set it


@dataclass(frozen=True)
class DeadlinePolicy:
    terms: dict[Stage, dict[Complexity, Term]] = field(default_factory=dict)

    def term_for(self, stage: Stage | None, complexity: Complexity) -> Term | None:
        if stage is None:
            return None
        by_complexity = self.terms.get(stage) or {}
        return by_complexity.get(complexity) or by_complexity.get("ordinary")

    def deadline(self, stage: Stage | None, complexity: Complexity, started_at: datetime | None) -> Deadline | None:
        """The deadline that applies now: the term; the extension is reported, not assumed granted."""
        term = self.term_for(stage, complexity)
        if term is None or started_at is None:
            return None
        deadline_at = term.term.add_to(started_at)
        extended = (term.term + term.extension).add_to(started_at) if term.extension else None
        return Deadline(deadline_at=deadline_at, extended_deadline_at=extended, basis=term.article)

    @classmethod
    def from_mapping(cls, doc: Any) -> DeadlinePolicy:
        if not isinstance(doc, dict) or not isinstance(doc.get("stages"), dict):
            raise DeadlineConfigError("deadlines file: top-level 'stages' mapping is required")
        terms: dict[Stage, dict[Complexity, Term]] = {}
        for stage, by_complexity in doc["stages"].items():
            if stage not in STAGES:
                raise DeadlineConfigError(f"deadlines file: unknown stage {stage!r}; known: {', '.join(STAGES)}")
            if not isinstance(by_complexity, dict):
                raise DeadlineConfigError(f"deadlines file: stages.{stage} must map complexity to a term")
            terms[stage] = {}
            for complexity, spec in by_complexity.items():
                where = f"stages.{stage}.{complexity}"
                if complexity not in COMPLEXITIES:
                    raise DeadlineConfigError(
                        f"deadlines file: {where}: unknown complexity; known: {', '.join(COMPLEXITIES)}"
                    )
                if isinstance(spec, str | int):
                    spec = {"term": spec}
                if not isinstance(spec, dict) or "term" not in spec:
                    raise DeadlineConfigError(f"deadlines file: {where}: needs a 'term' (e.g. '60d')")
                unknown = set(spec) - {"term", "extension", "article"}
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
                terms[stage][complexity] = Term(term=term, extension=extension, article=article)
        return cls(terms=terms)


def load_policy(path: str | Path) -> DeadlinePolicy:
    """Read and check the whole file; every error names the file (and the key) to fix."""
    try:
        resolved = resolve_config_file(path, setting="CENTINELA_LEGAL_DEADLINES_FILE")
        doc = load_yaml_mapping(resolved)
    except ConfigError as exc:
        raise DeadlineConfigError(f"deadlines file: {exc.message}") from None
    try:
        return DeadlinePolicy.from_mapping(doc)
    except DeadlineConfigError as exc:
        raise DeadlineConfigError(f"{resolved.name}: {exc.message.removeprefix('deadlines file: ')}") from None
