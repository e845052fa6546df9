"""The publish path's guards, pinned one by one on the fake clock: a result is recorded only on its own attempt
(never over a newer one), a success that comes back after the lease was lost is still recorded, reconciliation
records only what its own lookup found, a message handled early or late does the right nothing, and thread
successors are woken, held and released exactly when they should be."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from publisher import audit, service
from publisher.errors import TransientError
from publisher.publishing import MAX_TRANSIENT_ATTEMPTS, Publisher
from publisher.schema import audit_events
from tests.conftest import Env
from tests.sim.harness import Sim

MakeSim = Callable[..., Sim]
ACCOUNT = {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"}


def noc(*fail: dict[str, Any]) -> dict[str, Any]:
    return {"noc": {**ACCOUNT, "options": {"fail": list(fail)}}}


class Crash(BaseException):
    """A worker process dies here (no except clause of the actor catches it)."""


def worker(sim: Sim) -> Publisher:
    """Another worker process on the same store and broker, with adapters of its own."""
    return Publisher(sim.settings, sim.store, sender=sim.broker.send)


def deliver_with(sim: Sim, publisher: Publisher) -> dict[str, str]:
    outcomes: dict[str, str] = {}
    for m in sim.broker.due():
        outcomes.update(publisher.handle_many(m.ids))
    return outcomes


def crash(*_args: Any) -> Any:
    raise Crash


def lease(sim: Sim) -> float:
    return sim.settings.scheduler.lease_seconds


def trail(conn: Any, delivery_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The audit trail of one delivery: (actor, action, details), in order."""
    rows = conn.execute(select(audit_events.c.actor, audit_events.c.action, audit_events.c.details)
                        .where(audit_events.c.delivery_id == delivery_id).order_by(audit_events.c.seq))
    return [(actor, action, json.loads(details or "{}")) for actor, action, details in rows]


def audit_actions(sim: Sim, delivery_id: str) -> list[tuple[str, dict[str, Any]]]:
    with sim.store.read() as conn:
        return [(action, details) for _actor, action, details in trail(conn, delivery_id)]


# -- a result belongs to its attempt --


