"""calendar, status: what publisher will do, and how it is doing."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from publisher.commands import app, echo, echo_json, fmt_time


@click.command()
@click.option("--week", "span", flag_value="week", default=True, help="Today and the 6 days after it (default).")
@click.option("--month", "span", flag_value="month", help="Today and the 30 days after it.")
@click.option("--from", "start", default=None, metavar="D",
              help="First day: 2026-12-01, -1d, +7d or an ISO time (in the viewer's zone).")
@click.option("--to", "end", default=None, metavar="D", help="Last day (inclusive), same forms as --from.")
@click.option("--account", default=None, help="Only this account.")
@click.option("--tz", "tz_name", default=None, metavar="ZONE", help="Show times in this IANA zone (default: local).")
@click.option("--per-cell", default=None, type=click.IntRange(0, 100000),
              help="Deliveries listed per day and account, the rest counted (default 20 for a week, 5 for longer). "
                   "In a dense window (over 2,000 deliveries) only those that need a look are listed.")
@click.option("--html", "html_file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained HTML page to FILE ('-' for stdout).")
@click.option("--ics", "ics_file", default=None, type=click.Path(dir_okay=False, path_type=Path),
              help="Write an iCalendar file (one event per post and account) to FILE ('-' for stdout).")
def calendar(span: str, start: str | None, end: str | None, account: str | None, tz_name: str | None,
             per_cell: int | None, html_file: Path | None, ics_file: Path | None) -> None:
    """What is due, day by day and account by account, in your time zone, with state, channel, approval and
    held marks. Past days show what was published.

    \b
    Examples:
      publisher calendar --week --tz Europe/Oslo
      publisher calendar --month --account noc
      publisher calendar --from 2026-12-01 --to 2026-12-07 --html week.html --ics team.ics
    """
    from publisher.errors import InputError
    from publisher.ops import calendar as cal
    from publisher.ops.when import parse_when, viewer_zone

    tz = viewer_zone(tz_name)
    now = datetime.now(UTC)
    today = now.astimezone(tz).date()
    first = parse_when(start, tz, now, what="--from").astimezone(tz).date() if start else today
    if end:
        last = (parse_when(end, tz, now, what="--to", end_of_day=True) - timedelta(microseconds=1)).astimezone(tz).date()
    else:
        last = first + timedelta(days=6 if span == "week" else 30)
    if last < first:
        raise InputError(f"--to ({last}) is before --from ({first})", hint="give the first day, then the last")
    if (last - first).days > 366:
        raise InputError("the calendar shows at most a year at once", hint="narrow --from/--to")
    if account is not None:
        app().settings.account(account)
    w = cal.window(first, last, tz)
    cell_limit = per_cell if per_cell is not None else (20 if len(w.days) <= 7 else 5)
    with app().store.read() as conn:
        view = cal.build(conn, w, account=account, per_cell=cell_limit) if html_file or not ics_file else None
        entries = cal.all_entries(conn, w, account=account) if ics_file else None
    if ics_file and entries is not None:
        from publisher.ops import ics

        _write(ics_file, ics.render(entries, name=f"publisher {account or 'all accounts'}"))
        _note(f"wrote {len(entries)} events to {ics_file}", ics_file)
    if html_file and view is not None:
        from publisher.ops import html

        _write(html_file, html.render(view).encode("utf-8"))
        _note(f"wrote {len(w.days)} days, {view.total} deliveries to {html_file}", html_file)
    if view is not None and not html_file:
        import shutil

        from publisher.ops import terminal

        tty = sys.stdout.isatty()
        lines: list[str] = []
        # piped: ids are never cut, whatever the width
        terminal.render(view, lines.append, width=shutil.get_terminal_size((160, 24)).columns if tty else 160,
                        colour=tty)
        click.echo("\n".join(lines))


def _write(path: Path, data: bytes) -> None:
    if str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        path.write_bytes(data)


def _note(text: str, path: Path) -> None:
    click.echo(text, err=str(path) == "-")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10000),
              help="Held/unknown deliveries (and distinct reasons) listed per state.")
def status(as_json: bool, limit: int) -> None:
    """Counts by state, the next delivery due, the oldest late one, and every held or unknown delivery with its
    reason.

    \b
    Examples:
      publisher status
      publisher status --json | jq .late
    """
    from publisher.ops import status as status_mod
    from publisher.ops.marks import mark

    now = datetime.now(UTC)
    with app().post_store.read() as conn:  # SQLite: the driver-only store, no SQLAlchemy import
        s = status_mod.collect(conn, now, limit=limit)
    if as_json:
        echo_json(s)
        return
    counts = {k: v for k, v in s["counts"].items() if v}
    click.echo(f"{s['total']:,} deliveries" + (": " + ", ".join(f"{v:,} {mark(k)[1]}" for k, v in counts.items())
                                               if counts else ""))
    nd = s["next_due"]
    click.echo(f"next due:   {fmt_time(nd['due_at'])} (in {_ago(nd['due_at'] - now)})  {nd['id']}  {nd['account']} "
               f"({nd['channel']}) {mark(nd['state'])[1]}" if nd else "next due:   nothing waiting")
    late = s["late"]
    if late["oldest"]:
        o = late["oldest"]
        click.echo(f"late:       {late['count']:,}; oldest due {fmt_time(o['due_at'])} ({_ago(now - o['due_at'])} ago)  "
                   f"{o['id']}  {o['account']} ({o['channel']}) {mark(o['state'])[1]}")
    else:
        click.echo("late:       none")
    for state, a in s["attention"].items():
        click.echo(f"\n{mark(state)[1]}: {a['count']:,}")
        for r in a["reasons"]:
            echo(f"  {r['count']:>6,} × {r['reason']}")
        for d in a["deliveries"]:
            echo(f"  {d['id']}  {d['account']:<12} {fmt_time(d['due_at'])}  {d['last_error'] or ''}")
        if a["more"]:
            click.echo(f"  … {a['more']:,} more (`publisher list --state {state}`)")


def _ago(delta: timedelta) -> str:
    secs = int(abs(delta.total_seconds()))
    if secs < 120:
        return f"{secs} s"
    if secs < 7200:
        return f"{secs // 60} min"
    if secs < 172800:
        return f"{secs // 3600} h {secs % 3600 // 60} min"
    return f"{secs // 86400} d {secs % 86400 // 3600} h"
