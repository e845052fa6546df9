"""Assertions shared by the end-to-end tests (the Jepsen-style checker of RELIABILITY.md 7.2)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from publisher import audit
from publisher.channels.dryrun import ledger_rows
from publisher.schema import deliveries, posts
from publisher.store import Store


def all_deliveries(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        q = select(deliveries, posts.c.thread_seq).join(posts, posts.c.id == deliveries.c.post_id)
        return [dict(r) for r in conn.execute(q).mappings()]


def states(store: Store) -> Counter[str]:
    return Counter(d["state"] for d in all_deliveries(store))


def check_invariants(store: Store, ledger_path: Any) -> dict[str, Any]:
    """I1 no duplicate, I2 nothing lost, I3 order, I4 audit chain. Returns the ledger for further checks."""
    ds = {d["id"]: d for d in all_deliveries(store)}
    ledger = ledger_rows(ledger_path)
    per_delivery = Counter(r["delivery_id"] for r in ledger)
    dupes = {k: v for k, v in per_delivery.items() if v > 1}
    assert not dupes, f"published twice: {dupes}"
    for d in ds.values():
        if d["state"] == "published":
            assert per_delivery[d["id"]] == 1, f"{d['id']} is published but the platform has {per_delivery[d['id']]}"
            row = next(r for r in ledger if r["delivery_id"] == d["id"])
            assert row["remote_id"] == d["remote_id"]
    by_remote = {r["remote_id"]: r for r in ledger}
    position = {r["delivery_id"]: r["seq"] for r in ledger}
    for d in ds.values():
        if d["state"] == "published" and d["prev_id"]:
            prev = ds[d["prev_id"]]
            row = next(r for r in ledger if r["delivery_id"] == d["id"])
            assert row["in_reply_to"] == prev["remote_id"], f"{d['id']} does not reply to its predecessor"
            assert position[prev["id"]] < position[d["id"]], f"{d['id']} was published before its predecessor"
            assert by_remote[row["in_reply_to"]]["delivery_id"] == prev["id"]
    with store.read() as conn:
        v = audit.verify(conn)
    assert v.ok, v.reason
    return {"ledger": ledger, "deliveries": ds}
