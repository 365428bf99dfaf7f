"""Legal settings (``CENTINELA_*`` variables)."""

from __future__ import annotations

from shared.settings import CommonSettings


class LegalSettings(CommonSettings):
    service_name: str = "legal"
