"""run (scheduler + worker threads in one process), worker (Dramatiq processes), scheduler, broker stop."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable

import click

import publisher
from publisher.commands import app
from publisher.settings import Settings

log = logging.getLogger("publisher.run")


def run_inprocess(settings: Settings, *, threads: int = 4, until: Callable[[], bool] | None = None,
                  timeout: float | None = None, stop: threading.Event | None = None) -> None:
    """Embedded broker (if no Redis URL) + scheduler thread + Dramatiq worker threads, in this process, each with
    its heartbeat (and metrics on ``settings.metrics_port``)."""
    from publisher.ops import heartbeat, metrics
    from publisher.workers import broker, embedded, runtime

    runtime.configure(settings)
    handle = broker.setup(settings)
    import dramatiq

    from publisher.workers import actors

    actors.declare(handle.broker)

    worker = dramatiq.Worker(handle.broker, worker_threads=threads, worker_timeout=100)  # type: ignore[arg-type]
    stop = stop or threading.Event()
    scheduler = runtime.scheduler()
    sched_thread = threading.Thread(target=scheduler.run, args=(stop,), name="scheduler", daemon=True)
    if settings.metrics_port:
        metrics.serve(settings.metrics_port)
        metrics.watch(runtime.store(), stop)
    worker.start()
    sched_thread.start()
    hearts = [heartbeat.start(settings, "worker", list(broker.QUEUES)),
              heartbeat.start(settings, "scheduler", [], progress=lambda: scheduler.last_loop)]
    deadline = time.monotonic() + timeout if timeout else None
    try:
        while not stop.is_set():
            if until is not None and until():
                break
            if deadline and time.monotonic() > deadline:
                log.warning("run: stopping after %.0f s", timeout)
                break
            stop.wait(0.2)
    finally:
        stop.set()
        for heart in hearts:
            heart.stop()
        sched_thread.join(timeout=10)
        worker.stop(timeout=10_000)
        handle.broker.close()  # type: ignore[attr-defined]
        if handle.started_embedded:
            embedded.stop(settings.valkey_dir)


def _signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: object) -> None:
        click.echo(f"received signal {signum}, stopping after in-flight deliveries", err=True)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def _finite(value: float | None) -> float | None:
    import math

    if value is not None and not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds", param_hint="'--duration'")
    return value


@click.command()
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64))
@click.option("--duration", default=None, type=click.FloatRange(min=0, min_open=True, max=10**9),
              callback=lambda _c, _p, v: _finite(v), help="Stop after this many seconds (default: run until stopped).")
@click.option("--until-done", is_flag=True, help="Stop once no delivery is waiting to be published (scripts, tests).")
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve Prometheus metrics on this port (default: PUBLISHER_METRICS_PORT, else off).")
def run(threads: int, duration: float | None, until_done: bool, metrics_port: int | None) -> None:
    """Scheduler and worker threads in one process, on the embedded defaults (or the configured Redis/database).

    \b
    Example:
      publisher run --threads 8
    """
    from publisher import logs

    s = _with_metrics(app().settings, metrics_port)
    logs.setup(s.log_level, s.log_format)
    stop = threading.Event()
    _signals(stop)
    click.echo(f"publisher run: {threads} worker threads + scheduler; store {s.database_url.split('://')[0]}; "
               f"broker {'rabbitmq' if s.broker_url else 'redis' if s.redis_url else 'embedded valkey'} (Ctrl-C stops)", err=True)
    until = None
    if until_done:
        from publisher.store import Store, counts_by_state

        store = Store(s.database_url)
        busy = ("scheduled", "queued", "publishing", "retry_wait", "reconciling")

        def until() -> bool:
            with store.read() as conn:
                counts = counts_by_state(conn)
            return not any(counts.get(b) for b in busy)

    run_inprocess(s, threads=threads, timeout=duration, stop=stop, until=until)


@click.command()
@click.option("--queues", "-Q", multiple=True,
              help="Only these channel queues (default: the channels of the configured accounts).")
@click.option("--processes", "-p", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", "-t", default=8, show_default=True, type=click.IntRange(1, 256))
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve the pool's Prometheus metrics on this port (default: PUBLISHER_METRICS_PORT, else off).")
def worker(queues: tuple[str, ...], processes: int, threads: int, metrics_port: int | None) -> None:
    """Dramatiq worker processes for the publish actors (one queue per channel).

    \b
    Examples:
      publisher worker --processes 2 --threads 8
      publisher worker --queues x --queues mastodon
      publisher worker --metrics-port 9191
    """
    from publisher.workers.broker import QUEUES

    bad = [q for q in queues if q not in QUEUES]
    if bad:
        from publisher.errors import InputError

        raise InputError(f"unknown queue(s): {', '.join(bad)}", hint=f"use one of {', '.join(QUEUES)}")
    s = app().settings  # validate the configuration (and reach the broker) before forking
    if s.redis_url:
        from publisher.workers.broker import check_reachable

        check_reachable(s.redis_url)
    if s.broker_url:
        from publisher.workers.broker import check_rabbitmq

        check_rabbitmq(s.broker_url)
    # Dramatiq's worker processes put --path (default: the working directory) first on sys.path: started from a
    # directory holding another `publisher` folder (an older checkout, say), they imported that code, not this one.
    # They import the package this command runs from.
    here = os.path.dirname(os.path.dirname(os.path.abspath(publisher.__file__)))
    args = [sys.executable, "-m", "dramatiq", "publisher.workers.entry", "--path", here, "--processes",
            str(processes), "--threads", str(threads), "--worker-shutdown-timeout", "30000"]
    # By default, the queues of the channels the configured accounts use: Dramatiq polls each queue and its delay
    # queue every 0.1 s when idle (worker_timeout below), so the six channels' twelve consumers a process cost an
    # idle pool of 2 processes 11 % of a core, against 3.6 % for one channel (benchmarks/RESULTS-scale.md).
    # `publisher health` names a channel with due work that no live worker consumes.
    queues = queues or tuple(q for q in QUEUES if q in s.channels)
    if queues:
        args += ["--queues", *queues]
    env = dict(os.environ)
    # Prefetch one message ahead per thread: with prefetch = threads, Dramatiq's consumer fetches only after a thread
    # has finished and then backs off up to worker_timeout, so threads sat idle between messages (measured 39/s vs
    # 66/s on 4 threads at 50 ms; benchmarks/RESULTS-channels.md). Parked messages of a killed process stay in Redis
    # and are requeued by Dramatiq (and our sweeper only re-sends what is gone), so nothing is lost.
    env["dramatiq_queue_prefetch"] = str(threads * 2)
    env["dramatiq_worker_timeout"] = "100"  # the consumer's idle back-off cap, ms
    port = metrics_port or s.metrics_port
    if port:
        env.update(_pool_metrics_env(s, port))
    sys.stdout.flush()
    os.execve(sys.executable, args, env)


@click.command()
@click.option("--metrics-port", type=click.IntRange(1, 65535), default=None,
              help="Serve Prometheus metrics (and the store and queue gauges) on this port "
                   "(default: PUBLISHER_METRICS_PORT, else off).")
def scheduler(metrics_port: int | None) -> None:
    """The scheduler/sweeper loop alone (run any number; claims are conditional).

    \b
    Examples:
      publisher scheduler
      publisher scheduler --metrics-port 9192
    """
    from publisher import logs
    from publisher.ops import heartbeat, metrics
    from publisher.workers import runtime

    s = _with_metrics(app().settings, metrics_port)
    logs.setup(s.log_level, s.log_format)
    runtime.configure(s)
    stop = threading.Event()
    _signals(stop)
    sched = runtime.scheduler()
    if s.metrics_port:
        metrics.serve(s.metrics_port)
        metrics.watch(runtime.store(), stop)
    heart = heartbeat.start(s, "scheduler", [], progress=lambda: sched.last_loop)
    click.echo("publisher scheduler running (Ctrl-C stops)", err=True)
    try:
        sched.run(stop)
    finally:
        heart.stop()


def _with_metrics(s: Settings, port: int | None) -> Settings:
    """``--metrics-port`` wins over ``PUBLISHER_METRICS_PORT``."""
    import dataclasses

    return dataclasses.replace(s, metrics_port=port) if port else s


def _pool_metrics_env(s: Settings, port: int) -> dict[str, str]:
    """Environment for a worker pool serving metrics: Dramatiq's Prometheus middleware serves, on ``port``, what
    every worker process writes to one directory (prometheus_client's multiprocess mode). The directory is this
    pool's (one per port), emptied at start so a restart does not add up old runs."""
    import shutil

    directory = s.home / "metrics" / f"worker-{port}"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    return {"PUBLISHER_METRICS_PORT": str(port), "dramatiq_prom_port": str(port), "dramatiq_prom_db": str(directory),
            "PROMETHEUS_MULTIPROC_DIR": str(directory)}


@click.group(name="broker")
def broker_cmd() -> None:
    """The embedded broker (a Valkey server in the data directory).

    \b
    Example:
      publisher broker stop
    """


@broker_cmd.command(name="stop")
def broker_stop() -> None:
    """Stop the embedded broker (its append-only file keeps queued messages)."""
    from publisher.workers import embedded

    stopped = embedded.stop(app().settings.valkey_dir)
    click.echo("embedded broker stopped" if stopped else "embedded broker was not running")


@broker_cmd.command(name="status")
def broker_status() -> None:
    """Say which broker is in use and whether it answers: exit 0 when it does, 1 when it does not (the broker check
    of `publisher health`, which checks workers, scheduler, store and lateness too)."""
    from publisher.ops import health

    check = health.check_broker(app().settings)
    click.echo(f"{'ok' if check.ok else 'FAIL'}  broker  {check.reason}")
    if not check.ok:
        sys.exit(1)
