"""The Facebook Pages adapter against the sandbox: the shared contract plus Graph specifics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

import pytest
import responses

from publisher.channels import facebook as facebook_module
from publisher.channels.facebook import FacebookChannel, config_problems, usage_wait
from publisher.errors import (
    AuthExpired,
    NotPublished,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    ReconcileUnsupported,
    TransientError,
)
from publisher.models import Receipt
from publisher.sandbox.core import Request
from publisher.sandbox.server import SandboxServer
from publisher.settings import AccountConfig
from tests.channels.contract import CANARY, ChannelContract, closed_port, delivery, unique_text
from tests.conftest import SHARED

PAGE_ID = "175154750010052"
GRAPH = "https://graph.facebook.com/v26.0"
CASSETTES = SHARED / "cassettes" / "python-facebook"


def build_facebook(base_url: str, token: str) -> tuple[AccountConfig, dict[str, str]]:
    account = AccountConfig(name="acme", channel="facebook", kind="organisation", base_url=base_url,
                            credentials={"page_token": "env:FB_PAGE_TOKEN"}, options={"page_id": PAGE_ID})
    return account, {"page_token": token}


class TestFacebookContract(ChannelContract):
    channel = "facebook"
    build = staticmethod(build_facebook)
    rate_reset_granularity = 60  # estimated_time_to_regain_access is in minutes


def fb(base_url: str | None, token: str = CANARY, **options: object) -> FacebookChannel:
    account, creds = build_facebook(base_url or "", token)
    account = account.model_copy(update={"base_url": base_url, "options": {**account.options, **options}})
    return FacebookChannel(account, creds)


def graph_json(status: int, body: object, **headers: str) -> dict[str, object]:
    return {"status": status, "body": json.dumps(body), "content_type": "application/json; charset=UTF-8",
            "headers": headers}


# -- requests on the wire --

def test_posts_go_to_the_configured_graph_version_with_the_token_in_a_header_only() -> None:
    import facebook

    adapter = fb(None)
    with responses.RequestsMock() as rsps:
        rsps.post(f"{GRAPH}/{PAGE_ID}/feed", **graph_json(200, {"id": f"{PAGE_ID}_1"}))  # type: ignore[arg-type]
        receipt = adapter.publish(delivery("Hello"), None)
        sent = rsps.calls[0].request
    assert receipt.remote_id == f"{PAGE_ID}_1"
    assert receipt.url == f"https://www.facebook.com/{PAGE_ID}/posts/1"
    assert sent.headers["Authorization"] == f"OAuth {CANARY}"
    assert CANARY not in (sent.url or "") and CANARY not in str(sent.body)
    assert "message=Hello" in str(sent.body)
    assert facebook.FACEBOOK_GRAPH_URL == "https://graph.facebook.com/"  # never patched globally


def test_two_accounts_with_different_base_urls_do_not_share_a_route(sandbox: SandboxServer) -> None:
    good = fb(sandbox.base_url("facebook"))
    dead = fb(f"http://127.0.0.1:{closed_port()}/facebook")
    assert good.publish(delivery("One"), None).remote_id
    with pytest.raises(TransientError):
        dead.publish(delivery("Two"), None)
    assert good.publish(delivery("Three"), None).remote_id


# -- outcomes --

def test_duplicate_status_message_is_reconciled_to_the_existing_post(sandbox: SandboxServer) -> None:
    adapter = fb(sandbox.base_url("facebook"))
    first = adapter.publish(delivery("Still investigating"), None)
    with pytest.raises(OutcomeUnknown) as info:
        adapter.publish(delivery("Still investigating"), None)
    assert info.value.existing is not None and info.value.existing.remote_id == first.remote_id


def test_policy_block_368_is_permanent_and_says_to_wait() -> None:
    body = {"error": {"message": "It looks like you were misusing this feature by going too fast.",
                      "type": "OAuthException", "code": 368, "error_subcode": 1390008, "fbtrace_id": "A1"}}
    with responses.RequestsMock() as rsps:
        rsps.post(f"{GRAPH}/{PAGE_ID}/feed", **graph_json(400, body))  # type: ignore[arg-type]
        with pytest.raises(PermanentError, match="#368") as info:
            fb(None).publish(delivery("Hi"), None)
    assert info.value.hint and "wait" in info.value.hint


def test_missing_permission_is_permanent_with_the_permission_hint(sandbox: SandboxServer) -> None:
    with pytest.raises(PermanentError, match="#200") as info:
        fb(sandbox.base_url("facebook"), token="noperm-token").publish(delivery("Hi"), None)
    assert info.value.hint and "pages_manage_posts" in info.value.hint


def test_revoked_page_token_is_auth_expired(sandbox: SandboxServer) -> None:
    with pytest.raises(AuthExpired):
        fb(sandbox.base_url("facebook"), token="revoked-page-token").publish(delivery("Hi"), None)


def test_throttle_without_usage_headers_waits_one_hour() -> None:
    body = {"error": {"message": "(#4) Application request limit reached", "type": "OAuthException",
                      "is_transient": True, "code": 4, "fbtrace_id": "x"}}
    with responses.RequestsMock() as rsps:
        rsps.post(f"{GRAPH}/{PAGE_ID}/feed", **graph_json(403, body))  # type: ignore[arg-type]
        with pytest.raises(RateLimited) as info:
            fb(None).publish(delivery("Hi"), None)
    wait = info.value.retry_at - datetime.now(UTC)
    assert timedelta(minutes=59) < wait <= timedelta(hours=1)


def test_usage_headers_give_regain_time_in_minutes_and_feed_last_rate(sandbox: SandboxServer) -> None:
    now = datetime(2026, 11, 22, tzinfo=UTC)
    header = {"x-business-use-case-usage": json.dumps({PAGE_ID: [{"type": "pages", "call_count": 97,
              "total_cputime": 23, "total_time": 23, "estimated_time_to_regain_access": 7}]})}
    assert usage_wait(header, now) == (now + timedelta(minutes=7), 97)
    adapter = fb(sandbox.base_url("facebook"))
    adapter.publish(delivery("Usage"), None)
    assert adapter.last_rate is not None and adapter.last_rate.limit == 100
    assert adapter.last_rate.remaining is not None and 0 <= adapter.last_rate.remaining <= 100


def test_server_error_after_accept_is_unknown_and_reconciled(sandbox: SandboxServer) -> None:
    adapter = fb(sandbox.base_url("facebook"))
    ref = delivery("Accepted then 500")
    sandbox.sandbox.set_faults("facebook", error_after_accept=1)
    with pytest.raises(OutcomeUnknown):
        adapter.publish(ref, None)
    assert adapter.reconcile(ref).remote_id == sandbox.sandbox.posts("facebook")[0]["remote_id"]


# -- threads --

def test_every_thread_continuation_is_a_comment_on_the_first_post(sandbox: SandboxServer) -> None:
    adapter = fb(sandbox.base_url("facebook"))
    root = adapter.publish(delivery("Outage: investigating"), None)
    second = adapter.publish(delivery("Update: cause found", seq=2), root)
    third = adapter.publish(delivery("Resolved", seq=3), second)
    posts = sandbox.sandbox.posts("facebook")
    assert [p.get("in_reply_to") for p in posts] == [None, root.remote_id, root.remote_id]
    assert third.data["root"] == root.remote_id
    assert third.url and third.url.startswith(f"https://www.facebook.com/{PAGE_ID}/posts/") and "comment_id=" in third.url


def test_a_dropped_comment_is_found_by_reconcile(sandbox: SandboxServer) -> None:
    adapter = fb(sandbox.base_url("facebook"))
    root = adapter.publish(delivery("Outage: investigating"), None)
    ref = delivery("Update: cause found", seq=2, parent=root)
    sandbox.sandbox.set_faults("facebook", drop_after_accept=1)
    with pytest.raises(OutcomeUnknown):
        adapter.publish(ref, root)
    found = adapter.reconcile(ref)
    assert found.remote_id == sandbox.sandbox.posts("facebook")[1]["remote_id"]
    assert found.data["root"] == root.remote_id


def crowd(server: SandboxServer, n: int) -> None:
    """``n`` more posts on the Page, straight into the emulator (loopback round trips would only cost time)."""
    for i in range(n):
        server.platforms["facebook"].handle(Request("POST", f"/v26.0/{PAGE_ID}/feed", {}, {
            "authorization": f"OAuth {CANARY}", "content-type": "application/x-www-form-urlencoded"},
            urlencode({"message": unique_text(f"other {i}")}).encode()))


def test_reconcile_reads_the_feed_past_a_full_page_to_the_first_attempt(sandbox: SandboxServer) -> None:
    adapter = fb(sandbox.base_url("facebook"))
    now = datetime.now(UTC)
    ref = delivery(unique_text("page two"), created_at=now, first_attempt_at=now, attempt_at=now)
    sandbox.sandbox.set_faults("facebook", drop_after_accept=1)
    with pytest.raises(OutcomeUnknown):
        adapter.publish(ref, None)
    crowd(sandbox, 130)
    assert adapter.reconcile(ref).remote_id == sandbox.sandbox.posts("facebook")[0]["remote_id"]


def test_reconcile_cannot_tell_when_the_feed_is_too_long_to_read(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(facebook_module, "MAX_PAGES", 1)
    crowd(sandbox, 105)
    with pytest.raises(ReconcileUnsupported):
        fb(sandbox.base_url("facebook")).reconcile(delivery(unique_text("never sent")))


def test_reconcile_of_a_reply_says_not_published_only_after_reading_every_comment(sandbox: SandboxServer) -> None:
    adapter = fb(sandbox.base_url("facebook"))
    root = adapter.publish(delivery("Outage: investigating"), None)
    for i in range(120):
        adapter.publish(delivery(unique_text(f"comment {i}"), seq=2, parent=root), root)
    with pytest.raises(NotPublished):
        adapter.reconcile(delivery(unique_text("never sent"), seq=2, parent=root))


# -- configuration --

def test_group_targets_are_refused_because_groups_posting_was_removed() -> None:
    account, _ = build_facebook("", CANARY)
    assert config_problems(account) == []
    group = account.model_copy(update={"options": {**account.options, "target": "group"}})
    problems = config_problems(group)
    assert len(problems) == 1 and "2024-04-22" in problems[0]


def test_config_problems_name_a_missing_page_and_a_bad_version() -> None:
    account = AccountConfig(name="a", channel="facebook", options={"graph_version": "26.0"})
    problems = " | ".join(config_problems(account))
    assert "page_id" in problems and "graph_version" in problems and "page_token" in problems


# -- recorded exchanges (python-facebook testdata, real Graph bodies) --

def test_recorded_comment_creation_replays_to_the_same_receipt() -> None:
    body = json.loads((CASSETTES / "comments_create_resp.json").read_text())
    root = "245628824887810_245778718206154"
    with responses.RequestsMock() as rsps:
        rsps.post(f"{GRAPH}/{root}/comments", **graph_json(200, body))  # type: ignore[arg-type]
        receipt = fb(None).publish(delivery("Message from api", seq=2), Receipt(remote_id=root, data={"root": root}))
    assert receipt.remote_id == "245778718206154_229887283291835"
    assert receipt.url == "https://www.facebook.com/245628824887810/posts/245778718206154?comment_id=229887283291835"
    assert receipt.data == {"root": root}


def test_recorded_permission_error_replays_as_permanent() -> None:
    body = json.loads((CASSETTES / "error_data.json").read_text())
    with responses.RequestsMock() as rsps:
        rsps.post(f"{GRAPH}/{PAGE_ID}/feed", **graph_json(400, body))  # type: ignore[arg-type]
        with pytest.raises(PermanentError, match=r"#100.*pages_read_engagement"):
            fb(None).publish(delivery("Hi"), None)


def test_recorded_post_object_is_matched_by_reconcile() -> None:
    post = json.loads((CASSETTES / "single_post_data.json").read_text())
    with responses.RequestsMock() as rsps:
        rsps.get(f"{GRAPH}/{PAGE_ID}/feed", **graph_json(200, {"data": [post]}))  # type: ignore[arg-type]
        found = fb(None).reconcile(delivery(post["message"]))
    assert found.remote_id == post["id"]
    assert found.url == post["permalink_url"]


def test_reconcile_without_read_permission_asks_a_human_instead_of_deferring_forever() -> None:
    body = {"error": {"message": "(#283) Requires pages_read_engagement permission to manage the object",
                      "type": "OAuthException", "code": 283, "fbtrace_id": "x"}}
    with responses.RequestsMock() as rsps:
        rsps.get(f"{GRAPH}/{PAGE_ID}/feed", **graph_json(400, body))  # type: ignore[arg-type]
        with pytest.raises(ReconcileUnsupported, match="#283"):
            fb(None).reconcile(delivery("Anything"))


def test_a_duplicate_refusal_on_a_retry_soon_after_the_first_attempt_is_left_to_reconcile(
    sandbox: SandboxServer
) -> None:
    """Not listed (yet) is no proof that the duplicate is an older post rather than our first attempt's."""
    adapter = fb(sandbox.base_url("facebook"))
    adapter.publish(delivery("Still investigating"), None)
    sandbox.sandbox.ledger[0]["at"] -= 3600  # as if the feed did not list it since the first attempt
    now = datetime.now(UTC)
    with pytest.raises(PermanentError, match="#506"):
        adapter.publish(delivery("Still investigating", created_at=now, first_attempt_at=now, attempt_at=now), None)
    retry = delivery("Still investigating", attempt=2, created_at=now, first_attempt_at=now, attempt_at=now)
    with pytest.raises(OutcomeUnknown, match="#506"):
        adapter.publish(retry, None)
