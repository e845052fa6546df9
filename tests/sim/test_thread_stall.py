"""A thread never stalls silently: successors of a failed, held or unknown predecessor become ``held``, naming it and
what to do, and resume by themselves once it is published (or cancelled). Driven step by step on a fake clock."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from publisher import service
from publisher.workflows import approvals
from tests.sim.harness import Sim

MakeSim = Callable[..., Sim]


def noc(*fail: dict[str, Any]) -> dict[str, Any]:
    return {"noc": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo",
                    "options": {"fail": list(fail)}}}


def thread(sim: Sim, n: int) -> list[str]:
    """A ticket thread of ``n`` posts; the delivery id of each, in order."""
    ids = []
    for i in range(n):
        accepted = sim.ticket("INC-1", "boom opened" if i == 0 else f"update {i}")
        ids.append(accepted.deliveries[0]["id"])
    return ids


def test_successors_of_a_failed_post_are_held_naming_it_then_resume_in_order_once_it_is_retried(make_sim: MakeSim) -> None:
    # Given a ticket thread whose first post the platform refuses once
    sim = make_sim(noc({"match": "boom", "outcome": "permanent", "times": 1}))
    first, second, third = thread(sim, 3)
    # When the machinery runs
    sim.run(5)
    # Then the first failed and its successors say so, naming it and what to do
    ds = sim.deliveries()
    assert ds[first]["state"] == "failed"
    for d in (ds[second], ds[third]):
        assert d["state"] == "held", d
    assert first in ds[second]["last_error"] and f"publisher retry {first}" in ds[second]["last_error"]
    assert f"publisher cancel {first}" in ds[second]["last_error"]
    assert sim.ledger() == []
    # When a human sends the first again
    service.retry(sim.settings, sim.store, first)
    sim.run(5)
    # Then the whole thread is published, in order, each replying to its predecessor
    ds = sim.deliveries()
    assert [ds[i]["state"] for i in (first, second, third)] == ["published"] * 3
    ledger = sim.ledger()
    assert [r["delivery_id"] for r in ledger] == [first, second, third]
    assert [r["in_reply_to"] for r in ledger] == [None, ds[first]["remote_id"], ds[second]["remote_id"]]
    assert ds[second]["last_error"] is None


def test_successors_of_a_held_post_wait_visibly_and_follow_it_when_it_is_released(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "boom", "outcome": "auth", "times": 1}))
    first, second = thread(sim, 2)
    sim.run(5)
    assert sim.state(first) == "held" and sim.state(second) == "held"
    assert "is held" in sim.deliveries()[second]["last_error"]
    service.retry(sim.settings, sim.store, first)  # what `accounts verify` does for a renewed token
    sim.run(5)
    assert sim.state(first) == "published" and sim.state(second) == "published"
    assert [r["delivery_id"] for r in sim.ledger()] == [first, second]


def test_cancelling_the_failed_post_lets_the_rest_reply_to_the_last_published_one(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "update 1", "outcome": "permanent", "times": 9}))
    first, second, third = thread(sim, 3)
    sim.run(5)
    assert [sim.state(i) for i in (first, second, third)] == ["published", "failed", "held"]
    service.cancel(sim.settings, sim.store, second)
    sim.run(5)
    ds = sim.deliveries()
    assert ds[third]["state"] == "published"
    assert sim.ledger()[-1]["in_reply_to"] == ds[first]["remote_id"]


def test_a_successor_accepted_after_its_predecessor_failed_is_held_too(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "boom", "outcome": "permanent", "times": 1}))
    (first,) = thread(sim, 1)
    sim.run(3)
    assert sim.state(first) == "failed"
    late = sim.ticket("INC-1", "update after the failure").deliveries[0]["id"]
    sim.run(3)
    assert sim.state(late) == "held" and first in sim.deliveries()[late]["last_error"]


def test_successors_of_an_unknown_outcome_say_why_and_follow_once_it_is_reconciled(make_sim: MakeSim) -> None:
    # the platform stored the first post, then the connection dropped: unknown, then found by reconcile
    sim = make_sim(noc({"match": "boom", "outcome": "unknown_sent", "times": 1}))
    first, second = thread(sim, 2)
    sim.tick()
    sim.deliver()  # the first call: unknown; reconciling it right away finds the post
    sim.run(5)
    ds = sim.deliveries()
    assert ds[first]["state"] == "published" and ds[second]["state"] == "published"
    assert len(sim.ledger()) == 2


def test_a_successor_approved_before_its_predecessor_is_held_saying_the_predecessor_waits_for_approval(
        make_sim: MakeSim, env: Any) -> None:
    accounts = noc()
    accounts["noc"]["approvers"] = ["ann"]
    sim = make_sim(accounts)
    first, second = thread(sim, 2)
    assert {sim.state(first), sim.state(second)} == {"pending_approval"}
    env.env["PUBLISHER_ACTOR"] = "ann"
    ann = env.settings()
    approvals.approve(ann, sim.store, [second])  # the update is approved, the post it replies to is not
    sim.run(3)
    row = sim.deliveries()[second]
    assert row["state"] == "held" and f"publisher approve {first}" in row["last_error"]
    approvals.approve(ann, sim.store, [first])
    sim.run(5)
    assert [sim.state(i) for i in (first, second)] == ["published", "published"]
    assert [r["delivery_id"] for r in sim.ledger()] == [first, second]
