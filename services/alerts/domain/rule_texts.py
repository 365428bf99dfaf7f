"""Each rule in plain words, for the people who receive alert e-mails (msgids: English; Spanish in the catalogue).

A rule without an entry here is named by its id (a release adding a rule should add its words).
"""

from __future__ import annotations


def N_(message: str) -> str:  # noqa: N802 (gettext's marker: extracted, translated later)
    return message


RULE_TEXTS: dict[str, str] = {
    "legal.stage_overdue": N_("The prosecution stage is past its legal deadline"),
    "legal.no_activity": N_("The prosecution has had no activity for too long"),
    "legal.hearing_postponed_repeatedly": N_("A hearing has been postponed repeatedly"),
    "legal.hearing_outcome_missing": N_("The outcome of a past hearing has not been recorded"),
    "legal.no_representation": N_("The victim has no legal representation"),
    "legal.victim_not_notified": N_("The victim has not been notified of a decision"),
    "legal.victim_absent": N_("The victim has missed hearings"),
    "legal.deadline_approaching": N_("A legal deadline is approaching"),
    "legal.deadline_missed": N_("A deadline of the prosecutor or court has passed with nothing reported"),
    "legal.hearing_upcoming": N_("A hearing is coming up"),
    "service.overdue": N_("A support service session is overdue"),
    "service.missed_consecutive": N_("Several support service sessions were missed in a row"),
    "service.no_psychosocial": N_("No psychosocial support has been planned"),
    "risk.revictimisation": N_("A risk of revictimisation was flagged"),
    "followup.contact_lost": N_("Contact with the child has been lost"),
    "followup.overdue": N_("A follow-up is overdue"),
    "reintegration.school_dropout": N_("The child dropped out of school"),
    "reintegration.placement_review_overdue": N_("The placement review is overdue"),
    "harm.reparation_unpaid": N_("Ordered reparations have not been paid"),
    "harm.hearing_without_accompaniment": N_("The child attended a hearing without psychosocial accompaniment"),
    "harm.protective_measure_expired": N_("A protective measure expired while the case is still open"),
    "harm.second_testimony": N_("The child testified again after the single Cámara Gesell interview"),
}

SEVERITY_TEXTS: dict[str, str] = {
    "critical": N_("critical"),
    "high": N_("high"),
    "medium": N_("medium"),
    "low": N_("low"),
}
