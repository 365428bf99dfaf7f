"""Structured, PII-free logging set-up shared by every process (the three APIs and the faust processor).

Only allow-listed ``extra`` keys reach the output: an extra is easy to add carelessly and request
bodies carry personal data. Exceptions are logged by type only (``exc_type``), never by message, since
messages may echo request values; a :class:`~shared.errors.CentinelaError` adds its machine ``reason``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "SAFE_EXTRA_KEYS",
    "JsonFormatter",
    "allow_log_keys",
    "install_json_formatter",
    "json_handler",
    "json_logging_config",
    "setup_logging",
]

# Pseudonymous ids, technical coordinates and counts only; never a name, a date of birth, free text.
SAFE_EXTRA_KEYS: set[str] = {
    "case_id",
    "event_id",
    "event_type",
    "request_id",
    "alert_id",
    "rule",
    "episode",
    "severity",
    "topic",
    "partition",
    "offset",
    "group",
    "exc",
    "reason",
    "attempt",
    "attempts",
    "count",
    "batch",
    "lag",
    "delay",
    "duration_ms",
    "status",
    "status_code",
    "method",
    "route",
    "service",
    "worker",
    "collection",
    "stage",
    "channel",
    "outcome",
}

NOISY_LOGGERS = ("kafka", "aiokafka", "pymongo", "urllib3")
# Where the faust processor's own output comes from (faust builds on mode and aiokafka).
FAUST_LOGGERS = ("faust", "mode", "aiokafka", "centinela")


def allow_log_keys(*keys: str) -> None:
    """Let more ``extra`` keys through (call at import time, from the module that logs them)."""
    SAFE_EXTRA_KEYS.update(keys)


def _type_name(value: Any) -> str:
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, BaseException):
        return type(value).__name__
    return str(value)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in SAFE_EXTRA_KEYS:
            value = record.__dict__.get(key)
            if value is not None:
                # ``exc`` is the exception *type*: callers pass a name, a class or (by mistake) the
                # exception itself, whose message could carry input values.
                doc[key] = _type_name(value) if key == "exc" else value
        exc_info = record.exc_info
        if exc_info and exc_info[0] is not None:
            doc["exc_type"] = exc_info[0].__name__
            reason = getattr(exc_info[1], "reason", None)
            if isinstance(reason, str) and "reason" not in doc:
                doc["reason"] = reason
            doc.setdefault("exc", exc_info[0].__name__)
        return json.dumps(doc, default=str)


def json_handler(stream: Any = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    return handler


def setup_logging(level: str = "INFO") -> None:
    root = logging.getLogger()
    root.handlers[:] = [json_handler()]
    root.setLevel(level.upper())
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)


def install_json_formatter(loggers: Iterable[str] = ("", *FAUST_LOGGERS)) -> int:
    """Put the JSON formatter on every handler of ``loggers`` (``""`` is the root); return how many.

    For processes whose framework configures logging itself (faust/mode replace the root handlers
    with a coloured console handler at worker start): call this once that set-up ran, e.g. from
    ``app.on_startup``. A root logger without handlers gets a JSON stderr handler.
    """
    changed = 0
    for name in loggers:
        logger = logging.getLogger(name or None)
        for handler in logger.handlers:
            handler.setFormatter(JsonFormatter())
            changed += 1
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(json_handler())
        changed += 1
    return changed


def json_logging_config(level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict with the JSON formatter on stderr.

    faust accepts it as ``faust.App(..., logging_config=json_logging_config(level))``; mode's worker
    then applies it instead of its coloured console set-up, so the processor logs like the APIs.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "shared.logging.JsonFormatter"}},
        "handlers": {"json": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["json"]},
        "loggers": {name: {"level": "WARNING"} for name in NOISY_LOGGERS},
    }
