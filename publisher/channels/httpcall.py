"""HTTP plumbing of the requests-based adapters (Mastodon, Bluesky): send with a timeout, classify failures.

Builds on ``_transport`` (shared with X, Facebook, LinkedIn) for "was anything sent?" and header parsing.

What happened on the wire decides the outcome class, never the text of an exception:

* the connection could not be opened (refused, DNS, connect timeout): nothing was sent -> TransientError
* the request went out and then the answer did not come (read timeout, reset, dropped connection):
  a create may have been applied -> OutcomeUnknown; a read only failed -> TransientError

Messages name the host and what failed; they never carry headers, bodies or credentials (and are passed through
``credentials.redact`` as a second line of defence).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import requests

from publisher.channels._transport import DEFAULT_TIMEOUT, as_int, epoch, transport_error
from publisher.channels.base import RateInfo

__all__ = ["as_int", "body_json", "epoch", "parse_iso", "rate_info", "retry_time", "send", "timeout_from"]


def timeout_from(options: dict[str, Any]) -> tuple[float, float]:
    """(connect, read) seconds: the shared default, or the account's options["timeout"] (a number or a pair)."""
    value = options.get("timeout")
    if value is None:
        return DEFAULT_TIMEOUT
    if isinstance(value, list | tuple):
        return float(value[0]), float(value[1])
    return float(value), float(value)


def send(session: requests.Session, channel: str, method: str, url: str, *, mutating: bool,
         timeout: tuple[float, float], **kwargs: Any) -> requests.Response:
    """Send one request; map transport failures to TransientError / OutcomeUnknown (see module docstring)."""
    host = urlsplit(url).netloc or url
    try:
        return session.request(method, url, timeout=timeout, allow_redirects=False, **kwargs)
    except requests.RequestException as e:
        raise transport_error(e, channel, f"the request to {host}", creating=mutating) from None


def body_json(resp: requests.Response) -> Any:
    """The response body as JSON, or None when it is not JSON."""
    try:
        return resp.json()
    except ValueError:
        return None


def body_object(resp: requests.Response) -> dict[str, Any]:
    """The response body when it is a JSON object, else an empty dict."""
    data = body_json(resp)
    return data if isinstance(data, dict) else {}


def parse_iso(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp (with or without microseconds, 'Z' or an offset) as an aware UTC datetime."""
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)


def rate_info(limit: int | None, remaining: int | None, reset_at: datetime | None) -> RateInfo | None:
    if limit is None and remaining is None and reset_at is None:
        return None
    return RateInfo(limit=limit, remaining=remaining, reset_at=reset_at)


def retry_time(reset_at: datetime | None, retry_after: str | None, fallback_seconds: float) -> datetime:
    """When to try again after a 429: the reset header, else Retry-After seconds, else a fallback back-off."""
    now = datetime.now(UTC)
    if reset_at is not None and reset_at > now:
        return reset_at
    if retry_after:
        try:
            return now + timedelta(seconds=max(1.0, float(retry_after)))
        except ValueError:
            pass
    return now + timedelta(seconds=fallback_seconds)
