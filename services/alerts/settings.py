"""Alerts settings (``CENTINELA_*`` variables)."""

from __future__ import annotations

from shared.settings import CommonSettings


class AlertsSettings(CommonSettings):
    service_name: str = "alerts"
