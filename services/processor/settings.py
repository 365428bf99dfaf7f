"""The processor's settings (today the alerts settings object carries the processor's fields too)."""

from services.alerts.settings import AlertsSettings

__all__ = ["AlertsSettings"]
