"""The dry-run channel: records exactly what would be sent in a ledger and returns a receipt.

The ledger is a JSON-lines file (``options.ledger``, default ``$PUBLISHER_HOME/dryrun-ledger.jsonl``), one line per post,
appended with one write under a file lock and shared by every process, so a reconciliation in one worker sees what
another (perhaps killed) worker sent. (It was a SQLite file: its insert and commit per post were a third of the
publish path's time in the benchmarks, where it stands in for a platform's network call.) It is written *before*
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

import functools
import json
import os
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

LEDGER_NAME = "dryrun-ledger.jsonl"
_write_lock = threading.Lock()  # threads of one process share the flock'd descriptor; this orders them
_file_locks: dict[str, ProcessFileLock] = {}


class _Index:
    """The ledger's lines by delivery id, read incrementally: a reconcile reads only what was appended since."""

    def __init__(self) -> None:
        self.offset = 0
        self.first: dict[str, dict[str, Any]] = {}
        self.lock = threading.Lock()


_indexes: dict[str, _Index] = {}


def _append(path: Path, entry: dict[str, Any]) -> None:
    """One line, one ``write`` on an O_APPEND descriptor under the ledger's file lock: lines of concurrent
    processes never interleave, and a post is in the ledger the moment ``publish`` returns."""
    key = str(path)
    line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    with _write_lock, _file_locks.setdefault(key, ProcessFileLock(f"{key}.writelock")).hold():
        fd = os.open(key, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":  # a line cut short by a crash: never glue onto it
                line = b"\n" + line
            os.write(fd, line)
        finally:
            os.close(fd)


def _lines(path: Path, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Whole lines from ``offset``, and the offset after the last whole line (a line being written is left)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    out = []
    for raw in data[:end].splitlines():
        try:
            out.append(json.loads(raw))
        except ValueError:  # a line cut short by a crash mid-write: not a post
            continue
    return out, offset + end


def ledger_rows(path: Path) -> list[dict[str, Any]]:
    """Every post the dry-run channel 'published', in order, numbered from 1 (tests and the demo read this)."""
    rows, _ = _lines(path)
    return [{"seq": i, **{k: r.get(k) for k in ("remote_id", "delivery_id", "account", "text", "in_reply_to", "at")}}
            for i, r in enumerate(rows, 1)]


def _first_post_of(path: Path, delivery_id: str) -> dict[str, Any] | None:
    index = _indexes.setdefault(str(path), _Index())
    with index.lock:
        rows, index.offset = _lines(path, index.offset)
        for r in rows:
            index.first.setdefault(r["delivery_id"], r)
        return index.first.get(delivery_id)


class DryRunChannel(Channel):
    name: ClassVar[str] = "dryrun"
    limits: ClassVar[ChannelLimits] = ChannelLimits(max_length=5000)

    @functools.cached_property
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
        if self.media_source is not None:
            for ref in self.media_refs(delivery):
                self.image(ref)  # a rehearsal proves the images are in the store, as a real upload would need
        remote_id = f"dry-{delivery.id}-{delivery.attempt}-{time.time_ns()}"
        _append(self.ledger_path, {
            "remote_id": remote_id, "delivery_id": delivery.id, "account": delivery.account,
            "text": delivery.payload.text, "in_reply_to": parent.remote_id if parent else None,
            "payload": delivery.payload.to_dict(), "at": datetime.now(UTC).isoformat(),
        })
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
        row = _first_post_of(self.ledger_path, delivery.id)
        if row is None:
            raise NotPublished("dry run: no post in the ledger for this delivery")
        parent = Receipt(remote_id=row["in_reply_to"]) if row["in_reply_to"] else None
        return self._receipt(row["remote_id"], parent)

    def verify(self) -> str:
        return f"dry run as {self.account.name}"
