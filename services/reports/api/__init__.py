"""HTTP routes of the reports service."""

from services.reports.api.routes import router

__all__ = ["router"]
