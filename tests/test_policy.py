"""Account cadence: quiet hours (wall clock in the account's zone, DST-correct), a minimum gap and a maximum per day
reserved atomically in the real broker's Redis, and incident tickets exempt."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import redis
from sqlalchemy import select

from publisher.policy import Cadence, quiet_until
from publisher.schema import audit_events, deliveries
from publisher.settings import AccountConfig
from tests.conftest import DRYRUN, Env, wait_for
from tests.helpers import all_deliveries

OSLO = ZoneInfo("Europe/Oslo")


def _account(**policy: object) -> AccountConfig:
    return AccountConfig(name="comms", channel="dryrun", kind="organisation", timezone="Europe/Oslo", policy=policy)


def _oslo(*args: int) -> datetime:
    return datetime(*args, tzinfo=OSLO)  # type: ignore[misc]


def test_quiet_hours_across_midnight_end_at_the_local_morning() -> None:
    acc = _account(quiet_hours=("22:00", "07:00"))
    assert quiet_until(acc, _oslo(2026, 12, 1, 23, 30)) == _oslo(2026, 12, 2, 7, 0).astimezone(UTC)
    assert quiet_until(acc, _oslo(2026, 12, 2, 3, 0)) == _oslo(2026, 12, 2, 7, 0).astimezone(UTC)
    assert quiet_until(acc, _oslo(2026, 12, 2, 7, 0)) is None
    assert quiet_until(acc, _oslo(2026, 12, 2, 21, 59)) is None


def test_quiet_hours_ending_in_a_dst_gap_end_at_the_first_instant_after_it() -> None:
    # 2026-03-29 Europe/Oslo: 02:00 jumps to 03:00, so 02:30 does not exist that night
    acc = _account(quiet_hours=("22:00", "02:30"))
    end = quiet_until(acc, _oslo(2026, 3, 28, 23, 0))
    assert end is not None and end.astimezone(OSLO).hour == 3 and end == datetime(2026, 3, 29, 1, 0, tzinfo=UTC)


def test_bad_quiet_hours_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="HH:MM"):
        _account(quiet_hours=("25:00", "07:00"))
    with pytest.raises(ValueError, match="exempt_kinds"):
        _account(exempt_kinds=["incident"])


@pytest.fixture
def client(env: Env) -> redis.Redis:  # type: ignore[type-arg]
    from publisher.workers import embedded

    url = env.settings().redis_url or embedded.ensure(env.settings().valkey_dir)[0]
    return redis.Redis.from_url(url)


def test_max_per_day_holds_under_racing_workers_and_reopens_at_local_midnight(client: redis.Redis) -> None:  # type: ignore[type-arg]
    cadence = Cadence(client)
    acc = _account(max_per_day=5)
    now = _oslo(2026, 12, 1, 15, 0).astimezone(UTC)
    answers: list[object] = []
    lock = threading.Lock()

    def take() -> None:
        w = cadence.wait_until(acc, "campaign", now)
        with lock:
            answers.append(w)

    threads = [threading.Thread(target=take) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    waits = [w for w in answers if w is not None]
    assert len(answers) - len(waits) == 5
    assert {w.rule for w in waits} == {"max_per_day"}  # type: ignore[attr-defined]
    assert {w.until for w in waits} == {_oslo(2026, 12, 2, 0, 0).astimezone(UTC)}  # type: ignore[attr-defined]
    assert cadence.wait_until(acc, "ticket", now) is None  # incident updates are exempt
    assert cadence.wait_until(acc, "campaign", now + timedelta(days=1)) is None  # a new local day


def test_min_gap_answers_the_exact_time_of_the_next_slot(client: redis.Redis) -> None:  # type: ignore[type-arg]
    cadence = Cadence(client)
    acc = _account(min_gap_seconds=60)
    now = datetime.now(UTC)
    assert cadence.wait_until(acc, "note", now) is None
    second = cadence.wait_until(acc, "note", now)
    assert second is not None and second.rule == "min_gap"
    assert timedelta(seconds=58) < second.until - now <= timedelta(seconds=61)


def _quiet_now() -> tuple[str, str]:
    local = datetime.now(OSLO)
    return ((local - timedelta(hours=1)).strftime("%H:%M"), (local + timedelta(hours=1)).strftime("%H:%M"))


@pytest.mark.slow  # CLI processes and a worker, waits out a gap
def test_cadence_end_to_end_gap_between_posts_quiet_hours_wait_and_tickets_go_at_once(env: Env) -> None:
    env.write_config({
        **DRYRUN,
        "comms": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo",
                  "policy": {"min_gap_seconds": 2}},
        "night": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo",
                  "policy": {"quiet_hours": list(_quiet_now())}},
    })
    for i in range(3):
        assert env.cli("post", "--account", "comms", f"Campaign day {i}: join us at the venue").returncode == 0
    assert env.cli("post", "--account", "night", "Our new office opens on Monday").returncode == 0
    assert env.cli("ticket", "open", "INC-9", "--account", "night", "Core router down in Oslo, traffic rerouted").returncode == 0
    env.spawn("run", "--threads", "4", log="run")
    store = env.store()

    def done() -> bool:
        ds = all_deliveries(store)
        return sum(d["state"] == "published" for d in ds) == 4 and any(d["state"] == "retry_wait" for d in ds)

    wait_for(done, timeout=60, what="three gapped posts and the ticket published, the note waiting")
    env.stop_all()
    ds = all_deliveries(store)
    comms = sorted(d["published_at"] for d in ds if d["account"] == "comms")
    assert len(comms) == 3 and all(b - a >= timedelta(seconds=1.9) for a, b in zip(comms, comms[1:], strict=False)), comms
    night = [d for d in ds if d["account"] == "night"]
    note = next(d for d in night if d["state"] == "retry_wait")
    assert "quiet_hours" in note["last_error"] and note["due_at"] > datetime.now(UTC) + timedelta(minutes=30)
    assert any(d["state"] == "published" and d["payload"]["text"].startswith("INC-9") for d in night)
    with store.read() as conn:
        rules = [r[0] for r in conn.execute(select(audit_events.c.details).where(audit_events.c.action == "policy_wait"))]
        waiting = conn.execute(select(deliveries.c.state).where(deliveries.c.id == note["id"])).scalar()
    assert any("quiet_hours" in r for r in rules) and any("min_gap" in r for r in rules) and waiting == "retry_wait"
    assert env.cli("audit", "verify").returncode == 0


@pytest.mark.slow  # CLI processes and a worker
def test_parts_of_a_split_post_follow_each_other_without_the_gap(env: Env) -> None:
    env.write_config({**DRYRUN, "essay": {"channel": "dryrun", "kind": "personal", "timezone": "Europe/Oslo",
                                          "long_text": "split", "policy": {"min_gap_seconds": 600}}})
    text = " ".join(f"sentence {i} of a long essay about fibre networks." for i in range(160))  # > 5,000 characters
    assert env.cli("post", "--account", "essay", text).returncode == 0
    store = env.store()
    parts = all_deliveries(store)
    assert len(parts) >= 2
    env.spawn("run", "--threads", "2", log="run")
    wait_for(lambda: all(d["state"] == "published" for d in all_deliveries(store)), timeout=60,
             what="every part published, none held back by the 10-minute gap")
    env.stop_all()
    done = sorted(d["published_at"] for d in all_deliveries(store))
    assert done[-1] - done[0] < timedelta(seconds=30)
