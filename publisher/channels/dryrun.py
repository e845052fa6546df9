"""The dry-run channel: records exactly what would be sent in a ledger and returns a receipt.

The ledger is a SQLite file (``options.ledger``, default ``$PUBLISHER_HOME/dryrun-ledger.sqlite``) shared by every
process, so a reconciliation in one worker sees what another (perhaps killed) worker sent. It is written *before*
the scripted latency, like a platform that accepted the post and then answered slowly: a worker killed during the
latency leaves a post that exists remotely while the delivery is still ``publishing``.

Scriptable outcomes for tests (account ``options``):

``latency_ms``: int
    sleep after recording the post (the "slow response" window).
``fail``: list of ``{match: "substring", outcome: rate_limited|transient|permanent|auth|unknown|unknown_sent,
    times: N, retry_after: seconds}``
    the first N attempts of a delivery whose text contains ``match`` fail that way. ``unknown`` sends nothing
    and reports an unclear outcome; ``unknown_sent`` records the post, then reports an unclear outcome.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from publisher.channels.base import Channel
from publisher.errors import (
    AuthExpired,
    NotPublished,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    TransientError,
)
from publisher.filelock import ProcessFileLock
from publisher.models import DeliveryRef, Receipt
from publisher.textlength import ChannelLimits

_SCHEMA = """
CREATE TABLE IF NOT EXISTS ledger (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  remote_id TEXT NOT NULL UNIQUE,
  delivery_id TEXT NOT NULL,
  account TEXT NOT NULL,
  text TEXT NOT NULL,
  in_reply_to TEXT,
  payload TEXT NOT NULL,
  at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS ledger_delivery ON ledger(delivery_id);
"""
_local = threading.local()
_write_lock = threading.Lock()  # one writer per process at a time; avoids SQLite's sleeping busy handler


_file_locks: dict[Path, ProcessFileLock] = {}


def _file_lock(path: Path) -> ProcessFileLock:
    return _file_locks.setdefault(path, ProcessFileLock(f"{path}.writelock"))


def _connect(path: Path) -> sqlite3.Connection:
    cache: dict[str, sqlite3.Connection] = getattr(_local, "conns", None) or {}
    _local.conns = cache
    key = str(path)
    if key not in cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(key, timeout=60, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)
        cache[key] = conn
    return cache[key]


def ledger_rows(path: Path) -> list[dict[str, Any]]:
    """Every post the dry-run channel 'published', in order (tests and the demo read this)."""
    if not path.exists():
        return []
    conn = _connect(path)
    cur = conn.execute(
        "SELECT seq, remote_id, delivery_id, account, text, in_reply_to, at FROM ledger ORDER BY seq"
    )
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


class DryRunChannel(Channel):
    name: ClassVar[str] = "dryrun"
    limits: ClassVar[ChannelLimits] = ChannelLimits(max_length=5000)

    @property
    def ledger_path(self) -> Path:
        return Path(self.account.options["ledger"])

    def _scripted(self, delivery: DeliveryRef) -> str | None:
        for rule in self.account.options.get("fail", []) or []:
            if rule.get("match", "") in delivery.payload.text and delivery.attempt <= int(
                rule.get("times", 1)
            ):
                outcome = str(rule["outcome"])
                if outcome == "rate_limited":
                    retry = datetime.now(UTC) + timedelta(seconds=float(rule.get("retry_after", 1)))
                    raise RateLimited("dry run: scripted rate limit", retry_at=retry)
                if outcome == "transient":
                    raise TransientError("dry run: scripted connection refused")
                if outcome == "permanent":
                    raise PermanentError("dry run: scripted permanent refusal")
                if outcome == "auth":
                    raise AuthExpired("dry run: scripted expired token")
                if outcome == "unknown":
                    raise OutcomeUnknown("dry run: scripted timeout before sending")
                return outcome
        return None

    def publish(self, delivery: DeliveryRef, parent: Receipt | None) -> Receipt:
        scripted = self._scripted(delivery)
        import json

        remote_id = f"dry-{delivery.id}-{delivery.attempt}-{time.time_ns()}"
        conn = _connect(self.ledger_path)
        with _write_lock, _file_lock(self.ledger_path).hold():
            conn.execute(
                "INSERT INTO ledger(remote_id, delivery_id, account, text, in_reply_to, payload, at) VALUES (?,?,?,?,?,?,?)",
                (
                    remote_id,
                    delivery.id,
                    delivery.account,
                    delivery.payload.text,
                    parent.remote_id if parent else None,
                    json.dumps(delivery.payload.to_dict(), ensure_ascii=False),
                    datetime.now(UTC).isoformat(),
                ),
            )
        latency = float(self.account.options.get("latency_ms", 0)) / 1000
        if latency:
            time.sleep(latency)
        if scripted == "unknown_sent":
            raise OutcomeUnknown("dry run: scripted connection reset after the post was accepted")
        return self._receipt(remote_id, parent)

    def _receipt(self, remote_id: str, parent: Receipt | None) -> Receipt:
        root = parent.data.get("root", parent.remote_id) if parent else remote_id
        return Receipt(
            remote_id=remote_id,
            url=f"https://dryrun.invalid/{self.account.name}/{remote_id}",
            data={"root": root},
        )

    def reconcile(self, delivery: DeliveryRef) -> Receipt:
        conn = _connect(self.ledger_path)
        row = conn.execute(
            "SELECT remote_id, in_reply_to FROM ledger WHERE delivery_id=? ORDER BY seq LIMIT 1",
            (delivery.id,),
        ).fetchone()
        if row is None:
            raise NotPublished("dry run: no post in the ledger for this delivery")
        parent = Receipt(remote_id=row[1]) if row[1] else None
        return self._receipt(row[0], parent)

    def verify(self) -> str:
        return f"dry run as {self.account.name}"
