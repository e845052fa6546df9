"""Builds the broker and sets Dramatiq's global broker: the one place that does, before any actor is imported.

Redis when ``PUBLISHER_REDIS_URL`` is set, otherwise the embedded Valkey server (publisher.workers.embedded).
Messages carry delivery ids only; the store decides everything else.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from publisher.settings import Settings

QUEUES = ("dryrun", "x", "facebook", "linkedin", "mastodon", "bluesky")


def actor_name(channel: str) -> str:
    """The publish actor of a channel's queue: senders enqueue by this name and never import the actors."""
    return f"publish_{channel}"

_lock = threading.Lock()


@dataclass
class BrokerHandle:
    url: str
    started_embedded: bool
    broker: object
    #: the Redis client for what needs Redis whatever carries the messages: rate budgets, cadence, heartbeats
    kv: Any = None
    kind: str = "redis"  # or "rabbitmq"


_handle: BrokerHandle | None = None


def setup(settings: Settings) -> BrokerHandle:
    """Create the broker once per process and make it Dramatiq's global broker.

    Messages go to RabbitMQ when ``PUBLISHER_BROKER_URL`` is amqp://, else to Redis (``PUBLISHER_REDIS_URL``) or
    the embedded Valkey. Redis is needed in every case for the shared rate budgets, cadence and worker heartbeats:
    with RabbitMQ it comes from ``PUBLISHER_REDIS_URL``, or the embedded Valkey when that is unset (then budgets and
    cadence are per machine: set ``PUBLISHER_REDIS_URL`` when several machines share accounts)."""
    global _handle
    with _lock:
        if _handle is not None:
            return _handle
        import dramatiq
        from dramatiq.middleware import AgeLimit, CurrentMessage, Retries, ShutdownNotifications, TimeLimit

        started = False
        url = settings.redis_url
        if not url:
            from publisher.workers import embedded

            url, started = embedded.ensure(settings.valkey_dir)
        else:
            check_reachable(url)
        kind = "rabbitmq" if settings.broker_url else "redis"
        broker: Any
        if settings.broker_url:
            from dramatiq.brokers.rabbitmq import RabbitmqBroker

            check_rabbitmq(settings.broker_url)
            # confirm_delivery: enqueue returns only once RabbitMQ has the message, so the store never records a
            # message id for a message the broker did not take (the Redis path gets this from its Lua script)
            broker = RabbitmqBroker(url=settings.broker_url, confirm_delivery=True)
            import redis

            kv = redis.Redis.from_url(url)
        else:
            from dramatiq.brokers.redis import RedisBroker

            # A worker process that dies (SIGKILL, OOM) leaves the messages it had fetched, running or prefetched,
            # in its unacked set; Dramatiq hands them to live workers once its heartbeat is older than
            # heartbeat_timeout (60 s by default). Live processes heartbeat on every poll (their idle and delay-queue
            # consumers poll every <= 100 ms), so 15 s is safe, and a duplicate hand-over is a no-op for the actor
            # anyway (it re-reads the store).
            broker = RedisBroker(url=url, namespace="publisher", heartbeat_timeout=15_000, maintenance_chance=10_000)
            kv = broker.client
        # The store owns retries and age: no blind Dramatiq retries, no silent AgeLimit drops, no async
        # exceptions injected mid-HTTP-call (all of which would turn a publish into an unknown outcome).
        for mw in list(broker.middleware):
            if isinstance(mw, AgeLimit | ShutdownNotifications | TimeLimit):
                broker.middleware.remove(mw)
            elif isinstance(mw, Retries):
                mw.max_retries = 0
        broker.add_middleware(CurrentMessage())
        if kind == "redis":
            broker.add_middleware(_promotions())
        for q in QUEUES:
            broker.declare_queue(q)
        dramatiq.set_broker(broker)
        _handle = BrokerHandle(url=settings.broker_url or url, started_embedded=started, broker=broker, kv=kv,
                               kind=kind)
        return _handle


def check_reachable(url: str) -> None:
    """Fail at start, with the fix, instead of workers retrying a dead connection while `run` reports success."""
    import redis

    from publisher.errors import BrokerError

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.RedisError, OSError, ValueError) as e:
        raise BrokerError(f"cannot reach the broker at {_shown(url)}: {type(e).__name__}",
                          hint="start Redis, or fix PUBLISHER_REDIS_URL (unset it to use the embedded broker)") from None


