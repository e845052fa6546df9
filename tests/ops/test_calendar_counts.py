"""The calendar's counts per (local day, account, state) over many deliveries: equal to a count made in Python,
across a daylight-saving change, with and without --account; and on SQLite answered from an index alone."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from publisher.models import State
from publisher.ops import calendar as cal
from publisher.schema import deliveries, posts
from publisher.store import Store
from tests.conftest import Env

TZ = ZoneInfo("Europe/Oslo")
#: the week around Oslo's switch to summer time (2027-03-28: that local day has 23 hours)
FIRST, LAST = date(2027, 3, 25), date(2027, 3, 31)
ACCOUNTS = ("noc", "andrew", "comms")


def _bulk(store: Store, n: int) -> list[dict[str, Any]]:
    """n deliveries (one post each) from a day before the window to a day after it, every state, 3 accounts; some
    exactly on a local midnight."""
    rnd = random.Random(7)
    start = datetime(2027, 3, 24, tzinfo=TZ).astimezone(UTC)
    now = datetime.now(UTC)
    ps, ds = [], []
    for i in range(n):
        due = start + timedelta(seconds=rnd.randrange(9 * 86_400))
        if i % 50 == 0:  # on a local midnight: the day it starts
            due = datetime.combine(FIRST + timedelta(days=i % 7), datetime.min.time(), TZ).astimezone(UTC)
        ps.append(dict(id=f"p-{i:05d}", kind="note", text="t", variables={}, scheduled_at=due, overrides=[],
                       created_by="test", created_at=now))
        ds.append(dict(id=f"d-{i:05d}", post_id=f"p-{i:05d}", account=ACCOUNTS[i % 3], channel="dryrun", part=1,
                       payload={"text": "t"}, state=rnd.choice(list(State)).value, attempts=0, due_at=due,
                       updated_at=now))
    with store.tx() as conn:
        conn.execute(posts.insert(), ps)
        conn.execute(deliveries.insert(), ds)
    return ds


def _expected(ds: list[dict[str, Any]], account: str | None) -> dict[tuple[date, str, str], int]:
    days = Counter((d["due_at"].astimezone(TZ).date(), d["account"], d["state"]) for d in ds
                   if account in (None, d["account"]))
    return {k: n for k, n in days.items() if FIRST <= k[0] <= LAST}


def _counted(cells: dict[date, dict[str, cal.Cell]]) -> dict[tuple[date, str, str], int]:
    return {(day, acc, state): n for day, accounts in cells.items() for acc, cell in accounts.items()
            for state, n in cell.counts.items()}


def test_counts_per_local_day_account_and_state_match_a_count_in_python(env: Env) -> None:
    store = env.store()
    ds = _bulk(store, 3000)
    w = cal.window(FIRST, LAST, TZ)
    assert w.bounds[4] - w.bounds[3] == timedelta(hours=23)  # the window does cross the switch
    with store.read() as conn:
        for account in (None, "andrew", "nobody"):
            assert _counted(cal.build(conn, w, account=account, per_cell=0).cells) == _expected(ds, account), account
            for seeks in (True, False):  # both queries, whichever the database uses by default
                assert _counted(cal.counts(conn, w, account, seeks=seeks)) == _expected(ds, account), (account, seeks)
    assert sum(_expected(ds, None).values()) > 2000  # most rows are in the window, the rest are not counted


def test_on_sqlite_the_counts_read_no_table_row(env: Env) -> None:
    """Every access to deliveries in the count query is a covering index: a month of 100,000 deliveries is a few
    thousand index seeks, not a read (and sort) of every row."""
    store = env.store()
    if not store.is_sqlite:
        return  # PostgreSQL chooses its plan by its statistics; the index is the same
    _bulk(store, 200)
    w = cal.window(FIRST, LAST, TZ)
    with store.read() as conn:
        for account in (None, "noc"):
            q = cal.count_query(w, account).compile(conn)
            params = tuple(q.construct_params()[name] for name in q.positiontup or ())
            plan = [str(r[-1]) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + str(q), params)]
            reads = [p for p in plan if p.startswith(("SCAN", "SEARCH")) and p.split()[1] in ("deliveries", "d")]
            assert len(reads) >= 2 and all("USING COVERING INDEX ix_deliveries_account_state_due" in p
                                           for p in reads), plan
