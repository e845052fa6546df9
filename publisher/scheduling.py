"""The scheduler tick and the sweeper. They enqueue; they never publish.

tick:   claim deliveries due within the horizon (scheduled | retry_wait -> queued, conditional, audited) and
        send them with a delay to the exact due time: one message each, or, under load, up to ``message_batch``
        ids of one channel due at the same instant in one message. Far-future deliveries never enter the broker.
sweep:  - ``publishing``/``reconciling`` whose lease expired -> ``unknown`` (a worker died mid-call);
        - ``unknown`` due for reconciliation -> message to the actor (which reconciles, never republishes blindly);
        - ``queued`` past due whose message is gone from the broker (wiped, lost) -> send again;
        - anything waiting past its ``not_after`` -> ``expired``.
Any number of schedulers may run: every claim is a conditional update, so none double-enqueues.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from publisher import audit
from publisher.models import State
from publisher.publishing import Sender
from publisher.schema import deliveries
from publisher.settings import Settings
from publisher.store import (
    Store,
    Transition,
    claim_due,
    due_unknown,
    expired_leases,
    held_behind_released,
    hold_behind,
    set_message_ids,
    stale_queued,
    stalled_successors,
    touch_enqueued,
    transition,
    transitions,
    utcnow,
)

log = logging.getLogger("publisher.scheduler")
#: missing([(channel, delivery_id, message_id)]) -> the delivery ids whose message is no longer in the broker
Missing = Callable[[list[tuple[str, str, str | None]]], set[str]]
#: deliveries due this close together may share a message (delayed to the latest of them)
SAME_INSTANT = timedelta(milliseconds=20)


class Scheduler:
    def __init__(self, settings: Settings, store: Store, sender: Sender, missing: Missing) -> None:
        self.settings = settings
        self.store = store
        self.sender = sender
        self.missing = missing
        self.cfg = settings.scheduler
        self.actor = f"scheduler:{settings.actor}"
        self._last_sweep = 0.0
        #: when the loop last went round (epoch seconds): the heartbeat reports it, so a stuck loop shows
        self.last_loop: float | None = None
        self._last_seal = float("-inf")

    def tick(self, now: datetime | None = None) -> int:
        """Claim and send what is due within the horizon. Returns how many were sent."""
        now = now or utcnow()
        with self.store.tx() as conn:
            claimed = claim_due(conn, self.actor, now, timedelta(seconds=self.cfg.horizon_seconds), int(self.cfg.batch))
        if not claimed:
            return 0
        ids: dict[str, str] = {}
        for channel, chunk in self.messages(claimed):
            delay = max(0, int((chunk[-1]["due_at"] - utcnow()).total_seconds() * 1000))
            mid = self.sender(channel, [c["id"] for c in chunk], delay)
            if mid:
                ids.update(dict.fromkeys((c["id"] for c in chunk), mid))
        with self.store.tx() as conn:
            set_message_ids(conn, ids)
        return len(claimed)

    def messages(self, claimed: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
        """Group claimed deliveries into broker messages: one channel each, due within ``SAME_INSTANT`` of each other
        (the message is delayed to the latest of them, so none is early), at most ``message_batch`` ids, and at
        least ``spread`` messages when there are that many deliveries, so a burst still reaches every worker
        thread: a handful due together travel one per message, exactly as before."""
        by_channel: dict[str, list[dict[str, Any]]] = {}
        for c in sorted(claimed, key=lambda c: c["due_at"]):
            by_channel.setdefault(c["channel"], []).append(c)
        size = max(1, min(int(self.cfg.message_batch), len(claimed) // max(1, int(self.cfg.spread))))
        out: list[tuple[str, list[dict[str, Any]]]] = []
        for channel, items in by_channel.items():
            chunk: list[dict[str, Any]] = []
            for c in items:
                if chunk and (len(chunk) >= size or c["due_at"] - chunk[0]["due_at"] > SAME_INSTANT):
                    out.append((channel, chunk))
                    chunk = []
                chunk.append(c)
            out.append((channel, chunk))
        return out

    def sweep(self, now: datetime | None = None) -> dict[str, int]:
        now = now or utcnow()
        counts = {"leases": 0, "reconcile": 0, "resent": 0, "expired": 0, "held": 0, "released": 0}
        with self.store.tx() as conn:
            for d in expired_leases(conn, now):
                if transition(conn, self.actor, d, [State(d["state"])], State.UNKNOWN, "lease_expired",
                              values={"due_at": now, "last_error": "worker stopped mid-publish; reconciling"},
                              details={"lease_until": d["lease_until"].isoformat()}):
                    counts["leases"] += 1
        reconcile: list[dict[str, Any]] = []
        with self.store.tx() as conn:
            for d in due_unknown(conn, now):
                retry = now + timedelta(seconds=self.cfg.reconcile_every_seconds)
                if conn.execute(deliveries.update().where(deliveries.c.id == d["id"],
                                                          deliveries.c.state == State.UNKNOWN.value)
                                .values(due_at=retry)).rowcount == 1:
                    reconcile.append(d)
        for d in reconcile:  # after the commit: no broker message is sent while a write transaction is open
            self.sender(d["channel"], [d["id"]], 0)
            counts["reconcile"] += 1
        lost_after = timedelta(seconds=self.cfg.lost_after_seconds)
        with self.store.read() as conn:
            stale = stale_queued(conn, now, lost_after)
        lost = self.missing([(d["channel"], d["id"], d["message_id"]) for d in stale]) if stale else set()
        # Lost messages are re-sent together: one transaction marks every one still queued, the messages go out
        # grouped as tick groups them, one transaction records their ids. One by one (two transactions each, up to
        # 1,000 a sweep) the sweep held the scheduler's only thread for half a minute on a loaded machine, and no
        # tick claimed the rest of a burst meanwhile.
        with self.store.tx() as conn:
            still = touch_enqueued(conn, dict.fromkeys((d["id"] for d in stale if d["id"] in lost), None), now)
        again = [d for d in stale if d["id"] in still]
        mids: dict[str, str | None] = {}
        for channel, chunk in self.messages(again):
            mid = self.sender(channel, [d["id"] for d in chunk], 0)
            mids.update(dict.fromkeys((d["id"] for d in chunk), mid))
        with self.store.tx() as conn:
            touch_enqueued(conn, mids, now)
        for d in again:
            log.warning("re-sent delivery %s: its broker message was lost", d["id"])
        counts["resent"] += len(again)
        counts["expired"] = self._expire(now)
        counts["held"], counts["released"] = self._threads(now)
        counts["sealed"] = self._seal()
        return counts

    #: how often the sweep commits the audit streams' heads into the global chain of seals (docs/audit.md)
    SEAL_EVERY_SECONDS = 10.0

    def _seal(self) -> int:
        """A seal over every audit stream's head, at most every ``SEAL_EVERY_SECONDS``: 1 if one was written."""
        import time

        if time.monotonic() - self._last_seal < self.SEAL_EVERY_SECONDS:
            return 0
        with self.store.tx() as conn:
            before = audit.head(conn)
            after = audit.seal(conn)
        self._last_seal = time.monotonic()
        return int(after != before)

    def _threads(self, now: datetime) -> tuple[int, int]:
        """A thread never stalls silently: a due successor of a failed, held or unknown predecessor becomes ``held``,
        naming it and what to do; once that predecessor is published, cancelled or expired, the successor goes back
        to ``scheduled`` by itself (and is claimed at the next tick). Each pass holds one more link of a chain."""
        held = released = 0
        for _ in range(20):  # a chain of successors behind one stopped delivery: one link per pass
            with self.store.tx() as conn:
                pairs = stalled_successors(conn, now)
                moved = transitions(conn, self.actor, [hold_behind(d, State.SCHEDULED, p) for d, p in pairs])
            held += sum(moved)
            if not any(moved):
                break
        with self.store.tx() as conn:
            rows = held_behind_released(conn)
            released = sum(transitions(conn, self.actor, [
                Transition(d, [State.HELD], State.SCHEDULED, "resumed", values={"last_error": None},
                           details={"reason": "predecessor done", "predecessor": d["prev_id"]}) for d in rows]))
        return held, released

    def _expire(self, now: datetime) -> int:
        waiting = [State.SCHEDULED.value, State.RETRY_WAIT.value, State.HELD.value, State.QUEUED.value,
                   State.PENDING_APPROVAL.value]
        n = 0
        with self.store.tx() as conn:
            rows = conn.execute(select(deliveries).where(deliveries.c.state.in_(waiting), deliveries.c.not_after.is_not(None),
                                                         deliveries.c.not_after < now).limit(1000)).mappings().all()
            for r in rows:
                d: dict[str, Any] = dict(r)
                if transition(conn, self.actor, d, [State(d["state"])], State.EXPIRED, "expired",
                              details={"not_after": d["not_after"].isoformat()}):
                    n += 1
        return n

    def run(self, stop: threading.Event) -> None:
        """Tick every ``tick_seconds``; sweep every second. Survives database hiccups (logs and carries on)."""
        import time

        feeds = threading.Thread(target=self.poll_feeds, args=(stop,), name="feeds", daemon=True)
        feeds.start()
        while not stop.is_set():
            try:
                sent = self.tick()
                if time.monotonic() - self._last_sweep >= 1.0:
                    self.sweep()
                    self._last_sweep = time.monotonic()
            except Exception as e:  # noqa: BLE001 - a loop that must not die; the next tick retries
                log.error("scheduler tick failed: %s", type(e).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
                sent = 0
            self.last_loop = time.time()
            if sent < self.cfg.batch:
                stop.wait(self.cfg.tick_seconds)
        feeds.join(timeout=30)

    def poll_feeds(self, stop: threading.Event) -> None:
        """The sibling of ``tick`` for blogs: poll the feeds that are due, each by one scheduler at a time (a lease
        taken by conditional update), and store their new entries as posts that ``tick`` then claims."""
        from publisher.workflows import feeds

        owner = f"{os.getpid()}:{threading.get_ident()}:{self.actor}"[:100]
        feeds.run(self.settings, self.store, owner, stop)
