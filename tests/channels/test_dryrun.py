"""The dry-run ledger stands in for a platform: a post is in it once ``publish`` returns, every process sees every
other's posts (reconcile after a killed worker), and a line cut short by a crash never swallows the next post."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from publisher.channels.dryrun import DryRunChannel, ledger_rows
from publisher.errors import NotPublished
from publisher.models import DeliveryRef, Payload, Receipt
from publisher.settings import AccountConfig


def _channel(ledger: Path) -> DryRunChannel:
    return DryRunChannel(AccountConfig(name="noc", channel="dryrun", options={"ledger": str(ledger)}))


def _ref(i: int | str, text: str = "post") -> DeliveryRef:
    return DeliveryRef(id=f"d-{i}", post_id=f"p-{i}", account="noc", channel="dryrun", payload=Payload(text=text),
                       attempt=1, created_at=datetime.now(UTC))


def _publish_many(ledger: str, prefix: str, n: int) -> None:
    channel = _channel(Path(ledger))
    for i in range(n):
        channel.publish(_ref(f"{prefix}{i}", f"{prefix} {i} ü"), None)


@pytest.mark.slow  # processes writing at once
def test_posts_of_concurrent_processes_are_whole_lines_each_seen_by_reconcile(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    reader = _channel(ledger)
    with pytest.raises(NotPublished):
        reader.reconcile(_ref("a0"))  # before anything was written: not published
    procs = [multiprocessing.get_context("spawn").Process(target=_publish_many, args=(str(ledger), p, 300))
             for p in ("a", "b", "c")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    rows = ledger_rows(ledger)
    assert sorted(r["delivery_id"] for r in rows) == sorted(f"d-{p}{i}" for p in "abc" for i in range(300))
    assert [r["seq"] for r in rows] == list(range(1, 901))
    assert all(r["text"].endswith(" ü") for r in rows)
    for d in ("d-a0", "d-b299", "d-c150"):  # the reader's index catches up on what others appended since
        expected = next(r["remote_id"] for r in rows if r["delivery_id"] == d)
        assert reader.reconcile(_ref(d[2:])).remote_id == expected


def test_a_line_cut_short_by_a_crash_is_skipped_and_never_glued_to_the_next_post(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    channel = _channel(ledger)
    first = channel.publish(_ref(1), None)
    with open(ledger, "ab") as f:
        f.write(b'{"remote_id": "dry-d-2-1-5", "delivery_id": "d-2", "acc')  # killed mid-write
    reply = channel.publish(_ref(3, "reply"), Receipt(remote_id=first.remote_id))
    rows = ledger_rows(ledger)
    assert [r["delivery_id"] for r in rows] == ["d-1", "d-3"]
    assert rows[1]["in_reply_to"] == first.remote_id
    assert channel.reconcile(_ref(3)).remote_id == reply.remote_id
    with pytest.raises(NotPublished):
        channel.reconcile(_ref(2))
