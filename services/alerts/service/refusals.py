"""What a use case refuses, with the reason; the API turns each into its status code.

They are the project's :class:`shared.errors.CentinelaError` (a machine ``reason`` code besides the
message); the alerts API keeps its own body shape for them (``detail`` a message, or for a bad field
the same list as a validation error), which its clients and tests rely on.
"""

from __future__ import annotations

from shared.errors import CentinelaError


class ServiceError(CentinelaError, status_code=400, reason="refused"):
    """Base of the alerts service's refusals."""


class NotFound(ServiceError, status_code=404, reason="not_found"):
    """Missing, or outside the caller's scope: both answer the same, so ids cannot be probed."""


class Forbidden(ServiceError, status_code=403, reason="forbidden"): ...


class Conflict(ServiceError, status_code=409, reason="conflict"): ...


class InvalidField(ServiceError, status_code=422, reason="invalid_input"):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message, field=field)
