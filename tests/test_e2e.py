"""End to end through real processes: `publisher run`, and separate `publisher worker` + `publisher scheduler`,
with the real broker (embedded Valkey or Redis) and the real store (SQLite or PostgreSQL)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from publisher.store import Store
from tests.conftest import DRYRUN, Env, broker_messages, wait_for, wipe_broker
from tests.helpers import all_deliveries, check_invariants, states

pytestmark = pytest.mark.slow  # worker, scheduler and broker processes


def _ticket_thread(env: Env, ticket: str = "INC-4711") -> None:
    assert env.cli("ticket", "open", ticket, "--account", "noc", "Fibre cut Oslo-Stockholm, traffic rerouted").returncode == 0
    assert env.cli("ticket", "update", ticket, "--account", "noc", "--update-id", "2", "Splice crew on site, ETA 14:00 CET").returncode == 0
    assert env.cli("ticket", "update", ticket, "--account", "noc", "--update-id", "3", "Splicing, 60% done").returncode == 0
    assert env.cli("ticket", "resolve", ticket, "--account", "noc", "Repaired 13:41 CET, primary path restored").returncode == 0


def test_ticket_thread_publishes_in_order_through_publisher_run(env: Env) -> None:
    _ticket_thread(env)
    r = env.cli("run", "--until-done", "--duration", "60")
    assert r.returncode == 0, r.stderr
    store = env.store()
    assert states(store) == {"published": 4}
    result = check_invariants(store, env.home / "dryrun-ledger.jsonl")
    texts = [row["text"] for row in result["ledger"]]
    assert texts[0].startswith("INC-4711: Fibre cut") and texts[-1].startswith("INC-4711 resolved")
    assert env.cli("audit", "verify").returncode == 0


def test_separate_worker_and_scheduler_processes_publish_everything_once(env: Env) -> None:
    for i in range(10):
        assert env.cli("post", "--account", "andrew", f"note number {i}").returncode == 0
    _ticket_thread(env, "INC-1")
    env.spawn("worker", "--processes", "1", "--threads", "4", log="worker")
    env.spawn("scheduler", log="scheduler")
    store = env.store()
    wait_for(lambda: states(store).get("published", 0) == 14, timeout=90, what="14 published")
    check_invariants(store, env.home / "dryrun-ledger.jsonl")


def test_idempotent_ticket_update_is_stored_and_published_once(env: Env) -> None:
    assert env.cli("ticket", "open", "INC-9", "--account", "noc", "Core switch down in Bergen").returncode == 0
    first = env.cli("ticket", "update", "INC-9", "--account", "noc", "--update-id", "7", "Crew on site", "--json")
    second = env.cli("ticket", "update", "INC-9", "--account", "noc", "--update-id", "7", "Crew on site", "--json")
    assert first.returncode == 0 and second.returncode == 0, second.stderr
    a, b = json.loads(first.stdout), json.loads(second.stdout)
    assert a["post_id"] == b["post_id"] and b["existing"] is True and a["existing"] is False
    third = env.cli("post", "--account", "andrew", "--idempotency-key", "feed:42", "hello", "--json")
    fourth = env.cli("post", "--account", "andrew", "--idempotency-key", "feed:42", "hello", "--json")
    assert json.loads(third.stdout)["post_id"] == json.loads(fourth.stdout)["post_id"]
    assert len(all_deliveries(env.store())) == 3  # the open, the update, the note
    assert env.cli("run", "--until-done", "--duration", "60").returncode == 0
    check_invariants(env.store(), env.home / "dryrun-ledger.jsonl")


def test_cancelled_queued_delivery_is_never_published(env: Env) -> None:
    """Given two deliveries queued in the broker with no worker running, when one is cancelled and a worker
    starts, then the worker consumes both messages (the broker holds none, none dead-lettered, the sibling is
    published) and publishes only the one that was not cancelled."""
    cancelled = json.loads(env.cli("post", "--account", "andrew", "cancel me", "--json").stdout)
    kept = json.loads(env.cli("post", "--account", "andrew", "keep me", "--json").stdout)
    env.spawn("scheduler", log="scheduler")  # no worker: the deliveries get queued and wait in the broker
    store = env.store()
    # the tick commits the claims, then sends, then records the message ids: wait for the ids
    wait_for(lambda: states(store).get("queued") == 2 and all(d["message_id"] for d in all_deliveries(store)),
             timeout=60, what="both queued with their message ids")
    def messages(queue: str) -> int:
        return broker_messages(env, queue)

    assert messages("dryrun") + messages("dryrun.DQ") == 2
    r = env.cli("cancel", cancelled["post_id"])
    assert r.returncode == 0, r.stderr
    env.spawn("worker", "--processes", "1", "--threads", "2", log="worker")
    wait_for(lambda: messages("dryrun") + messages("dryrun.DQ") == 0 and states(store).get("published", 0) >= 1,
             timeout=90, what="the worker to consume both messages")
    assert messages("dryrun.XQ") == 0  # handled, not failed
    assert states(store) == {"cancelled": 1, "published": 1}
    ledger = check_invariants(store, env.home / "dryrun-ledger.jsonl")["ledger"]
    assert [row["delivery_id"] for row in ledger] == [d["id"] for d in kept["deliveries"]]


def test_post_past_its_not_after_expires_visibly(env: Env) -> None:
    """Given a running worker and scheduler (proved by a first post published), when a vacancy that the platform
    keeps rate-limiting is posted with a closing time a few seconds ahead, then it is tried, waits, and expires
    at its closing time with both visible in its audit trail."""
    env.write_config({"andrew": DRYRUN["andrew"],
                      "jobs": {"channel": "dryrun", "kind": "organisation",
                               "options": {"fail": [{"match": "hiring", "outcome": "rate_limited", "times": 9,
                                                     "retry_after": 30}]}}})
    env.spawn("worker", "--processes", "1", "--threads", "2", log="worker")
    env.spawn("scheduler", log="scheduler")
    store = env.store()
    assert env.cli("post", "--account", "andrew", "warming up").returncode == 0
    wait_for(lambda: states(store) == {"published": 1}, timeout=90, what="the worker and scheduler ready")
    r = env.cli("post", "--account", "jobs", "--kind", "vacancy", "--not-after", "+6s", "We are hiring", "--json")
    assert r.returncode == 0, r.stderr
    post_id = json.loads(r.stdout)["post_id"]
    wait_for(lambda: states(store).get("expired") == 1, timeout=60, what="the vacancy expired")
    show = json.loads(env.cli("show", post_id, "--json").stdout)
    actions = [e["action"] for e in show["audit"]]
    assert "rate_limited" in actions and actions[-1] == "expired", actions
    late = datetime.fromisoformat(show["audit"][-1]["at"]) - datetime.fromisoformat(show["post"]["not_after"])
    assert timedelta(0) <= late < timedelta(seconds=10), late  # at its closing time, not at the retry 30 s on


def _mid_call(store: Store, at_least: int, within: float = 1.0) -> bool:
    """At least ``at_least`` deliveries were claimed for their platform call less than ``within`` seconds ago:
    with calls (or a chunk of calls) that take longer than that, they are still ``publishing`` when the test acts
    right after, however late this poll saw them."""
    now = datetime.now(UTC)
    fresh = [d for d in all_deliveries(store)
             if d["state"] == "publishing" and now - d["attempt_at"] < timedelta(seconds=within)]
    return len(fresh) >= at_least


def _alive_in_group(pgid: int) -> list[int]:
    """The processes of group ``pgid`` still running (zombies waiting to be reaped are not running)."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            alive.append(int(stat.parent.name))
    return alive


