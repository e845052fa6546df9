"""One adapter per account, many worker threads: every call must get its own outcome, never a neighbour's.

A worker's threads share the adapter of an account. Rate-limit answers (each with its own reset time) mixed with
successes, from 16 threads at once, against the sandbox: each call's receipt, retry time and rate reading must be
the ones of its own response.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from publisher.channels import adapter_class
from publisher.channels.base import RateInfo
from publisher.errors import RateLimited
from publisher.models import Receipt
from publisher.sandbox.server import SandboxServer
from publisher.settings import AccountConfig
from tests.channels.contract import CANARY, delivery, unique_text
from tests.channels.test_bluesky import build_bluesky
from tests.channels.test_facebook import build_facebook
from tests.channels.test_linkedin import build_linkedin
from tests.channels.test_mastodon import build_mastodon
from tests.channels.test_x import build_x

BUILDERS: dict[str, Callable[[str, str], tuple[AccountConfig, dict[str, str]]]] = {
    "x": build_x, "facebook": build_facebook, "linkedin": build_linkedin, "mastodon": build_mastodon,
    "bluesky": build_bluesky,
}
THREADS = 16
CALLS = 16
FIRST_RESET = 120  # seconds; the k-th 429 resets FIRST_RESET + k * STEP from now (Facebook counts in minutes)
STEP = 60
#: LinkedIn documents no reset information: its 429s wait by rule, so only the outcome class is the call's own
NO_RESET_INFO = {"linkedin"}

Result = tuple[str, datetime, Receipt | RateLimited, RateInfo | None]


@pytest.fixture
def busy_threads() -> Iterator[None]:
    """Switch threads far more often than the default 5 ms, as 16 busy worker threads on 2 cores do."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(before)


def hammer(adapter: Any, channel: str) -> list[Result]:
    results: list[Result] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def work(n: int) -> None:
        try:
            start.wait(timeout=30)
            for i in range(CALLS):
                text = unique_text(f"thread {n} call {i}")
                started = datetime.now(UTC)
                outcome: Receipt | RateLimited
                try:
                    outcome = adapter.publish(delivery(text, channel=channel), None)
                except RateLimited as e:
                    outcome = e
                rate = adapter.last_rate  # what the publish actor reads right after the call, on the same thread
                with lock:
                    results.append((text, started, outcome, rate))
        except BaseException as e:  # noqa: BLE001 - reported below, with the thread's own exception
            failures.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not failures, failures[0]
    assert len(results) == THREADS * CALLS
    return results


@pytest.mark.parametrize("channel", list(BUILDERS))
def test_every_call_from_sixteen_threads_gets_its_own_outcome_and_retry_time(
    channel: str, sandbox: SandboxServer, busy_threads: None
) -> None:
    # Given one adapter for the account, already past its first call (session, identity), as in a worker
    account, creds = BUILDERS[channel](sandbox.base_url(channel), CANARY)
    adapter = adapter_class(channel)(account, creds)
    adapter.verify()
    # and a platform that answers every third request with a 429 whose reset is later than the one before
    sandbox.sandbox.set_faults(channel, burst_429_every=3, burst_reset_seconds=FIRST_RESET,
                               burst_reset_step_seconds=STEP)

    # When 16 threads publish through it at once
    results = hammer(adapter, channel)

    # Then every receipt is the post of its own text
    ledger = {p["remote_id"]: p["text"] for p in sandbox.sandbox.posts(channel)}
    published = [(text, o) for text, _, o, _ in results if isinstance(o, Receipt)]
    limited = [(started, o, rate) for _, started, o, rate in results if isinstance(o, RateLimited)]
    assert published and limited
    assert {o.remote_id: text for text, o in published} == ledger
    # and every 429 waits until its own reset: each reset issued exactly once, none replaced by a default
    if channel in NO_RESET_INFO:
        assert all(o.retry_at > started for started, o, _ in limited)
    else:
        waits = sorted(round((o.retry_at - started).total_seconds() / STEP) * STEP for started, o, _ in limited)
        assert waits == [FIRST_RESET + k * STEP for k in range(len(limited))]
    # and the rate reading after each call is that call's own
    if channel not in NO_RESET_INFO:
        for _, o, rate in limited:
            assert rate is not None and rate.remaining == 0 and rate.reset_at is not None
            assert abs((rate.reset_at - o.retry_at).total_seconds()) < 5
        for _, _, o, rate in results:
            if isinstance(o, Receipt):
                assert rate is not None and rate.remaining, "a success read the rate of someone else's 429"
