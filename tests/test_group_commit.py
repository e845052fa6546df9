"""Group commit (``Store.grouped``): the publish loop's writes from many threads share one transaction. Each caller
must get its own result or its own error, and may rely on its change being committed when the call returns; a
failing job must not take the others' changes with it. Runs on SQLite and on PostgreSQL (the test env decides)."""

from __future__ import annotations

import threading
from typing import Any

from publisher.store import Store
from tests.conftest import Env, wait_for

CALLERS = 8
FAILING = 5  # this caller's work breaks a unique key, so the batch it shares fails


def _probe(store: Store) -> set[int]:
    with store.read() as conn:
        return {int(r[0]) for r in conn.exec_driver_sql("SELECT v FROM grouped_probe").fetchall()}


def test_callers_queued_behind_a_batch_share_the_next_one_and_a_failing_job_fails_alone(env: Env) -> None:
    store = env.store()
    with store.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE grouped_probe (v INTEGER PRIMARY KEY)")
    running, release = threading.Event(), threading.Event()
    results: dict[int, Any] = {}
    errors: dict[int, BaseException] = {}
    seen_after: dict[int, set[int]] = {}

    def work_of(i: int) -> Any:
        def work(conn: Any) -> int:
            if i == 0:
                running.set()
                release.wait(60)  # the first batch holds the leader while the others queue behind it
            values = [0, 0] if i == FAILING else [100 + i]
            for v in values:
                conn.exec_driver_sql(f"INSERT INTO grouped_probe (v) VALUES ({v})")
            return i * 10
        return work

    def call(i: int) -> None:
        try:
            results[i] = store.grouped(work_of(i))
        except Exception as e:  # noqa: BLE001 - the test looks at which caller got it
            errors[i] = e
        seen_after[i] = _probe(store)  # what another transaction sees once the call has returned

    first = threading.Thread(target=call, args=(0,))
    first.start()
    wait_for(running.is_set, timeout=60, what="the first batch running")
    others = [threading.Thread(target=call, args=(i,)) for i in range(1, CALLERS)]
    for t in others:
        t.start()
    wait_for(lambda: len(store._pending) == CALLERS - 1, timeout=60, what="the other callers queued as one batch")
    release.set()
    for t in (first, *others):
        t.join(120)

    assert results == {i: i * 10 for i in range(CALLERS) if i != FAILING}
    assert list(errors) == [FAILING]
    assert any(word in str(errors[FAILING]).lower() for word in ("unique", "duplicate")), errors[FAILING]
    committed = {100 + i for i in range(CALLERS) if i != FAILING}
    assert _probe(store) == committed  # the failing job left nothing, and took nothing of the others with it
    for i in results:
        assert 100 + i in seen_after[i], f"caller {i} returned before its change was committed"
