"""Prometheus metrics. prometheus_client is imported only when metrics are switched on (``--metrics-port`` or
``PUBLISHER_METRICS_PORT``); until then every recording function here is a no-op costing one attribute check, so
the CLI path (``ticket update``, the tone check) pays nothing.

Where they are served:
- ``publisher scheduler --metrics-port 9192`` and ``publisher run --metrics-port P``: one process, one registry,
  prometheus_client's own HTTP server; the scheduler also computes the store and queue gauges every few seconds.
- ``publisher worker --metrics-port 9191``: Dramatiq forks several worker processes; they write their samples to
  files in one directory (prometheus_client's multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR``) and Dramatiq's own
  Prometheus middleware serves them all, summed, from one extra process on the one port, with its
  ``dramatiq_*`` message metrics beside ours. One scrape target per pool whatever ``--processes`` is, and the
  counts of a process that died stay in the totals (a port per process would lose them, and change the targets
  with every restart).

Names (the README's table lists them with their labels): publisher_deliveries_total, publisher_publish_attempts_total,
publisher_publish_lateness_seconds, publisher_publish_call_seconds, publisher_retries_total,
publisher_rate_limited_total, publisher_tone_findings_total, publisher_feed_polls_total, and from the scheduler
publisher_deliveries_by_state, publisher_held, publisher_unknown, publisher_queue_ready, publisher_queue_delayed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

log = logging.getLogger("publisher.metrics")

#: seconds between the published time and the due time
LATENESS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600)
CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
#: how often the scheduler recomputes the gauges
GAUGE_SECONDS = 5.0


class _Metrics:
    def __init__(self, registry: Any, gauges: bool) -> None:
        from prometheus_client import Counter, Gauge, Histogram

        r = registry
        self.deliveries = Counter("publisher_deliveries", "Deliveries handled by the publish actor, by channel and "
                                  "outcome (published, rate_limited, transient, failed, held, duplicate, early, ...)",
                                  ["channel", "outcome"], registry=r)
        self.attempts = Counter("publisher_publish_attempts", "Platform calls to publish, by channel and the state "
                                "the delivery went to", ["channel", "state"], registry=r)
        self.lateness = Histogram("publisher_publish_lateness_seconds", "Published time minus due time",
                                  ["channel"], buckets=LATENESS_BUCKETS, registry=r)
        self.call = Histogram("publisher_publish_call_seconds", "Duration of the platform call that publishes",
                              ["channel"], buckets=CALL_BUCKETS, registry=r)
        self.retries = Counter("publisher_retries", "Publish attempts after the first for the same delivery",
                               ["channel"], registry=r)
        self.rate_limited = Counter("publisher_rate_limited", "Platform answers saying the account is rate limited "
                                    "(HTTP 429 and equivalents)", ["channel"], registry=r)
        self.findings = Counter("publisher_tone_findings", "Tone and policy findings, by rule and severity",
                                ["rule", "severity"], registry=r)
        self.feed_polls = Counter("publisher_feed_polls", "Feed polls, by feed and outcome", ["feed", "outcome"],
                                  registry=r)
        self.gauges = gauges
        if gauges:
            self.by_state = Gauge("publisher_deliveries_by_state", "Deliveries in the store, by state", ["state"],
                                  registry=r)
            self.held = Gauge("publisher_held", "Held deliveries, by reason (credentials, tone, predecessor, other)",
                              ["reason"], registry=r)
            self.unknown = Gauge("publisher_unknown", "Deliveries whose outcome is unknown (unknown or reconciling)",
                                 registry=r)
            self.queue_ready = Gauge("publisher_queue_ready", "Broker messages waiting in a channel queue",
                                     ["queue"], registry=r)
            self.queue_delayed = Gauge("publisher_queue_delayed", "Broker messages delayed to their due time",
                                       ["queue"], registry=r)


_lock = threading.Lock()
_m: _Metrics | None = None


def enabled() -> bool:
    return _m is not None


def serve(port: int, host: str = "0.0.0.0") -> Any:
    """This process's metrics (gauges included), served over HTTP on ``port``. Returns the registry."""
    global _m
    from prometheus_client import CollectorRegistry, disable_created_metrics, start_http_server

    disable_created_metrics()  # the *_created samples only double the output
    with _lock:
        registry = CollectorRegistry()
        _m = _Metrics(registry, gauges=True)
        start_http_server(port, addr=host, registry=registry)
    log.info("metrics on http://%s:%d/metrics", host, port)
    return registry


