"""HTTP plumbing shared by the X, Facebook and LinkedIn adapters (requests only; no SDK imports).

* ``RoutingAdapter``: a requests transport adapter that rewrites a hard-coded SDK host to ``account.base_url``
  (tweepy and facebook-sdk cannot be told another host), enforces a timeout on every request (the SDKs send none),
  and adds the credential headers at the last moment, so the SDKs and their DEBUG logs only ever see placeholders.
* ``failed_before_sending``: tells "nothing was sent" (connect refused, DNS, connect timeout) from "maybe applied"
  (reset, read timeout after the request went out).
* ``transport_error``: the outcome error for a transport failure, by that rule (every adapter uses it).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import requests
from requests.adapters import HTTPAdapter

DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds


class RoutingAdapter(HTTPAdapter):
    """Send requests for ``origin`` (e.g. ``https://api.twitter.com``) to ``target`` (e.g. ``http://127.0.0.1:8/x``)."""

    def __init__(self, origin: str, target: str | None, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 sign: Callable[[requests.PreparedRequest], None] | None = None) -> None:
        super().__init__(max_retries=0)
        self.origin = origin.rstrip("/")
        self.target = (target or origin).rstrip("/")
        self.timeout = timeout
        self.sign = sign

    def send(self, request: requests.PreparedRequest, stream: bool = False,  # type: ignore[override]
             timeout: Any = None, verify: Any = True, cert: Any = None,
             proxies: dict[str, str] | None = None) -> requests.Response:
        if self.sign is not None:
            self.sign(request)  # signs the URL the platform would see (OAuth 1.0a covers the host)
        url = request.url or ""
        if url.startswith(self.origin):
            request.url = self.target + url[len(self.origin):]
        return super().send(request, stream=stream, timeout=timeout or self.timeout, verify=verify, cert=cert,
                            proxies=proxies)


def session_for(origin: str, target: str | None, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                sign: Callable[[requests.PreparedRequest], None] | None = None,
                session: requests.Session | None = None) -> requests.Session:
    """A session (new or given) whose requests to ``origin`` go to ``target`` with a timeout, signed by ``sign``."""
    session = session or requests.Session()
    adapter = RoutingAdapter(origin, target, timeout=timeout, sign=sign)
    session.mount(origin.rstrip("/") + "/", adapter)
    if target and not target.startswith(origin):
        session.mount(target.rstrip("/") + "/", adapter)
    return session


def failed_before_sending(exc: BaseException) -> bool:
    """True if the request provably never reached the server (so retrying cannot double-post)."""
    from urllib3.exceptions import NewConnectionError

    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, NewConnectionError | ConnectionRefusedError):
            return True
        reason = getattr(e, "reason", None)
        todo.extend([e.__cause__, e.__context__, reason if isinstance(reason, BaseException) else None])
        todo.extend(a for a in e.args if isinstance(a, BaseException))
    return False


def transport_error(exc: requests.RequestException, channel: str, what: str, *, creating: bool) -> Exception:
    """The outcome for a failed HTTP call: nothing sent -> TransientError; sent, then no answer -> OutcomeUnknown
    for a create (it may have been applied), TransientError for a read. Raise it ``from None``."""
    from publisher.credentials import redact
    from publisher.errors import OutcomeUnknown, TransientError

    kind = type(exc).__name__
    if failed_before_sending(exc):
        return TransientError(redact(f"{channel}: could not connect to send {what} ({kind}); nothing was sent"))
    if creating:
        return OutcomeUnknown(redact(f"{channel}: {what} was sent but no answer came back ({kind}); it may have been applied"))
    return TransientError(redact(f"{channel}: {what} failed in transit ({kind})"))


def epoch(value: str | None) -> datetime | None:
    """Unix seconds (as sent in rate headers) to an aware UTC datetime; None if absent or garbled."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(int(float(value)), UTC)
    except (TypeError, ValueError, OverflowError):
        return None


def as_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None
