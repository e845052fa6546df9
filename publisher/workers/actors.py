"""The publish actors: one per channel queue, so a slow channel never blocks another.

Messages carry delivery ids and nothing else. ``max_retries=0``: the store, not Dramatiq, decides retries.
Nothing happens at import: ``declare(broker)`` declares the actors on the broker that ``publisher.workers.broker``
built (the worker entry module, ``publisher run`` and the tests call it). Senders never import this module: they
enqueue by actor name (``broker.actor_name``), so the runtime and the actors do not import each other.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from publisher.workers import runtime

log = logging.getLogger("publisher.worker")
_lock = threading.Lock()
_declared: dict[int, dict[str, Any]] = {}


def publish(delivery_ids: str | list[str]) -> None:
    """One message: one delivery id, or several due at the same instant (the scheduler batches under load)."""
    ids = [delivery_ids] if isinstance(delivery_ids, str) else list(delivery_ids)
    for delivery_id, outcome in runtime.publisher().handle_many(ids).items():
        log.debug("delivery %s: %s", delivery_id, outcome)


def declare(broker: Any) -> dict[str, Any]:
    """Declare one publish actor per channel queue on ``broker`` (once per broker); the actors by channel."""
    import dramatiq

    from publisher.workers.broker import QUEUES, actor_name

    with _lock:
        if id(broker) not in _declared:
            _declared[id(broker)] = {
                q: dramatiq.actor(publish, actor_name=actor_name(q), queue_name=q, max_retries=0,  # type: ignore[call-overload]
                                  broker=broker)
                for q in QUEUES
            }
        return _declared[id(broker)]
