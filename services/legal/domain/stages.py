"""The prosecution's stages (Código Procesal Penal 2004) and which moves between them are legal.

    complaint_filed -> preliminary_investigation -> preparatory_investigation -> intermediate_stage
        -> trial -> verdict -> appeal -> final;   archived from any stage, reopened back out of it.

Shortcuts the code allows because the law does: a complaint may be formalised straight away
(complaint_filed -> preparatory_investigation), the prosecutor may accuse directly after the
preliminary inquiries (art. 336.4: preliminary_investigation -> intermediate_stage), a dismissal
(sobreseimiento) ends the case in the intermediate stage (-> final), an unappealed verdict
becomes final, and an appeal court may annul and order a new trial (appeal -> trial).

Special procedures (:data:`SPECIAL`, named in the stage history and in refusals): proceso
inmediato (arts. 446-448: preliminary_investigation -> trial) and terminación anticipada
(arts. 468-471: preparatory_investigation -> verdict). Articles to be confirmed with Peruvian
counsel, like the deadlines.

An imported case (a ``stage_changed`` with ``imported: true`` as its first update) may start in
any stage: the existing caseload enters monitoring where it really is, without invented history.
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

# Transitions of the special procedures, with the articles that allow them.
SPECIAL: dict[tuple[Stage, Stage], str] = {
    ("preliminary_investigation", "trial"): "proceso inmediato, CPP arts. 446-448",
    ("preparatory_investigation", "verdict"): "terminación anticipada, CPP arts. 468-471",
}
# The ordinary shortcuts worth naming where a transition is shown.
NAMED: dict[tuple[Stage, Stage], str] = {
    ("preliminary_investigation", "intermediate_stage"): "acusación directa, CPP art. 336.4",
    ("intermediate_stage", "final"): "sobreseimiento, CPP art. 344",
    **SPECIAL,
}

FORWARD: dict[Stage, frozenset[Stage]] = {
    "complaint_filed": frozenset({"preliminary_investigation", "preparatory_investigation"}),
    "preliminary_investigation": frozenset({"preparatory_investigation", "intermediate_stage", "trial"}),
    "preparatory_investigation": frozenset({"intermediate_stage", "verdict"}),
    "intermediate_stage": frozenset({"trial", "final"}),
    "trial": frozenset({"verdict"}),
    "verdict": frozenset({"appeal", "final"}),
    "appeal": frozenset({"final", "trial"}),
    "final": frozenset(),
    "archived": frozenset(),
}

# Stages in which the prosecution is still running (deadlines and stall rules apply).
OPEN: frozenset[Stage] = frozenset(STAGES) - {"final", "archived"}


def transition_basis(current: Stage | None, target: Stage) -> str | None:
    """The procedure and article a transition rests on, when it is worth naming."""
    return NAMED.get((current, target)) if current is not None else None


def _allowed(current: Stage) -> str:
    names = [f"{t} ({NAMED[(current, t)]})" if (current, t) in NAMED else t for t in sorted(FORWARD[current])]
    return ", ".join(names) or "none"


def transition_error(current: Stage | None, target: Stage, *, imported: bool = False) -> str | None:
    """Why ``current -> target`` is illegal, or None when it is allowed."""
    if target == "archived":
        return "stage: use the case_archived kind to archive a case (it carries the reason)"
    if current is None:
        if target in INITIAL or imported:
            return None
        return (
            f"stage: a prosecution cannot start in {target}; the first stage must be one of "
            f"{', '.join(sorted(INITIAL))} (an imported case, marked imported: true, may start in any stage)"
        )
    if current == "archived":
        return f"stage: the case is archived; a case_reopened update must come before {target}"
    if current == "final":
        return f"stage: the case is final; it cannot move to {target}"
    if target in FORWARD[current]:
        return None
    return (
        f"stage: illegal transition {current} -> {target} under the CPP 2004 stage order "
        f"(allowed from {current}: {_allowed(current)})"
    )