def _kill_and_restart(env: Env, worker: subprocess.Popen[bytes], threads: str, published: int,
                      timeout: float) -> list[str]:
    """SIGKILL the worker process group mid-call, start a new worker, wait until all ``published`` are published
    once each (checked against the dry-run ledger); the ids that were ``publishing`` when it died."""
    store = env.store()
    os.killpg(worker.pid, signal.SIGKILL)  # the worker process and its Dramatiq children, mid-call
    worker.wait()
    wait_for(lambda: not _alive_in_group(worker.pid), timeout=30, what="every process of the killed worker gone")
    killed = [d["id"] for d in all_deliveries(store) if d["state"] == "publishing"]
    assert killed, "the worker was killed between calls: nothing to reconcile"
    env.spawn("worker", "--processes", "1", "--threads", threads, log="worker2")
    wait_for(lambda: states(store) == {"published": published}, timeout=timeout, what=f"all {published} published")
    result = check_invariants(store, env.home / "dryrun-ledger.jsonl")
    assert len(result["ledger"]) == published
    return killed


def test_worker_killed_mid_publish_ends_published_exactly_once(env: Env) -> None:
    env.write_config({"slow": {"channel": "dryrun", "kind": "personal", "options": {"latency_ms": 2500}}},
                     scheduler={"lease_seconds": 4})
    for i in range(6):
        assert env.cli("post", "--account", "slow", f"slow post {i}").returncode == 0
    store = env.store()
    env.spawn("scheduler", log="scheduler")
    worker = env.spawn("worker", "--processes", "1", "--threads", "3", log="worker")
    wait_for(lambda: _mid_call(store, 2), timeout=60, what="two deliveries in the middle of their 2.5 s calls")
    killed = _kill_and_restart(env, worker, "3", published=6, timeout=120)
    for did in killed:  # the killed ones went through unknown -> reconciled, not a blind retry
        show = json.loads(env.cli("show", did, "--json").stdout)
        actions = [e["action"] for e in show["audit"] if e["delivery_id"] == did]
        assert "lease_expired" in actions and "reconciling" in actions, actions


