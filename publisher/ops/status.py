"""What the store holds right now, in a handful of aggregate queries that the indexes answer
(ix_deliveries_state_due: counts by state, the next due, the oldest late; no row-by-row scan in Python)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from publisher.models import State
from publisher.schema import deliveries

#: states that will still publish on their own: the next one due is among these
WAITING = (State.SCHEDULED, State.QUEUED, State.RETRY_WAIT)
#: due in the past and not published yet (nor given up on): late
LATE = (State.PENDING_APPROVAL, State.SCHEDULED, State.QUEUED, State.PUBLISHING, State.RETRY_WAIT, State.UNKNOWN,
        State.RECONCILING, State.HELD)
#: states a human has to look at, listed with their reasons
ATTENTION = (State.HELD, State.UNKNOWN, State.RECONCILING)
COLUMNS = (deliveries.c.id, deliveries.c.post_id, deliveries.c.account, deliveries.c.channel, deliveries.c.state,
           deliveries.c.due_at)


def _first(conn: Connection, states: tuple[State, ...], *, after: datetime | None = None,
           before: datetime | None = None) -> dict[str, Any] | None:
    """The delivery with the earliest due time among ``states`` (one index seek per state)."""
    best: dict[str, Any] | None = None
    for s in states:
        q = select(*COLUMNS).where(deliveries.c.state == s.value)
        if after is not None:
            q = q.where(deliveries.c.due_at >= after)
        if before is not None:
            q = q.where(deliveries.c.due_at < before)
        row = conn.execute(q.order_by(deliveries.c.due_at).limit(1)).mappings().first()
        if row and (best is None or row["due_at"] < best["due_at"]):
            best = dict(row)
    return best


def collect(conn: Connection, now: datetime, *, limit: int = 20) -> dict[str, Any]:
    counts = {s: n for s, n in conn.execute(select(deliveries.c.state, func.count()).group_by(deliveries.c.state))}
    late = conn.execute(select(func.count()).where(deliveries.c.state.in_([s.value for s in LATE]),
                                                   deliveries.c.due_at < now)).scalar_one()
    oldest = _first(conn, LATE, before=now)
    attention: dict[str, Any] = {}
    for s in ATTENTION:
        n = counts.get(s.value, 0)
        if not n:
            continue
        reasons = conn.execute(
            select(deliveries.c.last_error, func.count().label("n")).where(deliveries.c.state == s.value)
            .group_by(deliveries.c.last_error).order_by(func.count().desc()).limit(limit)).all()
        rows = conn.execute(select(*COLUMNS, deliveries.c.last_error).where(deliveries.c.state == s.value)
                            .order_by(deliveries.c.due_at).limit(limit)).mappings().all()
        attention[s.value] = {"count": n, "reasons": [{"reason": r or "(none recorded)", "count": c} for r, c in reasons],
                              "deliveries": [dict(r) for r in rows], "more": max(0, n - len(rows))}
    return {"at": now, "total": sum(counts.values()),
            "counts": {s.value: counts.get(s.value, 0) for s in State},
            "next_due": _first(conn, WAITING, after=now),
            "late": {"count": late, "oldest": oldest,
                     "oldest_seconds": round((now - oldest["due_at"]).total_seconds(), 1) if oldest else None},
            "attention": attention}
