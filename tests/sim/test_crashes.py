"""Crash windows, duplicate and late messages, driven step by step: a worker that dies between its claim and its
call, or between the platform's answer and the commit, still ends with each delivery published exactly once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.sim.harness import Sim

MakeSim = Callable[..., Sim]
NOC = {"noc": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"}}


class Crash(BaseException):
    """The worker process dies here (nothing below it runs: no except clause of the actor catches it)."""


def crash_on_publish(sim: Sim, after_call: bool) -> None:
    adapter = sim.publisher.adapter("noc")
    real = adapter.publish

    def publish(delivery: Any, parent: Any) -> Any:
        if after_call:
            real(delivery, parent)
        raise Crash

    adapter.publish = publish  # type: ignore[method-assign]


def restart_worker(sim: Sim) -> None:
    """A new worker process: a fresh Publisher with fresh adapters on the same store and broker."""
    from publisher.publishing import Publisher

    sim.publisher = Publisher(sim.settings, sim.store, sender=sim.broker.send)


@pytest.mark.parametrize("after_call", [False, True], ids=["before-the-call", "after-the-call"])
def test_a_worker_dying_with_a_claimed_delivery_ends_with_it_published_exactly_once(make_sim: MakeSim,
                                                                                    after_call: bool) -> None:
    sim = make_sim(NOC)
    d = sim.post("Maintenance tonight").deliveries[0]["id"]
    crash_on_publish(sim, after_call)
    sim.tick()
    with pytest.raises(Crash):
        sim.deliver()
    assert sim.state(d) == "publishing"
    restart_worker(sim)
    # the lease runs out; the sweeper makes it unknown and sends it to be reconciled, after its commit
    sim.run(sim.settings.scheduler.lease_seconds + 30)
    assert sim.state(d) == "published"
    assert [r["delivery_id"] for r in sim.ledger()] == [d]


def test_a_duplicate_message_and_a_late_one_do_nothing(make_sim: MakeSim) -> None:
    sim = make_sim(NOC)
    d = sim.post("Planned work").deliveries[0]["id"]
    sim.tick()
    again = list(sim.broker.queue)
    sim.deliver()
    assert sim.state(d) == "published"
    sim.broker.queue.extend(again)  # at-least-once delivery: the same message comes again, late
    sim.clock.advance(600)
    assert sim.deliver() == {d: "duplicate"}
    assert len(sim.ledger()) == 1


def test_a_wiped_broker_loses_nothing(make_sim: MakeSim) -> None:
    sim = make_sim(NOC)
    ids = [sim.post(f"note {i}").deliveries[0]["id"] for i in range(5)]
    sim.tick()
    sim.broker.wipe()
    sim.run(10)
    assert {sim.state(i) for i in ids} == {"published"}
    assert sorted(r["delivery_id"] for r in sim.ledger()) == sorted(ids)


def test_an_unexpected_error_while_reconciling_defers_the_lookup_instead_of_leaving_it_reconciling(make_sim: MakeSim) -> None:
    sim = make_sim({"noc": {**NOC["noc"], "options": {"fail": [{"match": "lost", "outcome": "unknown", "times": 1}]}}})
    d = sim.post("lost answer").deliveries[0]["id"]
    adapter = sim.publisher.adapter("noc")
    real = adapter.reconcile

    def broken(delivery: Any) -> Any:
        raise ValueError("a bug in a lookup")

    adapter.reconcile = broken  # type: ignore[method-assign]
    sim.tick()
    assert sim.deliver() == {d: "deferred"}
    row = sim.deliveries()[d]
    assert row["state"] == "unknown" and row["lease_until"] is None
    assert row["due_at"] > sim.clock.now and "ValueError" in row["last_error"]
    adapter.reconcile = real  # type: ignore[method-assign]
    sim.run(sim.settings.scheduler.reconcile_every_seconds + 5)
    assert sim.state(d) == "published" and len(sim.ledger()) == 1
