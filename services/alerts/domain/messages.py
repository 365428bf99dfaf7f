"""What alert e-mails say, and which webhook subscriptions an alert goes to — pure, no I/O.

Messages carry ids, the rule, what is overdue and a link: no personal data of the child, and
the evidence stays behind the authenticated API.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from services.alerts.settings import AlertsSettings


def alert_link(settings: AlertsSettings, alert_id: str) -> str:
    return f"{settings.public_base_url.rstrip('/')}/v1/alerts/{alert_id}"


def _human(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            n = seconds // size
            return f"{n} {unit}{'s' if n != 1 else ''}"
    return f"{seconds} seconds"


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def raised_message(settings: AlertsSettings, alert: dict[str, Any]) -> dict[str, str]:
    """Only ids, the rule, what is overdue and a link: the evidence stays behind the authenticated API."""
    subject = f"[centinela] {alert['severity']} alert {alert['rule']} on case {alert['case_id']}"
    body = (
        "A centinela alert on one of your cases needs your attention.\n\n"
        f"Case: {alert['case_id']}\n"
        f"Rule: {alert['rule']}\n"
        f"Severity: {alert['severity']}\n"
        f"What is overdue: {alert.get('summary') or alert['rule']}\n"
        f"Raised at: {_iso(alert['raised_at'])}\n\n"
        f"Open the alert (sign-in required): {alert_link(settings, alert['_id'])}\n\n"
        "This message never carries personal data of the child.\n"
    )
    return {"subject": subject, "body": body}


def escalated_message(
    settings: AlertsSettings, alert: dict[str, Any], level: int, after: timedelta | None
) -> dict[str, str]:
    """``after`` is the severity's escalation time in force; None when the policy no longer has one
    (changed since the escalation), and then the text does not claim a waiting time."""
    waited = f"within {_human(after * level)}" if after is not None else f"and reached escalation level {level}"
    subject = (
        f"[centinela] escalation level {level}: {alert['severity']} alert {alert['rule']} "
        f"on case {alert['case_id']} not acknowledged"
    )
    body = (
        f"An alert of your organisation has not been acknowledged {waited}.\n\n"
        f"Case: {alert['case_id']}\n"
        f"Rule: {alert['rule']}\n"
        f"Severity: {alert['severity']}\n"
        f"Escalation level: {level}\n"
        f"Assigned advocate: {alert.get('advocate_id') or '(none)'}\n"
        f"What is overdue: {alert.get('summary') or alert['rule']}\n"
        f"Raised at: {_iso(alert['raised_at'])}\n\n"
        f"Open the alert (sign-in required): {alert_link(settings, alert['_id'])}\n\n"
        "This message never carries personal data of the child.\n"
    )
    return {"subject": subject, "body": body}


def matches(sub: dict[str, Any], alert: dict[str, Any]) -> bool:
    """Does webhook subscription ``sub`` want ``alert``? Empty filter lists mean "everything"."""
    if sub.get("rules") and alert.get("rule") not in sub["rules"]:
        return False
    if sub.get("severities") and alert.get("severity") not in sub["severities"]:
        return False
    return not (sub.get("org_id") and alert.get("org_id") != sub["org_id"])
