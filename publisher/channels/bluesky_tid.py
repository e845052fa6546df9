"""AT Protocol TIDs (timestamp identifiers), and the deterministic record key of a delivery.

A TID is a 64-bit integer written as 13 characters of base32-sortable (``234567a-z``): the top bit 0, then 53 bits
of microseconds since the Unix epoch, then a 10-bit clock id. ``app.bsky.feed.post`` records are keyed by TIDs.

``rkey_for(delivery_id)`` makes the record key a pure function of the delivery id, so every attempt of a delivery,
in any process, creates the same record key: a second create collides instead of duplicating the post, and
``com.atproto.repo.getRecord`` on that key is a definitive "was it published?". The mapping:

    h     = first 8 bytes of SHA-256("publisher:bluesky:rkey:" + delivery_id), as a big-endian integer
    clock = h & 0x3FF                                   (10 bits)
    micro = TID_BASE_US + ((h >> 10) mod 2**45)         (2023-01-01T00:00Z plus up to ~407 days)
    rkey  = tid(micro, clock)

The timestamps land between 2023-01-01 and 2024-02-11, always in the past, so no service sees a record key "from the
future"; 55 bits of hash leave collisions between deliveries negligible (about 1 in 10**16 for a million posts).
"""

from __future__ import annotations

import hashlib
import re
import threading
import time

ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
TID_RE = re.compile(r"^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$")
TID_BASE_US = 1_672_531_200 * 1_000_000  # 2023-01-01T00:00:00Z
_SPAN = 2**45

_lock = threading.Lock()
_last_us = 0


def tid(micros: int, clock_id: int) -> str:
    """Encode a TID from a microsecond timestamp and a 10-bit clock id."""
    if not 0 <= micros < 2**53 or not 0 <= clock_id < 1024:
        raise ValueError("TID timestamp must fit 53 bits and clock id 10 bits")
    value = (micros << 10) | clock_id
    return "".join(ALPHABET[(value >> (5 * (12 - i))) & 31] for i in range(13))


def decode(value: str) -> tuple[int, int]:
    """(microseconds, clock id) of a TID."""
    if not is_tid(value):
        raise ValueError(f"not a TID: {value!r}")
    n = 0
    for ch in value:
        n = n * 32 + ALPHABET.index(ch)
    return n >> 10, n & 0x3FF


def is_tid(value: str) -> bool:
    return bool(TID_RE.match(value))


def rkey_for(delivery_id: str) -> str:
    """The record key of a delivery: a valid TID that depends only on the delivery id (see module docstring)."""
    h = int.from_bytes(hashlib.sha256(f"publisher:bluesky:rkey:{delivery_id}".encode()).digest()[:8], "big")
    return tid(TID_BASE_US + ((h >> 10) % _SPAN), h & 0x3FF)


def now_tid(clock_id: int = 0) -> str:
    """A fresh, strictly increasing TID for now (what a PDS uses for revisions and server-chosen keys)."""
    global _last_us
    with _lock:
        _last_us = max(int(time.time() * 1_000_000), _last_us + 1)
        return tid(_last_us, clock_id)
