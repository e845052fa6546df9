"""Reconciliation's guards, pinned on the fake clock: each answer of the platform's lookup (found, not there, cannot
tell, try later) moves the delivery only while this reconciler still owns it (its attempt, its lease), is audited,
and schedules what comes next; a post the unclear answer already named is recorded without a lookup."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from publisher.errors import NotPublished, OutcomeUnknown, RateLimited, ReconcileUnsupported, TransientError
from publisher.models import Receipt
from tests.sim.harness import Sim
from tests.sim.test_attempts import Crash, crash, deliver_with, lease, noc, trail, worker

MakeSim = Callable[..., Sim]


def unknown_then(sim: Sim, lookup: Callable[[Any], Any]) -> str:
    """A delivery whose call ended unclear (nothing sent), then reconciled by ``lookup``: its id."""
    d = sim.post("timeout").deliveries[0]["id"]
    sim.publisher.adapter("noc").reconcile = lookup  # type: ignore[method-assign]
    return d


def last_event(sim: Sim, d: str) -> tuple[str, str, dict[str, Any]]:
    with sim.store.read() as conn:
        return trail(conn, d)[-1]


@pytest.mark.parametrize("answer", [NotPublished("no such post"), ReconcileUnsupported("cannot search"),
                                    TransientError("search is down")], ids=["not-published", "cannot-tell", "later"])
def test_a_reconciler_that_lost_its_lease_does_not_move_the_delivery_whatever_it_found(make_sim: MakeSim,
                                                                                       answer: Exception) -> None:
    sim = make_sim(noc({"match": "timeout", "outcome": "unknown", "times": 1}))
    other = worker(sim)
    other.adapter("noc").reconcile = crash  # type: ignore[method-assign]

    def slow(delivery: Any) -> Any:
        sim.clock.advance(lease(sim) + 1)
        sim.sweep()
        with pytest.raises(Crash):  # another reconciler took over (and died looking)
            deliver_with(sim, other)
        raise answer

    d = unknown_then(sim, slow)
    sim.tick()
    sim.deliver()
    row = sim.deliveries()[d]
    assert row["state"] == "reconciling" and row["attempt_id"] != ""
    assert last_event(sim, d)[1] == "reconciling"  # the other reconciler's claim is the last word


def test_a_lookup_that_finds_nothing_sends_the_delivery_again_at_once(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "timeout", "outcome": "unknown", "times": 1}))

    def lookup(delivery: Any) -> Any:
        row = sim.deliveries()[d]
        assert row["lease_until"] == sim.clock.now + timedelta(seconds=lease(sim))
        assert sim.sweep()["leases"] == 0  # the reconciler's lease holds while it looks
        raise NotPublished("no such post")

    d = unknown_then(sim, lookup)
    sim.tick()
    assert sim.deliver() == {d: "not-published"}
    row = sim.deliveries()[d]
    assert (row["state"], row["due_at"], row["last_error"]) == ("retry_wait", sim.clock.now, "no such post")
    actor, action, details = last_event(sim, d)
    assert (actor, action, details) == (sim.publisher.actor, "reconciled_not_published",
                                        {"from": "reconciling", "to": "retry_wait", "error": "no such post",
                                         "result": "definitively not on the platform: sent again"})
    sim.publisher = worker(sim)
    sim.run(1)
    assert sim.state(d) == "published" and len(sim.ledger()) == 1


def test_a_lookup_that_cannot_tell_asks_a_human_and_is_not_tried_again(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "timeout", "outcome": "unknown", "times": 1}))
    d = unknown_then(sim, lambda delivery: (_ for _ in ()).throw(ReconcileUnsupported("cannot search")))
    sim.tick()
    assert sim.deliver() == {d: "needs-human"}
    row = sim.deliveries()[d]
    assert row["state"] == "unknown" and row["due_at"] == sim.clock.now + timedelta(days=365)
    assert row["last_error"] == (f"outcome unknown and dryrun cannot confirm it (cannot search): check the account, "
                                 f"then `publisher retry {d}` (if it is missing) or `publisher cancel {d}`")
    assert last_event(sim, d) == (sim.publisher.actor, "needs_human",
                                  {"from": "reconciling", "to": "unknown", "error": "cannot search",
                                   "result": "no lookup can settle it"})
    sim.clock.advance(3600)
    assert sim.sweep()["reconcile"] == 0 and sim.state(d) == "unknown"


def test_a_lookup_that_is_rate_limited_waits_for_the_platform(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "timeout", "outcome": "unknown", "times": 1}))
    retry_at = sim.clock.now + timedelta(seconds=42)
    d = unknown_then(sim, lambda delivery: (_ for _ in ()).throw(RateLimited("slow down", retry_at=retry_at)))
    sim.tick()
    assert sim.deliver() == {d: "deferred"}
    row = sim.deliveries()[d]
    assert (row["state"], row["due_at"], row["last_error"]) == ("unknown", retry_at, "slow down")
    assert last_event(sim, d) == (sim.publisher.actor, "reconcile_deferred",
                                  {"from": "reconciling", "to": "unknown", "error": "slow down",
                                  "result": "the lookup failed for now: looked up again later"})


def test_an_unclear_answer_that_names_its_post_is_recorded_without_a_lookup(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    d = sim.post("duplicate refused").deliveries[0]["id"]
    existing = Receipt(remote_id="urn:li:share:42", url="https://example.invalid/42")

    def publish(delivery: Any, parent: Any) -> Any:
        raise OutcomeUnknown("the platform says this post already exists", existing=existing)

    sim.publisher.adapter("noc").publish = publish  # type: ignore[method-assign]
    sim.publisher.adapter("noc").reconcile = crash  # type: ignore[method-assign]
    sim.tick()
    assert sim.deliver() == {d: "reconciled"}
    row = sim.deliveries()[d]
    assert (row["state"], row["remote_id"], row["remote_url"]) == ("published", "urn:li:share:42",
                                                                   "https://example.invalid/42")
    assert [a for _actor, a, _details in trail_of(sim, d)][-3:] == ["unknown", "reconciling", "published"]


def trail_of(sim: Sim, d: str) -> list[tuple[str, str, dict[str, Any]]]:
    with sim.store.read() as conn:
        return trail(conn, d)
