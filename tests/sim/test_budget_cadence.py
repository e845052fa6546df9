"""A post its account's cadence sends back does not spend the account's platform budget: the budget slot taken
just before the cadence said "not yet" is given back (found by the 300-row campaign: 30 posts due at once on an X
account spent X's 100-per-15-minutes on cadence retries and then waited a quarter of an hour)."""

from __future__ import annotations

from typing import Any

import redis

from publisher.budget import Budget
from publisher.policy import Cadence
from tests.conftest import Env


def test_cadence_retries_give_their_budget_slot_back(env: Env, make_sim: Any) -> None:
    from publisher.workers import embedded

    sim = make_sim({"comms": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo",
                              "options": {"rate_limit": [2, 900]}, "policy": {"max_per_day": 1}}})
    url = env.settings().redis_url or embedded.ensure(env.settings().valkey_dir)[0]
    client = redis.Redis.from_url(url)
    sim.publisher.budget = Budget(client)
    sim.publisher.cadence = Cadence(client)
    ids = [sim.post(f"Day {i} of the conference: see you at the venue", account="comms").deliveries[0]["id"]
           for i in range(3)]
    sim.run(5)  # the first goes; the cadence sends the other two back to the next local day
    ds = sim.deliveries()
    assert sorted(ds[i]["state"] for i in ids) == ["published", "retry_wait", "retry_wait"]
    # both sent back by the cadence, neither by an exhausted budget (2 per 15 minutes: the bug spent it)
    assert all("max_per_day" in str(ds[i]["last_error"]) for i in ids if ds[i]["state"] == "retry_wait")
    # only the post that went holds a budget slot: tomorrow's two still fit the 2 per 15 minutes
    assert client.zcard("publisher:budget:comms") == 1
