"""What to do with a queued delivery, from its row, its thread and the clock alone: no writes, no platform calls.

The runner adds the checks that need the account (tone re-check, rate budget, cadence) and then claims.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from publisher.models import DeliveryRef, Payload, Receipt, State
from publisher.publishing.outcomes import Label
from publisher.store import STOPPING, Transition, hold_behind, nearest_predecessor

#: a message this close before its delivery's time is not early (the broker's delay granularity)
EARLY_SLACK = timedelta(milliseconds=50)


def ready(d: dict[str, Any], now: datetime) -> bool:
    """Queued, not past its closing time, and due."""
    return (d["state"] == State.QUEUED.value and not (d["not_after"] and now > d["not_after"])
            and d["due_at"] <= now + EARLY_SLACK)


def decide(d: dict[str, Any], now: datetime, is_ready: bool,
           blocker: dict[str, Any] | None) -> Label | tuple[Label, Transition] | None:
    """Expired, early, or stopped by its thread predecessor ``blocker`` (the nearest one not cancelled or expired,
    not yet published): the label, with the transition that records it where there is one. A predecessor still on
    its way makes it wait (``scheduled``); one that stopped (failed, held, unknown, waiting for approval) holds it,
    saying why and what to do, so it is not claimed and sent back at every tick. None: nothing here stops it; the
    account's checks come next."""
    if d["not_after"] and now > d["not_after"]:
        return Label.EXPIRED, Transition(d, [State.QUEUED], State.EXPIRED, "expired",
                                         details={"not_after": d["not_after"].isoformat()})
    if not is_ready:
        return Label.EARLY  # clock skew between scheduler and worker: sent again for the exact time
    if blocker is None:
        return None
    if State(blocker["state"]) in STOPPING:
        return Label.HELD, hold_behind(d, State.QUEUED, blocker)
    waiting = f"waiting for predecessor {blocker['id']} ({blocker['state']})"
    return Label.WAITING, Transition(d, [State.QUEUED], State.SCHEDULED, "waiting", values={"last_error": waiting},
                                     details={"reason": waiting})


def parent(conn: Any, d: dict[str, Any]) -> tuple[Receipt | None, dict[str, Any] | None]:
    """The receipt to reply to (the nearest published predecessor, skipping cancelled and expired ones), or the
    predecessor the delivery must wait for."""
    prev = nearest_predecessor(conn, d)
    if prev is None:
        return None, None
    if State(prev["state"]) == State.PUBLISHED:
        return Receipt.from_dict(prev["receipt"]), None
    return None, prev


def delivery_ref(d: dict[str, Any], post: dict[str, Any], reply_to: Receipt | None,
                 attempt: int | None = None) -> DeliveryRef:
    """The one builder of what an adapter sees of a delivery: every field from the stored rows, nothing that moves.

    ``thread_seq`` is the delivery's place in its thread: the post's place among the ticket's posts, plus the part
    (a split post's later parts follow its first); anything with a predecessor is past 1.
    """
    seq = (post.get("thread_seq") or 1) + (d.get("part") or 1) - 1
    if d.get("prev_id") and seq < 2:
        seq = 2
    return DeliveryRef(id=d["id"], post_id=d["post_id"], account=d["account"], channel=d["channel"],
                       payload=Payload.from_dict(d["payload"]), attempt=attempt if attempt is not None else d["attempts"],
                       created_at=post.get("created_at"), thread_seq=seq, first_attempt_at=d.get("first_attempt_at"),
                       attempt_at=d.get("attempt_at"), parent=reply_to)
