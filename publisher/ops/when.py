"""Times for reading commands (calendar, list): past or future, relative or absolute, in the viewer's zone."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from publisher.errors import InputError
from publisher.timeparse import parse_time

_REL = re.compile(r"([+-])(\d{1,6}) *([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def viewer_zone(name: str | None) -> ZoneInfo:
    """``--tz`` if given, else the machine's local zone (TZ, /etc/localtime), else UTC."""
    from publisher.timeparse import zone

    if name:
        return zone(name)
    import os

    tz_env = os.environ.get("TZ", "").lstrip(":")
    if tz_env:
        try:
            return zone(tz_env)
        except InputError:
            pass
    try:
        link = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in link:
            return zone(link.split("zoneinfo/", 1)[1])
    except (OSError, InputError):
        pass
    return ZoneInfo("UTC")


def midnight(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of a local calendar day, in UTC."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def parse_when(raw: str, tz: ZoneInfo, now: datetime, *, what: str, end_of_day: bool = False) -> datetime:
    """``-1d``, ``+7d``, ``now``, ``2026-12-01`` (local midnight; with ``end_of_day`` the next one), a local
    ``2026-12-01 09:00`` or an ISO time with offset. Returns aware UTC."""
    s = raw.strip()
    m = _REL.fullmatch(s.lower())
    if m:
        delta = timedelta(**{_UNITS[m.group(3)]: int(m.group(2))})
        return now + delta if m.group(1) == "+" else now - delta
    if _DATE.fullmatch(s):
        try:
            day = date.fromisoformat(s)
        except ValueError:
            raise InputError(f"{what} {s!r} is not a calendar date", hint="use YYYY-MM-DD") from None
        return midnight(day + timedelta(days=1) if end_of_day else day, tz)
    return parse_time(s, tz, now, allow_past=True, what=what)
