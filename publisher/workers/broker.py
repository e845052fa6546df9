"""Builds the broker and sets Dramatiq's global broker: the one place that does, before any actor is imported.

Redis when ``PUBLISHER_REDIS_URL`` is set, otherwise the embedded Valkey server (publisher.workers.embedded).
Messages carry delivery ids only; the store decides everything else.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from publisher.settings import Settings

QUEUES = ("dryrun", "x", "facebook", "linkedin", "mastodon", "bluesky")
_lock = threading.Lock()


@dataclass
class BrokerHandle:
    url: str
    started_embedded: bool
    broker: object


_handle: BrokerHandle | None = None


def setup(settings: Settings) -> BrokerHandle:
    """Create the broker once per process and make it Dramatiq's global broker."""
    global _handle
    with _lock:
        if _handle is not None:
            return _handle
        import dramatiq
        from dramatiq.brokers.redis import RedisBroker
        from dramatiq.middleware import AgeLimit, CurrentMessage, Retries, ShutdownNotifications, TimeLimit

        started = False
        url = settings.redis_url
        if not url:
            from publisher.workers import embedded

            url, started = embedded.ensure(settings.valkey_dir)
        broker = RedisBroker(url=url, namespace="publisher")
        # The store owns retries and age: no blind Dramatiq retries, no silent AgeLimit drops, no async
        # exceptions injected mid-HTTP-call (all of which would turn a publish into an unknown outcome).
        for mw in list(broker.middleware):
            if isinstance(mw, AgeLimit | ShutdownNotifications | TimeLimit):
                broker.middleware.remove(mw)
            elif isinstance(mw, Retries):
                mw.max_retries = 0
        broker.add_middleware(CurrentMessage())
        for q in QUEUES:
            broker.declare_queue(q)
        dramatiq.set_broker(broker)
        _handle = BrokerHandle(url=url, started_embedded=started, broker=broker)
        return _handle


def current() -> BrokerHandle | None:
    return _handle


def message_present(broker: object, queue: str, redis_message_id: str | None) -> bool:
    """Is the message still in the broker (ready, delayed or leased)? False means it was lost."""
    if not redis_message_id:
        return False
    client = broker.client  # type: ignore[attr-defined]
    ns = broker.namespace  # type: ignore[attr-defined]
    for q in (queue, f"{queue}.DQ"):
        if client.hexists(f"{ns}:{q}.msgs", redis_message_id):
            return True
    return False
