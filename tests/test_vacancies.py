"""Vacancies (issue 13): never published after the closing date in any state, reminders before it, `filled`
cancels what is pending and announces. Real store, the real scheduler and publisher with the store's clock
fixed and moved, the dry-run platform's ledger as the record of what went out; the CLI as a process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest

from publisher import service, store
from publisher.channels.dryrun import ledger_rows
from publisher.publishing import Publisher
from publisher.scheduling import Scheduler
from publisher.settings import Settings
from publisher.workflows import vacancies
from tests.conftest import Env
from tests.helpers import all_deliveries, states
from tests.test_approvals_accounts import run_due

T0 = datetime(2027, 1, 20, 12, 0, tzinfo=UTC)  # Wednesday 13:00 in Oslo
CLOSES = date(2027, 1, 31)
END = datetime(2027, 1, 31, 22, 59, 59, tzinfo=UTC)  # the end of 31 January in Oslo (CET, +01:00)


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Iterator[Clock]:
    c = Clock(T0)
    store.set_clock(c)
    yield c
    store.set_clock(None)


def _jobs(env: Env, **options: object) -> Settings:
    account = {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo", "options": options}
    env.write_config({"jobs": account, "careers": account})
    return env.settings()


def _ledger(env: Env) -> list[dict[str, object]]:
    return ledger_rows(env.settings().home / "dryrun-ledger.jsonl")


TEXT = "We are hiring a network engineer in Oslo: https://example.org/jobs/ne-oslo"


def test_the_vacancy_and_its_reminders_share_the_closing_time_and_thread(env: Env, clock: Clock) -> None:
    settings = _jobs(env)
    result = vacancies.post(settings, env.store(), vacancies.NewVacancy(
        text=TEXT, accounts=["jobs"], closes=CLOSES, remind=["7d", "1d", "12h", "30d"], vacancy_id="ne-oslo"))
    assert result.not_after == END
    assert [(w, t) for w, t, _ in result.posts] == [
        ("vacancy", T0),
        ("reminder 7d", datetime(2027, 1, 24, 8, 0, tzinfo=UTC)),  # 09:00 CET
        ("reminder 1d", datetime(2027, 1, 30, 8, 0, tzinfo=UTC)),
        ("reminder 12h", END - timedelta(hours=12)),
    ]
    assert result.skipped == ["30d"]  # before the vacancy itself
    rows = all_deliveries(env.store())
    assert {r["not_after"] for r in rows} == {END}
    assert {r["thread_key"] for r in rows} == {"vacancy:ne-oslo"}
    again = vacancies.post(settings, env.store(), vacancies.NewVacancy(
        text=TEXT, accounts=["jobs"], closes=CLOSES, remind=["7d", "1d", "12h"], vacancy_id="ne-oslo"))
    assert again.existing and len(all_deliveries(env.store())) == 4


def test_nothing_of_a_vacancy_is_published_after_its_closing_date_in_any_state(env: Env, clock: Clock) -> None:
    """The reminder is rate limited (retry_wait), another post's outcome was unknown (nothing was sent; reconciled
    at once to retry_wait): once the close passes, the scheduler and the worker expire them; the platform sees
    nothing more."""
    settings = _jobs(env, fail=[{"match": "Reminder", "outcome": "rate_limited", "times": 5, "retry_after": 30},
                                {"match": "Last call", "outcome": "unknown", "times": 5}])
    s = env.store()
    vacancies.post(settings, s, vacancies.NewVacancy(text=TEXT, accounts=["jobs"], closes=CLOSES, remind=["1d"],
                                                     vacancy_id="v1"))
    service.accept(settings, s, service.NewPost(text="Last call for the network engineer job in Oslo",
                                                accounts=["careers"], at=END - timedelta(minutes=5), not_after=END))
    run_due(settings, s)
    assert len(_ledger(env)) == 1  # the vacancy itself
    clock.at = datetime(2027, 1, 30, 8, 0, 1, tzinfo=UTC)
    run_due(settings, s, rounds=1)
    clock.at = END - timedelta(minutes=4)
    run_due(settings, s, rounds=1)
    assert states(s) == {"published": 1, "retry_wait": 2}, [(d["state"], d["last_error"]) for d in all_deliveries(s)]
    clock.at = END + timedelta(seconds=30)  # past the close: the retry and the reconcile are both due now
    sched = Scheduler(settings, s, lambda ch, ids, ms: ids[0], lambda items: set())
    run_due(settings, s)  # the tick claims both retries; the worker must expire them, not send them
    sched.sweep()
    assert states(s) == {"published": 1, "expired": 2}, [(d["state"], d["last_error"]) for d in all_deliveries(s)]
    assert len(_ledger(env)) == 1
    assert all(d["published_at"] is None or d["published_at"] <= END for d in all_deliveries(s))


def test_a_claimed_delivery_whose_closing_time_passes_during_its_batch_is_expired_not_sent(env: Env) -> None:
    """Two deliveries in one broker message, the first slow (1.5 s at the platform): the second's closing time
    passes while the first's call runs; the worker had already claimed it, and must not send it."""
    settings = _jobs(env, latency_ms=1500)
    s = env.store()
    now = datetime.now(UTC)
    slow = service.accept(settings, s, service.NewPost(text="Open day at the Oslo office on Friday", accounts=["jobs"],
                                                       at=now)).deliveries[0]["id"]
    closing = service.accept(settings, s, service.NewPost(text=TEXT, accounts=["jobs"], at=now,
                                                          not_after=now + timedelta(seconds=1.2))).deliveries[0]["id"]
    assert Scheduler(settings, s, lambda ch, ids, ms: ids[0], lambda items: set()).tick() == 2
    outcomes = Publisher(settings, s).handle_many([slow, closing])
    assert outcomes == {slow: "published", closing: "expired"}
    assert [r["delivery_id"] for r in _ledger(env)] == [slow]


