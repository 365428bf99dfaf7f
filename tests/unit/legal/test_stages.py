"""The stage model, transition by transition (Código Procesal Penal 2004 order)."""

import pytest

from services.legal.domain.stages import PROCESS_STAGES, STAGES, transition_error

LEGAL = {
    (None, "complaint_filed"),
    (None, "preliminary_investigation"),
    ("complaint_filed", "preliminary_investigation"),
    ("complaint_filed", "preparatory_investigation"),
    ("preliminary_investigation", "preparatory_investigation"),
    ("preliminary_investigation", "intermediate_stage"),  # acusación directa, art. 336.4
    ("preparatory_investigation", "intermediate_stage"),
    ("intermediate_stage", "trial"),
    ("intermediate_stage", "final"),  # sobreseimiento
    ("trial", "verdict"),
    ("verdict", "appeal"),
    ("verdict", "final"),
    ("appeal", "final"),
    ("appeal", "trial"),  # annulled: new trial
    ("preliminary_investigation", "trial"),  # proceso inmediato, arts. 446-448 (issue 12)
    ("preparatory_investigation", "verdict"),  # terminación anticipada, arts. 468-471 (issue 12)
}


@pytest.mark.parametrize("current", [None, *STAGES])
@pytest.mark.parametrize("target", PROCESS_STAGES)
def test_every_pair(current, target):
    error = transition_error(current, target)
    if (current, target) in LEGAL:
        assert error is None
    else:
        assert error is not None and error.startswith("stage:")


def test_trial_before_accusation_is_refused_with_reason():
    error = transition_error("preparatory_investigation", "trial")
    assert error is not None
    assert "preparatory_investigation -> trial" in error and "intermediate_stage" in error


def test_archiving_is_its_own_kind():
    assert "case_archived" in (transition_error("trial", "archived") or "")


def test_archived_needs_reopening_and_final_is_final():
    assert "case_reopened" in (transition_error("archived", "preliminary_investigation") or "")
    assert "final" in (transition_error("final", "appeal") or "")
