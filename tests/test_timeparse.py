from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from publisher.errors import InputError
from publisher.timeparse import parse_time

OSLO = ZoneInfo("Europe/Oslo")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_wall_clock_time_is_read_in_the_accounts_zone_and_stored_as_utc() -> None:
    assert parse_time("2026-12-01 09:00", OSLO, NOW) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert parse_time("2026-07-01 09:00", OSLO, NOW) == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)


def test_relative_and_iso_times() -> None:
    assert parse_time("+90m", OSLO, NOW) == datetime(2026, 3, 1, 13, 30, tzinfo=UTC)
    assert parse_time("+3d", OSLO, NOW) == datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    assert parse_time("2026-12-01T09:00+01:00", OSLO, NOW) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert parse_time("now", OSLO, NOW) == NOW


def test_time_in_the_spring_forward_gap_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="does not exist") as e:
        parse_time("2026-03-29 02:30", OSLO, NOW)
    assert "+01:00" in str(e.value)


def test_time_in_the_autumn_fold_is_read_as_the_first_and_a_note_names_both_offsets() -> None:
    notes: list[str] = []
    assert parse_time("2026-10-25 02:30", OSLO, NOW, notes=notes) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert len(notes) == 1 and "happens twice" in notes[0]
    assert "+02:00" in notes[0] and "+01:00" in notes[0]
    # with an explicit offset both readings are accepted and an hour apart
    a = parse_time("2026-10-25T02:30+02:00", OSLO, NOW)
    b = parse_time("2026-10-25T02:30+01:00", OSLO, NOW)
    assert (b - a).total_seconds() == 3600


def test_past_time_is_an_error_unless_now() -> None:
    with pytest.raises(InputError, match="in the past"):
        parse_time("2026-02-01 09:00", OSLO, NOW)


@pytest.mark.parametrize("raw", ["tomorrow-ish", "+5x", "", "2026-13-01 09:00"])
def test_unreadable_times_say_what_to_write(raw: str) -> None:
    with pytest.raises(InputError) as e:
        parse_time(raw, OSLO, NOW)
    assert e.value.hint
