"""Anonymised export for sharing (state, IOM's CTDC, donors): HTCDS 2.0-shaped rows, k-anonymous.

A row carries no direct identifier (no case id, person_ref, org or advocate id, no date finer than a
year). Its quasi-identifiers — year of registration, sex, age band, citizenship, region, types of
exploitation — are generalised one level at a time along fixed ladders, the one whose next level
loses the fewest rows first, until at most ``max_suppressed`` of the rows sit in a combination seen
fewer than ``k`` times; those rows are then dropped. Every combination of quasi-identifiers in the
output appears at least ``k`` times (CTDC's standard: k = 5).

The other columns (prosecution outcome, psychosocial care received, follow-ups done) are what the
export is for; k-anonymity does not stop a whole group sharing one outcome, so they stay coarse.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from services.reports.domain.facts import UNCODED, UNKNOWN, CaseFacts
from services.reports.domain.figures import FOLLOWUP_MONTHS, PSYCHOSOCIAL, outcome_of

SUPPRESSED = "*"
DATASOURCE = "Case Management"

# HTCDS 2.0 exploitation flags and the types each one covers.
FLAG_TYPES = {
    "isForcedLabour": {"ForcedLabour", "ChildLabour", "Servitude", "ForcedBegging", "ForcedCriminality"},
    "isSexualExploit": {"SexualExploitation"},
    "isForcedMarriage": {"ForcedMarriage"},
    "isForcedMilitary": {"ForcedMilitaryService"},
    "isOrganRemoval": {"OrganRemoval"},
    "isSlaveryAndPractices": {"Slavery"},
}

FLAG_COLUMNS = (*FLAG_TYPES, "isOtherExploit")

COLUMNS = (
    "yearOfRegistration",
    "Datasource",
    "gender",
    "ageBroad",
    "majorityStatus",
    "citizenship",
    "regionOfRegistration",
    "isForcedLabour",
    "isSexualExploit",
    "isForcedMarriage",
    "isForcedMilitary",
    "isOrganRemoval",
    "isSlaveryAndPractices",
    "isOtherExploit",
    "typeOfExploitConcatenated",
    "prosecutionOutcome",
    "receivedPsychosocialCare",
    "followupsPlanned",
    "followupsDone",
)

_AGE_BROAD = {"0-8": "0--8", "9-17": "9--17", "18+": "18+"}
_GENDER = {"female": "Female", "male": "Male", "other": "Other", "unknown": UNKNOWN}


def _region_level0(region: str) -> str:
    """Department / first-level subdivision: UBIGEO's first two digits, ISO 3166-2 as it is."""
    if region == UNCODED:
        return UNCODED
    if region[:2].isdigit():
        return f"PE-UBIGEO-{region[:2]}"
    return region


def _country(region: str) -> str:
    if region == UNCODED:
        return UNCODED
    return "PE" if region.startswith("PE-") or region[:2].isdigit() else region[:2]


def _year_span(year: str) -> str:
    if not year.isdigit():
        return year
    start = int(year) - int(year) % 5
    return f"{start}-{start + 4}"


def _age_level1(age: str) -> str:
    return "0--17" if age in ("0--8", "9--17") else age


def _flags_only(combo: str, row: dict[str, str]) -> str:
    """Level 1 of the types of exploitation: only the HTCDS flags stay (the list is blanked)."""
    return "flags:" + "".join(row[f] for f in FLAG_COLUMNS)


@dataclass(frozen=True)
class QuasiIdentifier:
    column: str
    # level 0 is the row as built; ladder[i] lifts a level-0 value to level i + 1; the last level
    # is always SUPPRESSED ("any")
    ladder: tuple[Callable[[str, dict[str, str]], str], ...]
    # information lost at each level (0 at level 0): the search prefers the cheapest generalisation
    loss: tuple[int, ...] = (0, 1, 4)
    # columns derived from this one, generalised with it (majorityStatus follows ageBroad)
    follows: tuple[str, ...] = ()

    @property
    def levels(self) -> int:
        return len(self.ladder) + 1

    def value(self, row: dict[str, str], level: int) -> str:
        original = row[self.column]
        return original if level == 0 else self.ladder[level - 1](original, row)


def _any(_value: str, _row: dict[str, str]) -> str:
    return SUPPRESSED


def _on_value(fn: Callable[[str], str]) -> Callable[[str, dict[str, str]], str]:
    return lambda value, _row: fn(value)


# What each column is worth to CTDC and donors decides its loss: the types of exploitation most,
# then year and age, then region and citizenship.
QUASI_IDENTIFIERS: tuple[QuasiIdentifier, ...] = (
    QuasiIdentifier("yearOfRegistration", (_on_value(_year_span), _any), loss=(0, 2, 5)),
    QuasiIdentifier("gender", (_any,), loss=(0, 4)),
    QuasiIdentifier("ageBroad", (_on_value(_age_level1), _any), loss=(0, 2, 5), follows=("majorityStatus",)),
    QuasiIdentifier("citizenship", (_on_value(lambda c: c if c in ("PE", UNKNOWN) else "other"), _any), loss=(0, 1, 3)),
    QuasiIdentifier("regionOfRegistration", (_on_value(_country), _any), loss=(0, 1, 3)),
    QuasiIdentifier("typeOfExploitConcatenated", (_flags_only, _any), loss=(0, 2, 8), follows=FLAG_COLUMNS),
)
QI_COLUMNS = tuple(q.column for q in QUASI_IDENTIFIERS)
# What a reader of the file sees of the quasi-identifiers: the generalised columns and those
# derived from them (majority status, the exploitation flags). k-anonymity is checked on these.
VISIBLE_QI_COLUMNS = (*QI_COLUMNS, "majorityStatus", *FLAG_COLUMNS)


