"""Per-process wiring: settings -> store -> broker -> publisher/scheduler. Built lazily, once."""

from __future__ import annotations

import threading
from typing import Any

from publisher import settings as settings_mod
from publisher.publishing import Publisher
from publisher.scheduling import Scheduler
from publisher.settings import Settings
from publisher.store import Store

_lock = threading.RLock()
_state: dict[str, Any] = {}


def configure(settings: Settings) -> None:
    """Use these settings for this process (``publisher run``/``demo``/tests); call before importing actors."""
    with _lock:
        _state.clear()
        _state["settings"] = settings


def settings() -> Settings:
    with _lock:
        if "settings" not in _state:
            _state["settings"] = settings_mod.load()
        return _state["settings"]  # type: ignore[no-any-return]


def store() -> Store:
    with _lock:
        if "store" not in _state:
            _state["store"] = Store(settings().database_url)
        return _state["store"]  # type: ignore[no-any-return]


def send(channel: str, delivery_ids: list[str], delay_ms: int) -> str | None:
    """One message carrying these delivery ids (a lone id travels as a plain string, as it always has), enqueued by
    actor name: a sender never needs the actors declared (``publisher.workers.actors``)."""
    import dramatiq

    from publisher.workers import broker

    arg: str | list[str] = delivery_ids[0] if len(delivery_ids) == 1 else list(delivery_ids)
    handle = broker.setup(settings())
    message: dramatiq.Message[Any] = dramatiq.Message(queue_name=channel, actor_name=broker.actor_name(channel), args=(arg,), kwargs={}, options={})
    sent = handle.broker.enqueue(message, delay=delay_ms or None)  # type: ignore[attr-defined]
    return str(sent.options.get("redis_message_id") or sent.message_id)


def missing(items: list[tuple[str, str, str | None]]) -> set[str]:
    """Of (channel, delivery_id, message_id), the delivery ids whose broker message is gone."""
    from publisher.workers import broker

    handle = broker.current()
    if handle is None:
        return set()
    return broker.missing_messages(handle.broker, items)


def budget() -> Any:
    with _lock:
        if "budget" not in _state:
            from publisher.budget import Budget
            from publisher.workers import broker

            handle = broker.setup(settings())
            _state["budget"] = Budget(handle.kv)
        return _state["budget"]


def publisher() -> Publisher:
    with _lock:
        if "publisher" not in _state:
            _state["publisher"] = Publisher(settings(), store(), sender=send, budget=budget())
        return _state["publisher"]  # type: ignore[no-any-return]


def warm(threads: int) -> None:
    """Build now what a worker process's first message would otherwise build when it falls due: the store (and its
    schema check), the budget, the publisher, a pooled database connection for each worker thread, and the adapter
    module of each configured channel. Without it, the first message of a burst on PostgreSQL opened sixteen
    connections at its due time (benchmarks/RESULTS-scale.md, 2026-12-06). Best effort: what cannot be reached now
    is reached when a message needs it, as before; only the error's type is logged."""
    import logging

    from publisher import channels

    try:
        store = publisher().store
        pool = getattr(store.engine.pool, "size", None)
        opened = [store.engine.connect() for _ in range(min(threads, pool() if callable(pool) else threads))]
        for conn in opened:  # back to the pool, open
            conn.close()
        for channel in sorted(settings().channels):
            try:
                channels.adapter_class(channel)
            except Exception:  # noqa: BLE001 - a missing SDK is reported when a delivery needs it, as before
                pass
    except Exception as e:  # noqa: BLE001 - best effort, see above
        logging.getLogger("publisher.worker").warning("worker warm-up skipped: %s", type(e).__name__)


def scheduler() -> Scheduler:
    with _lock:
        if "scheduler" not in _state:
            from publisher.workers import broker

            broker.setup(settings())
            _state["scheduler"] = Scheduler(settings(), store(), send, missing)
        return _state["scheduler"]  # type: ignore[no-any-return]


def warming() -> Any:
    """Dramatiq middleware: ``warm`` in a thread of its own once the worker process has booted, so a store that
    cannot be reached never holds up the boot."""
    from dramatiq import Middleware

    class Warming(Middleware):  # type: ignore[misc]
        def after_worker_boot(self, broker: Any, worker: Any) -> None:
            threading.Thread(target=warm, args=(int(worker.worker_threads),), name="warm-up", daemon=True).start()

    return Warming()
