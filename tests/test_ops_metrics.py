"""Prometheus metrics from a real worker pool and scheduler, scraped over HTTP after a post went through the
dry-run channel; and the recording functions other code calls (tone findings, feed polls)."""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator

import pytest
import requests

from publisher.ops import metrics
from tests.conftest import Env, wait_for


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def answers(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200
    except requests.ConnectionError:
        return False


def scrape(port: int) -> dict[str, float]:
    """name{labels} -> value, from the exposition text."""
    try:
        body = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except requests.ConnectionError:
        return {}
    out = {}
    for line in body.splitlines():
        m = re.match(r"^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?) (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


@pytest.mark.slow
def test_worker_and_scheduler_metrics_move_when_a_post_is_published(env: Env) -> None:
    wport, sport = _port(), _port()
    env.spawn("worker", "--processes", "2", "--threads", "2", "--metrics-port", str(wport), log="worker")
    env.spawn("scheduler", "--metrics-port", str(sport), log="scheduler")
    wait_for(lambda: answers(wport) and answers(sport), timeout=90, every=0.3, what="the metrics servers")
    published = 'publisher_deliveries_total{channel="dryrun",outcome="published"}'
    assert scrape(wport).get(published, 0) == 0
    for i in range(3):
        r = env.cli("post", "--account", "noc", f"Planned maintenance number {i} tonight 22:00-23:00")
        assert r.returncode == 0, r.stderr
    wait_for(lambda: scrape(wport).get(published, 0) == 3, timeout=60, every=0.3, what="3 published in the metrics")
    w = scrape(wport)
    assert w['publisher_publish_attempts_total{channel="dryrun",state="published"}'] == 3
    assert w['publisher_publish_lateness_seconds_count{channel="dryrun"}'] == 3
    assert w['publisher_publish_call_seconds_count{channel="dryrun"}'] == 3
    assert w['dramatiq_messages_total{actor_name="publish_dryrun",queue_name="dryrun"}'] >= 3  # Dramatiq's own
    wait_for(lambda: scrape(sport).get('publisher_deliveries_by_state{state="published"}') == 3, timeout=30,
             every=0.5, what="the scheduler's gauges")
    s = scrape(sport)
    assert s["publisher_unknown"] == 0 and s['publisher_held{reason="tone"}'] == 0
    assert 'publisher_queue_ready{queue="dryrun"}' in s and 'publisher_queue_delayed{queue="x"}' in s


@pytest.fixture
def served() -> Iterator[int]:
    port = _port()
    metrics.serve(port, host="127.0.0.1")
    yield port
    metrics.disable()


def test_tone_findings_and_feed_polls_are_counted_when_metrics_are_on(served: int) -> None:
    from publisher import tone
    from publisher.settings import AccountConfig

    account = AccountConfig(name="noc", channel="x", kind="organisation")
    findings = tone.check("THIS IS TERRIBLE!!! BUY NOW!!! " * 3, account, channel="x")
    assert findings
    metrics.feed_poll("blog", "new")
    metrics.feed_poll("blog", "new")
    got = scrape(served)
    rule = findings[0]
    assert got[f'publisher_tone_findings_total{{rule="{rule.rule}",severity="{rule.severity}"}}'] >= 1
    assert got['publisher_feed_polls_total{feed="blog",outcome="new"}'] == 2


def test_recording_is_a_no_op_while_metrics_are_off() -> None:
    assert not metrics.enabled()
    metrics.feed_poll("blog", "new")  # nothing to record into, and no prometheus_client needed
    metrics.delivery("x", "published")


@pytest.mark.slow
def test_a_429_and_the_retry_after_it_are_counted(env: Env, sandbox) -> None:  # type: ignore[no-untyped-def]
    env.env["MA_TOKEN"] = "sandbox-token"
    env.write_config({"ma": {"channel": "mastodon", "kind": "organisation", "base_url": sandbox.base_url("mastodon"),
                             "credentials": {"access_token": "env:MA_TOKEN"}}})
    sandbox.sandbox.set_faults("mastodon", burst_429=1, burst_reset_seconds=1)
    port = _port()
    env.spawn("run", "--metrics-port", str(port), "--duration", "300", log="run")
    r = env.cli("post", "--account", "ma", "Planned maintenance tonight 22:00-23:00")
    assert r.returncode == 0, r.stderr
    published = 'publisher_deliveries_total{channel="mastodon",outcome="published"}'
    wait_for(lambda: scrape(port).get(published) == 1, timeout=120, every=0.3, what="the publish after the 429")
    got = scrape(port)
    assert got['publisher_rate_limited_total{channel="mastodon"}'] == 1
    assert got['publisher_deliveries_total{channel="mastodon",outcome="rate_limited"}'] == 1
    assert got['publisher_retries_total{channel="mastodon"}'] == 1  # the second attempt
    assert got['publisher_publish_attempts_total{channel="mastodon",state="retry_wait"}'] == 1
    assert len(sandbox.sandbox.posts("mastodon")) == 1
