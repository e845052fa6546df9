"""Sandbox building blocks: request/response values, the per-platform emulator base, shared state and faults.

Each platform lives under its own path prefix on one server: ``/x``, ``/facebook``, ``/linkedin``, ``/mastodon``,
``/bluesky``. An account points at the sandbox with ``base_url: http://127.0.0.1:PORT/<platform>``.
The control API lives under ``/_sandbox`` (see server.py).
"""

from __future__ import annotations

import json
import random
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Part:
    """One field of a multipart body."""

    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8")


def image_info(data: bytes) -> tuple[str, int, int] | None:
    """(MIME type, width, height) of image bytes as the platform's image processing sees them, or None."""
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            mime = Image.MIME.get(img.format or "", "")
            return mime, img.width, img.height
    except (UnidentifiedImageError, OSError, ValueError):
        return None


@dataclass
class Request:
    method: str
    path: str  # path below the platform prefix, e.g. "/2/tweets"
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8") or "null")

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)

    def multipart(self) -> dict[str, Part]:
        """The fields of a multipart/form-data body (name -> the first part of that name)."""
        from email.parser import BytesParser
        from email.policy import HTTP

        ctype = self.headers.get("content-type", "")
        if not ctype.startswith("multipart/"):
            return {}
        message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + self.body)
        out: dict[str, Part] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if isinstance(name, str) and name not in out:
                data = part.get_payload(decode=True)
                out[name] = Part(data if isinstance(data, bytes) else b"", part.get_filename(),
                                 part.get_content_type() if part.get("content-type") else None)
        return out

    def bearer(self) -> str | None:
        auth = self.headers.get("authorization", "")
        return auth[7:] if auth.lower().startswith("bearer ") else None