def _cli(env: Env, *args: str) -> tuple[int, str, str]:
    r = env.cli(*args)
    return r.returncode, r.stdout, r.stderr


@pytest.mark.slow  # CLI processes
def test_cli_vacancy_post_list_filled_with_announcement(env: Env) -> None:
    env.write_config({"jobs": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"}})
    closes = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    rc, out, err = _cli(env, "vacancy", "post", "--account", "jobs", "--closes", closes, "--remind", "7d,1d",
                        "--at", "+1h", "--id", "ne-oslo", "--json", TEXT)
    assert rc == 0, err
    posted = json.loads(out)
    assert [p["what"] for p in posted["posts"]] == ["vacancy", "reminder 7d", "reminder 1d"]
    rc, out, err = _cli(env, "vacancy", "list", "--json")
    assert rc == 0 and json.loads(out)[0]["states"] == {"scheduled": 3}, err
    rc, out, err = _cli(env, "vacancy", "filled", "ne-oslo", "--announce", "The position is filled, thank you!")
    assert rc == 0 and "cancelled 3 deliveries" in out and "announcement scheduled" in out, err
    s = env.store()
    assert states(s) == {"cancelled": 3, "scheduled": 1}
    rc, out, _ = _cli(env, "audit", "log", "--post", posted["posts"][1]["post_id"], "--json")
    assert any(e["action"] == "cancelled" and e["details"]["reason"] == "vacancy filled" for e in json.loads(out))
    rc, _, err = _cli(env, "vacancy", "filled", "nope")
    assert rc == 5 and "no vacancy" in err
    rc, _, err = _cli(env, "vacancy", "post", "--account", "jobs", "--closes", "2020-01-31", TEXT)
    assert rc == 2 and "has passed" in err
    rc, _, err = _cli(env, "vacancy", "post", "--account", "jobs", "--closes", closes, "--remind", "7x", TEXT)
    assert rc == 2 and "7x" in err
    assert states(env.store()) == {"cancelled": 3, "scheduled": 1}  # the refused ones stored nothing
    assert env.cli("audit", "verify").returncode == 0


def test_the_fill_announcement_is_published_as_a_reply_to_the_vacancy(env: Env) -> None:
    """``vacancy filled --announce``: the reminders still to come are cancelled, and the announcement goes out in the
    vacancy's thread (a reply to the published vacancy), through the real scheduler tick and publisher."""
    env.write_config({"jobs": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"}})
    closes = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    rc, out, err = _cli(env, "vacancy", "post", "--account", "jobs", "--closes", closes, "--remind", "7d",
                        "--at", "now", "--id", "ne-oslo", TEXT)
    assert rc == 0, err
    # every accepted time echoed in the account's zone and in UTC: the closing time and the reminder
    assert "never published after" in out and out.count(" UTC)") >= 3 and ("CET" in out or "CEST" in out), out
    env.env["PUBLISHER_ACTOR"] = "worker"
    run_due(env.settings(), env.store())
    ledger = env.settings().home / "dryrun-ledger.jsonl"
    [vacancy] = ledger_rows(ledger)
    assert vacancy["text"].startswith(TEXT[:30])
    env.env.pop("PUBLISHER_ACTOR")
    rc, out, err = _cli(env, "vacancy", "filled", "ne-oslo", "--announce", "The position is filled, thank you!")
    assert rc == 0 and "cancelled 1 delivery " in out and "already published" in out, out + err
    env.env["PUBLISHER_ACTOR"] = "worker"
    run_due(env.settings(), env.store())
    first, announcement = ledger_rows(ledger)
    assert first == vacancy
    assert announcement["text"] == "The position is filled, thank you!"
    assert announcement["in_reply_to"] == vacancy["remote_id"]  # in the vacancy's thread
    assert states(env.store()) == {"published": 2, "cancelled": 1}