def htcds_row(facts: CaseFacts) -> dict[str, str]:
    """One case as an HTCDS 2.0-shaped row, before generalisation (no identifier of any kind)."""
    year = (facts.registered_at or "")[:4] or UNKNOWN
    age = _AGE_BROAD.get(facts.age_band, UNKNOWN)
    types = set(facts.exploitation)
    flags = {flag: str(int(bool(types & covered))) for flag, covered in FLAG_TYPES.items()}
    known = set().union(*FLAG_TYPES.values())
    flags["isOtherExploit"] = str(int(bool(types - known)))
    psy = any(s.get("kind") == PSYCHOSOCIAL and s.get("outcome") == "attended" for s in facts.sessions.values())
    planned = sum(1 for f in facts.followups.values() if f.get("planned"))
    done = sum(1 for f in facts.followups.values() if f.get("done"))
    outcome = outcome_of(facts) or ("ongoing" if facts.stages else "none")
    return {
        "yearOfRegistration": year,
        "Datasource": DATASOURCE,
        "gender": _GENDER.get(facts.sex, UNKNOWN),
        "ageBroad": age,
        "majorityStatus": "Minor" if age in ("0--8", "9--17") else ("Adult" if age == "18+" else UNKNOWN),
        "citizenship": facts.citizenship,
        "regionOfRegistration": _region_level0(facts.region),
        **flags,
        "typeOfExploitConcatenated": ";".join(sorted(types)) or UNKNOWN,
        "prosecutionOutcome": outcome,
        "receivedPsychosocialCare": str(int(psy)),
        # capped: a count of follow-ups is not a quasi-identifier, but an unusual one is still odd
        "followupsPlanned": str(min(planned, len(FOLLOWUP_MONTHS))),
        "followupsDone": str(min(done, len(FOLLOWUP_MONTHS))),
    }


@dataclass
class ExportResult:
    rows: list[dict[str, str]]
    k: int
    levels: dict[str, int]
    input_rows: int
    suppressed_rows: int
    classes: int = 0
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "input_rows": self.input_rows,
            "output_rows": len(self.rows),
            "suppressed_rows": self.suppressed_rows,
            "equivalence_classes": self.classes,
            "generalisation_levels": dict(self.levels),
        }


def _columns(rows: Sequence[dict[str, str]]) -> dict[str, list[list[str]]]:
    """Every quasi-identifier's column at every level, computed once."""
    return {q.column: [[q.value(r, lvl) for r in rows] for lvl in range(q.levels)] for q in QUASI_IDENTIFIERS}


def _keys(columns: dict[str, list[list[str]]], levels: dict[str, int]) -> list[tuple[str, ...]]:
    return list(zip(*(columns[q.column][levels[q.column]] for q in QUASI_IDENTIFIERS), strict=True))


def _small(keys: Sequence[tuple[str, ...]], k: int) -> int:
    counts = Counter(keys)
    return sum(n for n in counts.values() if n < k)


def information_loss(levels: dict[str, int]) -> int:
    return sum(q.loss[levels[q.column]] for q in QUASI_IDENTIFIERS)


def anonymise(rows: Iterable[dict[str, str]], k: int = 5, max_suppressed: float = 0.05) -> ExportResult:
    """Generalise then suppress so every quasi-identifier combination appears at least ``k`` times.

    Full-domain generalisation: of every combination of ladder levels, the one losing the least
    information (:attr:`QuasiIdentifier.loss`) whose small combinations hold at most ``max_suppressed``
    of the rows wins (fewest dropped rows on a tie); those rows are then dropped.
    """
    if k < 2:
        raise ValueError("k must be at least 2")
    if not 0 <= max_suppressed <= 1:
        raise ValueError("max_suppressed must be between 0 and 1")
    data = list(rows)
    budget = int(max_suppressed * len(data))
    columns = _columns(data)
    candidates = [
        dict(zip(QI_COLUMNS, combo, strict=True))
        for combo in itertools.product(*(range(q.levels) for q in QUASI_IDENTIFIERS))
    ]
    candidates.sort(key=information_loss)
    levels = candidates[-1]  # everything at "any": the last resort, then suppression
    best_small: int | None = None
    best_loss: int | None = None
    for trial in candidates:
        loss = information_loss(trial)
        if best_loss is not None and loss > best_loss:
            break
        small = _small(_keys(columns, trial), k)
        if small <= budget and (best_small is None or small < best_small):
            levels, best_small, best_loss = trial, small, loss
    keys = _keys(columns, levels)
    counts = Counter(keys)
    out: list[dict[str, str]] = []
    for row, key in zip(data, keys, strict=True):
        if counts[key] < k:
            continue
        generalised = dict(row)
        for q, value in zip(QUASI_IDENTIFIERS, key, strict=True):
            generalised[q.column] = value
            for col in q.follows:
                if value == SUPPRESSED:
                    generalised[col] = SUPPRESSED
        if levels["typeOfExploitConcatenated"] >= 1:
            # the flags string was the key; the list of types is not shown
            generalised["typeOfExploitConcatenated"] = SUPPRESSED
        out.append(generalised)
    kept = {key for key, n in counts.items() if n >= k}
    return ExportResult(
        rows=out, k=k, levels=levels, input_rows=len(data), suppressed_rows=len(data) - len(out), classes=len(kept)
    )


def check_k_anonymous(rows: Iterable[dict[str, str]], k: int) -> list[tuple[str, ...]]:
    """The quasi-identifier combinations seen fewer than ``k`` times (empty: the rows are k-anonymous)."""
    counts = Counter(tuple(r[c] for c in VISIBLE_QI_COLUMNS) for r in rows)
    return [key for key, n in counts.items() if n < k]
