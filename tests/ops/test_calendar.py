"""`publisher calendar`: the terminal view (grouping by local day and account, zone, marks, the per-cell cut), the
iCalendar export parsed with the icalendar library, and the HTML page rendered by headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Env
from tests.ops.seed import seed


@pytest.fixture
def seeded(env: Env) -> dict[str, Any]:
    return seed(env)


def _cal(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    return env.cli("calendar", *args)


def _window(ids: dict[str, Any]) -> list[str]:
    d = ids["day"]
    return ["--from", str(d - timedelta(days=1)), "--to", str(d + timedelta(days=2))]


def test_terminal_groups_by_local_day_and_account_with_marks(env: Env, seeded: dict[str, Any]) -> None:
    d = seeded["day"]
    r = _cal(env, *_window(seeded), "--tz", "Europe/Oslo", "--per-cell", "2")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    day_d, day_next = f"{d:%a %d %b}", f"{d + timedelta(days=1):%a %d %b}"
    assert out.index(day_d) < out.index(day_next)
    section_d = out[out.index(day_d):out.index(day_next)]
    section_next = out[out.index(day_next):]
    # 23:30 UTC is 00:30 the next day in Oslo (winter, +01:00): it belongs to the next local day, both times shown
    assert seeded["noc_late"] in section_next and "00:30" in section_next and "23:30Z" in section_next
    assert seeded["noc_morning"] in section_d and "09:00" in section_d and "08:00Z" in section_d
    # marks: held (with the word), needs approval, scheduled
    held_line = next(line for line in out.splitlines() if seeded["held"] in line)
    assert "HELD" in held_line
    comms_line = next(line for line in out.splitlines() if seeded["comms"] in line)
    assert "needs approval" in comms_line and "dryrun" in comms_line
    # grouped by account: andrew's rows come together, named once; the per-cell cut says how many more
    andrew_rows = [line for line in section_d.splitlines() if "andrew" in line]
    assert len(andrew_rows) == 1
    assert "… 3 more (3 scheduled)" in section_d
    assert "at most 2 deliveries per day and account" in out
    for i in seeded["busy"][2:]:
        assert i not in out


def test_terminal_in_utc_keeps_the_late_post_on_its_utc_day(env: Env, seeded: dict[str, Any]) -> None:
    d = seeded["day"]
    r = _cal(env, *_window(seeded), "--tz", "UTC", "--account", "noc")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    section_d = out[out.index(f"{d:%a %d %b}"):out.index(f"{d + timedelta(days=1):%a %d %b}")]
    assert seeded["noc_late"] in section_d and "23:30" in section_d
    assert seeded["andrew"] not in out and "account noc" in out


def test_bad_input_is_refused(env: Env, seeded: dict[str, Any]) -> None:
    assert _cal(env, "--tz", "Mars/Olympus").returncode == 2
    assert _cal(env, "--from", "2026-12-10", "--to", "2026-12-01").returncode == 2
    assert _cal(env, "--account", "nobody").returncode == 5


def test_ics_has_one_utc_event_per_post_and_account(env: Env, seeded: dict[str, Any], tmp_path: Path) -> None:
    import icalendar

    path = tmp_path / "team.ics"
    r = _cal(env, *_window(seeded), "--tz", "Europe/Oslo", "--ics", str(path))
    assert r.returncode == 0, r.stderr
    cal = icalendar.Calendar.from_ical(path.read_bytes())
    assert str(cal["VERSION"]) == "2.0" and "publisher" in str(cal["PRODID"])
    events = list(cal.walk("VEVENT"))
    expected = {seeded[k] for k in ("noc_morning", "noc_late", "held", "andrew", "comms")} | set(seeded["busy"])
    assert {str(e["UID"]) for e in events} == {f"{i}@publisher" for i in expected}
    assert len(events) == len(expected)
    late = next(e for e in events if str(e["UID"]) == f"{seeded['noc_late']}@publisher")
    start = late.decoded("DTSTART")
    assert start.tzinfo is not None and start.utcoffset() == timedelta(0)
    assert (start.hour, start.minute) == (23, 30) and start.date() == seeded["day"]
    assert "DTSTART:" + f"{seeded['day']:%Y%m%d}T233000Z" in path.read_text()
    for e in events:
        assert e.decoded("DTSTAMP").tzinfo is not None and e.get("SUMMARY") and e.get("DESCRIPTION")
    held = next(e for e in events if str(e["UID"]) == f"{seeded['held']}@publisher")
    assert "HELD" in str(held["SUMMARY"]) and "credentials expired" in str(held["DESCRIPTION"])
    again = tmp_path / "again.ics"
    _cal(env, *_window(seeded), "--ics", str(again))
    assert {str(e["UID"]) for e in icalendar.Calendar.from_ical(again.read_bytes()).walk("VEVENT")} == \
        {str(e["UID"]) for e in events}  # stable: a re-import updates the same events


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("headless Chromium is not installed (Debian package `chromium`)")
    return found


def _run_chromium(binary: str, tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                           f"--user-data-dir={tmp_path / 'chromium-profile'}", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_html_renders_in_headless_chromium(env: Env, seeded: dict[str, Any], tmp_path: Path) -> None:
    from bs4 import BeautifulSoup

    binary = _chromium()
    page = tmp_path / "week.html"
    r = _cal(env, *_window(seeded), "--tz", "Europe/Oslo", "--per-cell", "2", "--html", str(page))
    assert r.returncode == 0, r.stderr
    source = page.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", source), "the page must not fetch anything"
    assert "@media print" in source
    dom = _run_chromium(binary, tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    soup = BeautifulSoup(dom.stdout, "html.parser")
    assert soup.html is not None and soup.html.get("lang") == "en"
    assert soup.h1 is not None and "calendar" in soup.h1.get_text().lower()
    day_headings = [h.get_text() for h in soup.find_all("h2") if h.get_text() != "Legend"]
    assert len(day_headings) == 4
    tables = soup.find_all("table")
    assert len(tables) == 2  # D and D+1 hold deliveries; the other two days say "Nothing due."
    assert "Nothing due." in soup.get_text()
    for t in tables:
        assert t.caption is not None and t.thead is not None
        assert all(th.get("scope") == "col" for th in t.thead.find_all("th"))
    rows = [tr for t in tables for tr in t.tbody.find_all("tr")]
    shown = {tr.find_all("td")[-1].get_text() for tr in rows if "more" not in (tr.get("class") or [])}
    assert seeded["held"] in shown and seeded["noc_late"] in shown
    held_row = next(tr for tr in rows if seeded["held"] in tr.get_text())
    assert "HELD" in held_row.get_text()  # the state is a word, not only a colour
    assert any("3 more" in tr.get_text() for tr in rows if "more" in (tr.get("class") or []))
    shot = tmp_path / "week.png"
    s = _run_chromium(binary, tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri())
    assert s.returncode == 0, s.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_a_dense_window_lists_only_what_needs_a_look(env: Env, seeded: dict[str, Any]) -> None:
    from zoneinfo import ZoneInfo

    from publisher.ops import calendar as cal
    from publisher.ops import terminal

    d = seeded["day"]
    w = cal.window(d - timedelta(days=1), d + timedelta(days=2), ZoneInfo("Europe/Oslo"))
    with env.store().read() as conn:
        view = cal.build(conn, w, per_cell=5, dense=5)  # 9 deliveries in the window: dense
    listed = {e["id"] for accounts in view.cells.values() for c in accounts.values() for e in c.entries}
    assert listed == {seeded["held"], seeded["comms"]} and view.total == 9
    lines: list[str] = []
    terminal.render(view, lines.append)
    out = "\n".join(lines)
    assert "a dense window (9 deliveries)" in out
    assert "… 5 deliveries (5 scheduled)" in out  # andrew on day D: nothing listed, all counted
