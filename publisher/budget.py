"""Per-account posting budgets shared by every worker, in Redis.

A sliding window per account (``posts`` per ``window`` seconds, from the account's ``options.rate_limit`` or the
adapter's documented ``default_rate``), taken atomically in a Lua script, plus a "blocked until" time fed by the
platform's own rate headers (remaining 0, or a 429). ``acquire`` never sleeps: it answers "go" or "not before T".
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

_ACQUIRE = """
local key, blocked_key = KEYS[1], KEYS[2]
local now, window, limit, member = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local blocked = tonumber(redis.call('GET', blocked_key) or '0')
if blocked > now then return tostring(blocked) end
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) >= limit then
  local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  return tostring(tonumber(oldest[2]) + window)
end
redis.call('ZADD', key, now, member)
redis.call('EXPIRE', key, math.ceil(window) + 60)
return '0'
"""


class Budget:
    def __init__(self, client: Any, namespace: str = "publisher:budget", margin: float = 0.02) -> None:
        self.client = client
        self.namespace = namespace
        self.margin = margin  # share of the window kept in reserve for clock skew between us and the platform
        self._script = client.register_script(_ACQUIRE)

    def acquire(self, account: str, rate: tuple[int, int] | None, now: float | None = None,
                member: str | None = None) -> datetime | None:
        """Take one post from ``account``'s budget. None = go; otherwise the UTC time to try again. ``member``
        names the slot taken, so that ``refund`` can give it back."""
        now = time.time() if now is None else now
        posts, window = rate if rate else (1_000_000, 1)
        window_eff = window * (1 + self.margin)
        res = self._script(keys=[f"{self.namespace}:{account}", f"{self.namespace}:{account}:blocked"],
                           args=[now, window_eff, posts, member or f"{now}:{uuid.uuid4().hex[:8]}"])
        until = float(res.decode() if isinstance(res, bytes) else res)
        return None if until == 0 else datetime.fromtimestamp(until, UTC)

    def refund(self, account: str, member: str) -> None:
        """Give back a slot ``acquire`` took for a post that did not go after all (its cadence said not yet)."""
        self.client.zrem(f"{self.namespace}:{account}", member)

    def refund_many(self, slots: list[tuple[str, str]]) -> None:
        """``refund`` for several (account, member) slots in one round trip."""
        if not slots:
            return
        pipe = self.client.pipeline(transaction=False)
        for account, member in slots:
            pipe.zrem(f"{self.namespace}:{account}", member)
        pipe.execute()

    def blocked_until(self, account: str, now: float | None = None) -> datetime | None:
        """For an account with no posts-per-window budget: None = go, or the time the platform said to wait for."""
        now = time.time() if now is None else now
        value = self.client.get(f"{self.namespace}:{account}:blocked")
        until = float(value) if value is not None else 0.0
        return datetime.fromtimestamp(until, UTC) if until > now else None

    def blocked_many(self, accounts: list[str], now: float | None = None) -> dict[str, datetime | None]:
        """``blocked_until`` for several accounts in one round trip (the accounts of one broker message)."""
        if not accounts:
            return {}
        now = time.time() if now is None else now
        values = self.client.mget([f"{self.namespace}:{a}:blocked" for a in accounts])
        out: dict[str, datetime | None] = {}
        for account, value in zip(accounts, values, strict=True):
            until = float(value) if value is not None else 0.0
            out[account] = datetime.fromtimestamp(until, UTC) if until > now else None
        return out

    def block_until(self, account: str, until: datetime) -> None:
        """The platform said the account is out of budget until ``until`` (a 429, or remaining == 0)."""
        ts = until.timestamp()
        key = f"{self.namespace}:{account}:blocked"
        ttl = max(1, int(ts - time.time()) + 60)
        current = self.client.get(key)
        if current is None or float(current) < ts:
            self.client.set(key, ts, ex=ttl)
