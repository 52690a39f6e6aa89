"""Log lines as JSON objects (``ATLAS_LOG_FORMAT=json``), one per line, for log pipelines:
``{"ts", "level", "logger", "message"}`` plus ``event_id`` / ``customer_id`` when the line is
about one (passed as ``extra=``), and ``exception`` with the traceback."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import orjson

CONTEXT_FIELDS = ("event_id", "customer_id")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()