def pool() -> None:
    """In a Dramatiq worker process: record into the shared multiprocess directory (``PROMETHEUS_MULTIPROC_DIR``,
    set by ``publisher worker`` before the pool starts); Dramatiq's Prometheus middleware serves it."""
    global _m
    import os

    from dramatiq.middleware.prometheus import DB_PATH

    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", DB_PATH)  # before prometheus_client is imported
    from prometheus_client import CollectorRegistry

    with _lock:
        _m = _Metrics(CollectorRegistry(), gauges=False)


def disable() -> None:
    global _m
    with _lock:
        _m = None


# -- recording (no-ops while metrics are off) --

def delivery(channel: str, outcome: str) -> None:
    if _m is not None:
        _m.deliveries.labels(channel, str(outcome)).inc()


def attempt(channel: str, state: str, attempt_no: int, seconds: float, lateness: float | None,
            rate_limited: bool) -> None:
    """One platform call: where it left the delivery, which attempt it was, how long it took, how late a
    publish was (``lateness`` only when it published), whether the platform said rate limited."""
    m = _m
    if m is None:
        return
    m.attempts.labels(channel, state).inc()
    m.call.labels(channel).observe(seconds)
    if attempt_no > 1:
        m.retries.labels(channel).inc()
    if rate_limited:
        m.rate_limited.labels(channel).inc()
    if lateness is not None:
        m.lateness.labels(channel).observe(max(0.0, lateness))


def findings(items: Iterable[Any]) -> None:
    """Tone findings as ``publisher.tone.check`` produced them."""
    m = _m
    if m is None:
        return
    for f in items:
        m.findings.labels(f.rule, f.severity).inc()


def feed_poll(feed: str, outcome: str) -> None:
    """One poll of a feed (``outcome``: new, unchanged, error, ...): for the feed readers to call."""
    if _m is not None:
        _m.feed_polls.labels(feed, outcome).inc()


# -- gauges, computed by the scheduler --

def update_gauges(store: Any) -> None:
    """Deliveries by state, held by reason, unknown, and broker queue depth."""
    m = _m
    if m is None or not m.gauges:
        return
    from sqlalchemy import select

    from publisher.models import State
    from publisher.schema import deliveries
    from publisher.store import counts_by_state, hold_reasons

    with store.read() as conn:
        counts = counts_by_state(conn)
        held_ids = [r[0] for r in conn.execute(select(deliveries.c.id).where(
            deliveries.c.state == State.HELD.value).limit(10_000))]
        reasons = hold_reasons(conn, held_ids)
    for state in State:
        m.by_state.labels(state.value).set(counts.get(state.value, 0))
    by_reason = {"credentials": 0, "tone": 0, "predecessor": 0, "other": 0}
    for i in held_ids:
        by_reason[reasons.get(i, "other")] += 1
    for reason, n in by_reason.items():
        m.held.labels(reason).set(n)
    m.unknown.set(counts.get(State.UNKNOWN.value, 0) + counts.get(State.RECONCILING.value, 0))
    for queue, (ready, delayed) in queue_depth().items():
        m.queue_ready.labels(queue).set(ready)
        m.queue_delayed.labels(queue).set(delayed)


def queue_depth() -> dict[str, tuple[int, int]]:
    """Per channel queue: (messages ready, messages delayed to their due time), from this process's broker."""
    from publisher.workers import broker as broker_mod

    handle = broker_mod.current()
    if handle is None:
        return {}
    b: Any = handle.broker
    out: dict[str, tuple[int, int]] = {}
    if hasattr(b, "get_queue_message_counts"):  # RabbitMQ: (ready, delayed, dead-lettered)
        for q in broker_mod.QUEUES:
            ready, delayed, _ = b.get_queue_message_counts(q)
            out[q] = (ready, delayed)
        return out
    pipe = b.client.pipeline(transaction=False)  # Redis: the ready list, and the delay queue's messages
    for q in broker_mod.QUEUES:
        pipe.llen(f"{b.namespace}:{q}")
        pipe.hlen(f"{b.namespace}:{q}.DQ.msgs")
    res = pipe.execute()
    for i, q in enumerate(broker_mod.QUEUES):
        out[q] = (int(res[2 * i]), int(res[2 * i + 1]))
    return out


def watch(store: Any, stop: threading.Event, every: float = GAUGE_SECONDS) -> threading.Thread:
    """A background thread that recomputes the gauges every ``every`` seconds until ``stop``."""

    def loop() -> None:
        while not stop.is_set():
            try:
                update_gauges(store)
            except Exception as e:  # noqa: BLE001 - a gauge that cannot be read must not stop the scheduler
                log.warning("metrics: cannot compute the gauges (%s)", type(e).__name__)
            stop.wait(every)

    t = threading.Thread(target=loop, name="metrics-gauges", daemon=True)
    t.start()
    return t
