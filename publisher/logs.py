"""Structured logging with secrets redacted.

Every handler gets a filter that renders the record and redacts it with ``credentials.redact`` (each known secret
and anything shaped like a token: Authorization values, OAuth parameters, ``access_token=``, JWTs), the structured
``fields`` of a record included. The loggers of tweepy, requests-oauthlib, oauthlib and urllib3 (which log tokens and
secret-bearing URLs at DEBUG) and the chatty INFO of alembic and Dramatiq are pinned to WARNING.

``PUBLISHER_LOG_FORMAT=json`` writes JSON lines (``JsonFormatter``): at, level, logger, msg, and the record's
``fields`` (``log.info(..., extra={"fields": {...}})``) as top-level keys.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from publisher.credentials import redact

PINNED = ("tweepy", "requests_oauthlib", "oauthlib", "urllib3", "facebook", "mastodon", "dramatiq", "alembic", "pika")


def scrub(text: str) -> str:
    return redact(text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not break logging
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            record.fields = {k: scrub(v) if isinstance(v, str) else v for k, v in fields.items()}
        if record.exc_info and record.exc_info[1] is not None:
            # tracebacks only at DEBUG, and scrubbed
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {"at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            data.update({k: v for k, v in fields.items() if k not in data})
        if record.exc_text:
            data["exc"] = record.exc_text
        return json.dumps(data, ensure_ascii=False, default=str)


def setup(level: str = "INFO", fmt: str = "text", stream: object = None) -> None:
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_publisher", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler._publisher = True  # type: ignore[attr-defined]
    handler.addFilter(RedactingFilter())
    handler.setFormatter(formatter(fmt))
    root.addHandler(handler)
    root.setLevel(level)
    pin()


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def formatter(fmt: str) -> logging.Formatter:
    return JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT)


def adopt(fmt: str = "text") -> None:
    """For a process whose logging someone else set up (Dramatiq's worker processes): keep its handlers, switch them
    to JSON lines when asked, and add the redaction filter and the pins."""
    if fmt == "json":
        for h in logging.getLogger().handlers:
            h.setFormatter(JsonFormatter())
    pin()


def pin() -> None:
    for name in PINNED:
        logging.getLogger(name).setLevel(logging.WARNING)
    # every handler anywhere (pytest's caplog, a host application's) gets the filter too
    for h in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in h.filters):
            h.addFilter(RedactingFilter())
