"""Reconciling a delivery whose outcome is unknown: look it up on the platform, never send it blindly.

Each answer of the adapter's ``reconcile`` is looked up in ``outcomes.RECONCILE``: found (published, and its thread
successors woken), definitively not there (sent again), cannot tell for now (looked up again later), or no lookup
can settle it (a human decides: ``docs/reconcile.md`` says which case is which per channel).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from publisher.models import DeliveryRef, Receipt, State
from publisher.publishing.decide import delivery_ref, parent
from publisher.publishing.outcomes import RECONCILE, Label, classify, due_at, message
from publisher.store import get_delivery, get_post, new_id, transition, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from publisher.channels.base import Channel
    from publisher.settings import Settings
    from publisher.store import Store


class Reconciling:
    """The reconciler half of ``Publisher``, which provides the store, settings, adapters and successor wake-up."""

    settings: Settings
    store: Store
    actor: str

    def adapter(self, account_name: str) -> Channel:
        raise NotImplementedError

    def _move(self, d: dict[str, Any], frm: list[State], to: State, action: str, *, values: dict[str, Any] | None = None,
              details: dict[str, Any] | None = None, attempt_id: str | None = None) -> bool:
        raise NotImplementedError

    def _wake_successors(self, conn: Connection, delivery_ids: list[str]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _send_each(self, rows: list[dict[str, Any]], now: datetime | None = None) -> None:
        raise NotImplementedError

    def reconcile(self, d: dict[str, Any]) -> str:
        with self.store.read() as conn:
            d = get_delivery(conn, d["id"]) or d
        lease = utcnow() + timedelta(seconds=self.settings.scheduler.lease_seconds)
        attempt_id = new_id("r")
        if not self._move(d, [State.UNKNOWN], State.RECONCILING, "reconciling",
                          values={"lease_until": lease, "attempt_id": attempt_id}):
            return Label.DUPLICATE
        d = {**d, "state": State.RECONCILING.value}
        hint = (d.get("receipt") or {}).get("hint") if isinstance(d.get("receipt"), dict) else None
        try:
            adapter = self.adapter(d["account"])
            receipt = Receipt.from_dict(hint) if hint else adapter.reconcile(self._reconcile_ref(d))
        except Exception as e:  # noqa: BLE001 - every exception is classified by the outcome table
            out = classify(e, RECONCILE)
            text = message(e)
            if out.label == Label.NEEDS_HUMAN:
                text = (f"outcome unknown and {d['channel']} cannot confirm it ({text}): check the account, then "
                        f"`publisher retry {d['id']}` (if it is missing) or `publisher cancel {d['id']}`")
            due = due_at(out, e, utcnow(), d["attempts"], self.settings.scheduler.reconcile_every_seconds)
            self._move(d, [State.RECONCILING], out.state, out.action, attempt_id=attempt_id,
                       values={"due_at": due, "last_error": text, "lease_until": None},
                       details={"error": message(e), "result": out.sent})
            return out.label
        return self._record_reconciled(d, receipt, attempt_id)

    def _reconcile_ref(self, d: dict[str, Any]) -> DeliveryRef:
        """The reference reconcile looks with: the same builder as publishing, with the post the delivery was sent
        in reply to (its nearest published predecessor, whose receipt does not change)."""
        with self.store.read() as conn:
            post = get_post(conn, d["post_id"]) or {}
            reply_to, _waiting = parent(conn, d)
        return delivery_ref(d, post, reply_to)

    def _record_reconciled(self, d: dict[str, Any], receipt: Receipt, attempt_id: str) -> str:
        values = {"remote_id": receipt.remote_id, "remote_url": receipt.url, "receipt": receipt.to_dict(),
                  "published_at": utcnow(), "last_error": None, "lease_until": None}
        with self.store.tx() as conn:
            moved = transition(conn, self.actor, d, [State.RECONCILING], State.PUBLISHED, "published",
                               attempt_id=attempt_id, values=values,
                               details={"remote_id": receipt.remote_id, "url": receipt.url, "reconciled": True})
            woken = self._wake_successors(conn, [d["id"]]) if moved else []
        if not moved:
            return Label.DUPLICATE
        self._send_each(woken)
        return Label.RECONCILED
