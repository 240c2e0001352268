"""Structured logs: every line the server writes to stderr is one JSON object.

skship's own events (``model.loaded``, ``backend.chosen``, ``request``,
``request.refused``…) are already JSON objects with an ``event`` member and are written
as they are; anything else (uvicorn's start-up and shutdown lines, a traceback) becomes
``{"event": "log", "level", "logger", "message", "pid"[, "exception"]}``. The same
configuration is applied in the parent and, through uvicorn, in every worker.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

__all__ = ["JsonFormatter", "log_config"]


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if message.startswith("{") and not record.exc_info:
            return message  # already an event of ours
        out: dict[str, Any] = {
            "event": "log",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": message,
            "pid": os.getpid(),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def log_config(level: str = "info", *, uvicorn: bool = True) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn's ``log_config`` and for the parent;
    ``uvicorn=False`` configures skship's logger only (uvicorn configured its own)."""
    lvl = level.upper()
    loggers: dict[str, Any] = {
        "skship.serve": {"handlers": ["stderr"], "level": lvl, "propagate": False}
    }
    if uvicorn:
        loggers.update(
            {
                "uvicorn": {"handlers": ["stderr"], "level": lvl, "propagate": False},
                "uvicorn.error": {"level": lvl},
                "uvicorn.access": {"handlers": ["stderr"], "level": lvl, "propagate": False},
            }
        )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "skship.serve.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": loggers,
    }
