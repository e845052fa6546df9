"""The scheduler's guards, pinned one by one on the fake clock: what a tick may claim (state, horizon, thread
predecessor, batch), what expires and when, and what the sweeper takes for a lost lease, a due reconciliation or a
lost broker message. Each test names the condition it holds; mutation testing (benchmarks/mutation.sh) checks that
breaking the condition fails it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from publisher import service
from publisher.errors import TransientError
from publisher.publishing import Publisher
from tests.conftest import Env
from tests.sim.harness import Sim
from tests.sim.test_attempts import trail

MakeSim = Callable[..., Sim]
ACCOUNT = {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"}


def noc(*fail: dict[str, Any]) -> dict[str, Any]:
    return {"noc": {**ACCOUNT, "options": {"fail": list(fail)}}}


class Crash(BaseException):
    """The worker process dies here (no except clause of the actor catches it)."""


def crash_on_publish(publisher: Publisher) -> None:
    def publish(delivery: Any, parent: Any) -> Any:
        raise Crash

    publisher.adapter("noc").publish = publish  # type: ignore[method-assign]


def at(sim: Sim, seconds: float) -> Any:
    return sim.clock.now + timedelta(seconds=seconds)


def thread(sim: Sim, *texts: str, **kw: Any) -> list[str]:
    return [sim.post(f"INC-7: {t}", thread_key="ticket:INC-7", **kw).deliveries[0]["id"] for t in texts]


# -- the claim --


def test_a_tick_claims_what_is_due_within_the_horizon_and_sends_it_delayed_to_its_due_time(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    horizon = sim.settings.scheduler.horizon_seconds
    start = sim.clock.now
    now = sim.post("due now").deliveries[0]["id"]
    edge = sim.post("due at the horizon", at=at(sim, horizon)).deliveries[0]["id"]
    later = sim.post("due past the horizon", at=at(sim, horizon + 0.5)).deliveries[0]["id"]
    assert sim.tick() == 2
    assert [sim.state(i) for i in (now, edge, later)] == ["queued", "queued", "scheduled"]
    assert {m.ids[0]: m.deliver_at - start for m in sim.broker.queue} == {now: timedelta(0),
                                                                          edge: timedelta(seconds=horizon)}
    assert {m.channel for m in sim.broker.queue} == {"dryrun"}
    assert sim.deliveries()[now]["enqueued_at"] == start


def test_a_tick_claims_the_earliest_due_first_and_only_deliveries_still_waiting(env: Env, make_sim: MakeSim) -> None:
    # one delivery per tick: what it claims shows what the claim looks at, and in which order
    env.write_config(noc({"match": "refused", "outcome": "permanent", "times": 9}), scheduler={"batch": 1})
    sim = make_sim()
    done = sim.post("published first").deliveries[0]["id"]
    failed = sim.post("refused by the platform").deliveries[0]["id"]
    sim.run(2)
    assert (sim.state(done), sim.state(failed)) == ("published", "failed")
    second = sim.post("due second", at=at(sim, 1)).deliveries[0]["id"]
    first = sim.post("due first").deliveries[0]["id"]
    sim.clock.advance(0.25)
    assert sim.tick() == 1 and sim.state(first) == "queued" and sim.state(second) == "scheduled"
    claimed = sim.deliveries()[first]
    assert claimed["enqueued_at"] == claimed["updated_at"] == sim.clock.now
    assert sim.tick() == 1 and sim.state(second) == "queued"
    assert sim.tick() == 0


def test_under_a_backlog_the_earliest_due_is_claimed_first_whether_scheduled_or_retrying(env: Env,
                                                                                        make_sim: MakeSim) -> None:
    env.write_config(noc({"match": "flaky", "outcome": "transient", "times": 1}),
                     scheduler={"batch": 1, "horizon_seconds": 0})
    sim = make_sim()
    retrying = sim.post("flaky network").deliveries[0]["id"]
    sim.tick()
    sim.deliver()
    assert sim.deliveries()[retrying]["due_at"] == at(sim, 5)
    waiting = sim.post("due before the retry", at=at(sim, 4)).deliveries[0]["id"]
    sim.clock.advance(6)  # no tick meanwhile: both are due
    assert sim.tick() == 1 and sim.state(waiting) == "queued" and sim.state(retrying) == "retry_wait"
    assert sim.tick() == 1 and sim.state(retrying) == "queued"


def test_a_tick_never_claims_a_held_failed_cancelled_expired_or_unapproved_delivery(env: Env, make_sim: MakeSim) -> None:
    accounts = noc({"match": "refused", "outcome": "permanent", "times": 9},
                   {"match": "token", "outcome": "auth", "times": 9})
    accounts["team"] = {**ACCOUNT, "approvers": ["someone-else"]}
    sim = make_sim(accounts)
    failed = sim.post("refused by the platform").deliveries[0]["id"]
    held = sim.post("expired token").deliveries[0]["id"]
    cancelled = sim.post("cancelled before its time", at=at(sim, 1)).deliveries[0]["id"]
    expired = sim.post("closes soon", at=at(sim, 1), not_after=at(sim, 1.5)).deliveries[0]["id"]
    unapproved = sim.post("waits for approval", account="team").deliveries[0]["id"]
    service.cancel(sim.settings, sim.store, cancelled)
    sim.run(1)  # claims the one that closes soon; no worker gets to it before it closes
    sim.clock.advance(2)
    sim.sweep()
    expected = {failed: "failed", held: "held", cancelled: "cancelled", expired: "expired", unapproved: "pending_approval"}
    assert {i: sim.state(i) for i in expected} == expected
    sim.broker.wipe()
    sim.run(10)
    assert {i: sim.state(i) for i in expected} == expected
    assert sim.ledger() == []


def test_deliveries_in_other_states_never_crowd_a_waiting_one_out_of_a_tick(env: Env, make_sim: MakeSim) -> None:
    # one delivery per tick, and every other state due before it: the tick must still find it
    accounts = noc({"match": "refused", "outcome": "permanent", "times": 9},
                   {"match": "token", "outcome": "auth", "times": 9})
    accounts["team"] = {**ACCOUNT, "approvers": ["someone-else"]}
    env.write_config(accounts, scheduler={"batch": 1})
    sim = make_sim()
    ids = [sim.post(t).deliveries[0]["id"] for t in ("published", "refused", "expired token")]
    ids.append(sim.post("waits for approval", account="team").deliveries[0]["id"])
    sim.run(2)
    crashing = sim.post("the worker dies mid-call").deliveries[0]["id"]
    sim.publisher.adapter("noc").publish = lambda delivery, parent: (_ for _ in ()).throw(Crash())
    sim.tick()
    with pytest.raises(Crash):
        sim.deliver()
    queued = sim.post("claimed, not yet delivered").deliveries[0]["id"]
    sim.tick()
    sim.clock.advance(0.5)
    states = [sim.state(i) for i in (*ids, crashing, queued)]
    assert states == ["published", "failed", "held", "pending_approval", "publishing", "queued"]
    fresh = sim.post("due last").deliveries[0]["id"]
    assert sim.tick() == 1 and sim.state(fresh) == "queued"


def test_a_retry_waiting_delivery_is_claimed_again_once_its_backoff_is_over(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "flaky", "outcome": "transient", "times": 1}))
    d = sim.post("flaky network").deliveries[0]["id"]
    sim.tick()
    sim.deliver()
    row = sim.deliveries()[d]
    assert row["state"] == "retry_wait" and row["due_at"] == sim.clock.now + timedelta(seconds=5)
    sim.run(2.5)
    assert sim.state(d) == "retry_wait" and sim.tick() == 0
    sim.run(3)
    assert sim.state(d) == "published" and len(sim.ledger()) == 1


def test_a_thread_successor_is_claimed_only_after_its_predecessor(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    first, second = thread(sim, "opened", "update")
    assert sim.tick() == 1 and sim.state(first) == "queued" and sim.state(second) == "scheduled"


def test_a_successor_due_after_its_published_predecessor_is_claimed_by_the_tick(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    first = thread(sim, "opened")[0]
    sim.run(1)
    assert sim.state(first) == "published"
    second = thread(sim, "update")[0]
    assert sim.tick() == 1 and sim.state(second) == "queued"


@pytest.mark.parametrize("how", ["cancelled", "expired"])
def test_a_successor_goes_on_past_a_cancelled_or_expired_predecessor(make_sim: MakeSim, how: str) -> None:
    sim = make_sim(noc({"match": "opened", "outcome": "rate_limited", "times": 9, "retry_after": 600}))
    first = thread(sim, "opened", not_after=at(sim, 4))[0]
    second = thread(sim, "update")[0]
    sim.run(1)
    assert (sim.state(first), sim.state(second)) == ("retry_wait", "scheduled")
    assert sim.sweep()["held"] == 0  # a predecessor waiting its turn stops nothing
    if how == "cancelled":
        service.cancel(sim.settings, sim.store, first)
    sim.run(5)
    assert (sim.state(first), sim.state(second)) == (how, "published")
    assert [r["in_reply_to"] for r in sim.ledger()] == [None]


# -- expiry --


def _waiting_in_every_state(sim: Sim, not_after: Any) -> dict[str, str]:
    """A delivery waiting in each state a delivery waits in, all closing at ``not_after``: state -> id."""
    ids = {
        "retry_wait": sim.post("limited", not_after=not_after).deliveries[0]["id"],
        "held": sim.post("expired token", not_after=not_after).deliveries[0]["id"],
        "pending_approval": sim.post("needs a yes", account="team", not_after=not_after).deliveries[0]["id"],
    }
    blocker = thread(sim, "far off", at=at(sim, 3600))[0]  # keeps its successor scheduled
    ids["scheduled"] = thread(sim, "behind it", not_after=not_after)[0]
    sim.run(1)
    ids["queued"] = sim.post("claimed, never delivered", not_after=not_after).deliveries[0]["id"]
    sim.tick()
    sim.broker.wipe()
    assert {s: sim.state(i) for s, i in ids.items()} == {s: s for s in ids}
    assert sim.state(blocker) == "scheduled"
    return ids


def test_anything_waiting_expires_just_after_its_not_after_and_not_before(make_sim: MakeSim) -> None:
    accounts = noc({"match": "limited", "outcome": "rate_limited", "times": 9, "retry_after": 600},
                   {"match": "token", "outcome": "auth", "times": 9})
    accounts["team"] = {**ACCOUNT, "approvers": ["someone-else"]}
    sim = make_sim(accounts)
    not_after = at(sim, 3)
    ids = _waiting_in_every_state(sim, not_after)
    sim.clock.now = not_after
    assert sim.sweep()["expired"] == 0
    sim.clock.advance(0.001)
    assert sim.sweep()["expired"] == len(ids)
    assert {s: sim.state(i) for s, i in ids.items()} == dict.fromkeys(ids, "expired")
    assert sim.ledger() == []


def test_a_delivery_that_was_published_or_failed_never_expires(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "refused", "outcome": "permanent", "times": 9}))
    done = sim.post("on time", not_after=at(sim, 2)).deliveries[0]["id"]
    failed = sim.post("refused", not_after=at(sim, 2)).deliveries[0]["id"]
    sim.run(5)
    assert (sim.state(done), sim.state(failed)) == ("published", "failed")


def test_a_delivery_with_a_later_not_after_is_published_not_expired(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    d = sim.post("still open", not_after=at(sim, 60)).deliveries[0]["id"]
    sim.tick()
    assert sim.sweep()["expired"] == 0
    sim.deliver()
    assert sim.state(d) == "published"


# -- the sweeper --


def test_a_lease_is_taken_for_lost_only_once_it_has_run_out(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    d = sim.post("the worker dies mid-call").deliveries[0]["id"]
    crash_on_publish(sim.publisher)
    sim.tick()
    with pytest.raises(Crash):
        sim.deliver()
    lease_until = sim.deliveries()[d]["lease_until"]
    assert lease_until == sim.clock.now + timedelta(seconds=sim.settings.scheduler.lease_seconds)
    sim.clock.now = lease_until
    assert sim.sweep()["leases"] == 0 and sim.state(d) == "publishing"
    sim.clock.advance(0.001)
    assert sim.scheduler.sweep()["leases"] == 1 and sim.state(d) == "unknown"  # its own clock: the store's
    row = sim.deliveries()[d]
    assert row["last_error"] == "worker stopped mid-publish; reconciling"
    assert row["due_at"] == sim.clock.now + timedelta(seconds=sim.settings.scheduler.reconcile_every_seconds)
    with sim.store.read() as conn:
        assert trail(conn, d)[-1] == (sim.scheduler.actor, "lease_expired", {
            "from": "publishing", "to": "unknown", "lease_until": lease_until.isoformat()})
    assert [(m.channel, m.ids, m.deliver_at) for m in sim.broker.queue] == [("dryrun", [d], sim.clock.now)]
    sim.publisher = Publisher(sim.settings, sim.store, sender=sim.broker.send)
    sim.run(7)
    assert sim.state(d) == "published" and len(sim.ledger()) == 1


def test_a_reconciler_that_dies_leaves_its_lease_to_run_out_and_the_delivery_is_reconciled_again(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "reset", "outcome": "unknown_sent", "times": 1}))
    d = sim.post("connection reset").deliveries[0]["id"]

    def reconcile(delivery: Any) -> Any:
        raise Crash

    sim.publisher.adapter("noc").reconcile = reconcile  # type: ignore[method-assign]
    sim.tick()
    with pytest.raises(Crash):
        sim.deliver()
    assert sim.state(d) == "reconciling"
    sim.clock.now = sim.deliveries()[d]["lease_until"]
    assert sim.sweep()["leases"] == 0
    sim.clock.advance(0.001)
    assert sim.sweep()["leases"] == 1 and sim.state(d) == "unknown"
    sim.publisher = Publisher(sim.settings, sim.store, sender=sim.broker.send)
    sim.run(2)
    assert sim.state(d) == "published" and len(sim.ledger()) == 1


def test_an_unknown_outcome_is_looked_up_again_when_it_is_due_and_not_before(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "timeout", "outcome": "unknown", "times": 1}))
    d = sim.post("timeout").deliveries[0]["id"]
    adapter = sim.publisher.adapter("noc")
    real = adapter.reconcile
    calls: list[str] = []

    def reconcile(delivery: Any) -> Any:
        calls.append(delivery.id)
        if len(calls) == 1:
            raise TransientError("the platform's search is down")
        return real(delivery)

    adapter.reconcile = reconcile  # type: ignore[method-assign]
    sim.tick()
    assert sim.deliver() == {d: "deferred"}
    due = sim.deliveries()[d]["due_at"]
    assert due == sim.clock.now + timedelta(seconds=sim.settings.scheduler.reconcile_every_seconds)
    sim.clock.now = due - timedelta(milliseconds=1)
    assert sim.sweep()["reconcile"] == 0
    sim.clock.now = due
    assert sim.sweep()["reconcile"] == 1
    assert sim.sweep()["reconcile"] == 0  # one message until the next reconcile period
    assert [(m.channel, m.ids, m.deliver_at) for m in sim.broker.queue] == [("dryrun", [d], due)]
    assert sim.deliver() == {d: "not-published"}
    sim.run(1)
    assert sim.state(d) == "published" and calls == [d, d]


def test_a_lost_message_is_sent_again_only_after_lost_after_past_its_due_time(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    lost_after = sim.settings.scheduler.lost_after_seconds
    d = sim.post("due soon", at=at(sim, 2)).deliveries[0]["id"]
    sim.tick()  # claimed two seconds early, its message delayed to its due time
    sim.broker.wipe()
    sim.clock.advance(2 + lost_after - 0.001)
    assert sim.sweep()["resent"] == 0
    sim.clock.advance(0.001)
    assert sim.sweep()["resent"] == 1
    assert [(m.channel, m.ids, m.deliver_at) for m in sim.broker.queue] == [("dryrun", [d], sim.clock.now)]
    sim.deliver()
    assert sim.state(d) == "published"


def test_a_lost_message_is_sent_again_only_after_lost_after_since_it_was_queued(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "opened", "outcome": "rate_limited", "times": 1, "retry_after": 30}))
    lost_after = sim.settings.scheduler.lost_after_seconds
    first, second = thread(sim, "opened", "update")
    for _ in range(200):  # the first waits out its rate limit; the second, long due, waits behind it
        sim.tick()
        sim.deliver()
        if sim.state(first) == "published":
            break
        sim.sweep()
        sim.clock.advance(0.5)
    assert sim.state(second) == "queued"  # woken the moment its predecessor was published
    queued_at = sim.deliveries()[second]["enqueued_at"]
    sim.broker.wipe()
    sim.clock.now = queued_at + timedelta(seconds=lost_after - 0.001)
    assert sim.sweep()["resent"] == 0
    sim.clock.now = queued_at + timedelta(seconds=lost_after)
    assert sim.sweep()["resent"] == 1
    sim.deliver()
    assert sim.state(second) == "published"


def test_a_message_is_not_sent_again_for_a_delivery_a_worker_took_meanwhile(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    d = sim.post("raced").deliveries[0]["id"]
    lost = sim.post("lost", at=at(sim, 0.5)).deliveries[0]["id"]
    sim.tick()
    message = [m for m in sim.broker.queue if d in m.ids]
    sim.broker.wipe()
    sim.clock.advance(sim.settings.scheduler.lost_after_seconds + 1)

    def missing(items: list[tuple[str, str, str | None]]) -> set[str]:
        # while the sweeper looks for the messages, a worker (which had one after all) publishes its delivery
        for m in message:
            sim.publisher.handle_many(m.ids)
        return {i for _c, i, _m in items}

    sim.scheduler.missing = missing
    assert sim.sweep()["resent"] == 1
    assert [m.ids for m in sim.broker.queue] == [[lost]] and sim.state(d) == "published"


def test_a_message_lost_again_is_sent_again_and_one_still_waiting_in_the_broker_is_not(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    lost_after = sim.settings.scheduler.lost_after_seconds
    d = sim.post("lost twice").deliveries[0]["id"]
    sim.tick()
    sim.broker.wipe()
    sim.clock.advance(lost_after)
    assert sim.sweep()["resent"] == 1
    resent = sim.deliveries()[d]
    assert (resent["enqueued_at"], resent["message_id"]) == (sim.clock.now, sim.broker.queue[0].message_id)
    sim.clock.advance(lost_after)
    assert sim.sweep()["resent"] == 0  # its message is still there, not yet consumed
    sim.broker.wipe()
    assert sim.sweep()["resent"] == 1  # lost again
    sim.broker.wipe()
    sim.clock.advance(lost_after - 0.001)
    assert sim.sweep()["resent"] == 0  # and again, but not for long enough since it was last sent
    sim.clock.advance(0.001)
    assert sim.sweep()["resent"] == 1
    sim.deliver()
    assert sim.state(d) == "published" and len(sim.ledger()) == 1


def test_a_delivery_waiting_or_failed_after_its_call_is_never_taken_for_a_lost_lease(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "limited", "outcome": "rate_limited", "times": 9, "retry_after": 600},
                       {"match": "refused", "outcome": "permanent", "times": 9},
                       {"match": "token", "outcome": "auth", "times": 9}))
    ids = [sim.post(t).deliveries[0]["id"] for t in ("limited", "refused", "expired token")]
    sim.run(1)
    states = [sim.state(i) for i in ids]
    assert states == ["retry_wait", "failed", "held"]
    sim.clock.advance(sim.settings.scheduler.lease_seconds + 1)  # past the lease each call was claimed with
    assert sim.sweep()["leases"] == 0
    assert [sim.state(i) for i in ids] == states
    service.retry(sim.settings, sim.store, ids[1])  # sent again: scheduled, then queued, with the old lease on the row
    assert sim.sweep()["leases"] == 0 and sim.state(ids[1]) == "scheduled"
    sim.tick()
    sim.clock.advance(0.5)
    assert sim.sweep()["leases"] == 0 and sim.state(ids[1]) == "queued"


def test_an_expiry_is_audited_by_the_scheduler_with_the_closing_time(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "limited", "outcome": "rate_limited", "times": 9, "retry_after": 600}))
    not_after = at(sim, 1)
    d = sim.post("limited", not_after=not_after).deliveries[0]["id"]
    sim.run(2)
    assert sim.state(d) == "expired"
    with sim.store.read() as conn:
        last = trail(conn, d)[-1]
    assert last == (sim.scheduler.actor, "expired",
                    {"from": "retry_wait", "to": "expired", "not_after": not_after.isoformat()})


def test_every_unknown_outcome_due_is_sent_to_be_looked_up(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    ids = [sim.post(f"the worker dies mid-call {i}").deliveries[0]["id"] for i in range(2)]
    crash_on_publish(sim.publisher)
    sim.tick()
    for m in sim.broker.due():
        with pytest.raises(Crash):
            sim.publisher.handle_many(m.ids)
    sim.clock.advance(sim.settings.scheduler.lease_seconds + 1)
    counts = sim.sweep()
    assert (counts["leases"], counts["reconcile"]) == (2, 2)
    assert sorted(i for m in sim.broker.queue for i in m.ids) == sorted(ids)


def test_only_the_lost_message_is_sent_again_when_others_are_still_waiting(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    kept = sim.post("still in the broker").deliveries[0]["id"]
    lost = [sim.post(f"lost {i}", at=at(sim, 0.5)).deliveries[0]["id"] for i in range(2)]
    sim.tick()
    sim.broker.queue = [m for m in sim.broker.queue if kept in m.ids]
    sim.clock.advance(sim.settings.scheduler.lost_after_seconds + 1)
    assert sim.sweep()["resent"] == 2
    assert sorted(m.ids[0] for m in sim.broker.queue) == sorted([kept, *lost])