def check_rabbitmq(url: str) -> None:
    """The same for RabbitMQ: one short connection, closed again."""
    import pika

    from publisher.errors import BrokerError

    try:
        params = pika.URLParameters(url)
        params.socket_timeout = 5
        params.blocked_connection_timeout = 5
        params.connection_attempts = 1
        pika.BlockingConnection(params).close()
    except Exception as e:  # noqa: BLE001 - pika raises many unrelated types; all mean "not reachable"
        raise BrokerError(f"cannot reach RabbitMQ at {_shown(url)}: {type(e).__name__}",
                          hint="start RabbitMQ, or fix PUBLISHER_BROKER_URL (unset it to use Redis or the "
                               "embedded broker)") from None


def _shown(url: str) -> str:
    """The URL without its password."""
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    return parts._replace(netloc=f"{parts.username or ''}:***@{parts.hostname}{f':{parts.port}' if parts.port else ''}").geturl()


def current() -> BrokerHandle | None:
    return _handle


#: message option a worker sets on a delayed message when it takes it into its delay queue: the message's Redis id
#: there (the one the store recorded), which Dramatiq replaces when it promotes the message to the ready queue
DQ_ID_OPTION = "publisher_dq_id"


def _promotions() -> Any:
    """Middleware: when a worker promotes a delayed message to its ready queue, Dramatiq gives it a new Redis id.
    Remember the new id under the old one, so the sweeper does not take the message for lost and send a duplicate
    (a no-op for the actor, but a flood of extra work under backlog). One key per message, however many delivery
    ids it carries."""
    from dramatiq import Middleware

    class Promotions(Middleware):  # type: ignore[misc]
        def before_delay_message(self, broker: Any, message: Any) -> None:
            message.options[DQ_ID_OPTION] = message.options.get("redis_message_id")

        def after_enqueue(self, broker: Any, message: Any, delay: int | None) -> None:
            old_id = message.options.get(DQ_ID_OPTION)
            if delay is None and old_id:
                broker.client.set(f"{broker.namespace}:promoted:{old_id}", message.options["redis_message_id"],
                                  ex=PROMOTION_TTL_SECONDS)

    return Promotions()


PROMOTION_TTL_SECONDS = 7 * 86400


def missing_messages(broker: Any, items: list[tuple[str, str, str | None]]) -> set[str]:
    """Of ``(queue, delivery_id, redis_message_id)``, the delivery ids whose message is in the broker neither as
    sent (ready, delayed or leased) nor as promoted from the delay queue: lost (for example a wiped broker)."""
    if not hasattr(broker, "namespace"):
        return _missing_rabbitmq(broker, items)
    client, ns = broker.client, broker.namespace
    # asked once per message, not per delivery: a message carries up to ``message_batch`` deliveries, and in a
    # backlog the sweep asks about a thousand deliveries a second
    sent = list(dict.fromkeys((queue, mid or "-") for queue, _, mid in items))
    pipe = client.pipeline(transaction=False)
    for queue, mid in sent:
        pipe.hexists(f"{ns}:{queue}.msgs", mid)
        pipe.hexists(f"{ns}:{queue}.DQ.msgs", mid)
        pipe.get(f"{ns}:promoted:{mid}")
    res = pipe.execute()
    unsure = [(key, res[3 * i + 2]) for i, key in enumerate(sent) if not (res[3 * i] or res[3 * i + 1])]
    pipe = client.pipeline(transaction=False)
    for (queue, _), promoted in unsure:
        pipe.hexists(f"{ns}:{queue}.msgs", promoted or "-")
    found = pipe.execute() if unsure else []
    gone = {key for (key, _), ok in zip(unsure, found, strict=True) if not ok}
    return {d for queue, d, mid in items if (queue, mid or "-") in gone}


def _missing_rabbitmq(broker: Any, items: list[tuple[str, str, str | None]]) -> set[str]:
    """RabbitMQ cannot be asked whether one message is still there. Its queues are durable and its messages
    persistent, so a message is lost only when a queue is purged or deleted. The sweeper only asks about deliveries
    queued past due by ``lost_after_seconds``: when their channel's queue and delay queue hold no ready message at
    all, nothing can still be waiting for them, so they are lost and re-sent. While a queue holds messages
    (a backlog) nothing is re-sent; once it drains, anything still stale is. A message a worker has fetched but not
    acknowledged is not counted, so a busy worker can see its delivery re-sent: a no-op, the actor's claim is
    conditional on the store."""
    empty: dict[str, bool] = {}
    for queue, _, _ in items:
        if queue not in empty:
            ready, delayed, _dead = broker.get_queue_message_counts(queue)
            empty[queue] = ready == 0 and delayed == 0
    return {d for queue, d, _ in items if empty[queue]}
