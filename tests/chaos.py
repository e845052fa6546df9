"""The chaos run, with the sandbox as ground truth (RELIABILITY.md 7): posts and ticket threads on all five channels,
faults on every channel (5xx before anything is created, accepted-then-connection-dropped, accepted-then-500, 429
bursts with a reset, answers slower than the client's timeout), SIGKILL of a forked worker child, of the whole worker
process group and of the scheduler, and one broker wipe. Then the sandbox's own record of what it accepted is
counted: lost 0, duplicated 0, replies out of order 0, nothing stuck, the audit log verifies.

Used by ``tests/test_chaos.py`` (about 300 deliveries, in CI on both paths) and ``benchmarks/chaos.py`` (2,000).
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from publisher import audit, service
from publisher.models import PostKind
from publisher.sandbox.server import SandboxServer
from publisher.store import Store
from tests.conftest import Env, wait_for, wipe_broker
from tests.helpers import all_deliveries

#: one platform identity per account (the sandbox counts rate windows per identity, as the platforms do)
CREDENTIALS = {
    "x": {"bearer_token": "env:CHAOS_X_TOKEN_{i}"},
    "facebook": {"page_token": "env:CHAOS_FB_TOKEN_{i}"},
    "linkedin": {"access_token": "env:CHAOS_LI_TOKEN_{i}"},
    "mastodon": {"access_token": "env:CHAOS_MASTO_TOKEN_{i}"},
    "bluesky": {"identifier": "env:CHAOS_BSKY_HANDLE_{i}", "app_password": "env:CHAOS_BSKY_PASSWORD_{i}"},
}


def secrets(per_channel: int) -> dict[str, str]:
    out = {}
    for i in range(per_channel):
        out.update({f"CHAOS_X_TOKEN_{i}": f"chaos-x-token-{i}", f"CHAOS_FB_TOKEN_{i}": f"chaos-fb-token-{i}",
                    f"CHAOS_LI_TOKEN_{i}": f"chaos-li-token-{i}", f"CHAOS_MASTO_TOKEN_{i}": f"chaos-masto-token-{i}",
                    f"CHAOS_BSKY_HANDLE_{i}": f"chaos{i}.bsky.social", f"CHAOS_BSKY_PASSWORD_{i}": f"chaos-pw-{i}"})
    return out


#: one Page and one organisation per account: accounts sharing one would post the same text twice as one author
OPTIONS = {"facebook": {"page_id": "16473958{i}"}, "linkedin": {"author_urn": "urn:li:organization:24141{i}"}}
FINAL = {"published", "failed", "cancelled", "expired"}


@dataclass
class Report:
    deliveries: int = 0
    published: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    out_of_order: list[str] = field(default_factory=list)
    stuck: list[str] = field(default_factory=list)
    audit_ok: bool = False
    seconds: float = 0.0
    kills: list[str] = field(default_factory=list)
    platform_answers: dict[str, int] = field(default_factory=dict)

    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.out_of_order or self.stuck) and self.audit_ok


def accounts(sandbox: SandboxServer, per_channel: int) -> dict[str, Any]:
    out = {}
    for channel, creds in CREDENTIALS.items():
        for i in range(per_channel):
            out[f"{channel}-{i}"] = {"channel": channel, "kind": "organisation", "timezone": "Europe/Oslo",
                                     "base_url": sandbox.base_url(channel),
                                     "credentials": {k: v.format(i=i) for k, v in creds.items()},
                                     "options": {**{k: v.format(i=i) for k, v in OPTIONS.get(channel, {}).items()},
                                                 "timeout": 2}}
    return out


def faults(sandbox: SandboxServer, scale: int) -> None:
    for channel in CREDENTIALS:
        # LinkedIn documents no reset for a 429 (PLATFORMS.md 3.4): the adapter then waits an hour, or until
        # midnight UTC, which a run of minutes cannot wait out; its 429 handling is tested on its own
        bursts = 0 if channel == "linkedin" else 2 * scale
        sandbox.sandbox.set_faults(channel, error_rate=0.04, drop_after_accept=2 * scale, error_after_accept=scale,
                                   burst_429=bursts, burst_reset_seconds=2)


def accept_all(env: Env, names: list[str], tickets: int, notes: int) -> int:
    """``tickets`` threads of three posts and ``notes`` single posts on every account; the deliveries made."""
    settings, store = env.settings(), env.store()
    now = datetime.now(UTC)
    made = 0
    for t in range(tickets):
        for step, verb in enumerate(("opened", "update", "resolved")):
            new = service.NewPost(text=f"INC-{t} {verb}: chaos thread {t} step {step}", accounts=names, at=now,
                                  kind=PostKind.TICKET, thread_key=f"ticket:INC-{t}")
            made += len(service.accept(settings, store, new).deliveries)
    for n in range(notes):
        made += len(service.accept(settings, store, service.NewPost(text=f"Chaos note {n}: all good", accounts=names,
                                                                   at=now)).deliveries)
    store.dispose()
    return made


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _wipe_broker(env: Env) -> None:
    wipe_broker(env)


def _published(store: Store) -> int:
    return sum(1 for d in all_deliveries(store) if d["state"] == "published")


def run(env: Env, sandbox: SandboxServer, *, tickets: int, notes: int, per_channel: int = 1,
        timeout: float = 300) -> Report:
    started = time.monotonic()
    report = Report()
    env.env.update(secrets(per_channel))
    names = list(accounts(sandbox, per_channel))
    env.write_config(accounts(sandbox, per_channel), scheduler={"lease_seconds": 10, "lost_after_seconds": 2,
                                                                "reconcile_every_seconds": 1})
    report.deliveries = accept_all(env, names, tickets, notes)
    faults(sandbox, max(1, report.deliveries // 300))
    total = report.deliveries
    # one store for every look below: a Store per poll (twice a second for minutes) kept a pool of connections each
    # until the garbage collector closed it, and on PostgreSQL ran the server out of connections
    store = env.store()

    def start() -> tuple[subprocess.Popen[bytes], subprocess.Popen[bytes]]:
        return (env.spawn("scheduler", log="scheduler"),
                env.spawn("worker", "--processes", "2", "--threads", "4", log="worker"))

    scheduler, worker = start()
    # 1. a forked worker child dies mid-publish
    wait_for(lambda: _published(store) >= total // 10, timeout=timeout, what="10 % published")
    wait_for(lambda: bool(_children(worker.pid)), timeout=30, what="the worker's forked children")
    child = _children(worker.pid)[0]
    os.kill(child, signal.SIGKILL)
    report.kills.append(f"worker child {child}")
    worker.wait(timeout=60)  # Dramatiq's main process shuts the pool down when a child dies: a supervisor restarts it
    worker = env.spawn("worker", "--processes", "2", "--threads", "4", log="worker")
    # 2. a platform slower than the client's timeout for a moment
    sandbox.sandbox.set_faults("mastodon", latency_ms=2500)
    wait_for(lambda: _published(store) >= total // 4, timeout=timeout, what="25 % published")
    sandbox.sandbox.set_faults("mastodon", latency_ms=0)
    # 3. the whole worker (parent and children) and the scheduler are SIGKILLed, then the broker is wiped
    for name, proc in (("worker group", worker), ("scheduler", scheduler)):
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        report.kills.append(name)
    _wipe_broker(env)
    report.kills.append("broker wipe")
    scheduler, worker = start()
    wait_for(lambda: _published(store) >= total // 2, timeout=timeout, what="50 % published")
    # 4. the scheduler again, alone
    os.killpg(scheduler.pid, signal.SIGKILL)
    scheduler.wait()
    report.kills.append("scheduler")
    env.spawn("scheduler", log="scheduler")

    def settled() -> bool:
        return all(d["state"] in FINAL for d in all_deliveries(store))

    try:
        wait_for(settled, timeout=timeout, every=0.5, what="every delivery final")
    except AssertionError:
        pass  # reported as stuck below
    env.stop_all()
    store.dispose()
    report.seconds = time.monotonic() - started
    check(env, sandbox, report)
    return report


def check(env: Env, sandbox: SandboxServer, report: Report) -> None:
    """Count from the sandbox's own record of what it accepted."""
    store = env.store()
    ds = {d["id"]: d for d in all_deliveries(store)}
    accepted = sandbox.sandbox.posts()
    report.platform_answers = dict(sandbox.sandbox.counters)
    by_text = Counter((p["platform"], p["account"], p["text"]) for p in accepted)
    report.duplicated = [f"{k[0]} {k[2]!r} x{n}" for k, n in by_text.items() if n > 1]
    seq = {(p["platform"], str(p["remote_id"])): p for p in accepted}
    report.published = sum(1 for d in ds.values() if d["state"] == "published")
    for d in ds.values():
        if d["state"] not in FINAL:
            report.stuck.append(f"{d['id']} {d['channel']} {d['state']}: {d['last_error']}")
            continue
        if d["state"] != "published":
            report.lost.append(f"{d['id']} {d['channel']} {d['state']}: {d['last_error']}")
            continue
        mine = seq.get((d["channel"], str(d["remote_id"])))
        if mine is None:
            report.lost.append(f"{d['id']} {d['channel']}: published as {d['remote_id']}, which the platform lacks")
            continue
        if d["prev_id"]:
            prev = ds[d["prev_id"]]
            theirs = seq.get((prev["channel"], str(prev["remote_id"])))
            root = ds[d["prev_id"]]
            while root["prev_id"]:
                root = ds[root["prev_id"]]
            if theirs is None or theirs["seq"] >= mine["seq"]:
                report.out_of_order.append(f"{d['id']} {d['channel']} published before its predecessor")
            elif str(mine.get("in_reply_to")) not in {str(prev["remote_id"]), str(root["remote_id"])}:
                report.out_of_order.append(f"{d['id']} {d['channel']} replies to {mine.get('in_reply_to')}, "
                                           f"not to {prev['remote_id']}")
    # every account publishes as one platform identity of its own: a delivery "published" as another account's
    # post (a duplicate refusal matched to the wrong author, say) is lost, not published
    identities: dict[str, set[str]] = {}
    for d in ds.values():
        mine = seq.get((d["channel"], str(d["remote_id"]))) if d["state"] == "published" else None
        if mine is not None:
            identities.setdefault(d["account"], set()).add(str(mine["account"]))
    owners = Counter(i for ids in identities.values() for i in ids)
    for account, ids in identities.items():
        if len(ids) > 1 or any(owners[i] > 1 for i in ids):
            report.lost.append(f"{account}: published as {sorted(ids)}, shared with another account")
    with store.read() as conn:
        report.audit_ok = audit.verify(conn).ok
    store.dispose()
