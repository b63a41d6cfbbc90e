"""Structured logging: one logger per component (fleet.engine, providers.eks, ...), stable keys, text or JSON.

Pass context as ``extra`` with the stable keys, the same in the core and in every provider: ``policy``,
``run``, ``wave``, ``cluster``, ``provider``, ``operation``, ``step``, ``reason`` (and ``clusters``, ``epoch``,
``shard``, ``path`` where they apply). A component may add its own (the notifier: ``endpoint``, ``event``).

Secrets registered with ``register_secret`` (API tokens, credentials read from files) are masked in every
record, whatever the logger, so a token can never reach the logs even through an exception message.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from typing import Any

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
_RESERVED = set(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {"message", "asctime"}


def register_secret(value: str | None) -> None:
    if value and len(value) >= 4:
        with _LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    for s in _SECRETS:
        if s in text:
            text = text.replace(s, "***")
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _SECRETS:
            record.msg = redact(str(record.msg))
            if isinstance(record.args, tuple):
                record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
            for k, v in list(record.__dict__.items()):
                if k not in _RESERVED and isinstance(v, str):
                    setattr(record, k, redact(v))
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in record.__dict__.items() if k not in _RESERVED and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + "Z",
            "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage(),
        }
        out.update(_extras(record))
        if record.exc_info:
            out["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, default=str)


def _one_line(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\r", "\\r").replace("\n", "\\n")


def _value(v: Any) -> str:
    """A ``key=value`` value: as is when plain, JSON-quoted when it has spaces, quotes or line breaks."""
    text = str(v)
    if text and not any(c in text for c in ' "=\n\r\\'):
        return text
    return json.dumps(text, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``TIME LEVEL logger: message key=value ...``: one line per record, always (line breaks in the message,
    the values or a traceback are escaped as ``\\n``)."""

    def format(self, record: logging.LogRecord) -> str:
        base = (f"{self.formatTime(record, '%Y-%m-%dT%H:%M:%S')}Z {record.levelname:<7} {record.name}: "
                f"{_one_line(record.getMessage())}")
        extras = _extras(record)
        if extras:
            base += " " + " ".join(f"{k}={_value(v)}" for k, v in extras.items())
        if record.exc_info:
            base += " error=" + _one_line(redact(self.formatException(record.exc_info)))
        return base


def configure(fmt: str = "text", level: str = "INFO", stream: Any = None) -> None:
    import time
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.formatter.converter = time.gmtime  # type: ignore[union-attr]
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in ("apscheduler", "uvicorn.access", "botocore", "urllib3", "azure", "kubernetes", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
