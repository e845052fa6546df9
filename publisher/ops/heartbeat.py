"""Heartbeats: every worker and scheduler process says, every few seconds, that it is alive and what it consumes.

One Redis key per process, ``publisher:heartbeat:<role>:<host>:<pid>``, holding JSON (role, host, pid, queues,
started, beat) and living three beat intervals (``PUBLISHER_HEARTBEAT_SECONDS``, default 5): a process that dies,
even by SIGKILL, disappears from ``publisher health`` within that time; one that stops cleanly deletes its key.
A background thread writes the beats, on its own Redis connection (``publisher.ops.redisconn``), never through the
broker. A scheduler's beat also carries when its loop last went round (``progress``), so a stuck loop shows.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from publisher.settings import Settings

log = logging.getLogger("publisher.heartbeat")
PREFIX = "publisher:heartbeat:"
#: a key lives this many beat intervals: one or two missed beats (a slow Redis, a GC pause) do not mark it dead
TTL_BEATS = 3


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Heartbeat:
    """Beats for one process in one role (``worker`` or ``scheduler``) until ``stop``."""

    def __init__(self, redis_url: str, role: str, queues: list[str], every: float,
                 progress: Callable[[], float | None] | None = None) -> None:
        from publisher.ops import redisconn

        self.client = redisconn.client(redis_url, timeout=max(1.0, every))
        self.role, self.queues, self.every = role, sorted(queues), every
        self.host, self.pid, self.started = socket.gethostname(), os.getpid(), time.time()
        self.key = f"{PREFIX}{role}:{self.host}:{self.pid}"
        self.progress = progress
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def value(self) -> dict[str, Any]:
        data: dict[str, Any] = {"role": self.role, "host": self.host, "pid": self.pid, "queues": self.queues,
                                "started": _iso(self.started), "beat": _iso(time.time())}
        if self.progress is not None:
            done = self.progress()
            data["progress"] = _iso(done) if done else None
        return data

    def beat(self) -> None:
        ttl_ms = max(1, int(self.every * TTL_BEATS * 1000))
        self.client.set(self.key, json.dumps(self.value()), px=ttl_ms)

    def start(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._run, name=f"heartbeat-{self.role}", daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                self.beat()
                if failing:
                    log.warning("heartbeat %s: Redis answers again", self.key)
                failing = False
            except Exception as e:  # noqa: BLE001 - a beat that fails must not kill the process; health shows it
                if not failing:
                    log.warning("heartbeat %s: cannot write to Redis (%s)", self.key, type(e).__name__)
                failing = True
            self._stop.wait(self.every)

    def stop(self) -> None:
        """Stop beating and remove the key: a process that stops cleanly is gone at once."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.every + 5)
        try:
            self.client.delete(self.key)
        except Exception:  # noqa: BLE001 - Redis gone: the key expires by itself
            pass
        self.client.close()


def start(settings: Settings, role: str, queues: list[str],
          progress: Callable[[], float | None] | None = None) -> Heartbeat:
    """Start beating for this process (Redis from the settings: the configured URL or the embedded server)."""
    from publisher.ops import redisconn

    url = redisconn.url(settings)
    assert url is not None  # started on demand
    return Heartbeat(url, role, queues, settings.heartbeat_seconds, progress).start()


def alive(client: Any) -> list[dict[str, Any]]:
    """Every live process's heartbeat (keys expire with their process)."""
    keys = sorted(client.scan_iter(match=f"{PREFIX}*", count=500))
    if not keys:
        return []
    out = []
    for raw in client.mget(keys):
        if raw is None:
            continue  # expired between SCAN and MGET
        try:
            out.append(json.loads(raw))
        except ValueError:
            continue
    return out


def middleware(settings: Settings) -> Any:
    """Dramatiq middleware: a heartbeat for each worker process from its boot to its shutdown, naming the queues
    the worker consumes (``--queues``: by default those of the configured accounts' channels)."""
    from dramatiq import Middleware

    from publisher.workers.broker import QUEUES

    class Beating(Middleware):  # type: ignore[misc]
        def __init__(self) -> None:
            self.heart: Heartbeat | None = None

        def after_worker_boot(self, broker: Any, worker: Any) -> None:
            wanted = getattr(worker, "consumer_whitelist", None) or set(QUEUES)
            self.heart = start(settings, "worker", [q for q in QUEUES if q in wanted])

        def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
            if self.heart is not None:
                self.heart.stop()
                self.heart = None

    return Beating()
