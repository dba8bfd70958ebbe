"""Logging setup: text or JSON lines on stderr, stdlib ``logging`` only.

Redaction is the job of ``SecretBytes`` (it prints as a marker), not of a filter here.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from types import TracebackType
from typing import Any

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]

__all__ = ["configure_logging", "JSONFormatter", "TextFormatter", "format_exception_safely"]


def format_exception_safely(exc_info: ExcInfo) -> str:
    """A traceback with frames and the exception type only: the message may echo input (a secret).

    Applies to every ``exc_info`` log line, secretsync's and libraries' alike.
    """
    import traceback

    exc_type, exc, tb = exc_info
    frames = "".join(traceback.format_tb(tb)) if tb is not None else ""
    chain = []
    seen = set()
    cause = exc.__cause__ or exc.__context__ if exc is not None else None
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        chain.append(type(cause).__name__)
        cause = cause.__cause__ or cause.__context__
    caused_by = f" (after {', '.join(chain)})" if chain else ""
    name = exc_type.__name__ if exc_type is not None else "Exception"
    return f"Traceback (most recent call last):\n{frames}{name}: <message withheld>{caused_by}"


class TextFormatter(logging.Formatter):
    """The text log format; tracebacks show frames and types, never exception messages."""

    def formatException(self, ei: ExcInfo) -> str:  # noqa: N802 - logging's API name
        return format_exception_safely(ei)


class JSONFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, and any ``extra`` fields."""

    _standard = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._standard and not key.startswith("_"):
                entry[key] = value if isinstance(value, (int, float, bool, type(None))) else str(value)
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__
            entry["traceback"] = format_exception_safely(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str = "warning", fmt: str = "text") -> None:
    """Send secretsync's (and libraries') logs to stderr at ``level`` in ``fmt``."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(getattr(logging, level.upper()))
