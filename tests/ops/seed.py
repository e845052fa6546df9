"""Posts for the ops views, accepted through the real service (tone check, audit), moved by the real transition."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from publisher import service
from publisher.models import State
from publisher.schema import deliveries
from publisher.store import transition
from tests.conftest import Env

ACCOUNTS = {"noc": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"},
            "andrew": {"channel": "dryrun", "kind": "personal", "timezone": "Europe/Oslo"},
            # two-person approval: posts here wait in pending_approval
            "comms": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo",
                      "approvers": ["somebody-else"]}}


def day_after_tomorrow() -> date:
    return (datetime.now(UTC) + timedelta(days=2)).date()


def at(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC)


def accept(env: Env, text: str, account: str, when: datetime, **kw: Any) -> list[str]:
    s = env.settings()
    store = env.store()
    r = service.accept(s, store, service.NewPost(text=text, accounts=[account], at=when, **kw))
    with store.read() as conn:
        return [row[0] for row in conn.execute(select(deliveries.c.id).where(deliveries.c.post_id == r.post_id))]


def hold(env: Env, delivery_id: str, reason: str) -> None:
    store = env.store()
    with store.tx() as conn:
        d = dict(conn.execute(deliveries.select().where(deliveries.c.id == delivery_id)).mappings().one())
        assert transition(conn, "test", d, [State.SCHEDULED], State.HELD, "held",
                          values={"last_error": reason}, details={"reason": reason})


def seed(env: Env) -> dict[str, Any]:
    """Day D (the day after tomorrow, UTC): noc at 08:00 and 23:30 UTC (00:30 the next day in Oslo), a held one,
    andrew at 09:15, comms (needs approval) at 10:00; andrew 4 more on D+1 for the per-cell limit."""
    env.write_config(ACCOUNTS)
    d = day_after_tomorrow()
    ids: dict[str, Any] = {
        "noc_morning": accept(env, "Planned maintenance on the core routers tonight", "noc", at(d, 8))[0],
        "noc_late": accept(env, "The maintenance window starts at midnight in Oslo", "noc", at(d, 23, 30))[0],
        "held": accept(env, "We are replacing the power supplies in the data centre", "noc", at(d, 12))[0],
        "andrew": accept(env, "New on the blog: how we plan maintenance windows", "andrew", at(d, 9, 15))[0],
        "comms": accept(env, "Our quarterly report is out now", "comms", at(d, 10))[0],
        "busy": [accept(env, f"Blog series part {i}: what we learned from the outage", "andrew", at(d, 13, i))[0]
                 for i in range(1, 5)],
        "day": d,
    }
    hold(env, ids["held"], "credentials expired for noc: run `publisher accounts verify noc`")
    return ids
