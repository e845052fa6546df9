"""The calendar: what is (or was) due in a window of local days, per day and account.

One query counts the window by (local day, account, state) (on SQLite with index range seeks, no row read); a
second returns at most ``per_cell`` deliveries per (day, account), chosen in SQL with ROW_NUMBER, so a month of
100,000 deliveries renders as counts plus the first few of each cell instead of 100,000 lines. The iCalendar
export takes every delivery.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal,
    select,
    true,
    union_all,
)

from publisher.models import State
from publisher.ops.when import midnight
from publisher.schema import deliveries, posts


@dataclass(frozen=True)
class Window:
    """Local days ``days`` in zone ``tz``; ``bounds`` are their midnights in UTC (one more than days)."""

    tz: ZoneInfo
    days: list[date]
    bounds: list[datetime]

    @property
    def start(self) -> datetime:
        return self.bounds[0]

    @property
    def end(self) -> datetime:
        return self.bounds[-1]


def window(first: date, last: date, tz: ZoneInfo) -> Window:
    """The local days ``first`` .. ``last`` inclusive."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return Window(tz, days, [midnight(d, tz) for d in days] + [midnight(last + timedelta(days=1), tz)])


@dataclass
class Cell:
    """One account on one local day: the first deliveries, and counts of all of them by state."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def more(self) -> int:
        return self.total - len(self.entries)

    def rest(self) -> dict[str, int]:
        """Counts by state of the deliveries not listed."""
        left = dict(self.counts)
        for e in self.entries:
            left[e["state"]] -= 1
        return {s: n for s, n in left.items() if n}


#: in a dense window only these are listed (the rest counted): what an operator has to look at
ATTENTION = ("pending_approval", "held", "unknown", "reconciling", "failed", "retry_wait")
#: a window with more deliveries than this is dense
DENSE = 2000


@dataclass
class View:
    window: Window
    cells: dict[date, dict[str, Cell]]
    per_cell: int
    account: str | None = None
    #: set when the window was dense: only deliveries in these states are listed
    listed_states: tuple[str, ...] | None = None

    @property
    def counts(self) -> dict[str, int]:
        total: dict[str, int] = defaultdict(int)
        for accounts in self.cells.values():
            for cell in accounts.values():
                for state, n in cell.counts.items():
                    total[state] += n
        return dict(sorted(total.items()))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def cut(self) -> bool:
        return any(c.more for accounts in self.cells.values() for c in accounts.values())


def _in_window(w: Window, account: str | None) -> ColumnElement[bool]:
    cond = and_(deliveries.c.due_at >= w.start, deliveries.c.due_at < w.end)
    return and_(cond, deliveries.c.account == account) if account else cond


def _day_index(w: Window) -> ColumnElement[Any]:
    """The local day (index into ``w.days``) of a delivery's due time, computed by the database: a binary tree of
    CASEs over the local midnights, so a month costs 5 comparisons a row, not 30."""
    inner = w.bounds[1:-1]  # inner[i] is the first instant of day i + 1

    def tree(lo: int, hi: int) -> ColumnElement[Any]:  # the day is one of lo..hi
        if lo == hi:
            return literal(lo)
        mid = (lo + hi + 1) // 2  # day >= mid  <=>  due_at >= inner[mid - 1]
        return case((deliveries.c.due_at < inner[mid - 1], tree(lo, mid - 1)), else_=tree(mid, hi))

    return tree(0, len(w.days) - 1)


def _accounts(account: str | None) -> Select[Any]:
    """The accounts that have deliveries, one index seek each (a loose scan of ix_deliveries_account_state_due:
    the next account is the least one after the last), however many deliveries each has."""
    if account:
        return select(literal(account).label("account"))
    d = deliveries.alias("d")
    found = select(func.min(deliveries.c.account).label("account")).cte("accounts", recursive=True)
    after = select(func.min(d.c.account)).where(d.c.account > found.c.account).scalar_subquery()
    found = found.union_all(select(after).where(found.c.account.is_not(None)))
    return select(found.c.account).where(found.c.account.is_not(None))


def count_query(w: Window, account: str | None) -> Select[Any]:
    """SQLite's counts per (day, account, state): for every account and state a row, with one column per day, each
    a count over one range of ix_deliveries_account_state_due (account = A, state = S, midnight <= due_at < next
    midnight). SQLite walks only the index entries it counts and sorts nothing; its GROUP BY over the window read
    and sorted every row (a month of 100,000: 30 ms of CPU instead of 150-330 ms, benchmarks/RESULTS-ops.md)."""
    accounts = _accounts(account).subquery("a")
    states = union_all(*(select(literal(s.value).label("state")) for s in State)).subquery("s")
    bounds = [bindparam(f"b{i}", b, type_=deliveries.c.due_at.type) for i, b in enumerate(w.bounds)]
    per_day = [select(func.count()).where(deliveries.c.account == accounts.c.account,
                                          deliveries.c.state == states.c.state,
                                          deliveries.c.due_at >= bounds[i], deliveries.c.due_at < bounds[i + 1])
               .scalar_subquery() for i in range(len(w.days))]
    return select(accounts.c.account, states.c.state, *per_day).select_from(accounts.join(states, true()))


def grouped_count_query(w: Window, account: str | None) -> Select[Any]:
    """PostgreSQL's counts per (day, account, state): one GROUP BY over the window, which it answers with a hash
    aggregate over one scan (no sort). The range counts of ``count_query`` cost it as much (3,000 index scans for
    a month), and their estimated cost switched on JIT compilation, which took over a second."""
    day = _day_index(w)
    return select(day, deliveries.c.account, deliveries.c.state, func.count()).where(_in_window(w, account)) \
        .group_by(day, deliveries.c.account, deliveries.c.state)


def counts(conn: Connection, w: Window, account: str | None, *,
           seeks: bool | None = None) -> dict[date, dict[str, Cell]]:
    """Cells with their counts by state, for the days and accounts that have deliveries. ``seeks``: count with
    ``count_query`` (default on SQLite) or ``grouped_count_query`` (default elsewhere)."""
    cells: dict[date, dict[str, Cell]] = {}
    if not (conn.dialect.name == "sqlite" if seeks is None else seeks):
        for i, acc, state, n in conn.execute(grouped_count_query(w, account)):
            cells.setdefault(w.days[i], {}).setdefault(acc, Cell()).counts[state] = n
        return cells
    for acc, state, *ns in conn.execute(count_query(w, account)):
        for day, n in zip(w.days, ns, strict=True):
            if n:
                cells.setdefault(day, {}).setdefault(acc, Cell()).counts[state] = n
    return cells


ENTRY_COLUMNS = (deliveries.c.id, deliveries.c.post_id, deliveries.c.account, deliveries.c.channel, deliveries.c.state,
                 deliveries.c.due_at, deliveries.c.part, deliveries.c.payload, deliveries.c.last_error,
                 deliveries.c.remote_url, posts.c.kind, posts.c.thread_key, posts.c.thread_seq)


def _entry(row: Any) -> dict[str, Any]:
    d = dict(row)
    payload = d.pop("payload") or {}
    d["text"] = str(payload.get("text", ""))
    return d


def build(conn: Connection, w: Window, *, account: str | None = None, per_cell: int = 10,
          dense: int | None = DENSE) -> View:
    """Counts per (day, account, state) for the whole window and the first ``per_cell`` deliveries of each cell.
    Past ``dense`` deliveries in the window, only those in ATTENTION states are listed (an index range scan per
    state), so a month of 100,000 costs one count query (``counts``) and a few hundred rows."""
    day = _day_index(w).label("day")
    where = _in_window(w, account)
    cells = counts(conn, w, account)
    total = sum(c.total for accounts in cells.values() for c in accounts.values())
    listed: tuple[str, ...] | None = None
    if dense is not None and total > dense:
        listed = ATTENTION
        where = and_(where, deliveries.c.state.in_(ATTENTION))
    if per_cell > 0:
        rn = func.row_number().over(partition_by=(day, deliveries.c.account),
                                    order_by=(deliveries.c.due_at, deliveries.c.id)).label("rn")
        first = select(deliveries.c.id.label("did"), day, rn).where(where).subquery()
        q = (select(first.c.day, *ENTRY_COLUMNS)
             .join_from(first, deliveries, deliveries.c.id == first.c.did)
             .join(posts, posts.c.id == deliveries.c.post_id)
             .where(first.c.rn <= per_cell)
             .order_by(first.c.day, deliveries.c.account, deliveries.c.due_at, deliveries.c.id))
        for row in conn.execute(q).mappings():
            e = _entry(row)
            cells[w.days[e.pop("day")]][e["account"]].entries.append(e)
    ordered = {d: dict(sorted(cells[d].items())) for d in w.days if d in cells}
    return View(w, ordered, per_cell, account, listed)


def all_entries(conn: Connection, w: Window, *, account: str | None = None) -> list[dict[str, Any]]:
    """Every delivery in the window (the first part of split posts: one per post and account), oldest first."""
    q = (select(*ENTRY_COLUMNS).join_from(deliveries, posts, posts.c.id == deliveries.c.post_id)
         .where(_in_window(w, account), deliveries.c.part == 1)
         .order_by(deliveries.c.due_at, deliveries.c.id))
    return [_entry(r) for r in conn.execute(q).mappings()]


def local(value: datetime, tz: ZoneInfo) -> datetime:
    return value.astimezone(tz)


def utc_z(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%H:%MZ")
