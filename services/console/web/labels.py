"""Labels of the APIs' codes, as message ids (translated at render time with ``_``)."""

from __future__ import annotations


def N_(msgid: str) -> str:  # noqa: N802 (gettext convention: marks a msgid for extraction)
    return msgid


ROLES = {
    "intake_officer": N_("Intake officer"),
    "service_provider": N_("Service provider"),
    "legal_advocate": N_("Legal advocate"),
    "supervisor": N_("Supervisor"),
    "ops_viewer": N_("Operations"),
    "admin": N_("Administrator"),
    "court_integrator": N_("Court system"),
}
SEVERITIES = {"critical": N_("Critical"), "high": N_("High"), "medium": N_("Medium"), "low": N_("Low")}
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
ALERT_STATUSES = {
    "open": N_("Open"),
    "acknowledged": N_("Acknowledged"),
    "snoozed": N_("Snoozed"),
    "resolved": N_("Resolved"),
}
HISTORY_ACTIONS = {
    "raised": N_("Raised"),
    "acknowledged": N_("Acknowledged"),
    "snoozed": N_("Snoozed"),
    "resolved": N_("Resolved"),
    "escalated": N_("Escalated"),
    "reopened": N_("Snooze ended"),
}
RULES = {
    "legal.stage_overdue": N_("Prosecution stage past its legal deadline"),
    "legal.no_activity": N_("No legal activity for 90 days"),
    "legal.hearing_postponed_repeatedly": N_("Hearings postponed repeatedly"),
    "legal.hearing_outcome_missing": N_("Hearing outcome not reported"),
    "legal.no_representation": N_("No legal representation"),
    "legal.victim_not_notified": N_("Child not notified of archive or verdict"),
    "legal.victim_absent": N_("Child missed hearings (risk of abandoning the process)"),
    "legal.deadline_approaching": N_("Legal deadline approaching"),
    "legal.hearing_upcoming": N_("Hearing coming up"),
    "legal.deadline_missed": N_("Legal deadline missed"),
    "reintegration.school_dropout": N_("Child dropped out of school"),
    "reintegration.placement_review_overdue": N_("Placement review overdue"),
    "harm.reparation_unpaid": N_("Reparation ordered and unpaid"),
    "harm.hearing_without_accompaniment": N_("Hearing without psychosocial accompaniment"),
    "service.overdue": N_("Planned session not recorded"),
    "service.missed_consecutive": N_("Sessions missed in a row"),
    "service.no_psychosocial": N_("No psychosocial session in 30 days"),
    "risk.revictimisation": N_("Risk of revictimisation"),
    "followup.contact_lost": N_("Contact with the child lost"),
    "followup.overdue": N_("Follow-up overdue"),
}
CASE_STATUSES = {
    "Active": N_("Active"),
    "FollowUp": N_("Follow-up"),
    "Closed": N_("Closed"),
    "ClosedReferred": N_("Closed (referred)"),
}
SERVICE_KINDS = {
    "psychosocial": N_("Psychosocial care"),
    "legal_counselling": N_("Legal counselling"),
    "health": N_("Health"),
    "education": N_("Education"),
    "employment_assistance": N_("Employment assistance"),
    "reintegration_workshop": N_("Reintegration workshop"),
}
SESSION_OUTCOMES = {"attended": N_("Attended"), "missed": N_("Missed"), "cancelled": N_("Cancelled")}
MISSED_REASONS = {
    "child_absent": N_("The child did not come"),
    "child_unwell": N_("The child was unwell"),
    "provider_unavailable": N_("Provider unavailable"),
    "transport": N_("Transport problem"),
    "unreachable": N_("Could not reach the child"),
    "other": N_("Other"),
}
RISK_KINDS = {
    "contact_with_trafficker": N_("Contact with the trafficker"),
    "runaway_missing": N_("Ran away / missing"),
    "threat_received": N_("Threat received"),
    "return_to_exploitation_site": N_("Returned to the place of exploitation"),
    "other": N_("Other"),
}
EXPLOITATION_TYPES = {
    "SexualExploitation": N_("Sexual exploitation"),
    "ForcedLabour": N_("Forced labour"),
    "ChildLabour": N_("Child labour"),
    "ForcedMarriage": N_("Forced marriage"),
    "Servitude": N_("Servitude"),
    "ForcedBegging": N_("Forced begging"),
    "ForcedCriminality": N_("Forced criminality"),
    "Other": N_("Other"),
}
# HTCDS 2.0 values (intake still accepts the older Presumed / Identified / Confirmed)
TRAFFICKING_STATUSES = {
    "PossibleVictimOfTrafficking": N_("Possible victim of trafficking"),
    "ActualVictimOfTrafficking": N_("Victim of trafficking"),
    "NotAVictimOfTrafficking": N_("Not a victim of trafficking"),
}
# HTCDS 2.0 vic_MethodsOfControl (intake translates the older words to these)
METHODS_OF_CONTROL = {
    "DebtBondage": N_("Debt bondage"),
    "TakesEarnings": N_("Takes earnings"),
    "RestrictsFinancialAccess": N_("Restricts access to money"),
    "Threats": N_("Threats"),
    "PsychologicalAbuse": N_("Psychological abuse"),
    "PhysicalAbuse": N_("Physical abuse"),
    "SexualAbuse": N_("Sexual abuse"),
    "FalsePromises": N_("False promises"),
    "PsychoactiveSubstances": N_("Psychoactive substances"),
    "RestrictsMovement": N_("Restricts movement"),
    "RestrictsMedicalCare": N_("Restricts medical care"),
    "ExcessiveWorkingHours": N_("Excessive working hours"),
    "UsesChildren": N_("Uses children"),
    "ThreatOfLawEnforcement": N_("Threat of the authorities"),
    "WithholdsNecessities": N_("Withholds necessities"),
    "WithholdsDocuments": N_("Withholds documents"),
    "Other": N_("Other"),
}
STAGES = {
    "complaint_filed": N_("Complaint filed"),
    "preliminary_investigation": N_("Preliminary investigation"),
    "preparatory_investigation": N_("Preparatory investigation"),
    "intermediate_stage": N_("Intermediate stage"),
    "trial": N_("Trial"),
    "verdict": N_("Verdict"),
    "appeal": N_("Appeal"),
    "final": N_("Final"),
    "archived": N_("Archived"),
}
# the legal deadlines that are not a stage's (services/legal/deadlines.yaml), on the agenda
DEADLINE_KINDS = {
    "archive_elevation": N_("Deadline to ask for the archive to be reviewed"),
    "elevation_decision": N_("Deadline for the senior prosecutor's decision"),
    "appeal_sentence": N_("Deadline to appeal the sentence"),
    "appeal_order": N_("Deadline to appeal the order"),
    "cassation": N_("Deadline for cassation"),
    "trial_resumption": N_("Deadline to resume the trial"),
    "accusation_observations": N_("Deadline for observations to the accusation"),
    "other": N_("Legal deadline"),
}
COMPLEXITIES = {"ordinary": N_("Ordinary"), "complex": N_("Complex"), "organised_crime": N_("Organised crime")}
COURT_KINDS = {
    "stage_changed": N_("Stage changed"),
    "hearing_scheduled": N_("Hearing scheduled"),
    "hearing_held": N_("Hearing held"),
    "hearing_postponed": N_("Hearing postponed"),
    "victim_notified": N_("Child notified"),
    "victim_attended": N_("Child attended the hearing"),
    "victim_absent": N_("Child absent from the hearing"),
    "legal_representation_assigned": N_("Legal representation assigned"),
    "protective_measure_granted": N_("Protective measure granted"),
    "verdict_issued": N_("Verdict issued"),
    "reparation_ordered": N_("Reparation ordered"),
    "reparation_paid": N_("Reparation paid"),
    "appeal_filed": N_("Appeal filed"),
    "case_archived": N_("Case archived"),
    "case_reopened": N_("Case reopened"),
    "deadline_extended": N_("Deadline extended"),
    "complexity_declared": N_("Complexity declared"),
    "provisional_reserve": N_("Provisional reserve (offender unidentified)"),
    "principio_de_oportunidad": N_("Principle of opportunity applied"),
    "elevation_requested": N_("Elevation of the archive requested"),
    "elevation_decided": N_("Elevation decided by the superior prosecutor"),
    "accusation_filed": N_("Accusation filed"),
    "dismissal_requested": N_("Dismissal (sobreseimiento) requested"),
    "trial_suspended": N_("Trial suspended"),
    "trial_resumed": N_("Trial resumed"),
    "order_issued": N_("Judicial order issued"),
}
# The kind-specific fields of each court update (README "The court update format").
COURT_FIELDS: dict[str, tuple[str, ...]] = {
    "stage_changed": ("stage", "complexity"),
    "hearing_scheduled": ("hearing_id", "scheduled_for"),
    "hearing_held": ("hearing_id",),
    "hearing_postponed": ("hearing_id", "reason", "new_date"),
    "victim_notified": ("about",),
    "victim_attended": ("hearing_id",),
    "victim_absent": ("hearing_id",),
    "legal_representation_assigned": ("representative_ref",),
    "protective_measure_granted": ("measure",),
    "verdict_issued": ("outcome",),
    "reparation_ordered": ("amount", "currency"),
    "reparation_paid": ("amount", "currency"),
    "appeal_filed": ("against",),
    "case_archived": ("reason",),
    "case_reopened": ("reason", "stage"),
    "deadline_extended": ("granted_by", "legal_basis", "new_deadline", "extra_days"),
    "complexity_declared": ("complexity", "legal_basis"),
    "provisional_reserve": ("reason",),
    "principio_de_oportunidad": ("legal_basis",),
    "elevation_requested": (),
    "elevation_decided": ("elevation_outcome",),
    "accusation_filed": (),
    "dismissal_requested": (),
    "trial_suspended": ("reason",),
    "trial_resumed": (),
    "order_issued": ("order",),
}
APPEAL_AGAINST = {"sentence": N_("A sentence"), "order": N_("An order (auto)")}
ELEVATION_OUTCOMES = {
    "archive_upheld": N_("Archive upheld"),
    "formalise": N_("Formalise the investigation"),
    "continue_investigation": N_("Continue the investigation"),
}
FOLLOWUP_KINDS = {
    "reintegration": N_("Reintegration follow-up"),
    "post_closure_3_months": N_("3 months after closure"),
    "post_closure_6_months": N_("6 months after closure"),
    "post_closure_12_months": N_("12 months after closure"),
}
FOLLOWUP_OUTCOMES = {
    "contacted_stable": N_("Contacted, stable"),
    "contacted_concerns": N_("Contacted, with concerns"),
    "not_located": N_("Not located"),
    "declined": N_("Declined"),
    "other": N_("Other"),
}
REPORT_DIMENSIONS = {
    "org": N_("Organisation"),
    "region": N_("Region"),
    "exploitation": N_("Type of exploitation"),
    "period": N_("Month of registration"),
}
PROSECUTION_OUTCOMES = {
    "convicted": N_("Conviction"),
    "acquitted": N_("Acquittal"),
    "dismissed": N_("Dismissed"),
    "archived": N_("Archived"),
    "stalled": N_("Stalled"),
}
DOCUMENT_CATEGORIES = {
    "prosecutor_disposition": N_("Prosecutor's disposition"),
    "court_ruling": N_("Court ruling"),
    "legal_report": N_("Legal report"),
    "legal_other": N_("Other legal document"),
    "medical_report": N_("Medical report"),
    "psychological_report": N_("Psychological report"),
    "social_report": N_("Social report"),
    "education_record": N_("Education record"),
    "note": N_("Note"),
    "other": N_("Other"),
}
VERDICTS = {"conviction": N_("Conviction"), "acquittal": N_("Acquittal")}
SNOOZES = {"1h": N_("1 hour"), "4h": N_("4 hours"), "1d": N_("1 day"), "3d": N_("3 days"), "7d": N_("1 week")}
SEX = {"female": N_("Female"), "male": N_("Male"), "other": N_("Other"), "unknown": N_("Unknown")}
DOCUMENT_TYPES = {
    "DNI": N_("DNI"),
    "CE": N_("Foreigner's card (CE)"),
    "passport": N_("Passport"),
    "birth_certificate": N_("Birth certificate"),
    "other": N_("Other"),
}
# The case's access record (intake's /v1/cases/{id}/views): what each audited action means to a person.
VIEW_ACTIONS = {
    "case.read": N_("Opened the case"),
    "case.read_identity": N_("Saw the child's identity"),
    "case.create": N_("Registered the case"),
    "case.update": N_("Changed the case"),
    "case.views": N_("Looked at this access record"),
    "case.list": N_("Listed cases"),
    "case_ref.set": N_("Linked the case to a prosecution file"),
    "case_ref.resolve": N_("Looked up the prosecution file"),
    "document.add": N_("Added a document"),
    "document.read": N_("Read a document"),
    "document.list": N_("Listed the documents"),
    "service.plan": N_("Planned a service"),
    "service.list": N_("Listed the services"),
    "session.record": N_("Recorded a session"),
    "session.list": N_("Listed the sessions"),
    "risk.flag": N_("Raised a risk flag"),
    "risk.list": N_("Listed the risk flags"),
    "followup.plan": N_("Planned a follow-up"),
    "followup.record": N_("Recorded a follow-up"),
    "referral.create": N_("Referred the case"),
    "referral.status": N_("Changed a referral"),
    "referral.consent_override": N_("Referred without consent (override)"),
    "legal.timeline.read": N_("Viewed the prosecution"),
    "legal.court_update.record": N_("Recorded a legal event"),
    "audit.read": N_("Read the audit trail"),
}
VIEW_OUTCOMES = {"denied": N_("Refused"), "not_found": N_("Not found")}
SERVICES = {"intake": N_("Case registry"), "legal": N_("Legal service"), "alerts": N_("Alerts")}
VIEW_READ = N_("Viewed it")
VIEW_WRITE = N_("Changed it")


