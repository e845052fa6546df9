"""`publisher demo`: the main job on a fresh machine, on the embedded defaults.

Starts a fresh data directory, the embedded broker and an in-process scheduler + worker; accepts a ticket thread
(open, two updates, resolve), a scheduled post and a vacancy that expires (its account is rate-limited past the
closing time); publishes through the dry-run channel; prints what was published, in order, and verifies the audit log.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import yaml

from publisher.models import TERMINAL, PostKind

DEMO_CONFIG = {
    "accounts": {
        "noc": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo", "display": "NOC"},
        "andrew": {"channel": "dryrun", "kind": "personal", "timezone": "Europe/Oslo"},
        "jobs": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo",
                 "options": {"fail": [{"match": "hiring", "outcome": "rate_limited", "times": 5, "retry_after": 30}]}},
    },
    "scheduler": {"tick_seconds": 0.1},
}
#: the five platforms, through `publisher sandbox` (started in-process on a free loopback port)
SANDBOX_ACCOUNTS = {
    "org-x": {"channel": "x", "kind": "organisation", "credentials": {"bearer_token": "env:DEMO_X_TOKEN"}},
    "org-fb": {"channel": "facebook", "kind": "organisation", "credentials": {"page_token": "env:DEMO_FB_TOKEN"},
               "options": {"page_id": "1647395831"}},
    "org-li": {"channel": "linkedin", "kind": "organisation", "credentials": {"access_token": "env:DEMO_LI_TOKEN"},
               "options": {"author_urn": "urn:li:organization:2414183"}},
    "org-masto": {"channel": "mastodon", "kind": "organisation", "credentials": {"access_token": "env:DEMO_MASTO_TOKEN"}},
    "org-bsky": {"channel": "bluesky", "kind": "organisation",
                 "credentials": {"identifier": "env:DEMO_BSKY_HANDLE", "app_password": "env:DEMO_BSKY_PASSWORD"}},
}
SANDBOX_PATHS = {"x": "x", "facebook": "facebook", "linkedin": "linkedin", "mastodon": "mastodon", "bluesky": "bluesky"}


@click.command()
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Data directory for the demo (default: a new temporary directory).")
def demo(home: Path | None) -> None:
    """Run the whole flow on a fresh machine: ticket thread, scheduled post, expiring vacancy, audit verify.

    \b
    Example:
      publisher demo
    """
    started = time.monotonic()  # wall time of the whole command: what the user waited for
    temporary = home is None
    home = home or Path(tempfile.mkdtemp(prefix="publisher-demo-"))
    stop_on_term = signal.signal(signal.SIGTERM, _interrupt)
    try:
        ok, first_post = _demo(home)
    finally:
        signal.signal(signal.SIGTERM, stop_on_term)
        if temporary:
            _remove(home)
    elapsed = time.monotonic() - started  # after the clean-up: the whole wait
    if temporary:
        click.echo(f"done in {elapsed:.1f} s. The temporary data directory is removed; to inspect the result, run "
                   "`publisher demo --home DIR`, then `PUBLISHER_HOME=DIR publisher show ID`.")
    else:
        click.echo(f"done in {elapsed:.1f} s. Inspect: PUBLISHER_HOME={home} publisher show {first_post}")
    if not ok:
        raise SystemExit(1)


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up like Ctrl-C


def _remove(home: Path) -> None:
    """Stop the embedded broker the demo may have left running in ``home``, then delete the directory."""
    from publisher.workers import embedded

    try:
        embedded.stop(home / "valkey")
    except Exception:  # noqa: BLE001 - best effort: the directory goes either way
        pass
    shutil.rmtree(home, ignore_errors=True)


def _demo(home: Path) -> tuple[bool, str]:
    """Run the flow in ``home``: (whether every delivery ended and the audit log verified, the first post's id)."""
    from publisher.sandbox.server import SandboxServer

    home.mkdir(parents=True, exist_ok=True)
    sandbox = SandboxServer("127.0.0.1", 0).start()
    try:
        return _run(home, sandbox)
    finally:
        sandbox.stop()


def _run(home: Path, sandbox: Any) -> tuple[bool, str]:
    from rich.console import Console
    from rich.table import Table

    from publisher import audit, service, settings
    from publisher.channels.dryrun import LEDGER_NAME, ledger_rows
    from publisher.commands.running import run_inprocess
    from publisher.store import Store

    console = Console()
    config = {**DEMO_CONFIG, "accounts": dict(DEMO_CONFIG["accounts"])}  # type: ignore[call-overload]
    for name, acc in SANDBOX_ACCOUNTS.items():
        if acc["channel"] in sandbox.platforms:
            config["accounts"][name] = {**acc, "base_url": sandbox.base_url(SANDBOX_PATHS[str(acc["channel"])])}
    (home / "config.yaml").write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}
    env.update({"PUBLISHER_HOME": str(home), "DEMO_X_TOKEN": "demo-x-user-token", "DEMO_FB_TOKEN": "demo-page-token",
                "DEMO_LI_TOKEN": "demo-li-token", "DEMO_MASTO_TOKEN": "demo-masto-token",
                "DEMO_BSKY_HANDLE": "demo.bsky.social", "DEMO_BSKY_PASSWORD": "demo-app-password"})
    s = settings.load(env)
    store = Store(s.database_url)
    now = datetime.now(UTC)
    console.print(f"[bold]publisher demo[/] in {home} (SQLite + embedded Valkey, dry-run channel)")

    def add(text: str, account: str, at: datetime, **kw: object) -> str:
        r = service.accept(s, store, service.NewPost(text=text, accounts=[account], at=at, **kw))  # type: ignore[arg-type]
        return r.post_id

    thread = "ticket:INC-4711"
    t = PostKind.TICKET
    ids = [
        add("INC-4711: Fibre cut Oslo-Stockholm, traffic rerouted, latency +8 ms", "noc", now, kind=t, thread_key=thread),
        add("INC-4711 update: Splice crew dispatched", "noc", now, kind=t, thread_key=thread),
        add("INC-4711 update: Splice crew on site, ETA 14:00 CET", "noc", now, kind=t, thread_key=thread),
        add("INC-4711 resolved: Repaired 13:41 CET, primary path restored", "noc", now, kind=t, thread_key=thread),
        add("New on the blog: what a fibre cut taught us about routing https://example.org/blog/fibre", "andrew",
            now + timedelta(seconds=4), kind=PostKind.BLOG),
        add("We are hiring a network engineer in Oslo, apply by today", "jobs", now,
            kind=PostKind.VACANCY, not_after=now + timedelta(seconds=3)),
    ]
    five = [n for n in config["accounts"] if n in SANDBOX_ACCOUNTS]
    if five:
        ids.append(service.accept(s, store, service.NewPost(
                       text="INC-4712: Packet loss on the Bergen ring, engineers investigating", accounts=five, at=now,
            kind=t, thread_key="ticket:INC-4712")).post_id)
        ids.append(service.accept(s, store, service.NewPost(
            text="INC-4712 resolved: Bergen ring stable since 10:12 CET", accounts=five, at=now, kind=t,
            thread_key="ticket:INC-4712")).post_id)
        ids.append(service.accept(s, store, service.NewPost(
            text="Our status page explains the Bergen ring incident", accounts=five, at=now, kind=PostKind.BLOG,
            link="https://status.example.org/incidents/4712")).post_id)
    console.print(f"accepted {len(ids)} posts; publishing (the blog post is scheduled 4 s ahead, the vacancy closes in 3 s)")

    def done() -> bool:
        with store.read() as conn:
            from sqlalchemy import select

            from publisher.schema import deliveries

            states = [r[0] for r in conn.execute(select(deliveries.c.state))]
        return all(st in {x.value for x in TERMINAL} for st in states)

    run_inprocess(s, threads=4, until=done, timeout=60)

    table = Table(title="published, in order (dry-run ledger)")
    for col in ("#", "account", "delivery", "replies to", "text"):
        table.add_column(col)
    remote_to_delivery = {}
    for row in ledger_rows(home / LEDGER_NAME):
        remote_to_delivery[row["remote_id"]] = row["delivery_id"]
        table.add_row(str(row["seq"]), row["account"], row["delivery_id"],
                      remote_to_delivery.get(row["in_reply_to"] or "", "-"), row["text"])
    console.print(table)
    remote = Table(title=f"published to the five platforms (sandbox at {sandbox.url}), in order")
    for col in ("#", "platform", "remote id", "replies to", "text"):
        remote.add_column(col)
    for p in sandbox.sandbox.posts():
        remote.add_row(str(p["seq"]), p["platform"], str(p["remote_id"])[-24:], str(p.get("in_reply_to") or "-")[-24:],
                       p["text"][:70])
    console.print(remote)
    states = Table(title="every delivery")
    for col in ("post", "account", "state", "note"):
        states.add_column(col)
    with store.read() as conn:
        for pid in ids:
            for d in service.resolve_ids(store, pid)[1]:
                states.add_row(pid, d["account"], d["state"], d["last_error"] or "")
        v = audit.verify(conn)
    console.print(states)
    verdict = f"[green]intact[/]: {v.checked} events, hash chain verified" if v.ok else f"[red]BROKEN[/] at {v.first_bad_seq}: {v.reason}"
    console.print(f"audit log {verdict}")
    return v.ok and done(), ids[0]
