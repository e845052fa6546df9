"""The scheduler claims conditionally: two schedulers never double-enqueue; far-future posts stay out of the broker."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from publisher import service
from publisher.scheduling import Scheduler
from publisher.schema import audit_events
from tests.conftest import Env
from tests.helpers import states


def test_two_schedulers_racing_never_enqueue_a_delivery_twice(env: Env) -> None:
    settings = env.settings()
    store = env.store()
    now = datetime.now(UTC)
    for i in range(200):
        service.accept(settings, store, service.NewPost(text=f"race {i}", accounts=["noc"], at=now))
    sent: list[str] = []
    lock = threading.Lock()

    def sender(channel: str, delivery_id: str, delay: int) -> str:
        with lock:
            sent.append(delivery_id)
        return delivery_id

    schedulers = [Scheduler(settings, env.store(), sender, lambda c, m: True) for _ in range(2)]
    threads = [threading.Thread(target=lambda s=s: [s.tick() for _ in range(5)]) for s in schedulers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(sent) == 200 and len(set(sent)) == 200
    with store.read() as conn:
        queued = Counter(r[0] for r in conn.execute(select(audit_events.c.delivery_id).where(audit_events.c.action == "queued")))
    assert set(queued.values()) == {1}


def test_far_future_posts_are_not_sent_to_the_broker(env: Env) -> None:
    settings = env.settings()
    store = env.store()
    service.accept(settings, store, service.NewPost(text="later", accounts=["noc"], at=datetime.now(UTC) + timedelta(days=30)))
    sent: list[str] = []
    Scheduler(settings, store, lambda c, d, ms: sent.append(d) or d, lambda c, m: True).tick()
    assert sent == [] and states(store) == {"scheduled": 1}
