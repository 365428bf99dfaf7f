"""Sends one alert e-mail over SMTP (the texts are composed in ``domain.messages``)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from services.alerts.settings import AlertsSettings


def send(settings: AlertsSettings, to: str, subject: str, body: str) -> None:
    """One SMTP session per message; raises on any failure (the delivery worker retries)."""
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
