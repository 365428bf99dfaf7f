"""Case value lists aligned with IOM's HTCDS 2.0, and the mapping from the words centinela used before.

Where HTCDS has a value list, intake stores and answers HTCDS values. The earlier project words are still
accepted on input (API bodies, stored cases) and translated with the mapping below, so existing clients
and stored cases keep working; nothing is rejected for using them. Neither list travels in events.

=======================  ===============================  ==============================================
field                    earlier word                     HTCDS 2.0 value
=======================  ===============================  ==============================================
trafficking_status       Presumed                         PossibleVictimOfTrafficking
(vic_TraffickingStatus)  Identified                       ActualVictimOfTrafficking
                         Confirmed                        ActualVictimOfTrafficking
methods_of_control       ThreatsToFamily                  Threats (HTCDS: harm to the person "or another")
(vic_MethodsOfControl)   WithheldDocuments                WithholdsDocuments
                         WithheldEarnings                 TakesEarnings
                         RestrictedMovement               RestrictsMovement
                         Isolation                        RestrictsMovement (HTCDS includes isolation)
                         SubstanceDependence              PsychoactiveSubstances
=======================  ===============================  ==============================================

``Identified`` meant "identified by the authorities", i.e. determined to be a victim: HTCDS "actual".
Two earlier words that map to one value (Isolation and RestrictedMovement) become that value once.
"""

from __future__ import annotations

from typing import Any, Final, Literal, get_args

TraffickingStatus = Literal["PossibleVictimOfTrafficking", "ActualVictimOfTrafficking", "NotAVictimOfTrafficking"]
TRAFFICKING_STATUSES: Final[tuple[str, ...]] = get_args(TraffickingStatus)
LEGACY_TRAFFICKING_STATUS: Final[dict[str, str]] = {
    "Presumed": "PossibleVictimOfTrafficking",
    "Identified": "ActualVictimOfTrafficking",
    "Confirmed": "ActualVictimOfTrafficking",
}

MethodOfControl = Literal[
    "DebtBondage",
    "TakesEarnings",
    "RestrictsFinancialAccess",
    "Threats",
    "PsychologicalAbuse",
    "PhysicalAbuse",
    "SexualAbuse",
    "FalsePromises",
    "PsychoactiveSubstances",
    "RestrictsMovement",
    "RestrictsMedicalCare",
    "ExcessiveWorkingHours",
    "UsesChildren",
    "ThreatOfLawEnforcement",
    "WithholdsNecessities",
    "WithholdsDocuments",
    "Other",
]
METHODS_OF_CONTROL: Final[tuple[str, ...]] = get_args(MethodOfControl)
LEGACY_METHODS_OF_CONTROL: Final[dict[str, str]] = {
    "ThreatsToFamily": "Threats",
    "WithheldDocuments": "WithholdsDocuments",
    "WithheldEarnings": "TakesEarnings",
    "RestrictedMovement": "RestrictsMovement",
    "Isolation": "RestrictsMovement",
    "SubstanceDependence": "PsychoactiveSubstances",
}
assert set(LEGACY_METHODS_OF_CONTROL.values()) <= set(METHODS_OF_CONTROL)
assert set(LEGACY_TRAFFICKING_STATUS.values()) <= set(TRAFFICKING_STATUSES)


def trafficking_status(value: Any) -> Any:
    """An earlier word as its HTCDS value; anything else unchanged (validation decides)."""
    return LEGACY_TRAFFICKING_STATUS.get(value, value) if isinstance(value, str) else value


def methods_of_control(values: Any) -> Any:
    """Earlier words as HTCDS values; values that became one (Isolation, RestrictedMovement; Threats,
    ThreatsToFamily) appear once. A value sent twice as it is stays for validation to refuse."""
    if not isinstance(values, list):
        return values
    out: list[Any] = []
    translated: set[str] = set()  # values that came from an earlier word
    for value in values:
        mapped = LEGACY_METHODS_OF_CONTROL.get(value, value) if isinstance(value, str) else value
        legacy = mapped != value
        if mapped in out and (legacy or mapped in translated):
            continue  # e.g. Threats and ThreatsToFamily were two values before, one now
        if legacy:
            translated.add(mapped)
        out.append(mapped)
    return out
