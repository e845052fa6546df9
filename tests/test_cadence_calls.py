"""The minimum gap is kept between the platform calls themselves, not only between the reservations: a worker's
calls run one after another, so a post cleared early in a batch can reach the platform a while after its slot was
reserved (the top-of-the-hour burst in benchmarks/RESULTS-scale.md saw 4.4 s between two posts of a 5 s gap)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import redis

from publisher.policy import GAP_WAIT, Cadence
from publisher.settings import AccountConfig
from tests.conftest import Env


def _client(env: Env) -> redis.Redis:  # type: ignore[type-arg]
    """The Redis the tests' settings name, or the embedded Valkey."""
    from publisher.workers import embedded

    url = env.settings().redis_url or embedded.ensure(env.settings().valkey_dir)[0]
    return redis.Redis.from_url(url)


def test_the_gap_restarts_when_the_platform_call_starts(env: Env) -> None:
    cadence = Cadence(_client(env))
    account = AccountConfig(name="comms", channel="dryrun", kind="organisation", policy={"min_gap_seconds": 60})
    assert cadence.wait_until(account, "note", datetime.now(UTC), token="d1") is None  # reserved when cleared
    time.sleep(1.0)  # ... and the call starts a second later, behind the batch's earlier calls
    called = datetime.now(UTC)
    assert cadence.calling(account, "note", "d1") is None
    wait = cadence.wait_until(account, "note", datetime.now(UTC))
    assert wait is not None and wait.rule == "min_gap"
    assert wait.until >= called + timedelta(seconds=59.9), wait.until - called  # a full gap after the call
    ticket = AccountConfig(name="ops", channel="dryrun", kind="organisation", policy={"min_gap_seconds": 60})
    assert cadence.calling(ticket, "ticket", "d2") is None  # exempt kinds take no slot, at the call either
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


def test_posts_waiting_for_the_gap_in_separate_messages_are_promised_successive_slots(env: Env) -> None:
    """The top-of-the-hour burst: one account's posts reach the workers in different messages. Each one the gap
    sends back is promised its own slot (a gap after the last promise, on a 250 ms grid so that many accounts'
    posts share messages), so each comes back once; one coming back
    at its slot while the gap is still taken (the post before it went out late) waits only for the gap's end,
    keeping its place, instead of queueing behind every later promise."""
    cadence = Cadence(_client(env))
    account = AccountConfig(name="promises", channel="dryrun", kind="organisation", policy={"min_gap_seconds": 60})
    now = datetime.now(UTC)
    assert cadence.wait_until(account, "note", now) is None  # the first goes
    waits = [cadence.wait_until(account, "note", now) for _ in range(4)]  # four messages, one post each
    offsets = [(w.until - now).total_seconds() for w in waits if w is not None]
    assert len(offsets) == 4 and all(w is not None and w.rule == "min_gap" for w in waits)
    assert all(60 * k - 2 < s <= 60 * k + 1 for k, s in enumerate(offsets, 1)), offsets
    assert all(w is not None and w.until.microsecond % 250_000 == 0 for w in waits)  # on the grid
    back = cadence.wait_until(account, "note", now, returning=True)
    assert back is not None and 58 < (back.until - now).total_seconds() <= 61  # the gap's end, not after 240 s


def test_the_worker_tells_a_post_back_at_its_promised_slot_from_its_own_last_error(env: Env) -> None:
    """The publisher marks a post the gap sent back (its ``last_error``, written by the wait itself); when the
    post comes back it keeps its place: the gap's end, not a new slot behind the promises made meanwhile."""
    from publisher.publishing import Publisher

    env.write_config({"burst": {"channel": "dryrun", "policy": {"min_gap_seconds": 60}}})
    publisher = Publisher(env.settings(), env.store(), cadence=Cadence(_client(env)))
    now = datetime.now(UTC)
    first = {"id": "d1", "account": "burst", "state": "queued", "post_id": "p", "part": 1}
    assert publisher._policy_wait(first, "note", now) is None  # goes: takes the gap
    sent_back = publisher._policy_wait({**first, "id": "d2"}, "note", now)
    assert sent_back is not None and sent_back.values is not None
    for i in range(3, 6):  # later posts of the burst, promised later slots
        assert publisher._policy_wait({**first, "id": f"d{i}"}, "note", now) is not None
    returned = {**first, "id": "d2", **sent_back.values}  # as the store holds it when it is due again
    again = publisher._policy_wait(returned, "note", datetime.now(UTC))
    assert again is not None and again.values is not None
    assert again.values["due_at"] - now <= timedelta(seconds=61.5), again.values["due_at"] - now


