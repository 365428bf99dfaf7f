"""What alert e-mails say, and which webhook subscriptions an alert goes to — pure, no I/O.

Messages carry the rule in plain words, the severity, the case code and a link to the alert's page
in the console, in the recipient's language (Spanish by default, English): no personal data of the
child, and the evidence and summary stay behind sign-in.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from services.alerts.domain.rule_texts import RULE_TEXTS, SEVERITY_TEXTS
from services.alerts.i18n import pick, translations

if TYPE_CHECKING:
    from services.alerts.settings import AlertsSettings


def alert_link(settings: AlertsSettings, alert_id: str) -> str:
    """The console's page of the alert (``CENTINELA_PUBLIC_BASE_URL`` is the console's address)."""
    return f"{settings.public_base_url.rstrip('/')}/v1/alerts/{alert_id}"


class _Texts:
    """The e-mail texts of one language: gettext of that catalogue, and the shared formatting."""

    def __init__(self, settings: AlertsSettings, language: str | None) -> None:
        self.language = pick(language, settings.alerts_default_language)
        t = translations(self.language)
        self._ = t.gettext
        self.n_ = t.ngettext
        self.tz = ZoneInfo(settings.alerts_email_time_zone)

    def rule(self, rule_id: str) -> str:
        text = RULE_TEXTS.get(rule_id)
        return self._(text) if text else rule_id

    def severity(self, severity: str) -> str:
        text = SEVERITY_TEXTS.get(severity)
        return self._(text) if text else severity

    def when(self, value: Any) -> str:
        """Peruvian order (dd/mm/aaaa, 24 h) in the organisation's time zone."""
        if isinstance(value, str):
            try:
                value = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                return value
        if not isinstance(value, datetime):
            return str(value)
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        local = value.astimezone(self.tz)
        return f"{local.strftime('%d/%m/%Y %H:%M')} ({self.tz.key})"

    def duration(self, delta: timedelta) -> str:
        seconds = int(delta.total_seconds())
        n_ = self.n_
        if seconds >= 86400 and seconds % 86400 == 0:
            return n_("%(n)d day", "%(n)d days", seconds // 86400) % {"n": seconds // 86400}
        if seconds >= 3600 and seconds % 3600 == 0:
            return n_("%(n)d hour", "%(n)d hours", seconds // 3600) % {"n": seconds // 3600}
        if seconds >= 60 and seconds % 60 == 0:
            return n_("%(n)d minute", "%(n)d minutes", seconds // 60) % {"n": seconds // 60}
        return n_("%(n)d second", "%(n)d seconds", seconds) % {"n": seconds}

    def footer(self, settings: AlertsSettings, alert: dict[str, Any]) -> str:
        _ = self._
        return (
            _("Open the alert in the console (sign-in required): {link}").format(
                link=alert_link(settings, alert["_id"])
            )
            + "\n\n"
            + _("This message never carries personal data of the child.")
            + "\n"
        )

    def body(self, settings: AlertsSettings, alert: dict[str, Any], opening: str, *middle: str) -> str:
        """``opening``, then what happened, case and severity, ``middle``, rule and time, and the footer."""
        _ = self._
        lines = [
            _("What happened: {rule}").format(rule=self.rule(alert["rule"])),
            _("Case: {case}").format(case=alert["case_id"]),
            _("Severity: {severity}").format(severity=self.severity(alert["severity"])),
            *middle,
            _("Rule: {rule_id}").format(rule_id=alert["rule"]),
            _("Raised at: {when}").format(when=self.when(alert["raised_at"])),
        ]
        return opening + "\n\n" + "\n".join(lines) + "\n\n" + self.footer(settings, alert)


def raised_message(settings: AlertsSettings, alert: dict[str, Any], language: str | None = None) -> dict[str, str]:
    """The rule in plain words, severity, case code and the console link, in the recipient's language
    (``language``; the setting's default when None or unknown). No evidence, summary or personal data:
    those stay behind sign-in."""
    t = _Texts(settings, language)
    _ = t._
    case, rule, severity = alert["case_id"], t.rule(alert["rule"]), t.severity(alert["severity"])
    subject = _("[centinela] {severity} alert: {rule} (case {case})").format(severity=severity, rule=rule, case=case)
    body = t.body(settings, alert, _("A centinela alert on one of your cases needs your attention."))
    return {"subject": subject, "body": body, "language": t.language}


def escalated_message(
    settings: AlertsSettings,
    alert: dict[str, Any],
    level: int,
    after: timedelta | None,
    language: str | None = None,
) -> dict[str, str]:
    """``after`` is the severity's escalation time in force; None when the policy no longer has one
    (changed since the escalation), and then the text does not claim a waiting time."""
    t = _Texts(settings, language)
    _ = t._
    case, rule, severity = alert["case_id"], t.rule(alert["rule"]), t.severity(alert["severity"])
    if after is not None:
        waited = _("An alert of your organisation has not been acknowledged within {waited}.").format(
            waited=t.duration(after * level)
        )
    else:
        waited = _(
            "An alert of your organisation has not been acknowledged and reached escalation level {level}."
        ).format(level=level)
    subject = _("[centinela] escalation level {level}: {severity} alert not acknowledged: {rule} (case {case})").format(
        level=level, severity=severity, rule=rule, case=case
    )
    body = t.body(
        settings,
        alert,
        waited,
        _("Escalation level: {level}").format(level=level),
        _("Assigned advocate: {advocate}").format(advocate=alert.get("advocate_id") or _("(none)")),
    )
    return {"subject": subject, "body": body, "language": t.language}


def matches(sub: dict[str, Any], alert: dict[str, Any]) -> bool:
    """Does webhook subscription ``sub`` want ``alert``? Empty filter lists mean "everything"."""
    if sub.get("rules") and alert.get("rule") not in sub["rules"]:
        return False
    if sub.get("severities") and alert.get("severity") not in sub["severities"]:
        return False
    return not (sub.get("org_id") and alert.get("org_id") != sub["org_id"])