def test_a_success_that_comes_back_after_the_lease_was_lost_is_recorded_once(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    d = sim.post("the platform answers slowly").deliveries[0]["id"]
    adapter = sim.publisher.adapter("noc")
    real = adapter.publish

    def slow(delivery: Any, parent: Any) -> Any:
        receipt = real(delivery, parent)  # the platform stored the post ...
        sim.clock.advance(lease(sim) + 1)  # ... and answered after the lease ran out:
        sim.sweep()  # the sweeper took the worker for dead
        assert sim.state(d) == "unknown"
        return receipt

    adapter.publish = slow  # type: ignore[method-assign]
    sim.tick()
    assert sim.deliver() == {d: "published"}
    row = sim.deliveries()[d]
    assert row["state"] == "published" and row["remote_id"] == sim.ledger()[0]["remote_id"]
    assert row["published_at"] == sim.clock.now
    # ("from" is left out: it names the state the worker read, publishing, not the unknown it moved from)
    assert [{k: v for k, v in details.items() if k != "from"}
            for action, details in audit_actions(sim, d) if action == "published"] == [
        {"to": "published", "remote_id": row["remote_id"], "url": row["remote_url"], "late": True}]
    sim.run(2)  # the reconcile message the sweeper sent finds it published
    assert len(sim.ledger()) == 1 and sim.state(d) == "published"


def test_a_late_success_is_recorded_while_a_reconciler_is_looking_it_up(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    d = sim.post("the platform answers slowly").deliveries[0]["id"]
    adapter = sim.publisher.adapter("noc")
    real = adapter.publish
    other = worker(sim)
    other.adapter("noc").reconcile = crash  # type: ignore[method-assign]

    def slow(delivery: Any, parent: Any) -> Any:
        receipt = real(delivery, parent)
        sim.clock.advance(lease(sim) + 1)
        sim.sweep()
        with pytest.raises(Crash):  # another worker starts reconciling it, and dies looking
            deliver_with(sim, other)
        assert sim.state(d) == "reconciling"
        return receipt

    adapter.publish = slow  # type: ignore[method-assign]
    sim.tick()
    assert sim.deliver() == {d: "published"}
    assert sim.state(d) == "published" and len(sim.ledger()) == 1


def test_a_failure_reported_after_the_lease_was_lost_does_not_move_the_next_attempt(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    d = sim.post("sent twice over a lost lease").deliveries[0]["id"]
    other = worker(sim)
    other.adapter("noc").publish = crash  # type: ignore[method-assign]
    attempts: list[str] = []

    def stuck(delivery: Any, parent: Any) -> Any:
        attempts.append(sim.deliveries()[d]["attempt_id"])
        sim.clock.advance(lease(sim) + 1)
        sim.sweep()  # unknown; reconciled by another worker: not published, so claimed and sent again ...
        assert deliver_with(sim, other) == {d: "not-published"}
        sim.tick()
        with pytest.raises(Crash):  # ... by that worker, which is mid-call (here: dead) when this one answers
            deliver_with(sim, other)
        attempts.append(sim.deliveries()[d]["attempt_id"])
        raise TransientError("connection refused")

    sim.publisher.adapter("noc").publish = stuck  # type: ignore[method-assign]
    sim.tick()
    sim.deliver()
    row = sim.deliveries()[d]
    assert attempts[0] != attempts[1]
    assert (row["state"], row["attempt_id"], row["attempts"]) == ("publishing", attempts[1], 2)
    sim.publisher = worker(sim)
    sim.run(lease(sim) + 3)
    assert sim.state(d) == "published" and len(sim.ledger()) == 1


def test_a_success_reported_after_the_lease_was_lost_does_not_overwrite_the_next_attempt(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    d = sim.post("sent over a lost lease").deliveries[0]["id"]
    adapter = sim.publisher.adapter("noc")
    real = adapter.publish
    other = worker(sim)
    other.adapter("noc").publish = crash  # type: ignore[method-assign]

    def stuck(delivery: Any, parent: Any) -> Any:
        sim.clock.advance(lease(sim) + 1)
        sim.sweep()
        assert deliver_with(sim, other) == {d: "not-published"}  # nothing on the platform yet
        sim.tick()
        with pytest.raises(Crash):  # the next attempt is claimed (and its worker dies before its call)
            deliver_with(sim, other)
        return real(delivery, parent)  # and now the first call lands after all

    adapter.publish = stuck  # type: ignore[method-assign]
    sim.tick()
    assert sim.deliver() == {d: "orphan"}  # logged loudly, not recorded over the attempt that owns the row
    row = sim.deliveries()[d]
    assert (row["state"], row["attempts"], row["remote_id"]) == ("publishing", 2, None)
    sim.publisher = worker(sim)
    sim.run(lease(sim) + 3)  # that attempt's lease runs out; reconciling finds the post that landed
    row = sim.deliveries()[d]
    assert row["state"] == "published" and [r["remote_id"] for r in sim.ledger()] == [row["remote_id"]]


def test_a_reconciler_that_lost_its_lease_does_not_record_over_the_one_that_took_over(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "reset", "outcome": "unknown_sent", "times": 1}))
    d = sim.post("INC-3: connection reset", thread_key="ticket:INC-3").deliveries[0]["id"]
    successor = sim.post("INC-3: update", thread_key="ticket:INC-3",
                         at=sim.clock.now + timedelta(seconds=lease(sim) + 1.5)).deliveries[0]["id"]
    adapter = sim.publisher.adapter("noc")
    real = adapter.reconcile
    other = worker(sim)
    other.adapter("noc").reconcile = crash  # type: ignore[method-assign]

    def slow(delivery: Any) -> Any:
        receipt = real(delivery)  # found it, and answers after its lease ran out
        sim.clock.advance(lease(sim) + 1)
        sim.sweep()
        with pytest.raises(Crash):  # the other worker took it over and is looking it up (here: died doing so)
            deliver_with(sim, other)
        sim.clock.advance(1)  # meanwhile the successor fell due
        return receipt

    adapter.reconcile = slow  # type: ignore[method-assign]
    sim.tick()
    assert sim.deliver() == {d: "duplicate"}
    assert (sim.state(d), sim.state(successor)) == ("reconciling", "scheduled")  # nothing recorded, nobody woken
    sim.publisher = worker(sim)
    sim.run(lease(sim) + 3)
    row = sim.deliveries()[d]
    assert row["state"] == "published" and row["remote_id"] == sim.ledger()[0]["remote_id"]
    assert [r["delivery_id"] for r in sim.ledger()] == [d, successor]


def test_a_reconciled_post_is_recorded_and_audited_and_wakes_its_successor_at_once(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "reset", "outcome": "unknown_sent", "times": 1}))
    d, successor = [sim.post(f"INC-3: {t}", thread_key="ticket:INC-3").deliveries[0]["id"]
                    for t in ("connection reset", "update")]
    sim.tick()
    assert sim.deliver() == {d: "reconciled"}
    assert sim.state(successor) == "queued" and [m.ids for m in sim.broker.queue] == [[successor]]
    row = sim.deliveries()[d]
    with sim.store.read() as conn:
        last = trail(conn, d)[-1]
    assert last == (sim.publisher.actor, "published", {"from": "reconciling", "to": "published", "reconciled": True,
                                                        "remote_id": row["remote_id"], "url": row["remote_url"]})
    sim.deliver()
    assert [r["delivery_id"] for r in sim.ledger()] == [d, successor]


