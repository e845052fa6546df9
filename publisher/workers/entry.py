"""The module Dramatiq's worker CLI imports (``dramatiq publisher.workers.entry``): builds the broker from the
settings, declares the actors on it, beats a heartbeat per process (publisher.ops.heartbeat), serves metrics when
asked (publisher.ops.metrics), and sets up logging: redacted, quiet third parties, text or JSON lines."""

from __future__ import annotations

from publisher import logs
from publisher.ops import heartbeat
from publisher.workers import actors, broker, runtime

_settings = runtime.settings()
_broker = broker.setup(_settings).broker
actors.declare(_broker)
_broker.add_middleware(heartbeat.middleware(_settings))  # type: ignore[attr-defined]
_broker.add_middleware(runtime.warming())  # type: ignore[attr-defined]
if _settings.metrics_port:  # `publisher worker --metrics-port` set up the shared directory before the pool started
    from dramatiq.middleware.prometheus import Prometheus

    from publisher.ops import metrics

    _broker.add_middleware(Prometheus())  # type: ignore[attr-defined]
    metrics.pool()
logs.adopt(_settings.log_format)
