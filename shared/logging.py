"""Structured, PII-free logging set-up shared by every process."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key in ("case_id", "event_id", "request_id", "rule", "topic"):
            value = getattr(record, key, None)
            if value is not None:
                doc[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The exception type only: exception messages may echo request values.
            doc["exc_type"] = record.exc_info[0].__name__
        return json.dumps(doc, default=str)


def setup_logging(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("kafka", "aiokafka", "pymongo", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
