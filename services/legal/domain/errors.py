"""Why an update was refused, as a type: callers branch on the class or ``code``, never on text.

``reason`` names the field and the rule, never the value (values may carry personal data); it is
what integrators read in a result and what ``court-updates.dlq`` carries in ``dlq.reason``.
"""

from __future__ import annotations

from typing import ClassVar


class Rejection(ValueError):
    """An update that will never be accepted as sent (resending it changes nothing)."""

    code: ClassVar[str] = "rejected"

    def __init__(self, reason: str, code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if code is not None:
            self.code = code  # type: ignore[misc]  # an instance may narrow the class's code


class InvalidUpdate(Rejection):
    """Not the court update format (shape, types, out-of-range values); ``errors`` per field."""

    code = "invalid"

    def __init__(self, reason: str, code: str | None = None, *, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(reason, code)
        self.errors = errors or []


class IllegalUpdate(Rejection):
    """Well-formed but it contradicts the prosecution's history or the procedure."""

    code = "illegal"
