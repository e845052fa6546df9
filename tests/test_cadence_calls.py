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


def test_deliveries_of_one_account_waiting_in_one_message_take_successive_slots(env: Env) -> None:
    """Five posts of one account due at once: the four that must wait come back a gap apart, not all together (each
    but one would find the gap taken again and wait again); another account's wait is its own."""
    from publisher.models import State
    from publisher.publishing import Publisher
    from publisher.store import Transition

    env.write_config({"comms": {"channel": "dryrun", "policy": {"min_gap_seconds": 5}},
                      "ops": {"channel": "dryrun", "policy": {"min_gap_seconds": 5}}})
    publisher = Publisher(env.settings(), env.store(), cadence=Cadence())
    until = datetime.now(UTC) + timedelta(seconds=3)

    def waiting(i: int, account: str) -> tuple[str, Transition]:
        return "policy", Transition({"id": f"d{i}", "account": account, "state": "queued", "post_id": "p"},
                                    [State.QUEUED], State.RETRY_WAIT, "policy_wait",
                                    values={"due_at": until, "last_error": "minimum gap"},
                                    details={"rule": "min_gap", "retry_at": until.isoformat()})

    moves = [waiting(0, "comms"), waiting(1, "ops"), waiting(2, "comms"), waiting(3, "comms")]
    publisher._spread(moves)
    assert [m.values["due_at"] - until for _, m in moves if m.values] == [
        timedelta(0), timedelta(0), timedelta(seconds=5), timedelta(seconds=10)]
    assert moves[3][1].details == {"rule": "min_gap", "retry_at": (until + timedelta(seconds=10)).isoformat()}
