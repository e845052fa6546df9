"""The publish actors: one per channel queue, so a slow channel never blocks another.

Messages carry delivery ids and nothing else. ``max_retries=0``: the store, not Dramatiq, decides retries.
Importing this module sets up the broker first (publisher.workers.broker), as Dramatiq requires.
"""

from __future__ import annotations

import logging

from publisher import logs
from publisher.workers import broker, runtime

_handle = broker.setup(runtime.settings())  # before any actor is declared

import dramatiq  # noqa: E402

log = logging.getLogger("publisher.worker")


def publish(delivery_ids: str | list[str]) -> None:
    """One message: one delivery id, or several due at the same instant (the scheduler batches under load)."""
    ids = [delivery_ids] if isinstance(delivery_ids, str) else list(delivery_ids)
    for delivery_id, outcome in runtime.publisher().handle_many(ids).items():
        log.debug("delivery %s: %s", delivery_id, outcome)


ACTORS: dict[str, dramatiq.Actor] = {  # type: ignore[type-arg]
    q: dramatiq.actor(publish, actor_name=f"publish_{q}", queue_name=q, max_retries=0)  # type: ignore[call-overload]
    for q in broker.QUEUES
}
logs.pin()
