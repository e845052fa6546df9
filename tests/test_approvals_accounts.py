"""Approvals per post and account (issue 13): a post to an account that needs approval and one that does not goes
out nowhere before it is approved; several ids at once; no self-approval; approving twice is fine; reject needs a
reason and cancels. Real store, the real scheduler tick and publisher against the dry-run platform's ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import select

from publisher import service
from publisher.channels.dryrun import ledger_rows
from publisher.errors import InputError, NotPermitted
from publisher.publishing import Publisher
from publisher.scheduling import Scheduler
from publisher.schema import approvals as approvals_table
from publisher.schema import audit_events
from publisher.settings import Settings
from publisher.store import Store
from publisher.workflows import approvals
from tests.conftest import DRYRUN, Env, wait_for
from tests.helpers import all_deliveries, states

ACCOUNTS = {**DRYRUN,
            "comms": {"channel": "dryrun", "kind": "organisation", "approvers": ["kari", "ola"]},
            "hr": {"channel": "dryrun", "kind": "organisation", "approvers": ["per"]},
            "events": {"channel": "dryrun", "kind": "organisation"}}


def _as(env: Env, who: str) -> Settings:
    env.env["PUBLISHER_ACTOR"] = who
    return env.settings()


def run_due(settings: Settings, store: Store, rounds: int = 3) -> None:
    """What a scheduler and a worker do for everything due now: tick, then handle every message sent."""
    sent: list[str] = []

    def sender(channel: str, ids: list[str], delay_ms: int) -> str:
        sent.extend(ids)
        return ids[0]

    for _ in range(rounds):
        sent.clear()
        Scheduler(settings, store, sender, lambda items: set()).tick()
        if sent:
            Publisher(settings, store).handle_many(list(sent))


def _post(env: Env, who: str, accounts: list[str], text: str = "Our conference opens on Monday at 09:00") -> str:
    new = service.NewPost(text=text, accounts=accounts, at=datetime.now(UTC))
    return service.accept(_as(env, who), env.store(), new).post_id


def _published(env: Env) -> list[str]:
    return sorted(r["account"] for r in ledger_rows(env.settings().home / "dryrun-ledger.jsonl"))


def test_a_post_to_an_approval_account_and_a_free_one_goes_out_nowhere_until_approved(env: Env) -> None:
    env.write_config(ACCOUNTS)
    post_id = _post(env, "kari", ["comms", "events"])
    store = env.store()
    run_due(_as(env, "worker"), store)
    assert _published(env) == []  # the bug: "events" (no approvers) went out before "comms" was approved
    assert states(store) == {"pending_approval": 2}
    out = approvals.approve(_as(env, "ola"), store, [post_id])
    assert out.decided == [(post_id, "comms")] and len(out.moved) == 2
    run_due(_as(env, "worker"), store)
    assert _published(env) == ["comms", "events"]


def test_a_post_waits_for_every_account_that_needs_approval(env: Env) -> None:
    env.write_config(ACCOUNTS)
    post_id = _post(env, "kari", ["comms", "hr", "events"])
    store = env.store()
    out = approvals.approve(_as(env, "ola"), store, [post_id])
    assert out.waiting == {post_id: ["hr"]} and out.moved == []
    run_due(_as(env, "worker"), store)
    assert _published(env) == [] and states(store) == {"pending_approval": 3}
    out = approvals.approve(_as(env, "per"), store, [post_id])
    assert out.decided == [(post_id, "hr")] and len(out.moved) == 3
    run_due(_as(env, "worker"), store)
    assert _published(env) == ["comms", "events", "hr"]
    with store.read() as conn:
        granted = conn.execute(select(audit_events.c.actor, audit_events.c.account)
                               .where(audit_events.c.action == "approval.granted")).all()
    assert sorted(tuple(r) for r in granted) == [("ola", "comms"), ("per", "hr")]


def test_the_author_cannot_approve_and_nothing_is_recorded(env: Env) -> None:
    env.write_config(ACCOUNTS)
    first = _post(env, "ola", ["comms"], "First announcement for Monday")
    second = _post(env, "kari", ["comms"], "Second announcement for Tuesday")
    store = env.store()
    with pytest.raises(NotPermitted, match="two-person rule"):
        approvals.approve(_as(env, "kari"), store, [first, second])  # second is kari's own: all or nothing
    with store.read() as conn:
        assert conn.execute(select(approvals_table)).all() == []
    assert states(store) == {"pending_approval": 2}


def test_reject_needs_a_reason_and_cancels_with_it(env: Env) -> None:
    env.write_config(ACCOUNTS)
    post_id = _post(env, "kari", ["comms", "events"])
    store = env.store()
    with pytest.raises(InputError, match="reason"):
        approvals.reject(_as(env, "ola"), store, [post_id], None, "  ")
    assert states(store) == {"pending_approval": 2}
    out = approvals.reject(_as(env, "ola"), store, [post_id], None, "wrong date")
    assert len(out.moved) == 2 and states(store) == {"cancelled": 2}
    assert {d["last_error"] for d in all_deliveries(store)} == {"rejected by ola: wrong date"}
    again = approvals.reject(_as(env, "ola"), store, [post_id], None, "wrong date")
    assert again.already == [(post_id, "comms")] and again.moved == []


def _cli(env: Env, who: str, *args: str) -> Any:
    env.env["PUBLISHER_ACTOR"] = who
    return env.cli(*args)


@pytest.mark.slow  # CLI processes
def test_cli_approve_several_ids_twice_self_and_reject(env: Env) -> None:
    env.write_config(ACCOUNTS)
    a = _post(env, "kari", ["comms", "events"])
    b = _post(env, "kari", ["comms"], "Doors open at 08:30 on Monday")
    c = _post(env, "kari", ["comms"], "Speaker list is out on Friday")
    d = _post(env, "kari", ["comms", "events"], "Workshops are full, the waiting list is open")
    r = _cli(env, "kari", "approve", a)
    assert r.returncode == 4 and "two-person rule" in r.stderr
    r = _cli(env, "ola", "approve", a, b, "--json")
    assert r.returncode == 0, r.stderr
    assert {x["post_id"] for x in json.loads(r.stdout)["approved"]} == {a, b}
    r = _cli(env, "ola", "approve", a)
    assert r.returncode == 0 and "already approved" in r.stdout
    r = _cli(env, "ola", "reject", c)
    assert r.returncode == 2 and "--reason" in r.stderr
    r = _cli(env, "mallory", "reject", c, "--reason", "no")
    assert r.returncode == 4 and "may not reject" in r.stderr
    r = _cli(env, "ola", "reject", c, d, "--reason", "speakers not confirmed")  # several ids at once
    assert r.returncode == 0 and "rejected" in r.stdout, r.stderr
    assert {x["state"] for x in all_deliveries(env.store()) if x["post_id"] == d} == {"cancelled"}
    r = _cli(env, "ola", "audit", "log", "--post", c, "--json")
    events = json.loads(r.stdout)
    assert any(e["action"] == "approval.rejected" and e["actor"] == "ola"
               and e["details"]["reason"] == "speakers not confirmed" for e in events)
    r = _cli(env, "ola", "show", c, "--json")
    assert json.loads(r.stdout)["approvals"] == {"comms": "rejected by ola: speakers not confirmed"}
    r = _cli(env, "ola", "show", a)
    assert "approvals: comms approved by ola" in r.stdout
    assert states(env.store()) == {"scheduled": 3, "cancelled": 3}
    assert env.cli("audit", "verify").returncode == 0


def test_two_approvers_of_two_accounts_at_the_same_moment_release_the_post_exactly_once(env: Env) -> None:
    import threading

    env.write_config(ACCOUNTS)
    settings = {"ola": _as(env, "ola"), "per": _as(env, "per")}
    for _round in range(5):
        post_id = _post(env, "kari", ["comms", "hr", "events"])
        gate = threading.Barrier(2)
        outs: dict[str, approvals.Outcome] = {}

        def run(who: str, gate: threading.Barrier = gate, outs: dict[str, approvals.Outcome] = outs,
                post_id: str = post_id) -> None:
            store = Store(settings[who].database_url)
            gate.wait()
            outs[who] = approvals.approve(settings[who], store, [post_id])
            store.dispose()

        threads = [threading.Thread(target=run, args=(w,)) for w in settings]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert sorted(len(o.moved) for o in outs.values()) == [0, 3]  # the second decision released it, once
        assert sum(bool(o.waiting) for o in outs.values()) == 1
    assert states(env.store()) == {"scheduled": 15}
    assert env.cli("audit", "verify").returncode == 0


@pytest.mark.slow  # CLI processes and a running `publisher run`
def test_with_a_running_worker_the_free_account_waits_for_the_approval_account(env: Env) -> None:
    env.write_config(ACCOUNTS)
    r = _cli(env, "kari", "post", "--account", "comms", "--account", "events", "--json",
             "Our conference opens on Monday at 09:00")
    assert r.returncode == 0, r.stderr
    post_id = json.loads(r.stdout)["post_id"]
    env.spawn("run", "--threads", "2", log="run")
    marker = _cli(env, "kari", "post", "--account", "noc", "--json", "Planned maintenance tonight 22:00-23:00")
    marker_id = json.loads(marker.stdout)["post_id"]
    store = env.store()
    # the worker is live and has gone through what is due: the marker, posted after the waiting post, is out
    wait_for(lambda: any(d["post_id"] == marker_id and d["state"] == "published" for d in all_deliveries(store)),
             timeout=60, what="the worker published a post due now")
    assert _published(env) == ["noc"]
    assert {d["state"] for d in all_deliveries(store) if d["post_id"] == post_id} == {"pending_approval"}
    r = _cli(env, "ola", "approve", post_id)
    assert r.returncode == 0, r.stderr
    wait_for(lambda: _published(env) == ["comms", "events", "noc"], timeout=60, what="both copies published")


def test_one_unknown_id_among_several_approves_none(env: Env) -> None:
    from publisher.errors import NotFound

    env.write_config(ACCOUNTS)
    a = _post(env, "kari", ["comms"], "Doors open at 08:30 on Monday")
    store = env.store()
    with pytest.raises(NotFound, match="p-nope"):
        approvals.approve(_as(env, "ola"), store, [a, "p-nope"])
    assert states(store) == {"pending_approval": 1}
    one = all_deliveries(store)[0]["id"]  # a delivery id approves that account's copies of its post
    assert approvals.approve(_as(env, "ola"), store, [one, a]).moved == [one]


def test_a_post_whose_accounts_no_longer_need_approval_is_released_only_by_a_poster(env: Env) -> None:
    env.write_config(ACCOUNTS)
    post_id = _post(env, "kari", ["comms"])
    env.write_config({**ACCOUNTS, "comms": {"channel": "dryrun", "kind": "organisation", "posters": ["kari", "ola"]}})
    with pytest.raises(NotPermitted, match="may not release"):
        approvals.approve(_as(env, "mallory"), env.store(), [post_id])
    assert states(env.store()) == {"pending_approval": 1}
    assert len(approvals.approve(_as(env, "ola"), env.store(), [post_id]).moved) == 1
