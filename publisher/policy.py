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

_RESERVE = """
local gap_key, day_key, next_key = KEYS[1], KEYS[2], KEYS[3]
local now_ms, gap_ms, max_day, day_ttl = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local returning, grid_ms = ARGV[5] == '1', tonumber(ARGV[6])
if gap_ms > 0 then
  local ttl = redis.call('PTTL', gap_key)
  if ttl > 0 then
    local until_ms = math.ceil((now_ms + ttl) / grid_ms) * grid_ms
    if not returning then
      local promised = tonumber(redis.call('GET', next_key) or '0')
      if promised + gap_ms > until_ms then until_ms = promised + gap_ms end
      redis.call('SET', next_key, tostring(until_ms), 'PX', until_ms - now_ms + gap_ms)
    end
    return {'gap', tostring(until_ms)}
  end
end
if max_day > 0 and tonumber(redis.call('GET', day_key) or '0') >= max_day then return {'max_per_day', '0'} end
if gap_ms > 0 then redis.call('SET', gap_key, '1', 'PX', gap_ms) end
if max_day > 0 then
  redis.call('INCR', day_key)
  redis.call('EXPIRE', day_key, day_ttl)
end
return {'ok', '0'}
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

    def wait_until(self, account: AccountConfig, kind: str, now: datetime, returning: bool = False) -> Wait | None:
        """None (go: the slot is taken now), or when to try again. A post told to wait for the minimum gap is
        promised its own slot: the gap's end for the first one waiting, a gap after the last promise for each next
        one (``next`` in Redis), so the posts of a burst come back one per slot instead of all at the gap's end,
        where all but one would wait again, round after round. A post coming back at its promised slot
        (``returning``) that finds the gap still taken (the post before it went out late) waits only for the gap's
        end, keeping its place instead of taking a slot behind every later promise."""
        policy = account.policy
        if kind in policy.exempt_kinds:
            return None
        quiet = quiet_until(account, now)
        if quiet is not None:
            return Wait(quiet, "quiet_hours")
        if self._script is None or (not policy.min_gap_seconds and not policy.max_per_day):
            return None
        local_day = now.astimezone(ZoneInfo(account.timezone)).date().isoformat()
        rule, until_ms = self._script(
            keys=[f"{self.namespace}:{account.name}:gap", f"{self.namespace}:{account.name}:day:{local_day}",
                  f"{self.namespace}:{account.name}:next"],
            args=[int(now.timestamp() * 1000), policy.min_gap_seconds * 1000, policy.max_per_day or 0, 3 * 86400,
                  1 if returning else 0, SLOT_GRID_MS])
        rule = rule.decode() if isinstance(rule, bytes) else rule
        if rule == "gap":
            return Wait(datetime.fromtimestamp(int(until_ms) / 1000, UTC), "min_gap")
        if rule == "max_per_day":
            return Wait(_next_local_midnight(account, now), "max_per_day")
        return None

    def calling(self, account: AccountConfig, kind: str) -> None:
        """The platform call of a post ``wait_until`` let through starts now: its minimum gap restarts here. The
        slot was reserved when the post was cleared, and a worker's calls run one after another, so the call may
        start a while later; without this the next post, cleared a gap after the reservation, could reach the
        platform less than a gap after this one (measured: 4.4 s for a 5 s gap in a burst)."""
        policy = account.policy
        if self.client is None or not policy.min_gap_seconds or kind in policy.exempt_kinds:
            return
        self.client.set(f"{self.namespace}:{account.name}:gap", "1", px=policy.min_gap_seconds * 1000)
