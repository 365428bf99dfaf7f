"""Every dependency the legal routes take, as ``Annotated`` aliases: routes name what they need."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request

from services.legal.service import LegalService
from shared.auth import Principal, require


def get_service(request: Request) -> LegalService:
    service: LegalService = request.app.state.service
    return service


Service = Annotated[LegalService, Depends(get_service)]

Integrator = Annotated[Principal, Depends(require("court_integrator"))]
# court updates: integrator systems, and people recording on cases in their scope
Recorder = Annotated[Principal, Depends(require("court_integrator", "legal_advocate", "supervisor"))]
# a case's timeline: its advocate, its org's supervisors
Reader = Annotated[Principal, Depends(require("legal_advocate", "supervisor"))]
Supervisor = Annotated[Principal, Depends(require("supervisor"))]

CaseId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")]