def test_a_second_reconcile_message_finds_nothing_left_to_do(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "reset", "outcome": "unknown_sent", "times": 1}))
    d = sim.post("connection reset").deliveries[0]["id"]
    sim.tick()
    assert sim.deliver() == {d: "reconciled"}
    assert sim.publisher.reconcile(sim.deliveries()[d]) == "duplicate"
    assert [a for a, _ in audit_actions(sim, d)].count("published") == 1


# -- the audit trail --


def test_a_publish_is_audited_step_by_step_with_who_did_it_and_what_came_back(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    accepted = sim.post("audited")
    d = accepted.deliveries[0]["id"]
    due = sim.clock.now
    sim.clock.advance(0.25)
    sim.tick()
    sim.clock.advance(0.25)
    sim.deliver()
    row = sim.deliveries()[d]
    with sim.store.read() as conn:
        events = [e for e in audit.rows(conn) if e["delivery_id"] == d]
    assert [(e["actor"], e["action"], e["post_id"], e["account"]) for e in events[1:]] == [
        (sim.scheduler.actor, "queued", accepted.post_id, "noc"),
        (sim.publisher.actor, "publishing", accepted.post_id, "noc"),
        (sim.publisher.actor, "published", accepted.post_id, "noc")]
    queued, publishing, published = (json.loads(e["details"]) for e in events[1:])
    assert events[1]["at"] == due + timedelta(seconds=0.25)
    assert queued == {"to": "queued", "due_at": due.isoformat()}
    assert publishing == {"from": "queued", "to": "publishing", "attempt": 1, "attempt_id": row["attempt_id"],
                          "reply_to": None}
    assert published == {"from": "publishing", "to": "published", "remote_id": row["remote_id"],
                          "url": row["remote_url"]}
    assert (row["enqueued_at"], row["published_at"], row["lease_until"]) == (due + timedelta(seconds=0.25),
                                                                             sim.clock.now, None)


def test_published_at_is_when_each_call_returned_not_when_its_chunk_was_recorded(make_sim: MakeSim) -> None:
    """A message's calls run one after another and their outcomes are recorded together, after the chunk's last
    call: each delivery's published_at (and its lateness) is still the moment its own call came back."""
    sim = make_sim({f"acc{i}": ACCOUNT for i in range(3)})
    due = sim.clock.now
    ids = [sim.post(f"post {i}", account=f"acc{i}").deliveries[0]["id"] for i in range(3)]
    sim.tick()
    returned: dict[str, Any] = {}
    for i in range(3):
        adapter = sim.publisher.adapter(f"acc{i}")
        real = adapter.publish

        def slow(delivery: Any, parent: Any, real: Any = real) -> Any:
            receipt = real(delivery, parent)
            sim.clock.advance(10)  # each platform call takes 10 s
            returned[delivery.id] = sim.clock.now
            return receipt

        adapter.publish = slow  # type: ignore[method-assign]
    assert sorted(m_id for m in sim.broker.due() for m_id in m.ids) == sorted(ids)
    assert sim.publisher.handle_many(ids) == dict.fromkeys(ids, "published")  # one message, one chunk
    rows = sim.deliveries()
    assert [rows[i]["published_at"] for i in ids] == [returned[i] for i in ids] == [
        due + timedelta(seconds=10 * k) for k in (1, 2, 3)]


# -- attempts --


def test_every_attempt_is_counted_and_the_first_attempt_time_is_kept(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "flaky", "outcome": "transient", "times": 1}))
    d = sim.post("flaky network").deliveries[0]["id"]
    first_claim = sim.clock.now
    sim.run(0.5)
    row = sim.deliveries()[d]
    assert (row["state"], row["attempts"], row["first_attempt_at"]) == ("retry_wait", 1, first_claim)
    sim.run(6)
    row = sim.deliveries()[d]
    assert (row["state"], row["attempts"], row["first_attempt_at"]) == ("published", 2, first_claim)
    assert row["attempt_at"] == first_claim + timedelta(seconds=5)


