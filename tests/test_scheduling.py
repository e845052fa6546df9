"""The scheduler claims conditionally: two schedulers never double-enqueue; far-future posts stay out of the broker."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from publisher import service
from publisher.scheduling import Scheduler
from publisher.schema import audit_events
from tests.conftest import Env
from tests.helpers import ReadsBefore, snapshot, states


def test_two_schedulers_that_read_the_same_due_rows_enqueue_each_delivery_once(env: Env) -> None:
    """Given 200 due deliveries and two schedulers, each with a store of its own (engine, locks), the second
    having read the due rows before the first committed its claim; when both tick, then each delivery is sent and
    queued exactly once: the claim's UPDATE re-checks the state instead of trusting what its SELECT saw.

    The store serialises writers, so two schedulers ticking at once never interleave their SELECT and UPDATE;
    the second one's reads answer from a snapshot taken before the first tick, which is that interleaving."""
    settings = env.settings()
    first_store, second_store = env.store(), env.store()
    now = datetime.now(UTC)
    ids = [d["id"] for i in range(200) for d in service.accept(
        settings, first_store, service.NewPost(text=f"race {i}", accounts=["noc"], at=now)).deliveries]
    sent: list[str] = []

    def sender(channel: str, delivery_ids: list[str], delay: int) -> str:
        sent.extend(delivery_ids)
        return delivery_ids[0]

    with snapshot(second_store) as earlier:
        rival = ReadsBefore(second_store, earlier)
        first = Scheduler(settings, first_store, sender, lambda items: set())
        second = Scheduler(settings, rival, sender, lambda items: set())  # type: ignore[arg-type]
        assert first.tick() == 200
        second.tick()
        assert rival.stale[0] == 200  # the second scheduler's claim did see all 200 as due

    assert sorted(sent) == sorted(ids)
    with first_store.read() as conn:
        queued = Counter(r[0] for r in conn.execute(select(audit_events.c.delivery_id).where(audit_events.c.action == "queued")))
    assert queued == Counter(ids)
    assert states(first_store) == {"queued": 200}


def test_far_future_posts_are_not_sent_to_the_broker(env: Env) -> None:
    settings = env.settings()
    store = env.store()
    service.accept(settings, store, service.NewPost(text="later", accounts=["noc"], at=datetime.now(UTC) + timedelta(days=30)))
    sent: list[str] = []
    Scheduler(settings, store, lambda c, d, ms: sent.extend(d) or d[0], lambda items: set()).tick()
    assert sent == [] and states(store) == {"scheduled": 1}


def test_a_promoted_delayed_message_is_not_taken_for_lost_but_a_wiped_one_is(env: Env) -> None:
    """Dramatiq gives a delayed message a new Redis id when a worker moves it to the ready queue; under backlog the
    sweeper used to miss it and send a duplicate. A real Dramatiq worker does the promotion here."""
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    from publisher.workers import broker as broker_mod
    from publisher.workers import embedded

    url = env.settings().redis_url or embedded.ensure(env.settings().valkey_dir)[0]
    b = RedisBroker(url=url, namespace="publisher")
    b.add_middleware(broker_mod._promotions())
    started, release = threading.Event(), threading.Event()

    def publish(delivery_ids: list[str]) -> None:
        started.set()
        release.wait(30)

    actor = dramatiq.actor(publish, broker=b, actor_name="publish_dryrun", queue_name="dryrun", max_retries=0)
    sent = actor.send_with_options(args=(["d-promoted", "d-other"],), delay=200)  # a batched message: two ids
    first_id = sent.options["redis_message_id"]
    both = [("dryrun", "d-promoted", first_id), ("dryrun", "d-other", first_id)]
    worker = dramatiq.Worker(b, worker_threads=1, worker_timeout=50)
    worker.start()
    try:
        assert started.wait(20), "the worker never promoted and ran the delayed message"
        # Dramatiq enqueues the promoted copy before it acks the delayed one, so the actor can start before the
        # stored id leaves the delay queue: the sweeper must find the message in either place meanwhile.
        deadline = time.monotonic() + 10
        while b.client.hexists("publisher:dryrun.DQ.msgs", first_id) and time.monotonic() < deadline:
            assert broker_mod.missing_messages(b, [("dryrun", "d-promoted", first_id)]) == set()
            time.sleep(0.01)
        assert not b.client.hexists("publisher:dryrun.DQ.msgs", first_id)  # the id we stored is gone ...
        assert broker_mod.missing_messages(b, both) == set()  # ... yet neither delivery is lost
        assert len(b.client.keys("publisher:promoted:*")) == 1  # one key for the message, not one per delivery
        b.client.flushdb()
        assert broker_mod.missing_messages(b, both) == {"d-promoted", "d-other"}
    finally:
        release.set()
        worker.stop(timeout=5000)
        b.close()


def test_the_sweeper_asks_once_per_message_and_answers_for_each_delivery(env: Env) -> None:
    """Deliveries sharing a message are present or lost together; one whose message is gone, or that never had
    one, is lost whatever its neighbours in the same sweep are."""
    import dramatiq
    from dramatiq.brokers.redis import RedisBroker

    from publisher.workers import broker as broker_mod
    from publisher.workers import embedded

    url = env.settings().redis_url or embedded.ensure(env.settings().valkey_dir)[0]
    b = RedisBroker(url=url, namespace="publisher")
    actor = dramatiq.actor(lambda delivery_ids: None, broker=b, actor_name="publish_dryrun", queue_name="dryrun")
    kept = actor.send_with_options(args=(["d1", "d2"],), delay=600_000).options["redis_message_id"]
    ready = actor.send(["d5"]).options["redis_message_id"]
    items = [("dryrun", "d1", kept), ("dryrun", "d3", "m-gone"), ("dryrun", "d2", kept), ("dryrun", "d4", None),
             ("dryrun", "d5", ready), ("dryrun", "d6", "m-gone")]
    try:
        assert broker_mod.missing_messages(b, items) == {"d3", "d4", "d6"}
    finally:
        b.client.delete("publisher:dryrun", "publisher:dryrun.msgs", "publisher:dryrun.DQ", "publisher:dryrun.DQ.msgs")


def test_a_claim_takes_scheduled_and_retrying_deliveries_in_one_due_order(env: Env) -> None:
    """Given two deliveries waiting to retry and two scheduled ones, due in turn, and a batch of three: the claim
    takes the three due first, whichever state each is in. The claim reads each state on its own (an ordered walk
    of the state index); this holds the merge to the order one query over both states gave."""
    from publisher.models import State
    from publisher.store import Transition, claim_due, get_deliveries, transitions

    settings, store = env.settings(), env.store()
    now = datetime.now(UTC)
    a, b, c, _last = (service.accept(settings, store, service.NewPost(text=f"order {s}", accounts=["noc"],
                                                                  at=now - timedelta(seconds=s))).deliveries[0]["id"]
                  for s in (50, 45, 30, 10))
    with store.tx() as conn:
        assert [x["id"] for x in claim_due(conn, "scheduler", now, timedelta(0), 2)] == [a, b]
        rows = get_deliveries(conn, [a, b])
        retry_at = {a: now - timedelta(seconds=40), b: now - timedelta(seconds=20)}
        assert transitions(conn, "worker", [Transition(rows[i], [State.QUEUED], State.RETRY_WAIT, "retry_wait",
                                                       {"due_at": retry_at[i]}) for i in (a, b)]) == [True, True]
    with store.tx() as conn:
        assert [x["id"] for x in claim_due(conn, "scheduler", now, timedelta(0), 3)] == [a, c, b]
    assert states(store) == {"queued": 3, "scheduled": 1}