def view_action(action: str | None) -> str:
    """A known action's words; else whether it read or changed the case, from the action's last word."""
    action = action or ""
    if action in VIEW_ACTIONS:
        return VIEW_ACTIONS[action]
    last = action.rsplit(".", 1)[-1]
    return VIEW_READ if last in ("read", "list", "views", "get", "search", "export") else VIEW_WRITE


# Messages the APIs answer with, so the form shows them in the user's language.
API_MESSAGES = (
    N_("Cite the article, e.g. CPP art. 342.1"),
    N_("Enter a whole number of days between 1 and 3650."),
    N_("Give either the new deadline or the extra days, not both."),
    N_("Document added."),
    N_("Choose a file."),
    N_("The case registry refused the document."),
    N_("The file is too large."),
    N_("This kind of file is not accepted: use PDF, PNG, JPEG, text or DOCX."),
    N_("Check the months: the first must not be after the last."),
    N_("The reports service refused the request."),
    N_("The reports service is not answering. Try again in a moment."),
    N_("Follow-up planned."),
    N_("Follow-up recorded."),
    N_("The case registry refused the follow-up."),
    N_("Second factor turned on. You will be asked for a code at each sign-in."),
    N_("Advocate assigned."),
    N_("Someone changed the case meanwhile; look at it again and repeat."),
    N_("The case registry refused the change."),
    N_("Choose an advocate of your organisation."),
    N_("must not be in the future"),
    N_("Field required"),
    N_("must be after 1900-01-01"),
    N_("must not repeat a value"),
    N_("unknown field"),
)

