"""The X adapter against the sandbox: the shared contract plus X specifics (OAuth 1.0a, duplicates, caps)."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
import responses

from publisher.channels import x as x_module
from publisher.channels.x import XChannel, normalise, rate_reset
from publisher.errors import NotPublished, OutcomeUnknown, PermanentError, RateLimited, ReconcileUnsupported
from publisher.sandbox.core import Request
from publisher.sandbox.server import SandboxServer
from publisher.settings import AccountConfig
from tests.channels.contract import CANARY, ChannelContract, delivery, unique_text


def build_x(base_url: str, token: str) -> tuple[AccountConfig, dict[str, str]]:
    account = AccountConfig(name="acme", channel="x", base_url=base_url, options={"username": "acme_noc"})
    return account, {"bearer_token": token}


class TestXContract(ChannelContract):
    channel = "x"
    build = staticmethod(build_x)


# -- X specifics --
OAUTH1 = {"consumer_key": "ck-" + CANARY, "consumer_secret": "cs-" + CANARY,
          "access_token": "at-" + CANARY, "access_token_secret": "ats-" + CANARY}


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def x_adapter(base_url: str | None, creds: dict[str, str] | None = None, **options: object) -> XChannel:
    account = AccountConfig(name="acme", channel="x", base_url=base_url, options={"username": "acme_noc", **options})
    return XChannel(account, creds or {"bearer_token": CANARY})


def test_oauth1_user_context_posts_with_a_valid_hmac_signature() -> None:
    """The header the adapter signs itself must equal what requests-oauthlib computes for the same nonce/time."""
    from requests_oauthlib import OAuth1

    adapter = x_adapter(None, OAUTH1)
    with responses.RequestsMock() as rsps:
        rsps.post("https://api.twitter.com/2/tweets", status=201,
                  json={"data": {"edit_history_tweet_ids": ["11"], "id": "11", "text": "hi"}})
        receipt = adapter.publish(delivery("hi"), None)
        sent = rsps.calls[0].request
    assert receipt.remote_id == "11"
    header = sent.headers["Authorization"]
    fields = dict(re.findall(r'(\w+)="([^"]*)"', header))
    assert fields["oauth_token"] == "at-" + CANARY
    reference = OAuth1("ck-" + CANARY, "cs-" + CANARY, "at-" + CANARY, "ats-" + CANARY,
                       nonce=fields["oauth_nonce"], timestamp=fields["oauth_timestamp"])
    import requests

    prepared = requests.Request("POST", "https://api.twitter.com/2/tweets", json={"text": "hi"}).prepare()
    expected = dict(re.findall(r'(\w+)="([^"]*)"', _text(reference(prepared).headers["Authorization"])))
    assert fields["oauth_signature"] == expected["oauth_signature"]


def test_oauth1_account_publishes_through_the_sandbox(sandbox: SandboxServer) -> None:
    receipt = x_adapter(sandbox.base_url("x"), OAUTH1).publish(delivery("Deploy finished"), None)
    assert sandbox.sandbox.posts("x")[0]["remote_id"] == receipt.remote_id


def test_receipt_url_uses_the_username_or_the_i_fallback(sandbox: SandboxServer) -> None:
    named = x_adapter(sandbox.base_url("x")).publish(delivery("Named"), None)
    assert named.url == f"https://x.com/acme_noc/status/{named.remote_id}"
    account = AccountConfig(name="anon", channel="x", base_url=sandbox.base_url("x"))
    anon = XChannel(account, {"bearer_token": CANARY}).publish(delivery("Anonymous"), None)
    assert anon.url == f"https://x.com/i/status/{anon.remote_id}"


def test_publish_records_rate_headers_as_last_rate(sandbox: SandboxServer) -> None:
    sandbox.sandbox.set_faults("x", rate_limit=5, rate_window_seconds=900)
    adapter = x_adapter(sandbox.base_url("x"))
    adapter.publish(delivery("Rate noted"), None)
    assert adapter.last_rate is not None
    assert (adapter.last_rate.limit, adapter.last_rate.remaining) == (5, 4)
    assert adapter.last_rate.reset_at is not None and adapter.last_rate.reset_at > datetime.now(UTC)


def test_duplicate_text_is_reconciled_to_the_existing_post(sandbox: SandboxServer) -> None:
    adapter = x_adapter(sandbox.base_url("x"))
    first = adapter.publish(delivery("Still investigating"), None)
    with pytest.raises(OutcomeUnknown) as info:
        adapter.publish(delivery("Still investigating"), None)
    assert info.value.existing is not None and info.value.existing.remote_id == first.remote_id
    assert len(sandbox.sandbox.posts("x")) == 1


def test_duplicate_of_an_old_post_not_in_the_timeline_is_permanent(sandbox: SandboxServer) -> None:
    adapter = x_adapter(sandbox.base_url("x"))
    adapter.publish(delivery("Still investigating"), None)
    sandbox.sandbox.ledger[0]["created_at"] = "2020-01-01T00:00:00.000Z"
    now = datetime.now(UTC)
    with pytest.raises(PermanentError, match="duplicate"):
        adapter.publish(delivery("Still investigating", created_at=now, first_attempt_at=now, attempt_at=now), None)


def crowd(server: SandboxServer, n: int, token: str = CANARY) -> None:
    """``n`` more posts of the account, straight into the emulator (loopback round trips would only cost time)."""
    for i in range(n):
        server.platforms["x"].handle(Request("POST", "/2/tweets", {}, {
            "authorization": f"Bearer {token}", "content-type": "application/json"},
            json.dumps({"text": unique_text(f"other {i}")}).encode()))


def test_reconcile_pages_back_past_a_full_page_to_the_first_attempt(sandbox: SandboxServer) -> None:
    adapter = x_adapter(sandbox.base_url("x"))
    now = datetime.now(UTC)
    ref = delivery(unique_text("page two"), created_at=now, first_attempt_at=now, attempt_at=now)
    sandbox.sandbox.set_faults("x", drop_after_accept=1)
    with pytest.raises(OutcomeUnknown):
        adapter.publish(ref, None)
    crowd(sandbox, 105)  # the account posted more than a page since
    assert adapter.reconcile(ref).remote_id == sandbox.sandbox.posts("x")[0]["remote_id"]


def test_a_duplicate_refusal_after_an_unknown_outcome_finds_the_original_on_page_two(sandbox: SandboxServer) -> None:
    """Recorded failed while the tweet was live: the retry's 403 was taken as someone else's duplicate."""
    adapter = x_adapter(sandbox.base_url("x"))
    now = datetime.now(UTC)
    text = unique_text("live")
    sandbox.sandbox.set_faults("x", drop_after_accept=1)
    with pytest.raises(OutcomeUnknown):
        adapter.publish(delivery(text, created_at=now, first_attempt_at=now, attempt_at=now), None)
    crowd(sandbox, 105)
    retry = delivery(text, attempt=2, created_at=now, first_attempt_at=now, attempt_at=datetime.now(UTC))
    with pytest.raises(OutcomeUnknown) as info:
        adapter.publish(retry, None)
    assert info.value.existing is not None
    assert info.value.existing.remote_id == sandbox.sandbox.posts("x")[0]["remote_id"]
    assert len(sandbox.sandbox.posts("x")) == 106


def test_a_duplicate_refusal_on_a_retry_soon_after_the_first_attempt_is_left_to_reconcile(
    sandbox: SandboxServer
) -> None:
    """The timeline may not show the post our first attempt made yet: not found is no proof of an older post."""
    adapter = x_adapter(sandbox.base_url("x"))
    adapter.publish(delivery("Still investigating"), None)
    sandbox.sandbox.ledger[0]["created_at"] = "2020-01-01T00:00:00.000Z"  # as if the timeline lagged behind
    now = datetime.now(UTC)
    retry = delivery("Still investigating", attempt=2, created_at=now, first_attempt_at=now, attempt_at=now)
    with pytest.raises(OutcomeUnknown, match="duplicate"):
        adapter.publish(retry, None)


def test_reconcile_cannot_tell_when_the_timeline_is_too_long_to_read(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(x_module, "MAX_PAGES", 1)
    crowd(sandbox, 105)
    with pytest.raises(ReconcileUnsupported):
        x_adapter(sandbox.base_url("x")).reconcile(delivery(unique_text("never sent")))


def test_generic_forbidden_is_a_permission_error_not_a_duplicate(sandbox: SandboxServer) -> None:
    with pytest.raises(PermanentError, match="403 permission"):
        x_adapter(sandbox.base_url("x"), {"bearer_token": "readonly-token"}).publish(delivery("x"), None)


def test_depleted_credits_are_permanent_with_a_clear_message(sandbox: SandboxServer) -> None:
    with pytest.raises(PermanentError, match="credits are depleted") as info:
        x_adapter(sandbox.base_url("x"), {"bearer_token": "credits-depleted-1"}).publish(delivery("x"), None)
    assert info.value.hint and "credits" in info.value.hint


def test_server_error_after_accept_is_unknown_and_reconciled(sandbox: SandboxServer) -> None:
    adapter = x_adapter(sandbox.base_url("x"))
    ref = delivery("Accepted then 500")
    sandbox.sandbox.set_faults("x", error_after_accept=1)
    with pytest.raises(OutcomeUnknown):
        adapter.publish(ref, None)
    assert adapter.reconcile(ref).remote_id == sandbox.sandbox.posts("x")[0]["remote_id"]


def test_reconcile_reports_not_published_when_the_timeline_lacks_the_text(sandbox: SandboxServer) -> None:
    with pytest.raises(NotPublished):
        x_adapter(sandbox.base_url("x")).reconcile(delivery("Never sent"))


@pytest.mark.slow  # waits for a read timeout
def test_read_timeout_after_sending_is_unknown_and_does_not_wait_long(sandbox: SandboxServer) -> None:
    sandbox.sandbox.set_faults("x", latency_ms=4000)
    adapter = x_adapter(sandbox.base_url("x"), timeout=0.3)
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown):
        adapter.publish(delivery("Slow"), None)
    assert time.monotonic() - started < 2.5  # gave up after its 0.3 s read timeout, long before the 4 s answer
    deadline = time.monotonic() + 10  # the server still creates the post: exactly why the outcome is unknown
    while not sandbox.sandbox.posts("x") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(sandbox.sandbox.posts("x")) == 1


def test_daily_cap_exhaustion_waits_for_the_later_24_hour_reset() -> None:
    now = int(time.time())
    headers = {"x-rate-limit-reset": str(now + 60), "x-user-limit-24hour-remaining": "0",
               "x-user-limit-24hour-reset": str(now + 5 * 3600), "x-app-limit-24hour-remaining": "17",
               "x-app-limit-24hour-reset": str(now + 9 * 3600)}
    assert rate_reset(headers) == datetime.fromtimestamp(now + 5 * 3600, UTC)
    adapter = x_adapter(None)
    with responses.RequestsMock() as rsps:
        rsps.post("https://api.twitter.com/2/tweets", status=429, headers=headers,
                  json={"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429})
        with pytest.raises(RateLimited) as info:
            adapter.publish(delivery("capped"), None)
    assert info.value.retry_at == datetime.fromtimestamp(now + 5 * 3600, UTC)


def test_429_without_reset_header_falls_back_to_the_15_minute_window() -> None:
    assert timedelta(minutes=14) < rate_reset({}) - datetime.now(UTC) <= timedelta(minutes=15)


def test_reconcile_matches_a_tco_shortened_and_entity_escaped_text() -> None:
    assert normalise("Fixed &amp; done https://t.co/g192O6wOAu") == normalise("Fixed & done https://status.example.com/i/42")
    adapter = x_adapter(None, user_id="42")
    with responses.RequestsMock() as rsps:
        rsps.get("https://api.twitter.com/2/users/42/tweets", json={"data": [
            {"id": "9", "text": "Other"}, {"id": "8", "text": "Fixed &amp; done https://t.co/g192O6wOAu"}]})
        found = adapter.reconcile(delivery("Fixed & done https://status.example.com/i/42"))
    assert found.remote_id == "8"


def test_verify_returns_the_account_handle(sandbox: SandboxServer) -> None:
    assert x_adapter(sandbox.base_url("x")).verify().startswith("@sandbox_")


def test_reconcile_without_read_access_asks_a_human_instead_of_deferring_forever() -> None:
    adapter = x_adapter(None, user_id="42")
    with responses.RequestsMock() as rsps:
        rsps.get("https://api.twitter.com/2/users/42/tweets", status=403, json={
            "detail": "You are not permitted to perform this action.", "type": "about:blank", "title": "Forbidden",
            "status": 403})
        with pytest.raises(ReconcileUnsupported, match="not permitted"):
            adapter.reconcile(delivery("Anything"))
