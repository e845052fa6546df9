"""Shared fixtures: a fresh data directory per test, the real store (SQLite, or PostgreSQL when
PUBLISHER_TEST_DATABASE_URL is set: one schema per test) and the real broker (embedded Valkey, or Redis when
PUBLISHER_TEST_REDIS_URL is set: flushed per test; RabbitMQ carries the messages when PUBLISHER_TEST_BROKER_URL is
an amqp:// URL: its publisher queues purged per test, Redis or the embedded Valkey still holding budgets)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from publisher import settings as settings_mod
from publisher.sandbox.server import SandboxServer
from publisher.settings import Settings
from publisher.store import Store

PG = os.environ.get("PUBLISHER_TEST_DATABASE_URL")
REDIS = os.environ.get("PUBLISHER_TEST_REDIS_URL")
RABBITMQ = os.environ.get("PUBLISHER_TEST_BROKER_URL")
#: the shared documents and recorded exchanges, next to the repository (``../shared``)
SHARED = Path(__file__).resolve().parents[1].parent / "shared"


@pytest.fixture
def pg_url() -> Iterator[str | None]:
    if not PG:
        yield None
        return
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    base = PG.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def redis_url() -> Iterator[str | None]:
    if not REDIS:
        yield None
        return
    import redis

    client = redis.Redis.from_url(REDIS)
    client.flushdb()
    yield REDIS
    client.flushdb()
    client.close()


def _purge_rabbitmq() -> None:
    """Empty every queue publisher declares (and its delay and dead-letter queues): tests share one RabbitMQ."""
    import pika

    from publisher.workers.broker import QUEUES

    assert RABBITMQ
    conn = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
    try:
        channel = conn.channel()
        for q in QUEUES:
            for name in (q, f"{q}.DQ", f"{q}.XQ"):
                try:
                    channel.queue_purge(name)
                except pika.exceptions.ChannelClosedByBroker:  # not declared yet
                    channel = conn.channel()
    finally:
        conn.close()


@pytest.fixture
def broker_url() -> Iterator[str | None]:
    if not RABBITMQ:
        yield None
        return
    _purge_rabbitmq()
    yield RABBITMQ
    _purge_rabbitmq()


class Env:
    """A publisher installation for one test: data dir, config file, environment for subprocesses."""

    def __init__(self, home: Path, db_url: str | None, redis_url: str | None, broker_url: str | None = None) -> None:
        self.home = home
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
        self.env["PUBLISHER_HOME"] = str(home)
        self.env["PUBLISHER_LOG_LEVEL"] = "INFO"
        if db_url:
            self.env["PUBLISHER_DATABASE_URL"] = db_url
        if redis_url:
            self.env["PUBLISHER_REDIS_URL"] = redis_url
        if broker_url:
            self.env["PUBLISHER_BROKER_URL"] = broker_url
        self.procs: list[subprocess.Popen[bytes]] = []
        self.config: dict[str, Any] = {}

    def write_config(self, accounts: dict[str, Any], scheduler: dict[str, float] | None = None, **extra: Any) -> None:
        self.config = {"accounts": accounts, "scheduler": {"tick_seconds": 0.1, "lease_seconds": 5,
                                                           "lost_after_seconds": 1.5, **(scheduler or {})},
                       "delegators": [settings_mod.os_user(self.env)], **extra}  # tests act as named people
        (self.home / "config.yaml").write_text(yaml.safe_dump(self.config))

    def settings(self) -> Settings:
        return settings_mod.load(self.env)

    def store(self) -> Store:
        return Store(self.settings().database_url)

    def cli(self, *args: str, input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "publisher.cli", *args], env=self.env, capture_output=True,
                              text=True, input=input, timeout=timeout)

    def spawn(self, *args: str, log: str = "proc", cwd: Path | None = None,
              extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """``publisher ARGS`` in the background, its output in ``home/LOG.log``; ``extra`` adds to its environment."""
        out = open(self.home / f"{log}.log", "ab")  # noqa: SIM115 - closed with the process
        p = subprocess.Popen([sys.executable, "-m", "publisher.cli", *args], env={**self.env, **(extra or {})},
                             stdout=out, stderr=subprocess.STDOUT, start_new_session=True, cwd=cwd)
        self.procs.append(p)
        return p

    def stop_all(self) -> None:
        import signal

        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for p in self.procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        self.procs.clear()


DRYRUN = {"noc": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"},
          "andrew": {"channel": "dryrun", "kind": "personal", "timezone": "Europe/Oslo"}}


@pytest.fixture
def env(tmp_path: Path, pg_url: str | None, redis_url: str | None, broker_url: str | None) -> Iterator[Env]:
    home = tmp_path / "home"
    home.mkdir()
    e = Env(home, pg_url, redis_url, broker_url)
    e.write_config(DRYRUN)
    yield e
    e.stop_all()
    from publisher.workers import embedded

    embedded.stop(home / "valkey")


def wait_for(predicate: Callable[[], bool], timeout: float = 60, every: float = 0.1, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[SandboxServer]:
    """One real loopback sandbox server for the whole session (adapter and emulator tests)."""
    server = SandboxServer(port=0).start()
    yield server
    server.stop()


@pytest.fixture
def sandbox(sandbox_server: SandboxServer) -> Iterator[SandboxServer]:
    """The running sandbox server with an empty ledger and no faults."""
    sandbox_server.sandbox.reset()
    yield sandbox_server
    sandbox_server.sandbox.reset()


def broker_messages(env: Env, queue: str) -> int:
    """Messages the broker holds in a queue (``dryrun``, ``dryrun.DQ`` for delayed, ``dryrun.XQ`` dead-lettered)."""
    if RABBITMQ:
        import pika

        conn = pika.BlockingConnection(pika.URLParameters(RABBITMQ))
        try:
            return int(conn.channel().queue_declare(queue, passive=True).method.message_count)
        except pika.exceptions.ChannelClosedByBroker:
            return 0
        finally:
            conn.close()
    client = _redis_broker(env)
    try:
        return int(client.hlen(f"publisher:{queue}.msgs"))
    finally:
        client.close()


def wipe_broker(env: Env) -> None:
    """Lose every message the broker holds, as a broker that lost its disk would."""
    if RABBITMQ:
        _purge_rabbitmq()
        return
    client = _redis_broker(env)
    client.flushdb()
    client.close()


def _redis_broker(env: Env) -> Any:
    import redis

    from publisher.workers import embedded

    url = env.env.get("PUBLISHER_REDIS_URL") or embedded.running_url(env.home / "valkey")
    assert url, "no broker"
    return redis.Redis.from_url(url)