@dataclass
class Response:
    status: int
    body: Any = None  # dict/list -> JSON; bytes/str -> as is; None -> empty
    headers: dict[str, str] = field(default_factory=dict)
    #: "accepted, then the connection dropped": the server closes the socket without answering
    drop: bool = False

    def encoded(self) -> bytes:
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode("utf-8")
        return json.dumps(self.body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass
class Faults:
    """Faults for one platform, set through ``POST /_sandbox/faults``. Counters count down per request."""

    latency_ms: int = 0
    error_rate: float = 0.0  # share of create requests answered 503 *before* anything is created
    burst_429: int = 0  # the next N requests get 429 with reset headers
    burst_reset_seconds: int = 30
    #: every Nth request (0 = none) also gets a 429, so rate-limit answers mix with successes
    burst_429_every: int = 0
    #: each further burst 429 resets this many seconds later than the one before (distinct reset times)
    burst_reset_step_seconds: int = 0
    expire_tokens: bool = False  # every token is treated as expired
    drop_after_accept: int = 0  # the next N creates are stored, then the connection is dropped
    error_after_accept: int = 0  # the next N creates are stored, then answered 500
    #: per-account posting limit: R posts per window, enforced like the platform (429 + reset headers)
    rate_limit: int | None = None
    rate_window_seconds: int = 900
    #: the next N requests that carry an Authorization header are answered 400 with the platform's error shape,
    #: its message echoing that header (as some platforms and proxies do)
    echo_auth: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Sandbox:
    """State shared by every platform emulator: the ledger of accepted posts, faults, rate windows."""

    def __init__(self, seed: int | None = None) -> None:
        self.lock = threading.RLock()
        self.ledger: list[dict[str, Any]] = []
        #: indexes of the ledger, so a create costs the same with 10 or 100,000 posts in it (benchmarks)
        self._by_id: dict[tuple[str, str], dict[str, Any]] = {}
        self._texts: set[tuple[str, str, str, bool]] = set()  # (platform, account, text, is_reply)
        self._per_platform: dict[str, int] = {}
        self.faults: dict[str, Faults] = {}
        self.windows: dict[tuple[str, str], list[float]] = {}
        #: "requests" and "429" over all platforms, plus "<platform>:<status>" per answer (see ``count``)
        self.counters: dict[str, int] = {"requests": 0, "429": 0}
        self.random = random.Random(seed)
        self._bursts: dict[str, tuple[int, int]] = {}  # platform -> (requests seen, burst 429s answered)

    def reset(self) -> None:
        with self.lock:
            self.ledger.clear()
            self._by_id.clear()
            self._texts.clear()
            self._per_platform.clear()
            self.faults.clear()
            self.windows.clear()
            self._bursts.clear()
            self.counters = {"requests": 0, "429": 0}

    def count_answer(self, platform: str, status: int) -> None:
        """Count one answer the server sent (every 429 included, whatever produced it: window, burst)."""
        with self.lock:
            if status == 429:
                self.counters["429"] += 1
            key = f"{platform}:{status}"
            self.counters[key] = self.counters.get(key, 0) + 1

    def faults_for(self, platform: str) -> Faults:
        with self.lock:
            return self.faults.setdefault(platform, Faults())

    def set_faults(self, platform: str, **values: Any) -> Faults:
        with self.lock:
            current = self.faults_for(platform)
            for k, v in values.items():
                if not hasattr(current, k):
                    raise ValueError(f"unknown fault {k!r}")
                setattr(current, k, v)
            return current

    def take(self, platform: str, counter: str) -> bool:
        """Consume one unit of a count-down fault; True if it fired."""
        with self.lock:
            f = self.faults_for(platform)
            n = getattr(f, counter)
            if n > 0:
                setattr(f, counter, n - 1)
                return True
            return False

    def burst(self, platform: str) -> float | None:
        """Seconds until the reset of a burst 429 this request gets (``burst_429`` / ``burst_429_every``), or None.

        The k-th burst 429 of a platform resets ``burst_reset_seconds + k * burst_reset_step_seconds`` from now."""
        with self.lock:
            f = self.faults_for(platform)
            seen, fired = self._bursts.get(platform, (0, 0))
            seen += 1
            hit = f.burst_429 > 0 or (f.burst_429_every > 0 and seen % f.burst_429_every == 0)
            if f.burst_429 > 0:
                f.burst_429 -= 1
            self._bursts[platform] = (seen, fired + hit)
            return float(f.burst_reset_seconds + fired * f.burst_reset_step_seconds) if hit else None

    def roll_error(self, platform: str) -> bool:
        f = self.faults_for(platform)
        return f.error_rate > 0 and self.random.random() < f.error_rate

    def rate_check(self, platform: str, account: str) -> tuple[bool, int, int, float]:
        """Sliding-window per-account limit: (allowed, limit, remaining, reset_epoch). Counts the call if allowed."""
        f = self.faults_for(platform)
        now = time.time()
        if f.rate_limit is None:
            return True, 10_000, 10_000, now + f.rate_window_seconds
        with self.lock:
            hits = [t for t in self.windows.get((platform, account), []) if t > now - f.rate_window_seconds]
            if len(hits) >= f.rate_limit:
                self.windows[(platform, account)] = hits
                return False, f.rate_limit, 0, hits[0] + f.rate_window_seconds
            hits.append(now)
            self.windows[(platform, account)] = hits
            reset = hits[0] + f.rate_window_seconds
            return True, f.rate_limit, f.rate_limit - len(hits), reset

    def record(self, platform: str, account: str, remote_id: str, text: str, **extra: Any) -> dict[str, Any]:
        with self.lock:
            entry = {"seq": len(self.ledger) + 1, "platform": platform, "account": account, "remote_id": remote_id,
                     "text": text, "at": time.time(), **extra}
            self.ledger.append(entry)
            self._by_id[(platform, str(remote_id))] = entry
            self._texts.add((platform, account, text, bool(entry.get("in_reply_to"))))
            self._per_platform[platform] = self._per_platform.get(platform, 0) + 1
            return entry

    def find(self, platform: str, remote_id: str) -> dict[str, Any] | None:
        """The ledger entry of one accepted post that was not deleted since, or None."""
        with self.lock:
            entry = self._by_id.get((platform, str(remote_id)))
            return dict(entry) if entry and not entry.get("deleted") else None

    def delete(self, platform: str, remote_id: str) -> bool:
        """Delete one post: it stays in the ledger marked ``deleted``, leaves listings and lookups, and its text no
        longer counts as a duplicate (a platform compares with what the account still shows). False if unknown."""
        with self.lock:
            entry = self._by_id.get((platform, str(remote_id)))
            if entry is None or entry.get("deleted"):
                return False
            entry["deleted"] = True
            key = (platform, entry["account"], entry["text"], bool(entry.get("in_reply_to")))
            if not any(e is not entry and not e.get("deleted") and e["platform"] == platform
                       and e["account"] == key[1] and e["text"] == key[2] and bool(e.get("in_reply_to")) == key[3]
                       for e in self.ledger):
                self._texts.discard(key)
            return True

    def has_text(self, platform: str, account: str, text: str, *, replies: bool) -> bool:
        """Did ``account`` already post exactly ``text`` (top-level posts; replies too if ``replies``)?"""
        with self.lock:
            return (platform, account, text, False) in self._texts or (
                replies and (platform, account, text, True) in self._texts)

    def post_count(self, platform: str) -> int:
        with self.lock:
            return self._per_platform.get(platform, 0)

    def posts(self, platform: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(e) for e in self.ledger if platform is None or e["platform"] == platform]


#: platform -> its error body with ``message`` as the error text (PLATFORMS.md), for ``Faults.echo_auth``
ERROR_SHAPES: dict[str, Any] = {
    "x": lambda m: {"errors": [{"message": m}], "title": "Invalid Request", "detail": m,
                    "type": "https://api.twitter.com/2/problems/invalid-request"},
    "facebook": lambda m: {"error": {"message": m, "type": "OAuthException", "code": 100, "fbtrace_id": "AEcho"}},
    "linkedin": lambda m: {"status": 400, "code": "INVALID_REQUEST", "message": m},
    "mastodon": lambda m: {"error": m},
    "bluesky": lambda m: {"error": "InvalidRequest", "message": m},
}


class Platform(ABC):
    """One platform's emulation. ``handle`` answers every request under the platform's prefix."""

    name: str

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    def respond(self, req: Request, platform: str) -> Response:
        """What the server sends: the ``echo_auth`` fault, else ``handle``'s answer."""
        auth = req.headers.get("authorization")
        if auth and self.sandbox.take(platform, "echo_auth"):
            shape = ERROR_SHAPES.get(platform, lambda m: {"error": m})
            return Response(400, shape(f"Invalid request. Received headers: Authorization: {auth}"))
        return self.handle(req)

    @abstractmethod
    def handle(self, req: Request) -> Response:
        """Answer ``req`` exactly as the platform would (status, body, headers of PLATFORMS.md)."""
