"""The publish state machine for one delivery: what the publish actor runs for each message.

Every step re-reads the store and changes state with a conditional update, so duplicate or late messages are
no-ops. See the table in publisher/channels/base.py for how each adapter outcome maps to a state.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select

from publisher import channels, tone
from publisher.channels.base import Channel
from publisher.errors import (
    AuthExpired,
    ConfigError,
    NotPublished,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    ReconcileUnsupported,
    TransientError,
)
from publisher.models import SKIPPABLE, DeliveryRef, Payload, PostKind, Receipt, State
from publisher.policy import Cadence
from publisher.schema import deliveries
from publisher.settings import Settings
from publisher.store import (
    Store,
    deliveries_of,
    get_delivery,
    get_post,
    new_id,
    set_message_ids,
    transition,
    utcnow,
)

log = logging.getLogger("publisher.publishing")

MAX_TRANSIENT_ATTEMPTS = 8
#: sender(channel, delivery_id, delay_ms) -> broker message id
Sender = Callable[[str, str, int], str | None]


_WAITING_SUCCESSORS = select(deliveries).where(deliveries.c.prev_id == bindparam("prev"),
                                               deliveries.c.state == State.SCHEDULED.value,
                                               deliveries.c.due_at <= bindparam("now"))


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2 ** max(attempts - 1, 0) * 5, 900))


class Publisher:
    """Runs deliveries through the state machine. Thread-safe; one per worker process."""

    def __init__(self, settings: Settings, store: Store, sender: Sender | None = None, budget: Any = None,
                 cadence: Cadence | None = None) -> None:
        self.settings = settings
        self.store = store
        self.sender = sender
        self.budget = budget
        self.cadence = cadence or Cadence(getattr(budget, "client", None))
        self.actor = f"worker:{settings.actor}"
        self._adapters: dict[str, Channel] = {}
        self._lock = threading.Lock()
        self._crash_at = settings.env.get("PUBLISHER_CRASH_AT", "")

    # -- helpers --

    def _crash_point(self, name: str) -> None:
        if self._crash_at == name:
            os.kill(os.getpid(), signal.SIGKILL)

    def adapter(self, account_name: str) -> Channel:
        with self._lock:
            if account_name not in self._adapters:
                account = self.settings.account(account_name)
                self._adapters[account_name] = channels.for_publishing(account, self.settings)
            return self._adapters[account_name]

    def forget_adapter(self, account_name: str) -> None:
        with self._lock:
            self._adapters.pop(account_name, None)

    def _ref(self, d: dict[str, Any], attempt: int) -> DeliveryRef:
        return DeliveryRef(id=d["id"], post_id=d["post_id"], account=d["account"], channel=d["channel"],
                           payload=Payload.from_dict(d["payload"]), attempt=attempt, created_at=d["updated_at"])

    def _move(self, d: dict[str, Any], frm: list[State], to: State, action: str, *, values: dict[str, Any] | None = None,
              details: dict[str, Any] | None = None, attempt_id: str | None = None) -> bool:
        return self.store.grouped(lambda conn: transition(conn, self.actor, d, frm, to, action, values=values,
                                                          details=details, attempt_id=attempt_id))

    @staticmethod
    def _parent(conn: Any, d: dict[str, Any]) -> tuple[Receipt | None, str | None]:
        """The receipt to reply to, or the reason the delivery must wait for its predecessor."""
        prev_id = d["prev_id"]
        while prev_id:
            prev = get_delivery(conn, prev_id)
            if prev is None:
                return None, None
            state = State(prev["state"])
            if state == State.PUBLISHED:
                return Receipt.from_dict(prev["receipt"]), None
            if state in SKIPPABLE:
                prev_id = prev["prev_id"]
                continue
            return None, f"waiting for predecessor {prev['id']} ({state.value})"
        return None, None

    # -- entry point --

    def handle(self, delivery_id: str) -> str:
        now = utcnow()
        with self.store.read() as conn:  # one read for everything the decision needs
            d = get_delivery(conn, delivery_id)
            if d is None:
                return "missing"
            state = State(d["state"])
            ready = (state == State.QUEUED and not (d["not_after"] and now > d["not_after"])
                     and d["due_at"] <= now + timedelta(milliseconds=50))
            post = (get_post(conn, d["post_id"]) or {}) if ready else {}
            siblings = deliveries_of(conn, d["post_id"]) if ready else []
            parent, waiting = self._parent(conn, d) if ready else (None, None)
        if state == State.UNKNOWN:
            return self.reconcile(d)
        if state != State.QUEUED:
            return "duplicate"
        if d["not_after"] and now > d["not_after"]:
            self._move(d, [State.QUEUED], State.EXPIRED, "expired", details={"not_after": d["not_after"].isoformat()})
            return "expired"
        if not ready:
            if self.sender:  # early (clock skew between scheduler and worker): wait for the exact time, no call
                self.sender(d["channel"], d["id"], int((d["due_at"] - now).total_seconds() * 1000))
            return "early"
        if waiting:
            self._move(d, [State.QUEUED], State.SCHEDULED, "waiting", values={"last_error": waiting},
                       details={"reason": waiting})
            return "waiting"
        try:
            self.settings.account(d["account"])
        except ConfigError as e:
            self._move(d, [State.QUEUED], State.HELD, "held", values={"last_error": e.message}, details={"reason": e.message})
            return "held"
        held = self._tone_recheck(d, post, siblings)
        if held:
            return held
        return self._publish(d, parent, now, str(post.get("kind", "note")))

    def _policy_wait(self, d: dict[str, Any], kind: str, now: datetime) -> bool:
        """The account's cadence (quiet hours, minimum gap, maximum per day) says not yet: retry_wait until then.
        The continuation parts of a split post belong to its first part: they follow it, never a gap behind."""
        if (d.get("part") or 1) > 1:
            return False
        wait = self.cadence.wait_until(self.settings.account(d["account"]), kind, now)
        if wait is None:
            return False
        self._move(d, [State.QUEUED], State.RETRY_WAIT, "policy_wait", values={"due_at": wait.until, "last_error": wait.reason},
                   details={"rule": wait.rule, "retry_at": wait.until.isoformat()})
        return True

    def _tone_recheck(self, d: dict[str, Any], post: dict[str, Any], siblings: list[dict[str, Any]]) -> str | None:
        account = self.settings.account(d["account"])
        kind = PostKind(post.get("kind", "note"))
        findings = tone.check_delivery(self.store, d, account, kind, self.settings, siblings=siblings)
        allowed = [o["rule"] for o in post.get("overrides") or []]
        blocked = tone.blocking(findings, allowed)
        if not blocked:
            return None
        reason = "tone check now blocks: " + "; ".join(f"{f.rule}: {f.message}" for f in blocked)
        self._move(d, [State.QUEUED], State.HELD, "held", values={"last_error": reason},
                   details={"reason": "tone", "findings": [f.to_dict() for f in blocked]})
        return "held"

    def _publish(self, d: dict[str, Any], parent: Receipt | None, now: datetime, kind: str = "note") -> str:
        try:
            adapter = self.adapter(d["account"])
        except ConfigError as e:
            self._move(d, [State.QUEUED], State.HELD, "held", values={"last_error": e.message}, details={"reason": e.message})
            return "held"
        if self.budget is not None:
            retry_at = self.budget.acquire(d["account"], adapter.default_rate if "rate_limit" not in adapter.account.options
                                           else tuple(adapter.account.options["rate_limit"]))
            if retry_at is not None:
                self._move(d, [State.QUEUED], State.RETRY_WAIT, "rate_budget", values={"due_at": retry_at},
                           details={"retry_at": retry_at.isoformat(), "source": "shared budget"})
                return "budget"
        if self._policy_wait(d, kind, now):  # after the platform budget: a cadence slot is never spent on a 429
            return "policy"
        attempt_id = new_id("a")
        attempt = d["attempts"] + 1
        lease = now + timedelta(seconds=self.settings.scheduler.lease_seconds)
        if not self._move(d, [State.QUEUED], State.PUBLISHING, "publishing",
                          values={"attempts": attempt, "attempt_id": attempt_id, "lease_until": lease},
                          details={"attempt": attempt, "attempt_id": attempt_id,
                                   "reply_to": parent.remote_id if parent else None}):
            return "lost-claim"
        d = {**d, "state": State.PUBLISHING.value, "attempts": attempt}
        self._crash_point("after_claim_commit")
        ref = self._ref(d, attempt)
        try:
            receipt = adapter.publish(ref, parent)
        except RateLimited as e:
            self._feed_budget(adapter, d["account"], e.retry_at)
            self._move(d, [State.PUBLISHING], State.RETRY_WAIT, "rate_limited", attempt_id=attempt_id,
                       values={"due_at": e.retry_at, "last_error": e.message}, details={"retry_at": e.retry_at.isoformat()})
            return "rate_limited"
        except TransientError as e:
            if attempt >= MAX_TRANSIENT_ATTEMPTS:
                self._move(d, [State.PUBLISHING], State.FAILED, "failed", attempt_id=attempt_id,
                           values={"last_error": f"gave up after {attempt} attempts: {e.message}"},
                           details={"error": e.message, "class": "transient"})
                return "failed"
            due = utcnow() + backoff(attempt)
            self._move(d, [State.PUBLISHING], State.RETRY_WAIT, "transient_error", attempt_id=attempt_id,
                       values={"due_at": due, "last_error": e.message}, details={"error": e.message, "retry_at": due.isoformat()})
            return "transient"
        except AuthExpired as e:
            self.forget_adapter(d["account"])  # the renewed token (secrets file) is read when the delivery is released
            msg = f"{e.message} - run `publisher accounts verify {d['account']}` after renewing the token"
            self._move(d, [State.PUBLISHING], State.HELD, "auth_expired", attempt_id=attempt_id,
                       values={"last_error": msg}, details={"error": e.message})
            return "held"
        except PermanentError as e:
            self._move(d, [State.PUBLISHING], State.FAILED, "failed", attempt_id=attempt_id,
                       values={"last_error": e.message}, details={"error": e.message, "class": "permanent"})
            return "failed"
        except OutcomeUnknown as e:
            hint = e.existing.to_dict() if e.existing else None
            self._move(d, [State.PUBLISHING], State.UNKNOWN, "unknown", attempt_id=attempt_id,
                       values={"last_error": e.message, "due_at": utcnow(), "receipt": {"hint": hint} if hint else None},
                       details={"error": e.message})
            return self.reconcile({**d, "state": State.UNKNOWN.value})
        except Exception as e:  # noqa: BLE001 - an unclassified failure may have sent: never retry blindly
            log.warning("unclassified error publishing %s: %s", d["id"], type(e).__name__)
            self._move(d, [State.PUBLISHING], State.UNKNOWN, "unknown", attempt_id=attempt_id,
                       values={"last_error": f"unclassified error: {type(e).__name__}", "due_at": utcnow()},
                       details={"error": type(e).__name__})
            return "unknown"
        self._crash_point("after_api_success_before_db")
        self._feed_budget(adapter, d["account"], None)
        return self._record_published(d, receipt, attempt_id)

    def _feed_budget(self, adapter: Channel, account: str, retry_at: datetime | None) -> None:
        if self.budget is None:
            return
        rate = adapter.last_rate
        if retry_at is not None:
            self.budget.block_until(account, retry_at)
        elif rate and rate.remaining == 0 and rate.reset_at:
            self.budget.block_until(account, rate.reset_at)

    def _record_published(self, d: dict[str, Any], receipt: Receipt, attempt_id: str | None) -> str:
        values = {"remote_id": receipt.remote_id, "remote_url": receipt.url, "receipt": receipt.to_dict(),
                  "published_at": utcnow(), "last_error": None, "lease_until": None}
        details = {"remote_id": receipt.remote_id, "url": receipt.url}

        def record(conn: Any) -> tuple[bool, list[dict[str, Any]]]:  # the result and the wake-up of a successor
            moved = transition(conn, self.actor, d, [State.PUBLISHING], State.PUBLISHED, "published",
                               values=values, details=details, attempt_id=attempt_id)
            # else the lease was lost (sweeper made it unknown): the post exists, so record it anyway
            moved = moved or transition(conn, self.actor, d, [State.UNKNOWN, State.RECONCILING], State.PUBLISHED,
                                        "published", values=values, details={**details, "late": True})
            return moved, self._wake_successors(conn, d["id"]) if moved else []

        moved, woken = self.store.grouped(record)
        if not moved:
            log.error("delivery %s published as %s but its state changed meanwhile", d["id"], receipt.remote_id)
            return "orphan"
        self._send_woken(woken)
        return "published"

    def _wake_successors(self, conn: Any, delivery_id: str) -> list[dict[str, Any]]:
        """A thread successor waiting on this delivery can go now: queue it without waiting for a scheduler tick."""
        if self.sender is None:
            return []
        now = utcnow()
        rows = conn.execute(_WAITING_SUCCESSORS, {"prev": delivery_id, "now": now}).mappings().all()
        return [dict(r) for r in rows if transition(conn, self.actor, dict(r), [State.SCHEDULED], State.QUEUED,
                                                    "queued", values={"enqueued_at": now}, details={"woken_by": delivery_id})]

    def _send_woken(self, woken: list[dict[str, Any]]) -> None:
        if not woken or self.sender is None:
            return
        ids = {r["id"]: self.sender(r["channel"], r["id"], 0) for r in woken}
        with self.store.tx() as conn:
            set_message_ids(conn, {k: v for k, v in ids.items() if v})

    # -- reconciliation of unknown outcomes --

    def reconcile(self, d: dict[str, Any]) -> str:
        with self.store.read() as conn:
            d = get_delivery(conn, d["id"]) or d
        lease = utcnow() + timedelta(seconds=self.settings.scheduler.lease_seconds)
        attempt_id = new_id("r")
        if not self._move(d, [State.UNKNOWN], State.RECONCILING, "reconciling",
                          values={"lease_until": lease, "attempt_id": attempt_id}):
            return "duplicate"
        d = {**d, "state": State.RECONCILING.value}
        hint = (d.get("receipt") or {}).get("hint") if isinstance(d.get("receipt"), dict) else None
        try:
            adapter = self.adapter(d["account"])
            receipt = Receipt.from_dict(hint) if hint else adapter.reconcile(self._ref(d, d["attempts"]))
        except NotPublished as e:
            self._move(d, [State.RECONCILING], State.RETRY_WAIT, "reconciled_not_published", attempt_id=attempt_id,
                       values={"due_at": utcnow(), "last_error": e.message}, details={"result": "not published"})
            return "not-published"
        except (ReconcileUnsupported, ConfigError) as e:
            msg = (f"outcome unknown and {d['channel']} cannot confirm it: check the account, then "
                   f"`publisher retry {d['id']}` (if missing) or `publisher cancel {d['id']}`")
            self._move(d, [State.RECONCILING], State.UNKNOWN, "needs_human", attempt_id=attempt_id,
                       values={"last_error": msg, "due_at": utcnow() + timedelta(days=365)}, details={"error": e.message})
            return "needs-human"
        except (RateLimited, TransientError, AuthExpired, OutcomeUnknown, PermanentError) as e:
            due = e.retry_at if isinstance(e, RateLimited) else utcnow() + timedelta(seconds=self.settings.scheduler.reconcile_every_seconds)
            self._move(d, [State.RECONCILING], State.UNKNOWN, "reconcile_deferred", attempt_id=attempt_id,
                       values={"due_at": due, "last_error": e.message}, details={"error": e.message})
            return "deferred"
        return self._record_reconciled(d, receipt, attempt_id)

    def _record_reconciled(self, d: dict[str, Any], receipt: Receipt, attempt_id: str) -> str:
        values = {"remote_id": receipt.remote_id, "remote_url": receipt.url, "receipt": receipt.to_dict(),
                  "published_at": utcnow(), "last_error": None, "lease_until": None}
        with self.store.tx() as conn:
            moved = transition(conn, self.actor, d, [State.RECONCILING], State.PUBLISHED, "published",
                               attempt_id=attempt_id, values=values,
                               details={"remote_id": receipt.remote_id, "url": receipt.url, "reconciled": True})
            woken = self._wake_successors(conn, d["id"]) if moved else []
        if not moved:
            return "duplicate"
        self._send_woken(woken)
        return "reconciled"
