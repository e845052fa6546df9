"""What the store holds right now, in a handful of aggregate queries that the indexes answer
(ix_deliveries_state_due: counts by state, the next due, the oldest late; no row-by-row scan in Python).

Plain SQL through ``publisher.rawsql``, so ``publisher status`` runs on the CLI's SQLAlchemy-free SQLite store
(``Store(driver_only=True)``) as well as on any SQLAlchemy connection: its import was most of the command's time."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from publisher import rawsql
from publisher.models import State

#: states that will still publish on their own: the next one due is among these
WAITING = (State.SCHEDULED, State.QUEUED, State.RETRY_WAIT)
#: due in the past and not published yet (nor given up on): late
LATE = (State.PENDING_APPROVAL, State.SCHEDULED, State.QUEUED, State.PUBLISHING, State.RETRY_WAIT, State.UNKNOWN,
        State.RECONCILING, State.HELD)
#: states a human has to look at, listed with their reasons
ATTENTION = (State.HELD, State.UNKNOWN, State.RECONCILING)
COLUMNS = ("id", "post_id", "account", "channel", "state", "due_at")


def _pick(row: dict[str, Any], extra: tuple[str, ...] = ()) -> dict[str, Any]:
    return {k: row[k] for k in (*COLUMNS, *extra)}


def _first(conn: Any, states: tuple[State, ...], *, after: datetime | None = None,
           before: datetime | None = None) -> dict[str, Any] | None:
    """The delivery with the earliest due time among ``states`` (one index seek per state)."""
    d = rawsql.dialect_of(conn)
    ph, at = d.placeholder, d.binders("deliveries")["due_at"]
    best: dict[str, Any] | None = None
    for s in states:
        where, params = f"state = {ph}", [s.value]
        if after is not None:
            where, params = f"{where} AND due_at >= {ph}", [*params, at(after)]
        if before is not None:
            where, params = f"{where} AND due_at < {ph}", [*params, at(before)]
        rows = rawsql.select_rows(conn, "deliveries", where, params, order_by="due_at", limit=1)
        if rows and (best is None or rows[0]["due_at"] < best["due_at"]):
            best = _pick(rows[0])
    return best


def collect(conn: Any, now: datetime, *, limit: int = 20) -> dict[str, Any]:
    d = rawsql.dialect_of(conn)
    ph, at = d.placeholder, d.binders("deliveries")["due_at"]
    counts = dict(rawsql.fetch_all(conn, "SELECT state, count(*) FROM deliveries GROUP BY state"))
    late_states = [s.value for s in LATE]
    in_late, in_params = rawsql.in_(d, "state", late_states)
    late = (rawsql.fetch_one(conn, f"SELECT count(*) FROM deliveries WHERE {in_late} AND due_at < {ph}",
                             [*in_params, at(now)]) or (0,))[0]
    oldest = _first(conn, LATE, before=now)
    attention: dict[str, Any] = {}
    for s in ATTENTION:
        n = counts.get(s.value, 0)
        if not n:
            continue
        reasons = rawsql.fetch_all(conn, f"SELECT last_error, count(*) AS n FROM deliveries WHERE state = {ph} "
                                         f"GROUP BY last_error ORDER BY n DESC LIMIT {int(limit)}", [s.value])
        rows = rawsql.select_rows(conn, "deliveries", f"state = {ph}", [s.value], order_by="due_at", limit=limit)
        attention[s.value] = {"count": n, "reasons": [{"reason": r or "(none recorded)", "count": c} for r, c in reasons],
                              "deliveries": [_pick(r, ("last_error",)) for r in rows], "more": max(0, n - len(rows))}
    return {"at": now, "total": sum(counts.values()),
            "counts": {s.value: counts.get(s.value, 0) for s in State},
            "next_due": _first(conn, WAITING, after=now),
            "late": {"count": late, "oldest": oldest,
                     "oldest_seconds": round((now - oldest["due_at"]).total_seconds(), 1) if oldest else None},
            "attention": attention}
