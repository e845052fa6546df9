"""Time slots (Buffer's queue) and the cadence an account's deliveries will really keep. Pure functions: no store,
no clock; the caller passes the account, the times already taken and where to start.

An account's ``slots`` are wall-clock times in its zone, either every day (``["09:00", "12:30"]``) or per weekday
(``{mon: [...], tue: [...]}``; a day not listed has none). A slot is free when no occupied time falls within the
account's ``min_gap_seconds`` of it (or at the same minute, without a gap), it is outside quiet hours, and the local
day still has room under ``max_per_day``. Wall-clock times are turned into instants with ``zoneinfo``: a slot in
the spring-forward gap is the first instant after the jump, one in the autumn fold its first reading.
"""

from __future__ import annotations

import bisect
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from publisher.policy import _hm, _local_to_utc, quiet_until
from publisher.settings import AccountConfig

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: how far ahead ``next_slots`` looks before it gives up (a year of days)
HORIZON_DAYS = 366


def day_slots(account: AccountConfig, day: date) -> list[time]:
    """The account's slot times on local ``day``, sorted."""
    slots = account.slots
    if slots is None:
        return []
    if isinstance(slots, dict):
        return sorted(_hm(s) for s in slots.get(WEEKDAYS[day.weekday()], []))
    return sorted(_hm(s) for s in slots)


def _local_day(at: datetime, zone: ZoneInfo) -> date:
    return at.astimezone(zone).date()


def next_slots(account: AccountConfig, occupied: Iterable[datetime], start: datetime, n: int) -> list[datetime]:
    """The next ``n`` free slots of ``account`` at or after ``start`` (UTC), in order. Raises ValueError when the
    account has no slots or fewer than ``n`` are free within a year."""
    if n <= 0:
        return []
    if not account.slots:
        raise ValueError(f"account {account.name!r} has no slots")
    zone = ZoneInfo(account.timezone)
    gap = timedelta(seconds=account.policy.min_gap_seconds)
    taken = sorted(t.astimezone(UTC) for t in occupied)
    per_day = Counter(_local_day(t, zone) for t in taken)
    limit = account.policy.max_per_day
    out: list[datetime] = []
    day = _local_day(start, zone)
    for _ in range(HORIZON_DAYS):
        for at in day_slots(account, day):
            if limit is not None and per_day[day] >= limit:
                break
            instant = _local_to_utc(day, at, zone)
            if instant < start or quiet_until(account, instant) is not None:
                continue
            if _clashes(taken, instant, gap):
                continue
            out.append(instant)
            bisect.insort(taken, instant)
            per_day[day] += 1
            if len(out) == n:
                return out
        day += timedelta(days=1)
    raise ValueError(f"account {account.name!r} has only {len(out)} free slot(s) in the next {HORIZON_DAYS} days, "
                     f"not {n}")


def _clashes(taken: list[datetime], instant: datetime, gap: timedelta) -> bool:
    near = max(gap, timedelta(seconds=59))
    i = bisect.bisect_left(taken, instant - near)
    return i < len(taken) and taken[i] < instant + near


def cadence(account: AccountConfig, due: list[datetime], kind: str = "note") -> list[datetime]:
    """When each of ``due`` (UTC, any order) will really go out under the account's cadence, in the order given:
    quiet hours push to their end, ``min_gap_seconds`` after the one before, ``max_per_day`` to the next local
    midnight. What ``policy.Cadence`` does at publish time, played ahead (for ``--dry-run``)."""
    policy = account.policy
    if kind in policy.exempt_kinds:
        return list(due)
    zone = ZoneInfo(account.timezone)
    gap = timedelta(seconds=policy.min_gap_seconds)
    order = sorted(range(len(due)), key=lambda i: due[i])
    out: list[datetime] = [due[i] for i in range(len(due))]
    last: datetime | None = None
    per_day: Counter[date] = Counter()
    for i in order:
        t = due[i]
        for _ in range(10_000):
            quiet = quiet_until(account, t)
            if quiet is not None:
                t = quiet
                continue
            if last is not None and gap and t < last + gap:
                t = last + gap
                continue
            day = _local_day(t, zone)
            if policy.max_per_day is not None and per_day[day] >= policy.max_per_day:
                t = _local_to_utc(day + timedelta(days=1), time(0, 0), zone)
                continue
            break
        per_day[_local_day(t, zone)] += 1
        last = t
        out[i] = t
    return out
