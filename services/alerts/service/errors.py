"""What a use case refuses, with the reason; the API turns each into its status code."""

from __future__ import annotations


class ServiceError(Exception):
    status = 400

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NotFound(ServiceError):
    """Missing, or outside the caller's scope: both answer the same, so ids cannot be probed."""

    status = 404


class Forbidden(ServiceError):
    status = 403


class Conflict(ServiceError):
    status = 409


class InvalidField(ServiceError):
    status = 422

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