def test_transient_errors_give_up_after_the_last_allowed_attempt(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "down", "outcome": "transient", "times": 99}))
    d = sim.post("platform down").deliveries[0]["id"]
    sim.run(1000, step=5)
    row = sim.deliveries()[d]
    assert (row["state"], row["attempts"]) == ("failed", MAX_TRANSIENT_ATTEMPTS)
    assert f"after {MAX_TRANSIENT_ATTEMPTS} attempts" in row["last_error"]
    retries = [x["retry_at"] for a, x in audit_actions(sim, d) if a == "transient_error"]
    assert len(retries) == MAX_TRANSIENT_ATTEMPTS - 1


def test_an_unclassified_error_is_never_retried_blindly_but_looked_up(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    d = sim.post("odd answer").deliveries[0]["id"]

    def odd(delivery: Any, parent: Any) -> Any:
        raise RuntimeError("unexpected payload")

    sim.publisher.adapter("noc").publish = odd  # type: ignore[method-assign]
    sim.tick()
    assert sim.deliver() == {d: "unknown"}
    assert sim.deliveries()[d]["last_error"] == "unclassified error: RuntimeError"
    sim.publisher = worker(sim)
    sim.run(2)
    assert sim.state(d) == "published" and len(sim.ledger()) == 1


# -- early and late messages --


def test_a_message_handled_before_its_due_time_makes_no_call(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    early = sim.post("not yet", at=sim.clock.now + timedelta(seconds=1)).deliveries[0]["id"]
    close = sim.post("due within the tolerance", at=sim.clock.now + timedelta(milliseconds=50)).deliveries[0]["id"]
    past = sim.post("just past the tolerance", at=sim.clock.now + timedelta(milliseconds=51)).deliveries[0]["id"]
    sim.tick()
    assert sim.publisher.handle_many([early, close, past]) == {early: "early", close: "published", past: "early"}
    assert [r["delivery_id"] for r in sim.ledger()] == [close]
    sim.run(1.5)
    assert sim.state(early) == "published" and sim.state(past) == "published"


def test_a_message_handled_after_not_after_expires_the_delivery_without_a_call(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    late = sim.post("too late", not_after=sim.clock.now + timedelta(seconds=1)).deliveries[0]["id"]
    edge = sim.post("just in time", not_after=sim.clock.now + timedelta(seconds=2)).deliveries[0]["id"]
    sim.tick()
    sim.clock.advance(1.5)
    assert sim.publisher.handle_many([late]) == {late: "expired"}  # before the sweeper saw it
    closing = sim.deliveries()[late]["not_after"].isoformat()
    assert audit_actions(sim, late)[-1] == ("expired", {"from": "queued", "to": "expired", "not_after": closing})
    sim.clock.advance(0.5)
    assert sim.deliver() == {late: "duplicate", edge: "published"}  # the second exactly at its not_after
    assert (sim.state(late), sim.state(edge)) == ("expired", "published")
    assert [r["delivery_id"] for r in sim.ledger()] == [edge]


# -- thread successors --


def thread(sim: Sim, *texts: str, **kw: Any) -> list[str]:
    return [sim.post(f"INC-9: {t}", thread_key="ticket:INC-9", **kw).deliveries[0]["id"] for t in texts]


def test_a_due_successor_is_woken_by_its_predecessor_without_waiting_for_a_tick(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    first, second = thread(sim, "opened", "update")  # both due now
    sim.tick()
    sim.deliver()
    assert (sim.state(first), sim.state(second)) == ("published", "queued")
    assert sim.deliveries()[second]["enqueued_at"] == sim.clock.now
    assert audit_actions(sim, second)[-1] == ("queued", {"from": "scheduled", "to": "queued", "woken_by": first})
    sim.deliver()
    assert sim.state(second) == "published"
    reply_to = [x["reply_to"] for a, x in audit_actions(sim, second) if a == "publishing"]
    assert reply_to == [sim.deliveries()[first]["remote_id"]]


def test_a_woken_successor_whose_message_is_lost_is_sent_again(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    first, second = thread(sim, "opened", "update")
    sim.tick()
    sim.deliver()
    sim.broker.wipe()
    sim.clock.advance(sim.settings.scheduler.lost_after_seconds)
    assert sim.sweep()["resent"] == 1
    sim.deliver()
    assert sim.state(second) == "published"


def test_a_worker_that_cannot_send_messages_leaves_the_successor_to_the_tick(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    first, second = thread(sim, "opened", "update")
    sim.tick()
    sim.broker.wipe()
    assert Publisher(sim.settings, sim.store).handle_many([first]) == {first: "published"}
    assert sim.state(second) == "scheduled"  # not queued without a message
    assert sim.tick() == 1
    sim.deliver()
    assert sim.state(second) == "published"


def test_a_successor_not_yet_due_is_not_woken_early(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    first = thread(sim, "opened")[0]
    second = thread(sim, "update", at=sim.clock.now + timedelta(seconds=30))[0]
    sim.run(1)
    assert (sim.state(first), sim.state(second)) == ("published", "scheduled")
    assert sim.broker.queue == []
    sim.run(30)
    assert sim.state(second) == "published"


def test_a_successor_is_held_behind_a_failed_predecessor_only_once_it_is_due(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "opened", "outcome": "permanent", "times": 1}))
    first = thread(sim, "opened")[0]
    due = sim.clock.now + timedelta(seconds=10)
    second = thread(sim, "update", at=due)[0]
    sim.run(5)
    assert (sim.state(first), sim.state(second)) == ("failed", "scheduled")
    sim.clock.now = due - timedelta(milliseconds=1)
    assert sim.sweep()["held"] == 0
    sim.clock.now = due
    assert sim.sweep()["held"] == 1 and sim.state(second) == "held"


def test_a_successor_held_for_its_own_credentials_is_not_released_by_its_predecessor(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "update", "outcome": "auth", "times": 1},
                       {"match": "opened", "outcome": "rate_limited", "times": 1, "retry_after": 5}))
    first, second = thread(sim, "opened", "update")
    service.cancel(sim.settings, sim.store, first)  # the successor goes on at once, and its token has expired
    sim.run(2)
    assert sim.state(second) == "held"
    third = thread(sim, "follow-up")[0]
    sim.run(2)
    assert sim.state(third) == "held"  # behind the held one
    assert [a for a, _ in audit_actions(sim, second)][-1] == "auth_expired"
    sim.run(5)
    assert (sim.state(second), sim.state(third)) == ("held", "held")  # nothing released it but a human
    service.retry(sim.settings, sim.store, second)
    sim.run(3)
    assert (sim.state(second), sim.state(third)) == ("published", "published")


def test_one_sweep_holds_a_whole_chain_behind_a_failure_and_one_releases_it_once_cancelled(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "opened", "outcome": "permanent", "times": 1}))
    first, second, third = thread(sim, "opened", "update", "resolved")
    sim.tick()
    sim.deliver()
    assert sim.state(first) == "failed"
    counts = sim.sweep()
    assert (counts["held"], counts["released"]) == (2, 0)
    assert audit_actions(sim, second)[-1] == ("held_behind", {
        "from": "scheduled", "to": "held", "reason": "predecessor", "predecessor": first, "predecessor_state": "failed"})
    assert audit_actions(sim, third)[-1][1]["predecessor"] == second
    service.cancel(sim.settings, sim.store, first)
    counts = sim.sweep()
    assert (counts["held"], counts["released"]) == (0, 1)  # the second; the third follows once the second is sent
    row = sim.deliveries()[second]
    assert (row["state"], row["last_error"]) == ("scheduled", None)
    assert audit_actions(sim, second)[-1] == ("resumed", {
        "from": "held", "to": "scheduled", "reason": "predecessor done", "predecessor": first})
    sim.run(2)
    assert [r["delivery_id"] for r in sim.ledger()] == [second, third]


# -- decisions before the call --


def test_a_successor_claimed_past_a_cancelled_link_still_waits_for_the_one_before_it(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "opened", "outcome": "rate_limited", "times": 9, "retry_after": 600}))
    first, second, third = thread(sim, "opened", "update", "resolved")
    sim.tick()
    sim.deliver()
    assert sim.state(first) == "retry_wait"
    service.cancel(sim.settings, sim.store, second)
    assert sim.tick() == 1  # the tick looks at the direct predecessor only: cancelled
    assert sim.deliver() == {third: "waiting"}  # the worker walks back to the one before it and sends it back
    row = sim.deliveries()[third]
    assert (row["state"], row["last_error"]) == ("scheduled", f"waiting for predecessor {first} (retry_wait)")
    assert audit_actions(sim, third)[-1] == ("waiting", {"from": "queued", "to": "scheduled",
                                                         "reason": f"waiting for predecessor {first} (retry_wait)"})
    assert sim.ledger() == []


