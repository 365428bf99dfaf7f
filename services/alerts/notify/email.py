"""Alert e-mails: composition (no personal data of the child) and SMTP sending."""

from __future__ import annotations

import smtplib
import ssl
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

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


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def send(settings: AlertsSettings, to: str, subject: str, body: str) -> None:
    """One SMTP session per message; raises on any failure (the worker retries)."""
    msg = EmailMessage()
    msg["From"] = settings.smtp_from
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    timeout = settings.smtp_timeout_seconds
    smtp: smtplib.SMTP
    if settings.smtp_security == "ssl":
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with smtp:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(msg)
