"""RabbitMQ as the broker (PUBLISHER_TEST_BROKER_URL=amqp://...): the sweeper's lost-message rule, and a publish
through a real worker process. The whole suite runs on this path in CI (.ci/run); these pin what is specific to it."""

from __future__ import annotations

import pytest

from tests.conftest import RABBITMQ, Env, broker_messages, wait_for, wipe_broker
from tests.helpers import check_invariants

pytestmark = pytest.mark.skipif(not RABBITMQ, reason="needs PUBLISHER_TEST_BROKER_URL=amqp://... (CI's third path)")


def _states(env: Env) -> dict[str, int]:
    from publisher.store import counts_by_state

    with env.store().read() as conn:
        return counts_by_state(conn)


def test_sweeper_takes_queued_messages_for_lost_only_when_their_queue_is_empty(env: Env) -> None:
    """A message RabbitMQ still holds is never re-sent; once the queue is purged (lost), it is."""
    from publisher.workers import broker

    handle = broker.setup(env.settings())
    try:
        from publisher.workers import runtime

        runtime.configure(env.settings())
        runtime.send("dryrun", ["d-1"], 0)
        wait_for(lambda: broker_messages(env, "dryrun") == 1, timeout=60, what="the message in RabbitMQ")
        items = [("dryrun", "d-1", "m-1"), ("dryrun", "d-2", "m-2")]
        assert broker.missing_messages(handle.broker, items) == set()
        assert broker.missing_messages(handle.broker, [("x", "d-3", "m-3")]) == {"d-3"}  # x's queue is empty
        wipe_broker(env)
        assert broker.missing_messages(handle.broker, items) == {"d-1", "d-2"}
    finally:
        handle.broker.close()  # type: ignore[attr-defined]
        broker._handle = None


@pytest.mark.slow
def test_messages_purged_from_rabbitmq_are_resent_and_published_once(env: Env) -> None:
    """Deliveries queued in RabbitMQ with no worker running; the queues are purged (a lost broker disk); a worker
    starts: the sweeper re-sends, every post is published exactly once."""
    for i in range(5):
        assert env.cli("post", "--account", "andrew", f"rabbit {i}").returncode == 0
    env.spawn("scheduler", log="scheduler")
    wait_for(lambda: _states(env).get("queued") == 5, timeout=60, what="5 queued")
    wait_for(lambda: broker_messages(env, "dryrun") + broker_messages(env, "dryrun.DQ") > 0, timeout=30,
             what="the messages in RabbitMQ")
    wipe_broker(env)
    env.spawn("worker", "--processes", "1", "--threads", "2", log="worker")
    wait_for(lambda: _states(env) == {"published": 5}, timeout=90, what="all five published after the purge")
    ledger = check_invariants(env.store(), env.home / "dryrun-ledger.jsonl")["ledger"]  # none twice, none lost
    assert len(ledger) == 5