@pytest.mark.parametrize("outcome,state", [("permanent", "failed"), ("auth", "held")])
def test_a_successor_past_a_cancelled_link_behind_a_stopped_post_is_held_once_then_follows_it(
        make_sim: MakeSim, outcome: str, state: str) -> None:
    sim = make_sim(noc({"match": "opened", "outcome": outcome, "times": 1}))
    first, second, third = thread(sim, "opened", "update", "resolved")
    sim.tick()
    sim.deliver()
    assert sim.state(first) == state
    service.cancel(sim.settings, sim.store, second)
    assert sim.tick() == 1  # the tick looks at the direct predecessor only: cancelled
    assert sim.deliver() == {third: "held"}  # the worker walks back to the stopped one: held, saying why
    row = sim.deliveries()[third]
    assert row["state"] == "held" and row["last_error"].startswith(f"waiting behind {first}")
    assert audit_actions(sim, third)[-1] == ("held_behind", {"from": "queued", "to": "held", "reason": "predecessor",
                                                             "predecessor": first, "predecessor_state": state})
    events = len(audit_actions(sim, third))
    sim.run(10)  # not claimed and sent back at every tick
    assert len(audit_actions(sim, third)) == events and sim.state(third) == "held"
    service.retry(sim.settings, sim.store, first)
    sim.run(10)
    assert [sim.state(i) for i in (first, third)] == ["published", "published"]
    assert sim.ledger()[-1]["in_reply_to"] == sim.deliveries()[first]["remote_id"]


