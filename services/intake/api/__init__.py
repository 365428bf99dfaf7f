"""Thin HTTP layer of intake, one router per sub-resource; the use cases live in ``service``."""

from __future__ import annotations

from fastapi import APIRouter

from services.intake.api import (
    cases,
    documents,
    followups,
    oversight,
    prosecution,
    referrals,
    reintegration,
    risk,
    support,
)

router = APIRouter(prefix="/v1")
for _sub in (cases, support, risk, followups, reintegration, referrals, prosecution, documents, oversight):
    router.include_router(_sub.router)
