"""Parse user times: ISO 8601 with offset, ``now``, relative (``+90m``, ``+2h``, ``+3d``), or a wall-clock time in
the account's (or ``--tz``) IANA zone. Always returns aware UTC.

Daylight saving: a wall-clock time that does not exist (the spring-forward gap) or exists twice (the autumn
fold) is an error that names both readings and asks for an explicit offset. Never a silent shift.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from publisher.errors import InputError

_REL = re.compile(r"\+(\d+) *([smhdw])")  # fullmatch: no line break before or after
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
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



def _wall(naive: datetime, tz: ZoneInfo, raw: str) -> datetime:
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    round_trip = first.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != naive:
        raise InputError(
            f"{raw!r} does not exist in {tz.key}: clocks skip that hour for daylight saving",
            hint=f"pick a time outside the gap, or give an offset, e.g. {naive:%Y-%m-%dT%H:%M}{_fmt(first.utcoffset())}",
        )
    raise InputError(
        f"{raw!r} happens twice in {tz.key} (clocks go back for daylight saving)",
        hint=f"give an offset: {naive:%Y-%m-%dT%H:%M}{_fmt(first.utcoffset())} (first) or "
        f"{naive:%Y-%m-%dT%H:%M}{_fmt(second.utcoffset())} (second)",
    )


def _fmt(offset: timedelta | None) -> str:
    total = int((offset or timedelta()).total_seconds())
    sign = "+" if total >= 0 else "-"
    total = abs(total)
    return f"{sign}{total // 3600:02d}:{total % 3600 // 60:02d}"


def parse_time(raw: str, tz: ZoneInfo, now: datetime | None = None, *, allow_past: bool = False,
               what: str = "--at") -> datetime:
    """Parse ``raw`` into aware UTC. A time in the past is an error unless it is ``now`` or ``allow_past``.
    Every time the calendar cannot hold (year 10000, year 1 at +14:00, +99999999d) is an InputError."""
    now = now or datetime.now(UTC)
    try:
        return _parse(raw, tz, now, allow_past, what)
    except (OverflowError, ValueError):
        raise InputError(f"{what} {_short(raw)!r} is outside the calendar publisher can schedule in",
                         hint="give a time between now and the year 9999") from None


def _parse(raw: str, tz: ZoneInfo, now: datetime, allow_past: bool, what: str) -> datetime:
    s = raw.strip()
    if not s:
        raise InputError(f"{what} is empty", hint="give a time such as now, +2h or 2026-12-01 09:00")
    if s.lower() == "now":
        return now
    m = _REL.fullmatch(s.lower())
    if m:
        return now + timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
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
            hint="use now, +90m, +2h, +3d, an ISO time with offset (2026-12-01T09:00+01:00) or a local time (2026-12-01 09:00)",
        )
    result = parsed.astimezone(UTC) if parsed.tzinfo else _wall(parsed, tz, raw)
    if not allow_past and result < now - timedelta(seconds=1):
        raise InputError(f"{what} {_short(raw)!r} is in the past ({result:%Y-%m-%d %H:%M} UTC)",
                         hint="use --at now to publish immediately, or a future time")
    return result
