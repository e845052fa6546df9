"""The one place that says what needs Redis, whatever the message broker is.

Needs Redis (``PUBLISHER_REDIS_URL``, or the embedded Valkey server in the data directory):
- the heartbeats of workers and schedulers (``publisher.ops.heartbeat``), read by ``publisher health``;
- the per-account posting budgets and cadence shared by every worker (``publisher.budget``, ``publisher.policy``);
- the Redis broker itself, when it is the broker (``publisher.workers.broker``).

These helpers open their own connection from the settings, never through the broker object, so they keep working
when the broker is something else.
"""

from __future__ import annotations

from typing import Any

from publisher.settings import Settings


def url(settings: Settings, *, start: bool = True) -> str | None:
    """The Redis URL: the configured one, or the embedded server's (started on demand when ``start``; without it,
    None when the embedded server is not running)."""
    if settings.redis_url:
        return settings.redis_url
    from publisher.workers import embedded

    if start:
        return embedded.ensure(settings.valkey_dir)[0]
    return embedded.running_url(settings.valkey_dir)


def client(redis_url: str, timeout: float = 5.0) -> Any:
    """A Redis client that fails within ``timeout`` seconds instead of hanging on a dead server."""
    import redis

    return redis.Redis.from_url(redis_url, socket_connect_timeout=timeout, socket_timeout=timeout)


def shown(redis_url: str) -> str:
    """The URL without its password (for messages and health output)."""
    from urllib.parse import urlsplit

    parts = urlsplit(redis_url)
    if parts.password is None:
        return redis_url
    host = f"{parts.hostname}{f':{parts.port}' if parts.port else ''}"
    return parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()
