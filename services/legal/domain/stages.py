"""The prosecution's stages (Código Procesal Penal 2004) and which moves between them are legal.

    complaint_filed -> preliminary_investigation -> preparatory_investigation -> intermediate_stage
        -> trial -> verdict -> appeal -> final;   archived from any stage, reopened back out of it.

Shortcuts the code allows because the law does: a complaint may be formalised straight away
(complaint_filed -> preparatory_investigation), the prosecutor may accuse directly after the
preliminary inquiries (art. 336.4: preliminary_investigation -> intermediate_stage), a dismissal
(sobreseimiento) ends the case in the intermediate stage (-> final), an unappealed verdict
becomes final, and an appeal court may annul and order a new trial (appeal -> trial).
"""

from __future__ import annotations

from typing import Literal, get_args

# the one vocabulary of stages, shared with the events
from shared.events.legal import ProcessStage, Stage

Complexity = Literal["ordinary", "complex", "organised_crime"]

STAGES: tuple[Stage, ...] = get_args(Stage)
PROCESS_STAGES: tuple[ProcessStage, ...] = get_args(ProcessStage)
COMPLEXITIES: tuple[Complexity, ...] = get_args(Complexity)

# Where a prosecution may start: the integrator's first stage for a case.
INITIAL: frozenset[Stage] = frozenset({"complaint_filed", "preliminary_investigation"})

FORWARD: dict[Stage, frozenset[Stage]] = {
    "complaint_filed": frozenset({"preliminary_investigation", "preparatory_investigation"}),
    "preliminary_investigation": frozenset({"preparatory_investigation", "intermediate_stage"}),
    "preparatory_investigation": frozenset({"intermediate_stage"}),
    "intermediate_stage": frozenset({"trial", "final"}),
    "trial": frozenset({"verdict"}),
    "verdict": frozenset({"appeal", "final"}),
    "appeal": frozenset({"final", "trial"}),
    "final": frozenset(),
    "archived": frozenset(),
}

# Stages in which the prosecution is still running (deadlines and stall rules apply).
OPEN: frozenset[Stage] = frozenset(STAGES) - {"final", "archived"}


def transition_error(current: Stage | None, target: Stage) -> str | None:
    """Why ``current -> target`` is illegal, or None when it is allowed."""
    if target == "archived":
        return "stage: use the case_archived kind to archive a case (it carries the reason)"
    if current is None:
        if target in INITIAL:
            return None
        return (
            f"stage: a prosecution cannot start in {target}; the first stage must be one of "
            f"{', '.join(sorted(INITIAL))}"
        )
    if current == "archived":
        return f"stage: the case is archived; a case_reopened update must come before {target}"
    if current == "final":
        return f"stage: the case is final; it cannot move to {target}"
    if target in FORWARD[current]:
        return None
    allowed = ", ".join(sorted(FORWARD[current])) or "none"
    return f"stage: illegal transition {current} -> {target} (allowed from {current}: {allowed})"
