"""The module Dramatiq's worker CLI imports (``dramatiq publisher.workers.entry``): builds the broker from the
settings, declares the actors on it, and pins the loggers that could print tokens."""

from __future__ import annotations

from publisher import logs
from publisher.workers import actors, broker, runtime

actors.declare(broker.setup(runtime.settings()).broker)
logs.pin()
