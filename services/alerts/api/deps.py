"""FastAPI dependencies of the alerts routers, as ``Annotated`` types the routes declare."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from services.alerts.adapters.live_stream import Broadcaster
from services.alerts.adapters.policy_file import EscalationPolicy
from services.alerts.api.audit import guard
from services.alerts.domain.visibility import READER_ROLES
from services.alerts.service import AlertsService
from services.alerts.service.configuration import Configuration
from services.alerts.service.inbox import Inbox
from services.alerts.settings import AlertsSettings
from shared.auth import Principal


def _service(request: Request) -> AlertsService:
    return request.app.state.alerts


def _inbox(request: Request) -> Inbox:
    return _service(request).inbox


def _configuration(request: Request) -> Configuration:
    return _service(request).configuration


def _live(request: Request) -> Broadcaster:
    return _service(request).live


def _policy(request: Request) -> EscalationPolicy:
    policy = _service(request).policy
    if policy is None:
        raise RuntimeError("the alerts service was built without its policy")
    return policy


def _settings(request: Request) -> AlertsSettings:
    return _service(request).settings


# role guards whose refusals (403) are audited
Reader = Annotated[Principal, Depends(guard(*READER_ROLES))]
Admin = Annotated[Principal, Depends(guard("admin"))]
InboxDep = Annotated[Inbox, Depends(_inbox)]
ConfigurationDep = Annotated[Configuration, Depends(_configuration)]
LiveDep = Annotated[Broadcaster, Depends(_live)]
PolicyDep = Annotated[EscalationPolicy, Depends(_policy)]
SettingsDep = Annotated[AlertsSettings, Depends(_settings)]