def test_worker_killed_mid_batch_ends_every_delivery_published_exactly_once(env: Env) -> None:
    """Under load one message carries a batch: killed mid-batch, the claimed ones are reconciled, the rest of the
    message is handed to a live worker, and a chunk that ran past half its lease went back unsent."""
    from publisher import service

    env.write_config({"slow": {"channel": "dryrun", "kind": "personal", "options": {"latency_ms": 150}}},
                     scheduler={"lease_seconds": 6, "message_batch": 30, "spread": 4})
    settings, store = env.settings(), env.store()
    due = datetime.now(UTC) + timedelta(seconds=3)
    for i in range(120):
        service.accept(settings, store, service.NewPost(text=f"burst post {i}", accounts=["slow"], at=due))
    env.spawn("scheduler", log="scheduler")
    # the tick commits the claims, then sends, then records the message ids in a second transaction: wait for both
    wait_for(lambda: states(store).get("queued") == 120 and all(d["message_id"] for d in all_deliveries(store)),
             timeout=30, what="120 queued with their message ids")
    messages = {d["message_id"] for d in all_deliveries(store)}
    assert len(messages) == 4, f"expected 4 messages of 30 ids, got {len(messages)}"
    worker = env.spawn("worker", "--processes", "1", "--threads", "2", log="worker")
    wait_for(lambda: states(store).get("published", 0) >= 45 and _mid_call(store, 2),
             timeout=60, what="a later chunk just claimed (25 calls of 150 ms ahead)")
    killed = _kill_and_restart(env, worker, "2", published=120, timeout=150)
    export = env.cli("audit", "export", "--format", "jsonl")
    assert export.returncode == 0
    acted = {(e["delivery_id"], e["action"]) for e in map(json.loads, export.stdout.splitlines())}
    assert all((did, "lease_expired") in acted and (did, "reconciling") in acted for did in killed)
    assert any(a == "released" for _, a in acted), "a chunk of 25 x 150 ms runs past half a 6 s lease"


def test_broker_wiped_with_queued_deliveries_still_publishes_each_once(env: Env) -> None:
    for i in range(8):
        assert env.cli("post", "--account", "andrew", f"survive the wipe {i}").returncode == 0
    store = env.store()
    sched = env.spawn("scheduler", log="scheduler")
    wait_for(lambda: states(store).get("queued") == 8, timeout=30, what="8 queued")
    # the tick commits its claims, then sends: wait for the messages to be in the broker before losing them
    wait_for(lambda: broker_messages(env, "dryrun") + broker_messages(env, "dryrun.DQ") > 0, timeout=30,
             what="the messages in the broker")
    wipe_broker(env)
    env.spawn("worker", "--processes", "1", "--threads", "4", log="worker")
    wait_for(lambda: states(store) == {"published": 8}, timeout=60, what="all published after the wipe")
    check_invariants(store, env.home / "dryrun-ledger.jsonl")
    assert sched.poll() is None


def test_fifty_tickets_of_five_updates_publish_in_order_with_two_processes(env: Env) -> None:
    from concurrent.futures import ThreadPoolExecutor
    from datetime import UTC, datetime

    from publisher import service
    from publisher.models import PostKind

    settings = env.settings()
    store = env.store()

    def ticket(n: int) -> None:
        for u in range(5):
            service.accept(settings, store, service.NewPost(
                text=f"INC-{n} update {u}", accounts=["noc"], at=datetime.now(UTC), kind=PostKind.TICKET,
                thread_key=f"ticket:INC-{n}", idempotency_key=f"INC-{n}:{u}"))

    env.spawn("worker", "--processes", "2", "--threads", "8", log="worker")
    env.spawn("scheduler", log="scheduler")
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(ticket, range(50)))
    wait_for(lambda: states(store).get("published", 0) == 250, timeout=240, every=0.5, what="250 published")
    result = check_invariants(store, env.home / "dryrun-ledger.jsonl")
    by_thread: dict[str, list[int]] = {}
    for d in sorted(result["deliveries"].values(), key=lambda d: next(
            r["seq"] for r in result["ledger"] if r["delivery_id"] == d["id"])):
        by_thread.setdefault(d["thread_key"], []).append(d["thread_seq"])
    assert len(by_thread) == 50
    assert all(seqs == [1, 2, 3, 4, 5] for seqs in by_thread.values()), by_thread


def test_worker_processes_run_the_package_the_worker_command_runs(env: Env, tmp_path: Path) -> None:
    """Dramatiq's worker processes put their --path (default: the working directory) first on ``sys.path``. Started
    from a directory that holds another ``publisher`` folder (an older checkout, say), they imported that one; the
    probes' before/after benchmarks measured the checkout twice that way. ``publisher worker`` names its own."""
    other = tmp_path / "elsewhere" / "publisher"
    other.mkdir(parents=True)
    marker = tmp_path / "imported"
    (other / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise ImportError('not this one')\n")
    assert env.cli("post", "--account", "andrew", "a note for the right worker").returncode == 0
    # as the installed console script starts: the working directory is not put first on its own sys.path
    env.spawn("worker", "-p", "1", "-t", "2", log="worker", cwd=other.parent, extra={"PYTHONSAFEPATH": "1"})
    env.spawn("scheduler", log="scheduler")
    store = env.store()
    wait_for(lambda: states(store).get("published", 0) == 1, timeout=90, what="the note published")
    assert not marker.exists()
