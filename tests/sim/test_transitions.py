"""The store's batched transitions: one statement for many moves must still answer exactly which moved, also when
the same delivery is asked to move twice and when the database cannot return the ids it moved."""

from __future__ import annotations

import pytest

from publisher import rawsql
from publisher.models import State
from publisher.store import Transition, get_deliveries, transitions
from tests.conftest import Env


@pytest.mark.parametrize("returning", [True, False], ids=["returning", "savepoint"])
def test_moving_the_same_delivery_twice_in_one_batch_moves_it_once(env: Env, returning: bool,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_batching import _accept

    if not returning:
        monkeypatch.setattr(rawsql, "RETURNING", {True: False, False: False})
    ids = _accept(env, 2)
    store = env.store()
    with store.read() as conn:
        rows = get_deliveries(conn, ids)
    moves = [Transition(rows[i], [State.SCHEDULED], State.QUEUED, "queued") for i in (ids[0], ids[0], ids[1])]
    with store.tx() as conn:
        assert transitions(conn, "test", moves) == [True, False, True]


def test_without_returning_a_batch_that_all_applies_reports_every_move(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_batching import _accept

    monkeypatch.setattr(rawsql, "RETURNING", {True: False, False: False})
    ids = _accept(env, 3)
    store = env.store()
    with store.read() as conn:
        rows = get_deliveries(conn, ids)
    with store.tx() as conn:
        assert transitions(conn, "test", [Transition(rows[i], [State.SCHEDULED], State.QUEUED, "queued")
                                          for i in ids]) == [True] * 3
    with store.read() as conn:
        assert {r["state"] for r in get_deliveries(conn, ids).values()} == {"queued"}
