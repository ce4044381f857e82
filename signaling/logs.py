"""Structured logs: one JSON object per line, with the record's `extra` fields.

Invite tokens are never passed to a logger; `redact` is the last guard for text that might
carry one (an exception message quoting a request).
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}
# An itsdangerous token: base64url payload "." base64url signature.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{20,}")


def redact(text: str) -> str:
    return _TOKEN.sub("[token]", text)


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": round(time.time(), 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key in _STANDARD:
                continue
            if isinstance(value, str):
                entry[key] = redact(value)
            elif isinstance(value, (int, float, bool)) or value is None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str) -> None:
    """Send every logger, uvicorn's included, to stderr as JSON lines."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
