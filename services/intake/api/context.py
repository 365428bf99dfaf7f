"""What the routes need, built once at start-up and kept on ``app.state.intake``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from services.intake.domain.identity import IdentityCipher
from services.intake.settings import IntakeSettings
from services.intake.store.repository import AuditLog, CaseRepository


@dataclass
class Intake:
    settings: IntakeSettings
    repo: CaseRepository
    audit: AuditLog
    cipher: IdentityCipher
    person_ref_key: bytes
    notify: Callable[[], None]


def get_intake(request: Request) -> Intake:
    intake: Intake = request.app.state.intake
    return intake
