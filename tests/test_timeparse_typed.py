"""The time forms people type (issue 13): tomorrow 09:00, 09:00, mon 10:00, +90 minutes, +2h, +1d, read in the
account's zone with a fixed clock, DST-correct in Europe/Oslo and America/New_York, echoed in the zone and UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from publisher.errors import InputError
from publisher.timeparse import describe, parse_time

OSLO = ZoneInfo("Europe/Oslo")
NYC = ZoneInfo("America/New_York")
# Saturday 2026-03-28 13:00 in Oslo: the clocks go forward the next night (02:00 -> 03:00 on Sunday 29 March)
OSLO_SAT = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
# Saturday 2026-03-07 13:00 in New York: forward on Sunday 8 March (02:00 -> 03:00); back on 1 November
NYC_SAT = datetime(2026, 3, 7, 18, 0, tzinfo=UTC)


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(("raw", "tz", "now", "expected"), [
    ("tomorrow 09:00", OSLO, OSLO_SAT, _utc(2026, 3, 29, 7, 0)),  # summer time from this night: +02:00
    ("today 17:00", OSLO, OSLO_SAT, _utc(2026, 3, 28, 16, 0)),
    ("09:00", OSLO, OSLO_SAT, _utc(2026, 3, 29, 7, 0)),  # passed today: tomorrow
    ("13:30", OSLO, OSLO_SAT, _utc(2026, 3, 28, 12, 30)),  # still ahead today
    ("mon 10:00", OSLO, OSLO_SAT, _utc(2026, 3, 30, 8, 0)),
    ("Monday 10:00", OSLO, OSLO_SAT, _utc(2026, 3, 30, 8, 0)),
    ("sat 10:00", OSLO, OSLO_SAT, _utc(2026, 4, 4, 8, 0)),  # today's 10:00 passed: next week
    ("sat 14:00", OSLO, OSLO_SAT, _utc(2026, 3, 28, 13, 0)),
    ("+90 minutes", OSLO, OSLO_SAT, _utc(2026, 3, 28, 13, 30)),
    ("+2h", OSLO, OSLO_SAT, _utc(2026, 3, 28, 14, 0)),
    ("+1d", OSLO, OSLO_SAT, _utc(2026, 3, 29, 11, 0)),  # the same wall-clock time: 23 hours later
    ("+1 day", OSLO, OSLO_SAT, _utc(2026, 3, 29, 11, 0)),
    ("+1d", NYC, NYC_SAT, _utc(2026, 3, 8, 17, 0)),
    ("tomorrow 09:00", NYC, NYC_SAT, _utc(2026, 3, 8, 13, 0)),  # EDT, -04:00
    ("sun 01:30", NYC, datetime(2026, 10, 31, 12, 0, tzinfo=UTC), _utc(2026, 11, 1, 5, 30)),  # first 01:30 (EDT)
    ("+1w", NYC, datetime(2026, 10, 29, 16, 0, tzinfo=UTC), _utc(2026, 11, 5, 17, 0)),  # a week, 169 hours
    ("2026-12-07T10:00+01:00", OSLO, OSLO_SAT, _utc(2026, 12, 7, 9, 0)),
])
def test_typed_forms_in_the_accounts_zone(raw: str, tz: ZoneInfo, now: datetime, expected: datetime) -> None:
    assert parse_time(raw, tz, now) == expected


@pytest.mark.parametrize(("raw", "tz", "now", "suggested"), [
    ("tomorrow 02:30", OSLO, OSLO_SAT, "2026-03-29 03:30"),
    ("sun 02:15", NYC, NYC_SAT, "2026-03-08 03:15"),
])
def test_a_time_in_the_spring_gap_is_refused_with_a_suggestion(raw: str, tz: ZoneInfo, now: datetime,
                                                               suggested: str) -> None:
    with pytest.raises(InputError, match="does not exist") as e:
        parse_time(raw, tz, now)
    assert e.value.hint and suggested in e.value.hint


@pytest.mark.parametrize(("raw", "tz", "now", "first"), [
    ("sun 02:30", OSLO, datetime(2026, 10, 24, 12, 0, tzinfo=UTC), _utc(2026, 10, 25, 0, 30)),
    ("tomorrow 01:30", NYC, datetime(2026, 10, 31, 12, 0, tzinfo=UTC), _utc(2026, 11, 1, 5, 30)),
])
def test_an_ambiguous_autumn_time_is_the_first_and_says_so(raw: str, tz: ZoneInfo, now: datetime,
                                                           first: datetime) -> None:
    notes: list[str] = []
    assert parse_time(raw, tz, now, notes=notes) == first
    assert len(notes) == 1 and "happens twice" in notes[0] and "read as the first" in notes[0]


@pytest.mark.parametrize("raw", ["tomorrow 25:00", "mon 9", "m 10:00", "t 10:00", "someday 10:00", "24:00"])
def test_unreadable_typed_forms_say_what_to_write(raw: str) -> None:
    with pytest.raises(InputError) as e:
        parse_time(raw, OSLO, OSLO_SAT)
    assert e.value.hint


def test_times_are_echoed_in_the_zone_and_utc() -> None:
    assert describe(_utc(2026, 12, 7, 9, 0), OSLO) == "Mon 2026-12-07 10:00 CET (09:00 UTC)"
    assert describe(_utc(2026, 7, 1, 2, 0), NYC) == "Tue 2026-06-30 22:00 EDT (2026-07-01 02:00 UTC)"


def test_post_echoes_the_accepted_time_in_the_accounts_zone_and_utc(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The real CLI (in-process, click's runner) and store, with the store's clock fixed: what `post` prints."""
    from click.testing import CliRunner

    from publisher import cli, store

    for k in ("PUBLISHER_DATABASE_URL", "PUBLISHER_ACTOR", "PUBLISHER_CONFIG"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("PUBLISHER_HOME", str(tmp_path))
    store.set_clock(lambda: datetime(2026, 12, 4, 12, 0, tzinfo=UTC))  # Friday 13:00 in Oslo
    try:
        r = CliRunner().invoke(cli.cli, ["post", "--account", "noc", "--at", "mon 10:00", "Planned work on Monday"])
        fold = CliRunner().invoke(cli.cli, ["post", "--account", "noc", "--at", "2027-10-31 02:30", "Night work"])
        as_json = CliRunner().invoke(cli.cli, ["post", "--account", "noc", "--at", "tomorrow 09:00", "--json",
                                               "Doors open at 09:00"])
    finally:
        store.set_clock(None)
    assert r.exit_code == 0, r.output
    assert "Mon 2026-12-07 10:00 CET (09:00 UTC)" in r.output
    assert fold.exit_code == 0, fold.output
    assert "read as the first" in fold.output and "Sun 2027-10-31 02:30 CEST (00:30 UTC)" in fold.output
    assert as_json.exit_code == 0, as_json.output
    assert '"at_local": "Sat 2026-12-05 09:00 CET (08:00 UTC)"' in as_json.output


def test_a_time_for_accounts_in_several_zones_names_each_zones_clock() -> None:
    at = _utc(2026, 12, 7, 9, 0)
    assert describe(at, OSLO, [OSLO, NYC]) == "Mon 2026-12-07 10:00 CET (09:00 UTC; 04:00 EST in America/New_York)"
    assert describe(_utc(2026, 12, 7, 2, 0), OSLO, [NYC]) == (
        "Mon 2026-12-07 03:00 CET (02:00 UTC; Sun 21:00 EST in America/New_York)")
    assert describe(at, OSLO, [ZoneInfo("Europe/Berlin")]) == "Mon 2026-12-07 10:00 CET (09:00 UTC)"  # same clock


def test_post_and_edit_to_accounts_in_two_zones_echo_both_clocks(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """A typed time is read in the first account's zone; the echo says what that is on the other account's clock."""
    import json

    import yaml
    from click.testing import CliRunner

    from publisher import cli, store

    for k in ("PUBLISHER_DATABASE_URL", "PUBLISHER_ACTOR"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("PUBLISHER_HOME", str(tmp_path))
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"accounts": {
        "noc": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"},
        "noc-us": {"channel": "dryrun", "kind": "organisation", "timezone": "America/New_York"}}}))
    monkeypatch.setenv("PUBLISHER_CONFIG", str(config))
    store.set_clock(lambda: datetime(2026, 12, 4, 12, 0, tzinfo=UTC))
    try:
        r = CliRunner().invoke(cli.cli, ["post", "--account", "noc", "--account", "noc-us", "--at", "mon 10:00",
                                         "--json", "Planned work on Monday"])
        post_id = json.loads(r.output)["post_id"]
        e = CliRunner().invoke(cli.cli, ["edit", post_id, "--at", "tue 10:00"])
    finally:
        store.set_clock(None)
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["at_local"] == "Mon 2026-12-07 10:00 CET (09:00 UTC; 04:00 EST in America/New_York)"
    assert e.exit_code == 0, e.output
    assert "Tue 2026-12-08 10:00 CET (09:00 UTC; 04:00 EST in America/New_York)" in e.output
