"""The minimum gap is kept between the platform calls themselves, not only between the reservations: a worker's
calls run one after another, so a post cleared early in a batch can reach the platform a while after its slot was
reserved (the top-of-the-hour burst in benchmarks/RESULTS-scale.md saw 4.4 s between two posts of a 5 s gap)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import redis

from publisher.policy import Cadence
from publisher.settings import AccountConfig
from tests.conftest import Env


def test_the_gap_restarts_when_the_platform_call_starts(env: Env) -> None:
    from publisher.workers import embedded

    url = env.settings().redis_url or embedded.ensure(env.settings().valkey_dir)[0]
    cadence = Cadence(redis.Redis.from_url(url))
    account = AccountConfig(name="comms", channel="dryrun", kind="organisation", policy={"min_gap_seconds": 60})
    assert cadence.wait_until(account, "note", datetime.now(UTC)) is None  # the slot is reserved when cleared
    time.sleep(1.0)  # ... and the call starts a second later, behind the batch's earlier calls
    called = datetime.now(UTC)
    cadence.calling(account, "note")
    wait = cadence.wait_until(account, "note", datetime.now(UTC))
    assert wait is not None and wait.rule == "min_gap"
    assert wait.until >= called + timedelta(seconds=59.9), wait.until - called  # a full gap after the call
    ticket = AccountConfig(name="ops", channel="dryrun", kind="organisation", policy={"min_gap_seconds": 60})
    cadence.calling(ticket, "ticket")  # exempt kinds take no slot, at the call either
    assert cadence.wait_until(ticket, "note", datetime.now(UTC)) is None
