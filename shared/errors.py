"""One base error for centinela, carrying a machine reason besides the human message.

Why: consumers and APIs must tell apart *what* went wrong without parsing message strings (the legal
consumer used to look for a ``"rejected: "`` prefix). ``reason`` is a stable snake_case code that goes
into dead-letter headers, metrics labels and API bodies; the message is for people and, like every
log line, must never carry personal data (name the field, never echo its value).

Subclasses set ``reason`` and ``status_code`` as class keywords (``class Gone(CentinelaError,
status_code=410, reason="gone"): ...``) or class attributes; an instance may override ``reason``.
The shared app (``shared.app.create_app``) answers every uncaught ``CentinelaError`` with
``status_code`` and ``{"detail": message, "reason": reason}`` (plus ``field`` when given).
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "CentinelaError",
    "ConfigError",
    "InvalidInput",
    "Rejected",
    "StorageUnavailable",
    "Transient",
]


class CentinelaError(Exception):
    """Base of every error the project raises on purpose."""

    reason: str = "error"
    status_code: ClassVar[int] = 500
    # True when trying again later may succeed (broker or database down); consumers retry these
    # with backoff and never dead-letter them.
    transient: ClassVar[bool] = False

    def __init_subclass__(cls, *, status_code: int | None = None, reason: str | None = None) -> None:
        """``class NotFound(ServiceError, status_code=404, reason="not_found"): ...`` sets both in one line."""
        super().__init_subclass__()
        if status_code is not None:
            cls.status_code = status_code
        if reason is not None:
            cls.reason = reason

    def __init__(self, message: str = "", *, reason: str | None = None, field: str | None = None) -> None:
        if reason is not None:
            self.reason = reason
        self.field = field
        self.message = message or self.reason.replace("_", " ")
        super().__init__(self.message)

    def to_dict(self) -> dict[str, str]:
        """The body an API or a dead-letter record carries: message, reason and field; no values."""
        out = {"detail": self.message, "reason": self.reason}
        if self.field:
            out["field"] = self.field
        return out


class InvalidInput(CentinelaError, ValueError):
    """Input that can never be processed (decode, validation, out-of-range): 422 / dead-letter."""

    reason = "invalid_input"
    status_code = 422


class Rejected(CentinelaError):
    """Well-formed input the domain refuses (an illegal stage change, a closed case): 409 / dead-letter."""

    reason = "rejected"
    status_code = 409


class Transient(CentinelaError):
    """Something outside us is down for now; retry with backoff, never dead-letter."""

    reason = "transient"
    status_code = 503
    transient = True


class StorageUnavailable(Transient):
    """The database cannot be reached or did not answer in time."""

    reason = "storage_unavailable"
    # Seconds a client should wait before retrying (the Retry-After header of the 503).
    retry_after: ClassVar[int] = 5

    def __init__(self, message: str = "storage unavailable", *, reason: str | None = None) -> None:
        super().__init__(message, reason=reason)


class ConfigError(CentinelaError, ValueError):
    """A configuration file or setting is unusable; the message names the file and key."""

    reason = "config_invalid"
