"""XRPC calls with a Bluesky session: one login per account per process, refreshed in place, never a login per post.

Sessions live in a module-level cache keyed by (service URL, identifier, hash of the app password), so every adapter
instance in a worker process shares one. Renewal is single-flight per account (a lock per key): the first thread
that sees ``ExpiredToken`` refreshes; the others find the new token and carry on.

Renewal order (PLATFORMS.md 5.1, 5.3): a call answered 401, or 400 ``ExpiredToken``/``InvalidToken``, is retried once
after ``com.atproto.server.refreshSession`` (Bearer refreshJwt); if the refresh fails, after one new
``createSession``; if the login is refused, AuthExpired. Every minted JWT is registered as a secret.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from typing import Any

import requests

from publisher.channels import httpcall
from publisher.credentials import register_secret
from publisher.errors import AuthExpired, PermanentError, RateLimited, TransientError

log = logging.getLogger(__name__)

_RENEW_ERRORS = ("ExpiredToken", "InvalidToken")


@dataclass(frozen=True)
class Session:
    did: str
    handle: str
    access_jwt: str
    refresh_jwt: str

    def __repr__(self) -> str:  # never show the tokens
        return f"Session(did={self.did!r}, handle={self.handle!r})"


_cache_lock = threading.Lock()
_sessions: dict[tuple[str, str, str], Session] = {}
_key_locks: dict[tuple[str, str, str], threading.Lock] = {}


def forget_sessions() -> None:
    """Drop every cached session (tests; a changed app password is a new key anyway)."""
    with _cache_lock:
        _sessions.clear()


def xrpc_error(resp: requests.Response) -> tuple[str, str]:
    """(error name, message) of an XRPC error body; empty strings when absent."""
    body = httpcall.body_json(resp)
    if isinstance(body, dict):
        return str(body.get("error") or ""), str(body.get("message") or "")
    return "", ""


def needs_renewal(resp: requests.Response) -> bool:
    return resp.status_code == 401 or (resp.status_code == 400 and xrpc_error(resp)[0] in _RENEW_ERRORS)


class XrpcClient:
    """Authenticated XRPC for one account. ``call`` returns the response; only auth failures raise here."""

    def __init__(self, base_url: str, identifier: str, password: str, timeout: tuple[float, float],
                 http: requests.Session) -> None:
        self.base_url = base_url.rstrip("/")
        self.identifier = identifier
        self._password = password
        self.timeout = timeout
        self.http = http
        self._key = (self.base_url, identifier, hashlib.sha256(password.encode()).hexdigest())
        with _cache_lock:
            self._lock = _key_locks.setdefault(self._key, threading.Lock())

    def url(self, nsid: str) -> str:
        return f"{self.base_url}/xrpc/{nsid}"

    def _send(self, method: str, nsid: str, *, mutating: bool, token: str | None = None,
              **kwargs: Any) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers.update(kwargs.pop("headers", None) or {})  # e.g. uploadBlob's Content-Type
        resp = httpcall.send(self.http, "bluesky", method, self.url(nsid), mutating=mutating, timeout=self.timeout,
                             headers=headers, **kwargs)
        log.debug("bluesky %s %s -> %s", method, nsid, resp.status_code)
        return resp

    # -- session --

    def session(self) -> Session:
        """The cached session, logging in first if there is none."""
        with _cache_lock:
            current = _sessions.get(self._key)
        if current is not None:
            return current
        with self._lock:
            with _cache_lock:
                current = _sessions.get(self._key)
            return current if current is not None else self._create()

    def _store(self, body: Any) -> Session:
        try:
            session = Session(did=str(body["did"]), handle=str(body["handle"]), access_jwt=str(body["accessJwt"]),
                              refresh_jwt=str(body["refreshJwt"]))
        except (TypeError, KeyError):
            raise TransientError("bluesky: the session answer lacked its tokens") from None
        register_secret(session.access_jwt)
        register_secret(session.refresh_jwt)
        with _cache_lock:
            _sessions[self._key] = session
        return session

    def _create(self) -> Session:
        """com.atproto.server.createSession with the app password (caller holds the account lock)."""
        if not self.identifier or not self._password:
            raise AuthExpired("bluesky: the account needs the credentials 'identifier' and 'app_password'")
        resp = self._send("POST", "com.atproto.server.createSession", mutating=False,
                          json={"identifier": self.identifier, "password": self._password})
        if resp.status_code == 200:
            return self._store(httpcall.body_json(resp))
        with _cache_lock:
            _sessions.pop(self._key, None)
        error, message = xrpc_error(resp)
        if resp.status_code == 429:
            retry_at = httpcall.retry_time(httpcall.epoch(resp.headers.get("RateLimit-Reset")),
                                           resp.headers.get("Retry-After"), fallback_seconds=300)
            raise RateLimited("bluesky: too many logins for this account; next attempt later", retry_at)
        if resp.status_code in (400, 401):
            raise AuthExpired(f"bluesky refused the login of {self.identifier!r} ({resp.status_code} {error}); "
                              "create a new app password and run `publisher accounts verify`")
        if resp.status_code == 403:
            raise PermanentError(f"bluesky: login refused ({error}: {message})")
        raise TransientError(f"bluesky: login failed with {resp.status_code}")

    def _renew(self, stale: Session) -> Session:
        """Replace ``stale``: refreshSession, else one createSession. Single flight per account."""
        with self._lock:
            with _cache_lock:
                current = _sessions.get(self._key)
            if current is not None and current is not stale:
                return current  # another thread renewed it meanwhile
            resp = self._send("POST", "com.atproto.server.refreshSession", mutating=False, token=stale.refresh_jwt)
            if resp.status_code == 200:
                log.debug("bluesky session of %s refreshed", stale.handle)
                return self._store(httpcall.body_json(resp))
            log.debug("bluesky refresh of %s failed (%s); logging in again", stale.handle, resp.status_code)
            return self._create()

    def call(self, method: str, nsid: str, *, mutating: bool = False, **kwargs: Any) -> requests.Response:
        """An authenticated call; renewed and retried once when the token is expired or rejected."""
        session = self.session()
        resp = self._send(method, nsid, mutating=mutating, token=session.access_jwt, **kwargs)
        if not needs_renewal(resp):
            return resp
        # the request was refused at authentication: nothing was applied, so sending it again is safe
        session = self._renew(session)
        resp = self._send(method, nsid, mutating=mutating, token=session.access_jwt, **kwargs)
        if needs_renewal(resp):
            error, _ = xrpc_error(resp)
            raise AuthExpired(f"bluesky rejected the renewed session of {self.identifier!r} "
                              f"({resp.status_code} {error or 'AuthenticationRequired'})")
        return resp

    def public(self, method: str, nsid: str, **kwargs: Any) -> requests.Response:
        """An unauthenticated read (resolveHandle)."""
        return self._send(method, nsid, mutating=False, **kwargs)