def test_a_call_that_lands_after_a_reconcile_found_nothing_is_not_published_twice(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    d = sim.post("slow platform").deliveries[0]["id"]
    adapter = sim.publisher.adapter("noc")
    real = adapter.publish
    other = worker(sim)

    def stuck(delivery: Any, parent: Any) -> Any:
        sim.clock.advance(lease(sim) + 1)
        sim.sweep()
        assert deliver_with(sim, other) == {d: "not-published"}  # the post is not there yet: retry_wait
        return real(delivery, parent)  # and now it lands

    adapter.publish = stuck  # type: ignore[method-assign]
    sim.tick()
    sim.deliver()
    # the late success is recorded from the state the row was really in, and says so
    assert [details["from"] for action, details in audit_actions(sim, d) if action == "published"] == ["retry_wait"]
    sim.publisher = worker(sim)
    sim.run(3)
    assert sim.state(d) == "published" and len(sim.ledger()) == 1


def test_a_delivery_for_an_account_no_longer_configured_is_held_not_sent(env: Env, make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    d = sim.post("account removed meanwhile").deliveries[0]["id"]
    sim.tick()
    env.write_config({"other": dict(ACCOUNT)})
    stale = Publisher(env.settings(), sim.store, sender=sim.broker.send)
    assert deliver_with(sim, stale) == {d: "held"}
    row = sim.deliveries()[d]
    assert row["state"] == "held" and row["last_error"].startswith("unknown account 'noc'")
    assert audit_actions(sim, d)[-1] == ("held", {"from": "queued", "to": "held", "reason": row["last_error"]})
    assert sim.ledger() == []


def test_after_a_rate_limit_the_rest_of_the_batch_waits_unsent_and_says_why(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "first", "outcome": "rate_limited", "times": 1, "retry_after": 60}))
    ids = [sim.post(t).deliveries[0]["id"] for t in ("first of the burst", "second", "third")]
    sim.tick()
    sim.broker.wipe()
    outcomes = sim.publisher.handle_many(ids)
    assert outcomes == {ids[0]: "rate_limited", ids[1]: "budget", ids[2]: "budget"}
    retry_at = sim.deliveries()[ids[0]]["due_at"]
    for i in ids[1:]:
        row = sim.deliveries()[i]
        assert (row["state"], row["attempts"], row["due_at"], row["lease_until"]) == ("retry_wait", 0, retry_at, None)
        assert audit_actions(sim, i)[-1] == ("rate_budget", {
            "from": "publishing", "to": "retry_wait", "retry_at": retry_at.isoformat(),
            "source": "rate limited earlier in this batch"})
    assert sim.ledger() == []


