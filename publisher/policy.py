"""An account's posting cadence, enforced just before publishing: quiet hours, a minimum gap, a maximum per day.

Quiet hours are wall-clock times in the account's IANA zone (``zoneinfo``, so a quiet night across a DST change
ends at the right instant). The gap and the daily count are reserved atomically in Redis (one Lua script per
account), so any number of workers together keep them; a reservation is taken before the platform call and not
given back if the call fails, which errs on the side of posting less. Kinds listed in ``exempt_kinds`` (by default
``ticket``: an incident update at 03:00 must not wait for the morning) skip every rule.

``wait_until`` never sleeps: it answers "go" (None) or the UTC time to try again, with the rule that said so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from publisher.settings import AccountConfig

#: one reservation per account: KEYS gap, day, next of each account and ARGV now_ms, gap_ms, max_day, day_ttl,
#: returning, grid_ms, token of each (the token, the delivery's id, is what the gap key holds: ``calling`` checks the
#: reservation is still this delivery's), three keys and seven values per account, taken in order in one atomic call (the
#: deliveries of one broker message: one round trip instead of one each); a flat list of (rule, until_ms) back
_RESERVE = """
local out = {}
for i = 0, #KEYS / 3 - 1 do
  local gap_key, day_key, next_key = KEYS[3 * i + 1], KEYS[3 * i + 2], KEYS[3 * i + 3]
  local a = 7 * i
  local now_ms, gap_ms, max_day, day_ttl = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3]),
    tonumber(ARGV[a + 4])
  local returning, grid_ms = ARGV[a + 5] == '1', tonumber(ARGV[a + 6])
  local rule, until_ms = 'ok', '0'
  local ttl = 0
  if gap_ms > 0 then ttl = redis.call('PTTL', gap_key) end
  if ttl > 0 then
    local slot = math.ceil((now_ms + ttl) / grid_ms) * grid_ms
    if not returning then
      local promised = tonumber(redis.call('GET', next_key) or '0')
      if promised + gap_ms > slot then slot = promised + gap_ms end
      redis.call('SET', next_key, tostring(slot), 'PX', slot - now_ms + gap_ms)
    end
    rule, until_ms = 'gap', tostring(slot)
  elseif max_day > 0 and tonumber(redis.call('GET', day_key) or '0') >= max_day then
    rule = 'max_per_day'
  else
    if gap_ms > 0 then redis.call('SET', gap_key, ARGV[a + 7], 'PX', gap_ms) end
    if max_day > 0 then
      redis.call('INCR', day_key)
      redis.call('EXPIRE', day_key, day_ttl)
    end
  end
  out[#out + 1] = rule
  out[#out + 1] = until_ms
end
return out
"""


#: the platform call of a cleared post starts: it may go only while the gap is still its own reservation (or
#: nobody's: no call started within a gap); then the gap restarts now, held by it. Otherwise the gap's remaining ms
_CALLING = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl < 1 then ttl = 1 end
  return ttl
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 0
"""

#: a slot the minimum gap gives is rounded up to this grid (never earlier than the gap's end): posts of many accounts
#: then come back at the same instants and share broker messages (``Scheduler.messages``) instead of one message
#: each (measured in the top-of-the-hour burst: 10,000 accounts' slots a few ms apart)
SLOT_GRID_MS = 250

#: how a delivery's ``last_error`` starts while it waits for a slot the minimum gap promised it (``Wait.reason``)
GAP_WAIT = "account policy min_gap:"


@dataclass(frozen=True)
class Wait:
    until: datetime
    rule: str  # quiet_hours | min_gap | max_per_day

    @property
    def reason(self) -> str:
        return f"account policy {self.rule}: waits until {self.until.isoformat(timespec='seconds')}"


def _hm(value: str) -> time:
    h, m = value.split(":")
    return time(int(h), int(m))


def quiet_until(account: AccountConfig, now: datetime) -> datetime | None:
    """The UTC end of the quiet period ``now`` falls in, or None outside quiet hours."""
    if not account.policy.quiet_hours:
        return None
    zone = ZoneInfo(account.timezone)
    start, end = (_hm(v) for v in account.policy.quiet_hours)
    local = now.astimezone(zone)
    t = local.time().replace(second=0, microsecond=0, tzinfo=None)
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    end_day = local.date() if (start < end or t < end) else local.date() + timedelta(days=1)
    return _local_to_utc(end_day, end, zone)


def _local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime:
    """Wall-clock ``day at`` in ``zone`` as UTC; a time skipped by a DST change means the first instant after it."""
    naive = datetime.combine(day, at)
    first = naive.replace(tzinfo=zone).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == naive:
        return first
    # in a spring-forward gap: the wall clock passes ``at`` at the moment of the jump, between the two readings
    instant = naive.replace(tzinfo=zone, fold=1).astimezone(UTC)
    while instant.astimezone(zone).replace(tzinfo=None) < naive and instant < first:
        instant += timedelta(minutes=1)
    return instant


def _next_local_midnight(account: AccountConfig, now: datetime) -> datetime:
    zone = ZoneInfo(account.timezone)
    return _local_to_utc(now.astimezone(zone).date() + timedelta(days=1), time(0, 0), zone)


class Cadence:
    """Per-account cadence shared by every worker (Redis); quiet hours alone without a client."""

    def __init__(self, client: Any = None, namespace: str = "publisher:policy") -> None:
        self.client = client
        self.namespace = namespace
        self._script = client.register_script(_RESERVE) if client is not None else None
        self._calling = client.register_script(_CALLING) if client is not None else None

    def wait_until(self, account: AccountConfig, kind: str, now: datetime, returning: bool = False,
                   token: str = "1") -> Wait | None:
        """None (go: the slot is taken now), or when to try again. A post told to wait for the minimum gap is
        promised its own slot: the gap's end for the first one waiting, a gap after the last promise for each next
        one (``next`` in Redis), so the posts of a burst come back one per slot instead of all at the gap's end,
        where all but one would wait again, round after round. A post coming back at its promised slot
        (``returning``) that finds the gap still taken (the post before it went out late) waits only for the gap's
        end, keeping its place instead of taking a slot behind every later promise. ``token`` names the post
        (its delivery id): a gap it reserves holds it, for ``calling``."""
        return self.wait_many([(account, kind, returning, token)], now)[0]

    def wait_many(self, asks: list[tuple[AccountConfig, str, bool, str]], now: datetime) -> list[Wait | None]:
        """``wait_until`` for several posts (account, kind, returning, token), decided in order as if asked one
        after another, with one round trip to Redis for all of them (the posts of one broker message)."""
        out: list[Wait | None] = [None] * len(asks)
        keys: list[str] = []
        args: list[int | str] = []
        asked: list[int] = []  # which of ``asks`` went to the script, in order
        now_ms = int(now.timestamp() * 1000)
        for k, (account, kind, returning, token) in enumerate(asks):
            policy = account.policy
            if kind in policy.exempt_kinds:
                continue
            quiet = quiet_until(account, now)
            if quiet is not None:
                out[k] = Wait(quiet, "quiet_hours")
                continue
            if self._script is None or (not policy.min_gap_seconds and not policy.max_per_day):
                continue
            local_day = now.astimezone(ZoneInfo(account.timezone)).date().isoformat()
            keys += [f"{self.namespace}:{account.name}:gap", f"{self.namespace}:{account.name}:day:{local_day}",
                     f"{self.namespace}:{account.name}:next"]
            args += [now_ms, policy.min_gap_seconds * 1000, policy.max_per_day or 0, 3 * 86400, 1 if returning else 0,
                     SLOT_GRID_MS, token]
            asked.append(k)
        if not asked:
            return out
        assert self._script is not None  # nothing is asked without it
        flat = self._script(keys=keys, args=args)
        for n, k in enumerate(asked):
            rule, until_ms = flat[2 * n], flat[2 * n + 1]
            rule = rule.decode() if isinstance(rule, bytes) else rule
            if rule == "gap":
                out[k] = Wait(datetime.fromtimestamp(int(until_ms) / 1000, UTC), "min_gap")
            elif rule == "max_per_day":
                out[k] = Wait(_next_local_midnight(asks[k][0], now), "max_per_day")
        return out

    def calling(self, account: AccountConfig, kind: str, token: str) -> Wait | None:
        """The platform call of a post ``wait_until`` let through starts now: its minimum gap restarts here. The
        slot was reserved when the post was cleared, and a worker's calls run one after another, so the call may
        start a while later; without this the next post, cleared a gap after the reservation, could reach the
        platform less than a gap after this one (measured: 4.4 s for a 5 s gap in a burst).

        ``token`` (the delivery id given to ``wait_until``): the call may start only while the gap is still
        this post's reservation, or nobody's: when the call starts more than a gap after the reservation, another
        post of the account may have been cleared and called meanwhile (measured: 4.68 s for a 5 s gap in the
        PostgreSQL hour burst). Then the answer is the Wait until that post's gap ends, and no call may be made."""
        policy = account.policy
        if self.client is None or not policy.min_gap_seconds or kind in policy.exempt_kinds:
            return None
        assert self._calling is not None
        left = int(self._calling(keys=[f"{self.namespace}:{account.name}:gap"],
                                 args=[token, policy.min_gap_seconds * 1000]))
        if left == 0:
            return None
        now_ms = int(datetime.now(UTC).timestamp() * 1000)
        until_ms = -(-(now_ms + left) // SLOT_GRID_MS) * SLOT_GRID_MS
        return Wait(datetime.fromtimestamp(until_ms / 1000, UTC), "min_gap")
