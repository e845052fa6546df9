"""Slots, cadence and anchor times across daylight saving: the last Sunday of March and of October (Europe/Oslo
changes then; America/New_York changes on the second Sunday of March and the first of November, checked too)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from publisher.errors import InputError
from publisher.settings import AccountConfig
from publisher.timeparse import zone
from publisher.workflows import slots
from publisher.workflows.campaigns import parse_anchor, resolve_time

NOW = datetime(2027, 1, 1, tzinfo=UTC)


def z(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def account(tz: str = "Europe/Oslo", **kw: Any) -> AccountConfig:
    return AccountConfig(name="a", channel="dryrun", timezone=tz, **kw)


def at(raw: str, anchor: str, tz: str) -> datetime:
    return resolve_time(raw, {"event": parse_anchor(anchor, None, "anchor")}, zone(tz), NOW, "at")


@pytest.mark.parametrize(("raw", "anchor", "tz", "expect"), [
    # Oslo, spring forward on Sunday 2027-03-28: the day after keeps the wall clock, 24 hours do not
    ("event+1d 09:00", "2027-03-27T09:00+01:00", "Europe/Oslo", "2027-03-28T07:00Z"),
    ("event+1d", "2027-03-27T09:00+01:00", "Europe/Oslo", "2027-03-28T07:00Z"),
    ("event+24h", "2027-03-27T09:00+01:00", "Europe/Oslo", "2027-03-28T08:00Z"),
    ("event-1d 09:00", "2027-03-29T09:00+02:00", "Europe/Oslo", "2027-03-28T07:00Z"),
    # Oslo, fall back on Sunday 2027-10-31
    ("event+1d 09:00", "2027-10-30T09:00+02:00", "Europe/Oslo", "2027-10-31T08:00Z"),
    ("event-1w 09:00", "2027-11-06T09:00+01:00", "Europe/Oslo", "2027-10-30T07:00Z"),
    ("event+0d 13:30", "2027-10-31T09:00+01:00", "Europe/Oslo", "2027-10-31T12:30Z"),
    # the same anchor, an account in New York: its own wall clock (already on summer time in late March)
    ("event+1d 09:00", "2027-03-27T09:00+01:00", "America/New_York", "2027-03-28T13:00Z"),
    ("event+1d 09:00", "2027-10-30T09:00+02:00", "America/New_York", "2027-10-31T13:00Z"),
    # New York's own changes: 2027-03-14 and 2027-11-07
    ("event+1d 09:00", "2027-03-13T09:00-05:00", "America/New_York", "2027-03-14T13:00Z"),
    ("event+1d 09:00", "2027-11-06T09:00-04:00", "America/New_York", "2027-11-07T14:00Z"),
    ("event-90m", "2027-11-07T09:00-05:00", "America/New_York", "2027-11-07T12:30Z"),
    ("2027-03-28 09:00", "2027-03-27T09:00+01:00", "Europe/Oslo", "2027-03-28T07:00Z"),
])
def test_anchor_times_keep_the_accounts_wall_clock_across_dst(raw: str, anchor: str, tz: str, expect: str) -> None:
    assert at(raw, anchor, tz) == z(expect)


@pytest.mark.parametrize(("raw", "anchor", "tz", "why"), [
    ("event+1d 02:30", "2027-03-27T09:00+01:00", "Europe/Oslo", "does not exist"),
    ("event+1d 02:30", "2027-10-30T09:00+02:00", "Europe/Oslo", "happens twice"),
    ("event+0d 02:30", "2027-03-14T09:00-04:00", "America/New_York", "does not exist"),
    ("event+0d 01:30", "2027-11-07T09:00-05:00", "America/New_York", "happens twice"),
    ("evnt+1d 09:00", "2027-10-30T09:00+02:00", "Europe/Oslo", "did you mean 'event'"),
    ("event+1h 09:00", "2027-10-30T09:00+02:00", "Europe/Oslo", "mixes"),
])
def test_times_dst_cannot_hold_are_refused_with_the_fix(raw: str, anchor: str, tz: str, why: str) -> None:
    with pytest.raises(InputError) as e:
        at(raw, anchor, tz)
    assert why in str(e.value)


def test_slots_across_the_last_sundays_of_march_and_october_in_oslo() -> None:
    a = account(slots=["09:00", "17:00"])
    assert slots.next_slots(a, [], z("2027-03-27T00:00Z"), 4) == [
        z("2027-03-27T08:00Z"), z("2027-03-27T16:00Z"), z("2027-03-28T07:00Z"), z("2027-03-28T15:00Z")]
    assert slots.next_slots(a, [], z("2027-10-30T00:00Z"), 4) == [
        z("2027-10-30T07:00Z"), z("2027-10-30T15:00Z"), z("2027-10-31T08:00Z"), z("2027-10-31T16:00Z")]
    night = account(slots=["02:30"])  # in the spring gap: the first instant after the jump; in the fold: the first
    assert slots.next_slots(night, [], z("2027-03-28T00:00Z"), 1) == [z("2027-03-28T01:00Z")]
    assert slots.next_slots(night, [], z("2027-10-30T23:00Z"), 1) == [z("2027-10-31T00:30Z")]


def test_slots_across_new_yorks_changes_and_the_european_sundays() -> None:
    a = account("America/New_York", slots=["09:00"])
    assert slots.next_slots(a, [], z("2027-03-13T12:00Z"), 2) == [z("2027-03-13T14:00Z"), z("2027-03-14T13:00Z")]
    assert slots.next_slots(a, [], z("2027-11-06T12:00Z"), 2) == [z("2027-11-06T13:00Z"), z("2027-11-07T14:00Z")]
    assert slots.next_slots(a, [], z("2027-03-27T12:00Z"), 2) == [z("2027-03-27T13:00Z"), z("2027-03-28T13:00Z")]
    assert slots.next_slots(a, [], z("2027-10-30T12:00Z"), 2) == [z("2027-10-30T13:00Z"), z("2027-10-31T13:00Z")]


def test_slots_skip_taken_times_full_days_gaps_and_quiet_hours() -> None:
    a = account(slots={"mon": ["09:00", "12:30", "17:00"], "wed": ["09:00"]},
                policy={"max_per_day": 2, "min_gap_seconds": 3 * 3600, "quiet_hours": ["16:00", "07:00"]})
    monday = z("2027-01-04T00:00Z")  # a Monday; Oslo is UTC+1
    # 09:00 taken; 12:30 is within 3 h of a post at 10:00; 17:00 is quiet: next is Wednesday 09:00
    taken = [z("2027-01-04T08:00Z"), z("2027-01-04T09:00Z")]
    assert slots.next_slots(a, taken, monday, 1) == [z("2027-01-06T08:00Z")]
    assert slots.next_slots(a, [], monday, 2) == [z("2027-01-04T08:00Z"), z("2027-01-04T11:30Z")]
    # without a daily limit: a taken slot, and one too close to a taken time (min gap), are skipped
    c = account(slots=["09:00", "12:30"], policy={"min_gap_seconds": 3 * 3600})
    assert slots.next_slots(c, [z("2027-01-04T08:00Z")], monday, 1) == [z("2027-01-04T11:30Z")]
    assert slots.next_slots(c, [z("2027-01-04T09:30Z")], monday, 2) == [z("2027-01-05T08:00Z"), z("2027-01-05T11:30Z")]
    # max_per_day 2: a third slot on Monday is never given, even without the quiet hours
    b = account(slots=["09:00", "12:30", "17:00"], policy={"max_per_day": 2})
    assert slots.next_slots(b, [], monday, 3)[2] == z("2027-01-05T08:00Z")
    with pytest.raises(ValueError, match="no slots"):
        slots.next_slots(account(), [], monday, 1)


def test_cadence_moves_times_as_the_publish_time_policy_will() -> None:
    a = account(policy={"min_gap_seconds": 600, "max_per_day": 2, "quiet_hours": ["22:00", "07:00"]})
    due = [z("2027-01-04T08:00Z"), z("2027-01-04T08:05Z"), z("2027-01-04T09:00Z"), z("2027-01-04T23:00Z")]
    assert slots.cadence(a, due) == [
        z("2027-01-04T08:00Z"), z("2027-01-04T08:10Z"),  # the gap
        z("2027-01-05T06:00Z"),  # third of the day: next local midnight, then quiet until 07:00 local
        z("2027-01-05T06:10Z")]  # quiet until 07:00, then the gap after the one before
    assert slots.cadence(a, due, kind="ticket") == due  # exempt kinds keep their times


def test_a_campaign_across_the_four_changes_is_stored_on_each_accounts_wall_clock(
        env: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """Through ``campaign import`` (the real CLI in-process, the real store): rows on the day of each change, set
    the day before from an anchor, land at 09:00 on both accounts' own clocks (conf-x in Oslo, conf-ma in New
    York), i.e. at the UTC times below, which differ by one hour across each change."""
    from tests.campaigns.helpers import cli, deliveries_by_key, setup, write

    setup(env, monkeypatch)
    rows = [{"key": k, "at": f"{k}+1d 09:00", "accounts": ["conf-x", "conf-ma"], "text": f"Day two ({k}). #TNC31"}
            for k in ("oslospring", "oslofall", "nyspring", "nyfall")]
    write(tmp_path / "dst.yaml", {
        "name": "tnc31", "hashtags": ["TNC31"], "rows": rows,
        "anchors": {"oslospring": "2031-03-29T09:00+01:00", "oslofall": "2031-10-25T09:00+02:00",  # Sat before
                    "nyspring": "2031-03-08T09:00-05:00", "nyfall": "2031-11-01T09:00-04:00"}})
    code, out, err = cli(capsys, "campaign", "import", str(tmp_path / "dst.yaml"))
    assert code == 0, err
    due = {(k, a): d["due_at"].astimezone(UTC).isoformat() for (k, a, _), d in deliveries_by_key(env.store()).items()}
    assert due == {
        ("oslospring", "conf-x"): "2031-03-30T07:00:00+00:00", ("oslospring", "conf-ma"): "2031-03-30T13:00:00+00:00",
        ("oslofall", "conf-x"): "2031-10-26T08:00:00+00:00", ("oslofall", "conf-ma"): "2031-10-26T13:00:00+00:00",
        ("nyspring", "conf-x"): "2031-03-09T08:00:00+00:00", ("nyspring", "conf-ma"): "2031-03-09T13:00:00+00:00",
        ("nyfall", "conf-x"): "2031-11-02T08:00:00+00:00", ("nyfall", "conf-ma"): "2031-11-02T14:00:00+00:00"}


@pytest.mark.parametrize(("raw", "relative"), [
    ("now", True), ("+2h", True), ("+90 minutes", True), ("09:00", True),
    ("tomorrow 09:00", False),  # in a campaign file a word is an anchor's name: this one is refused, not relative
    ("event-1d 09:00", False), ("event", False), ("event+90m", False), ("2031-06-08T09:00+02:00", False),
    ("2031-06-08 09:00", False),
])
def test_a_time_relative_to_the_import_is_told_from_a_fixed_one(raw: str, relative: bool) -> None:
    """``Times.from_now``: a row timed from the import keeps its first time on re-import (test_campaign_approvals)."""
    from publisher.workflows.campaigns import Times

    sunday = datetime(2031, 6, 1, 8, 0, tzinfo=UTC)
    times = Times({"event": parse_anchor("2031-06-08T09:00+02:00", None, "anchor")}, sunday)
    assert times.from_now(raw, zone("Europe/Oslo"), "at") is relative
