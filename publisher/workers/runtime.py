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


def scheduler() -> Scheduler:
    with _lock:
        if "scheduler" not in _state:
            from publisher.workers import broker

            broker.setup(settings())
            _state["scheduler"] = Scheduler(settings(), store(), send, missing)
        return _state["scheduler"]  # type: ignore[no-any-return]
