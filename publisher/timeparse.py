"""Parse user times: ISO 8601 with offset, ``now``, relative (``+90m``, ``+90 minutes``, ``+2h``, ``+1d``), a
wall-clock time in the account's (or ``--tz``) IANA zone (``2026-12-07 10:00``), or the forms people type:
``tomorrow 09:00``, ``today 17:00``, ``09:00`` (its next occurrence), ``mon 10:00`` / ``monday 10:00`` (the next
Monday at 10:00, today if that is still ahead). Always returns aware UTC.

Relative days and weeks (``+1d``, ``+2w``) are calendar days in the zone: ``+1d`` is the same wall-clock time
tomorrow, also across a daylight saving change (23 or 25 hours later); seconds, minutes and hours are exact.

Daylight saving: a wall-clock time that does not exist (the spring-forward gap) is refused, suggesting the first
time after the gap and an explicit offset. One that exists twice (the autumn fold) is read as the first (the
earlier instant, still on summer time) and a note says so (``notes``), naming the offset for the second. Never a
silent shift.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from publisher.errors import InputError

_REL = re.compile(r"\+(\d+) *(s|sec|secs|seconds?|m|min|mins|minutes?|h|hr|hrs|hours?|d|days?|w|weeks?)")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})")
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_WALL_FORMATS = ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def zone(name: str) -> ZoneInfo:
    if len(name) > 255:  # zoneinfo walks a path per "/": a long name is no zone, and could exhaust the stack
        raise InputError(f"unknown time zone {_short(name)!r}", hint="use an IANA name such as Europe/Oslo or UTC")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory ('Europe') or a too long name
        raise InputError(f"unknown time zone {_short(name)!r}", hint="use an IANA name such as Europe/Oslo or UTC") from None


def _short(raw: str) -> str:
    return raw if len(raw) <= 80 else raw[:77] + "..."



class Strict(list[str]):
    """Pass as ``notes`` to refuse an ambiguous wall-clock time instead of reading it as the first and noting it:
    for files (a campaign), whose author is not there to read a note and can write the offset."""


def _wall(naive: datetime, tz: ZoneInfo, raw: str, notes: list[str] | None = None) -> datetime:
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    round_trip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != naive:
        after = first.astimezone(UTC).astimezone(tz)  # the same instant as the old offset: just past the gap
        raise InputError(
            f"{_short(raw)!r} does not exist in {tz.key}: clocks skip that hour for daylight saving",
            hint=f"did you mean {after:%Y-%m-%d %H:%M} ({after.tzname()})? Pick a time outside the gap, or give "
            f"an offset, e.g. {naive:%Y-%m-%dT%H:%M}{_fmt(first.utcoffset())}",
        )
    if isinstance(notes, Strict):
        raise InputError(f"{_short(raw)!r} happens twice in {tz.key}: clocks go back that hour",
                         hint=f"give an offset: {naive:%Y-%m-%dT%H:%M}{_fmt(first.utcoffset())} for the first, "
                              f"{naive:%Y-%m-%dT%H:%M}{_fmt(second.utcoffset())} for the second")
    if notes is not None:
        notes.append(f"{naive:%Y-%m-%d %H:%M} happens twice in {tz.key} (clocks go back): read as the first, "
                     f"{naive:%H:%M}{_fmt(first.utcoffset())}; for the second give "
                     f"{naive:%Y-%m-%dT%H:%M}{_fmt(second.utcoffset())}")
    return first.astimezone(UTC)


def _local(day: date, hour: int, minute: int, tz: ZoneInfo, raw: str, notes: list[str] | None) -> datetime:
    return _wall(datetime(day.year, day.month, day.day, hour, minute), tz, raw, notes)


def _clock(text: str, raw: str, what: str) -> tuple[int, int]:
    m = _CLOCK.fullmatch(text)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise InputError(f"cannot read the time of day in {what} {_short(raw)!r}",
                         hint="give it as HH:MM, e.g. tomorrow 09:00 or mon 10:00")
    return int(m.group(1)), int(m.group(2))


def _typed(s: str, raw: str, tz: ZoneInfo, now: datetime, what: str, notes: list[str] | None) -> datetime | None:
    """``tomorrow 09:00``, ``today 09:00``, ``09:00``, ``mon 10:00``: None if ``s`` is none of them."""
    words = s.lower().split()
    today = now.astimezone(tz).date()
    if len(words) == 1 and _CLOCK.fullmatch(words[0]):
        h, m = _clock(words[0], raw, what)
        at = _local(today, h, m, tz, raw, notes)
        return at if at > now else _local(today + timedelta(days=1), h, m, tz, raw, notes)
    if len(words) != 2:
        return None
    day, clock = words
    if day in ("today", "tomorrow"):
        h, m = _clock(clock, raw, what)
        return _local(today + timedelta(days=1 if day == "tomorrow" else 0), h, m, tz, raw, notes)
    names = [n for n in _DAYS if len(day) >= 3 and n.startswith(day)]
    if len(names) != 1:
        return None
    h, m = _clock(clock, raw, what)
    ahead = (_DAYS.index(names[0]) - today.weekday()) % 7
    at = _local(today + timedelta(days=ahead), h, m, tz, raw, notes)
    return at if at > now else _local(today + timedelta(days=ahead + 7), h, m, tz, raw, notes)


def _relative(n: int, unit: str, tz: ZoneInfo, now: datetime) -> datetime:
    """``now`` plus ``n`` units; days and weeks are calendar days in ``tz`` (the same wall-clock time), falling back
    to exact hours where that wall-clock time does not exist or is ambiguous on the day."""
    key = unit[0]
    if key not in "dw":
        return now + timedelta(**{_UNITS[key]: n})
    local = now.astimezone(tz).replace(tzinfo=None) + timedelta(**{_UNITS[key]: n})
    first, second = local.replace(tzinfo=tz, fold=0), local.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    return now + timedelta(**{_UNITS[key]: n})


def describe(at: datetime, tz: ZoneInfo, also: Iterable[ZoneInfo] = ()) -> str:
    """How every accepted time is echoed: in the account's zone and in UTC, e.g.
    ``Mon 2026-12-07 10:00 CET (09:00 UTC)``; the UTC date too when it differs. ``also``: the zones of the post's
    other accounts, each said once when its clock differs (``...; 04:00 EST in America/New_York``), so a time read
    in one account's zone is never a surprise in another's."""
    local = at.astimezone(tz)
    utc = at.astimezone(UTC)
    clock = f"{utc:%H:%M} UTC" if utc.date() == local.date() else f"{utc:%Y-%m-%d %H:%M} UTC"
    others = []
    for z in dict.fromkeys(also, None):
        there = at.astimezone(z)
        if there.utcoffset() != local.utcoffset():
            day = f"{there:%a} " if there.date() != local.date() else ""
            others.append(f"{day}{there:%H:%M} {there.tzname()} in {z.key}")
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()} ({'; '.join([clock, *others])})"


def _fmt(offset: timedelta | None) -> str:
    total = int((offset or timedelta()).total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return f"{sign}{total // 3600:02d}:{total % 3600 // 60:02d}"


def parse_time(raw: str, tz: ZoneInfo, now: datetime | None = None, *, allow_past: bool = False,
               what: str = "--at", notes: list[str] | None = None) -> datetime:
    """Parse ``raw`` into aware UTC. A time in the past is an error unless it is ``now`` or ``allow_past``.
    Every time the calendar cannot hold (year 10000, year 1 at +14:00, +99999999d) is an InputError. A reading
    the user should know about (an ambiguous wall-clock time read as the first) is appended to ``notes``."""
    now = now or datetime.now(UTC)
    try:
        return _parse(raw, tz, now, allow_past, what, notes)
    except (OverflowError, ValueError):
        raise InputError(f"{what} {_short(raw)!r} is outside the calendar publisher can schedule in",
                         hint="give a time between now and the year 9999") from None


def _parse(raw: str, tz: ZoneInfo, now: datetime, allow_past: bool, what: str, notes: list[str] | None) -> datetime:
    s = raw.strip()
    if not s:
        raise InputError(f"{what} is empty", hint="give a time such as now, +2h or 2026-12-01 09:00")
    if s.lower() == "now":
        return now
    m = _REL.fullmatch(s.lower())
    if m:
        return _relative(int(m.group(1)), m.group(2), tz, now)
    typed = _typed(s, raw, tz, now, what, notes)
    if typed is not None:
        return typed
    try:
        parsed = datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        parsed = None
        for fmt in _WALL_FORMATS:
            try:
                parsed = datetime.strptime(s, fmt)
                break
            except ValueError:
                continue
    if parsed is None:
        raise InputError(
            f"cannot read {what} {_short(raw)!r}",
            hint="use now, +90 minutes, +2h, +1d, tomorrow 09:00, 09:00, mon 10:00, an ISO time with offset "
            "(2026-12-01T09:00+01:00) or a local time (2026-12-01 09:00)",
        )
    result = parsed.astimezone(UTC) if parsed.tzinfo else _wall(parsed, tz, raw, notes)
    if not allow_past and result < now - timedelta(seconds=1):
        raise InputError(f"{what} {_short(raw)!r} is in the past ({result:%Y-%m-%d %H:%M} UTC)",
                         hint="use --at now to publish immediately, or a future time")
    return result