def test_asking_for_many_posts_at_once_answers_as_asking_one_after_another(env: Env) -> None:
    """``wait_many`` (one round trip for a broker message's posts) gives each post the answer ``wait_until`` gives
    when asked in the same order: gaps and their promised slots, the daily maximum, quiet hours, exempt kinds,
    posts coming back to a promised slot, accounts without a policy."""
    import random

    from publisher.settings import AccountConfig

    def account(name: str, **policy: object) -> AccountConfig:
        return AccountConfig(name=name, channel="dryrun", kind="organisation", timezone="America/New_York",
                             policy=policy)

    accounts = [account("gap", min_gap_seconds=30), account("day", max_per_day=2),
                account("both", min_gap_seconds=10, max_per_day=3), account("free"),
                account("night", quiet_hours=("00:00", "23:59"), min_gap_seconds=5),
                account("slow", min_gap_seconds=600, max_per_day=5)]
    rng = random.Random(7)
    client = _client(env)
    one, many = Cadence(client, namespace="test:one"), Cadence(client, namespace="test:many")
    now = datetime.now(UTC).replace(microsecond=0)
    rules: set[str] = set()
    for step in range(6):  # six messages, each of several posts, a few seconds apart
        at = now + timedelta(seconds=7 * step)
        asks = [(rng.choice(accounts), rng.choice(["note", "note", "ticket"]), rng.random() < 0.3, f"d{n}")
                for n in range(rng.randint(1, 12))]
        expected = [one.wait_until(acc, kind, at, returning=back, token=token) for acc, kind, back, token in asks]
        assert many.wait_many(asks, at) == expected
        rules.update(w.rule for w in expected if w is not None)
    assert rules == {"min_gap", "max_per_day", "quiet_hours"}  # every kind of answer was compared


def test_a_call_may_start_only_while_the_gap_is_its_own_reservation_or_nobodys(env: Env) -> None:
    import uuid

    from tests.conftest import wait_for

    cadence = Cadence(_client(env))
    account = AccountConfig(name=f"c{uuid.uuid4().hex[:8]}", channel="dryrun", kind="organisation",
                            policy={"min_gap_seconds": 1})
    gap = f"publisher:policy:{account.name}:gap"
    assert cadence.wait_until(account, "note", datetime.now(UTC), token="d1") is None  # d1 cleared
    wait_for(lambda: not cadence.client.exists(gap), 10, 0.01, "d1's reservation to run out")
    assert cadence.wait_until(account, "note", datetime.now(UTC), token="d2") is None  # d2 cleared meanwhile
    refused = cadence.calling(account, "note", "d1")  # d1's call starts late: d2 holds the gap
    assert refused is not None and refused.rule == "min_gap" and refused.reason.startswith(GAP_WAIT)
    assert datetime.now(UTC) < refused.until <= datetime.now(UTC) + timedelta(seconds=1.3)
    assert cadence.calling(account, "note", "d2") is None  # d2 holds its own reservation: it goes
    assert cadence.client.get(gap) == b"d2"
    wait_for(lambda: not cadence.client.exists(gap), 10, 0.01, "d2's gap to end")
    assert cadence.calling(account, "note", "d3") is None  # nobody's gap: no call started within one
    assert cadence.calling(account, "note", "d2") is not None  # ... and now d3 holds it


def test_a_post_whose_reservation_ran_out_before_its_call_is_sent_back_not_published_inside_the_gap(env: Env) -> None:
    """A worker's calls run one after another: a post cleared at the start of a message can reach its call more
    than a gap later, behind a slow platform. Meanwhile another worker cleared and published the next post of the
    same account; the late call would have reached the platform inside that post's gap (the PostgreSQL hour burst
    measured 4.68 s for a 5 s gap). It is sent back to wait for the gap's end, unsent, and keeps its place."""
    import threading
    import uuid

    from publisher import service
    from publisher.channels.dryrun import ledger_rows
    from publisher.publishing import Publisher
    from publisher.scheduling import Scheduler
    from publisher.store import get_deliveries
    from tests.conftest import wait_for

    tag = uuid.uuid4().hex[:8]
    paced, slow = f"paced{tag}", f"slow{tag}"
    env.write_config({paced: {"channel": "dryrun", "kind": "organisation", "policy": {"min_gap_seconds": 3}},
                      slow: {"channel": "dryrun", "kind": "organisation", "options": {"latency_ms": 5000}}},
                     scheduler={"lease_seconds": 60})  # the batch's second call starts ~5 s in: within half a lease
    settings, store, client = env.settings(), env.store(), _client(env)

    def due_now(account: str, text: str) -> str:
        accepted = service.accept(settings, store, service.NewPost(text=text, accounts=[account], at=datetime.now(UTC)))
        Scheduler(settings, store, lambda channel, ids, delay: ids[0], lambda items: set()).tick()
        return str(accepted.deliveries[0]["id"])

    b1 = due_now(slow, "An answer from a slow platform.")
    a1 = due_now(paced, "The first post of the paced account.")
    results: dict[str, str] = {}
    first = threading.Thread(target=lambda: results.update(
        Publisher(settings, store, cadence=Cadence(client)).handle_many([b1, a1])))
    first.start()
    gap = f"publisher:policy:{paced}:gap"
    wait_for(lambda: client.get(gap) == a1.encode(), 30, 0.005, "the first post's reservation")
    wait_for(lambda: not client.exists(gap), 30, 0.005, "its reservation to run out behind the slow call")
    a2 = due_now(paced, "The second post of the paced account.")
    assert Publisher(settings, store, cadence=Cadence(client)).handle_many([a2]) == {a2: "published"}
    first.join(60)
    assert results == {b1: "published", a1: "policy"}
    with store.read() as conn:
        row = get_deliveries(conn, [a1])[a1]
    assert row["state"] == "retry_wait" and row["attempts"] == 0 and row["lease_until"] is None
    assert str(row["last_error"]).startswith(GAP_WAIT)  # it keeps its place when it comes back
    calls = [r for r in ledger_rows(settings.home / "dryrun-ledger.jsonl") if r["account"] == paced]
    assert [r["delivery_id"] for r in calls] == [a2]  # the late call was never made
    a2_at = datetime.fromisoformat(calls[0]["at"])
    assert row["due_at"] >= a2_at + timedelta(seconds=2.9)  # not before a2's gap ends
