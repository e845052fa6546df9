"""The publish claim (queued -> publishing) is the last line against publishing twice: a duplicate broker message
can reach a second worker that read the delivery as ``queued`` just before the first worker published it. Real
store, real publisher, the dry-run platform's ledger as the record of platform calls."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from publisher import audit, service
from publisher.channels.dryrun import ledger_rows
from publisher.publishing import Publisher
from publisher.scheduling import Scheduler
from publisher.schema import audit_events
from publisher.store import get_deliveries
from tests.conftest import Env
from tests.helpers import ReadsBefore, snapshot


def _queued(env: Env, n: int) -> list[str]:
    """``n`` deliveries due now, claimed by the scheduler as production does (scheduled -> queued)."""
    settings, store = env.settings(), env.store()
    ids = [d["id"] for i in range(n) for d in service.accept(
        settings, store, service.NewPost(text=f"claim {i}", accounts=["andrew"], at=datetime.now(UTC))).deliveries]
    assert Scheduler(settings, store, lambda c, d, ms: d[0], lambda items: set()).tick() == n
    return ids


def _actions(env: Env, ids: list[str]) -> Counter[tuple[str, str]]:
    with env.store().read() as conn:
        rows = conn.execute(select(audit_events.c.delivery_id, audit_events.c.action)
                            .where(audit_events.c.delivery_id.in_(ids)))
        return Counter((r[0], r[1]) for r in rows)


@pytest.mark.parametrize("n", [1, 3], ids=["one", "batch"])
def test_a_worker_that_read_the_delivery_queued_before_another_published_it_does_not_publish_it_again(
        env: Env, n: int) -> None:
    """Given queued deliveries and a second worker whose read was taken while they were still queued, when the
    first worker publishes them and then the second handles the same (duplicate) message, then the second's
    claim moves nothing: no platform call, no state change, no audit event."""
    ids = _queued(env, n)
    settings = env.settings()
    ledger = settings.home / "dryrun-ledger.jsonl"
    second_store = env.store()
    with snapshot(second_store) as earlier:
        assert Publisher(settings, env.store()).handle_many(ids) == dict.fromkeys(ids, "published")
        with env.store().read() as conn:
            published = get_deliveries(conn, ids)
        calls, actions = ledger_rows(ledger), _actions(env, ids)
        assert Counter(r["delivery_id"] for r in calls) == Counter(ids)

        rival = Publisher(settings, ReadsBefore(second_store, earlier))  # type: ignore[arg-type]
        outcomes = rival.handle_many(ids)

    assert ledger_rows(ledger) == calls  # the platform was not called again
    assert outcomes == dict.fromkeys(ids, "lost-claim")  # it read them queued: it got as far as the claim
    with env.store().read() as conn:
        assert get_deliveries(conn, ids) == published
        assert audit.verify(conn).ok
    assert _actions(env, ids) == actions
