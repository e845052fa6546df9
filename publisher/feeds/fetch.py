"""Fetching a feed like a good citizen, with requests: conditional GET (ETag, Last-Modified), gzip (requests asks
for it and decodes it), redirects followed by hand (at most 5, each hop's scheme checked; a chain of permanent
redirects reports the new URL so the caller can store it), a timeout, and a size cap on the *decoded* body (read as
a stream and stopped at the cap, so neither a 50 MB response nor a gzip bomb is ever held in memory).

Errors are ``FetchError`` with a ``kind`` the poller acts on: ``gone`` (410: the feed is disabled), ``scheme``,
``too_large``, ``http`` (4xx/5xx), ``unreachable`` (DNS, refused, timeout, TLS).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

MAX_BYTES = 5 * 1024 * 1024  # the largest real feed we saw is ~2 MB (a podcast with 1,000 episodes)
TIMEOUT = (10.0, 20.0)  # connect, read (between bytes)
MAX_REDIRECTS = 5
USER_AGENT = "publisher-feeds/1 (+https://example.org/publisher)"
_PERMANENT = (301, 308)
_REDIRECT = (301, 302, 303, 307, 308)


class FetchError(Exception):
    def __init__(self, kind: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


@dataclass
class Fetched:
    status: int  # 200, or 304 (not modified: body empty)
    body: bytes
    url: str  # where the body came from
    moved_to: str | None  # set when every hop was a permanent redirect: the feed's new URL
    etag: str | None
    last_modified: str | None
    content_type: str


def check_scheme(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise FetchError("scheme", f"{url[:200]!r} is not an http(s) URL; only http:// and https:// feeds are fetched")


def _environment_matters() -> bool:
    """Whether requests must consult the environment on every request: a proxy or a netrc is configured. When
    neither is, ``trust_env`` off skips that lookup (a scan of os.environ and a stat of ~/.netrc per request, a
    fifth of a 304 poll's CPU); the one other thing it reads, a CA bundle, is read once into the session."""
    import os

    if any(k.lower().endswith("_proxy") for k in os.environ) or os.environ.get("NETRC"):
        return True
    home = os.path.expanduser("~")
    return any(os.path.exists(os.path.join(home, f)) for f in (".netrc", "_netrc"))


def session(pool_size: int = 10) -> Any:
    """A requests session whose connections are kept alive and reused (``pool_size`` per host)."""
    import requests
    from requests.adapters import HTTPAdapter

    s = requests.Session()
    if not _environment_matters():
        import os

        s.trust_env = False
        s.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True  # as requests does
    adapter = HTTPAdapter(pool_connections=32, pool_maxsize=pool_size)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = USER_AGENT
    s.headers["Accept"] = ("application/rss+xml, application/atom+xml, application/feed+json, application/json;q=0.9, "
                           "application/xml;q=0.9, text/xml;q=0.8, */*;q=0.5")
    s.headers["Accept-Encoding"] = "gzip, deflate"
    return s


def fetch(url: str, etag: str | None = None, last_modified: str | None = None, *, http: Any = None,
          max_bytes: int = MAX_BYTES, timeout: tuple[float, float] = TIMEOUT) -> Fetched:
    import requests

    check_scheme(url)
    http = http or session()
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    current, permanent = url, True
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            r = http.get(current, headers=headers, timeout=timeout, stream=True, allow_redirects=False)
        except requests.RequestException as e:
            raise FetchError("unreachable", f"cannot reach {current[:200]}: {type(e).__name__}") from None
        with _releasing(r):
            if r.status_code in _REDIRECT and r.headers.get("Location"):
                permanent = permanent and r.status_code in _PERMANENT
                current = urljoin(current, r.headers["Location"])
                check_scheme(current)
                continue
            moved = current if permanent and current != url else None
            if r.status_code == 304:
                return Fetched(304, b"", current, moved, etag, last_modified, "")
            if r.status_code == 410:
                raise FetchError("gone", f"{current[:200]} answered 410 Gone: the feed was removed", 410)
            if r.status_code >= 400:
                raise FetchError("http", f"{current[:200]} answered HTTP {r.status_code}", r.status_code)
            declared = r.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes and "Content-Encoding" not in r.headers:
                raise FetchError("too_large", f"{current[:200]} is {int(declared):,} bytes; feeds larger than "
                                 f"{max_bytes:,} bytes are refused")
            body = bytearray()
            try:
                for chunk in r.iter_content(64 * 1024):
                    body += chunk
                    if len(body) > max_bytes:
                        raise FetchError("too_large", f"{current[:200]} sent more than {max_bytes:,} bytes "
                                         "(decoded); feeds this large are refused")
            except requests.RequestException as e:
                raise FetchError("unreachable", f"reading {current[:200]} failed: {type(e).__name__}") from None
            return Fetched(r.status_code, bytes(body), current, moved, r.headers.get("ETag"),
                           r.headers.get("Last-Modified"), r.headers.get("Content-Type", ""))
    raise FetchError("http", f"{url[:200]} redirects more than {MAX_REDIRECTS} times")


_SMALL = 64 * 1024


@contextmanager
def _releasing(r: Any) -> Iterator[Any]:
    """Close the response, handing its connection back to the pool for the next request (keep-alive): a body left
    unread (a 304, a redirect, an error page) is read first when it is small, else the connection is dropped."""
    try:
        yield r
    finally:
        if not r._content_consumed:
            declared = r.headers.get("Content-Length")
            if r.status_code == 304 or (declared and declared.isdigit() and int(declared) <= _SMALL):
                with suppress(Exception):
                    r.content  # noqa: B018 - reading it is the point: the connection is then reusable
        r.close()