def test_a_successor_behind_an_unknown_outcome_is_held_saying_it_resumes_by_itself(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    first, second = thread(sim, "opened", "update")
    sim.publisher.adapter("noc").publish = crash  # type: ignore[method-assign]
    sim.tick()
    with pytest.raises(Crash):
        sim.deliver()
    sim.clock.advance(lease(sim) + 1)
    sim.sweep()  # the lease ran out: unknown, and being looked up
    assert (sim.state(first), sim.state(second)) == ("unknown", "held")
    assert sim.deliveries()[second]["last_error"] == (
        f"waiting behind {first}, which has an unknown outcome: publisher is looking it up and this resumes by itself")


def test_a_successor_behind_a_post_being_reconciled_is_held_and_not_released_meanwhile(make_sim: MakeSim) -> None:
    sim = make_sim(noc({"match": "opened", "outcome": "unknown_sent", "times": 1}))
    first, second = thread(sim, "opened", "update")
    sim.publisher.adapter("noc").reconcile = crash  # type: ignore[method-assign]
    sim.tick()
    with pytest.raises(Crash):  # the reconciler dies mid-lookup: reconciling until its lease runs out
        sim.deliver()
    counts = sim.sweep()
    assert (counts["held"], counts["released"]) == (1, 0)
    assert (sim.state(first), sim.state(second)) == ("reconciling", "held")
    assert sim.deliveries()[second]["last_error"] == (
        f"waiting behind {first}, which has an unknown outcome: publisher is looking it up and this resumes by itself")
    assert sim.sweep()["released"] == 0
    sim.publisher = worker(sim)
    sim.run(lease(sim) + 3)
    assert [r["delivery_id"] for r in sim.ledger()] == [first, second]


def test_a_successor_behind_a_predecessor_in_flight_waits_without_being_held(make_sim: MakeSim) -> None:
    sim = make_sim(noc())
    first, second = thread(sim, "opened", "update")
    sim.publisher.adapter("noc").publish = crash  # type: ignore[method-assign]
    sim.tick()
    with pytest.raises(Crash):
        sim.deliver()
    assert sim.sweep()["held"] == 0  # a call in flight is not a stop
    assert (sim.state(first), sim.state(second)) == ("publishing", "scheduled")
