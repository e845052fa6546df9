"""A user's cancel is a guarded transition too: it takes a delivery in any state that has not reached the platform
or may have to be given up (``CANCELLABLE``), and refuses one that is published or already over."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from publisher import service
from publisher.errors import InvalidState
from tests.sim.harness import Sim

MakeSim = Callable[..., Sim]
ACCOUNT = {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"}


class Crash(BaseException):
    """The worker process dies here (no except clause of the actor catches it)."""


def accounts() -> dict[str, Any]:
    fail = [{"match": "limited", "outcome": "rate_limited", "times": 9, "retry_after": 600},
            {"match": "token", "outcome": "auth", "times": 9},
            {"match": "refused", "outcome": "permanent", "times": 9}]
    return {"noc": {**ACCOUNT, "options": {"fail": fail}}, "team": {**ACCOUNT, "approvers": ["someone-else"]}}


def test_a_delivery_can_be_cancelled_in_every_state_short_of_the_platform_and_then_stays_unsent(make_sim: MakeSim) -> None:
    sim = make_sim(accounts())
    ids = {"pending_approval": sim.post("needs a yes", account="team").deliveries[0]["id"],
           "retry_wait": sim.post("limited").deliveries[0]["id"],
           "held": sim.post("expired token").deliveries[0]["id"],
           "failed": sim.post("refused").deliveries[0]["id"]}
    sim.run(1)
    ids["scheduled"] = sim.post("later", at=sim.clock.now + timedelta(hours=1)).deliveries[0]["id"]
    ids["unknown"] = sim.post("the worker dies mid-call").deliveries[0]["id"]

    def publish(delivery: Any, parent: Any) -> Any:
        raise Crash

    sim.publisher.adapter("noc").publish = publish  # type: ignore[method-assign]
    sim.tick()
    with pytest.raises(Crash):
        sim.deliver()
    sim.clock.advance(sim.settings.scheduler.lease_seconds + 1)
    sim.sweep()
    sim.broker.wipe()
    ids["queued"] = sim.post("claimed, not yet sent").deliveries[0]["id"]
    sim.tick()
    assert {s: sim.state(i) for s, i in ids.items()} == {s: s for s in ids}
    for i in ids.values():
        assert service.cancel(sim.settings, sim.store, i) == [i]
    assert {sim.state(i) for i in ids.values()} == {"cancelled"}
    sim.run(5)
    assert {sim.state(i) for i in ids.values()} == {"cancelled"} and sim.ledger() == []


def test_a_delivery_on_the_platform_in_flight_or_over_cannot_be_cancelled(make_sim: MakeSim) -> None:
    sim = make_sim(accounts())
    done = sim.post("on time").deliveries[0]["id"]
    over = sim.post("limited", not_after=sim.clock.now + timedelta(seconds=1)).deliveries[0]["id"]
    gone = sim.post("cancelled once", at=sim.clock.now + timedelta(hours=1)).deliveries[0]["id"]
    service.cancel(sim.settings, sim.store, gone)
    sim.run(2)
    flying = sim.post("mid-call").deliveries[0]["id"]

    def publish(delivery: Any, parent: Any) -> Any:
        raise Crash

    sim.publisher.adapter("noc").publish = publish  # type: ignore[method-assign]
    sim.tick()
    with pytest.raises(Crash):
        sim.deliver()
    expected = {done: "published", over: "expired", gone: "cancelled", flying: "publishing"}
    assert {i: sim.state(i) for i in expected} == expected
    for i in expected:
        with pytest.raises(InvalidState):
            service.cancel(sim.settings, sim.store, i)
    assert {i: sim.state(i) for i in expected} == expected