# Messages the routes and form checks use (listed so that extraction finds them).
MESSAGES = (
    N_("Our error. Try again; if it repeats, give your administrator the reference %(ref)s."),
    N_("Some of what you sent is not valid. Go back and check the form."),
    N_("What you sent is too large."),
    N_("Something went wrong."),
    N_("Your role does not allow seeing the child's identity."),
    N_("A service could not answer. Try again in a moment."),
    N_("A service is not answering. Try again in a moment."),
    N_("Alert acknowledged."),
    N_("Alert resolved."),
    N_("Alert snoozed."),
    N_("At most 200 characters."),
    N_("Case registered."),
    N_("Choose at least one role."),
    N_("Choose for how long to snooze the alert."),
    N_("Choose one of the options."),
    N_("Enter a valid date and time."),
    N_("Enter a valid date."),
    N_("Enter an amount of zero or more."),
    N_("Enter your user name and password."),
    N_("Give a reason of at least 10 characters."),
    N_("Legal event recorded."),
    N_("No prosecution has been recorded for this case yet."),
    N_("Risk flag raised. The advocate is alerted."),
    N_("Roles changed."),
    N_("Say which document this number belongs to."),
    N_("Say why the session was missed."),
    N_("Second factor reset: the user enrols again at the next sign-in."),
    N_("Service planned."),
    N_("Session recorded."),
    N_("Someone else changed this alert first; the list shows its state now."),
    N_("The alerts service could not answer. Try again in a moment."),
    N_("The alerts service is not answering. The list will refresh by itself."),
    N_("The alerts service is not answering. Try again in a moment."),
    N_("The alerts service refused the change."),
    N_("The case registry is not answering. Try again in a moment."),
    N_("The case registry refused the case."),
    N_("The case registry refused the risk flag."),
    N_("The case registry refused the service."),
    N_("The case registry refused the session."),
    N_("The code is wrong or has expired. Type the 6 digits your app shows now."),
    N_("The legal service does not accept legal events from your role for this case."),
    N_("The legal service is not answering. Try again in a moment."),
    N_("The legal service is not answering."),
    N_("The legal service refused the legal event."),
    N_("The prosecution timeline is not available for your role."),
    N_("This alert does not exist or is not yours."),
    N_("This case does not exist or is not assigned to you."),
    N_("This field is required."),
    N_("This form has expired. Reload the page and try again."),
    N_("This link is not valid any more. Ask your administrator for a new one."),
    N_("This page does not exist."),
    N_("This user does not exist in your organisation."),
    N_("This user name is taken."),
    N_("Too many failed attempts: the account is locked for a while. Try again later or ask your administrator."),
    N_("Unknown language."),
    N_("Older alerts"),
    N_("The access record is not available right now."),
    N_("Newest alerts"),
    N_("First page"),
    N_("More cases"),
    N_("Calendar link revoked: calendars that used it stop updating."),
    N_("Use a three-letter currency code (PEN)."),
    N_("Use lower-case letters, digits and _ (e.g. judge_absent)."),
    N_("Use only letters, digits and . _ : - (at most 64)."),
    N_("User activated."),
    N_("User deactivated."),
    N_("User name or password is wrong."),
    N_("You cannot change this case."),
    N_("You cannot deactivate yourself."),
    N_("You cannot remove your own administrator role."),
    N_("Your password is set. Sign in with it."),
    N_("Your role does not give access to this page."),
    N_("must be at least 12 characters long"),
    N_("must be at most 256 characters long"),
    N_("must not start or end with spaces"),
    N_("the two passwords are not the same"),
)
