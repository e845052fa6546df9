"""The LinkedIn adapter against the sandbox: the shared contract plus Posts API specifics."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import responses

from publisher.channels.linkedin import LinkedInChannel, config_problems, escape_little, rate_wait
from publisher.errors import OutcomeUnknown, PermanentError, ReconcileUnsupported
from publisher.sandbox.core import Request
from publisher.sandbox.linkedin import member_id
from publisher.sandbox.server import SandboxServer
from publisher.settings import AccountConfig
from tests.channels.contract import CANARY, ChannelContract, delivery, unique_text


def build_linkedin(base_url: str, token: str) -> tuple[AccountConfig, dict[str, str]]:
    account = AccountConfig(name="acme", channel="linkedin", base_url=base_url,
                            credentials={"access_token": "env:LI_TOKEN"},
                            options={"author_urn": f"urn:li:person:{member_id(token)}"})
    return account, {"access_token": token}


class TestLinkedInContract(ChannelContract):
    channel = "linkedin"
    build = staticmethod(build_linkedin)
    rate_reset_from_headers = False  # LinkedIn documents no reset header


# -- LinkedIn specifics --


def li(base_url: str | None, token: str = CANARY, **changes: Any) -> LinkedInChannel:
    account, creds = build_linkedin(base_url or "", token)
    options = {**account.options, **changes.pop("options", {})}
    account = account.model_copy(update={"base_url": base_url, "options": options, **changes})
    return LinkedInChannel(account, creds)


def test_reserved_characters_are_escaped_so_the_whole_text_is_published(sandbox: SandboxServer) -> None:
    text = r"Q3 #update: (beta) for @team_x [ops] <now> *really* ~soon~ {a|b} back\slash"
    receipt = li(sandbox.base_url("linkedin")).publish(delivery(text), None)
    post = sandbox.sandbox.posts("linkedin")[0]
    assert post["remote_id"] == receipt.remote_id
    assert post["text"] == text
    assert post["commentary"] == escape_little(text)
    assert escape_little("a_b") == r"a\_b" and escape_little("\\") == "\\\\"


def test_receipt_is_the_urn_from_the_header_with_the_feed_permalink(sandbox: SandboxServer) -> None:
    receipt = li(sandbox.base_url("linkedin")).publish(delivery("Permalink"), None)
    assert receipt.remote_id.startswith("urn:li:share:")
    assert receipt.url == f"https://www.linkedin.com/feed/update/{receipt.remote_id}/"


def test_duplicate_post_carries_the_existing_urn_and_reconcile_returns_it(sandbox: SandboxServer) -> None:
    adapter = li(sandbox.base_url("linkedin"))
    first = adapter.publish(delivery("Still investigating"), None)
    ref = delivery("Still investigating")
    with pytest.raises(OutcomeUnknown) as info:
        adapter.publish(ref, None)
    assert info.value.existing is not None and info.value.existing.remote_id == first.remote_id
    assert adapter.reconcile(ref).remote_id == first.remote_id


def test_sunset_version_is_permanent_and_names_the_option_to_change(sandbox: SandboxServer) -> None:
    adapter = li(sandbox.base_url("linkedin"), options={"linkedin_version": "202301"})
    with pytest.raises(PermanentError, match="202301") as info:
        adapter.publish(delivery("Old version"), None)
    assert info.value.hint and "linkedin_version" in info.value.hint


def test_access_denied_is_a_permission_error(sandbox: SandboxServer) -> None:
    adapter = li(sandbox.base_url("linkedin"), token="noperm-token")
    with pytest.raises(PermanentError, match="ACCESS_DENIED") as info:
        adapter.publish(delivery("No permission"), None)
    assert info.value.hint and "w_member_social" in info.value.hint


def test_throttling_waits_an_hour_or_until_midnight_utc_if_sooner() -> None:
    noon = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert rate_wait({}, noon) == noon + timedelta(hours=1)
    late = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
    assert rate_wait({}, late) == datetime(2026, 11, 23, tzinfo=UTC)
    assert rate_wait({"retry-after": "120"}, noon) == noon + timedelta(seconds=120)


def test_author_urn_must_match_the_account_kind(sandbox: SandboxServer) -> None:
    adapter = li(sandbox.base_url("linkedin"), kind="organisation")
    assert any("organisation" in p for p in config_problems(adapter.account))
    with pytest.raises(PermanentError, match="author_urn"):
        adapter.publish(delivery("Wrong author kind"), None)
    assert sandbox.sandbox.posts("linkedin") == []


def test_verify_refuses_a_token_of_another_member(sandbox: SandboxServer) -> None:
    adapter = li(sandbox.base_url("linkedin"), options={"author_urn": "urn:li:person:someoneelse"})
    with pytest.raises(PermanentError, match="another member"):
        adapter.verify()


def test_verify_of_an_organisation_returns_its_name(sandbox: SandboxServer) -> None:
    adapter = li(sandbox.base_url("linkedin"), kind="organisation", options={"author_urn": "urn:li:organization:42"})
    assert adapter.verify() == "Sandbox Org 42"


def test_thread_continuations_are_comments_on_the_first_post(sandbox: SandboxServer) -> None:
    adapter = li(sandbox.base_url("linkedin"))
    root = adapter.publish(delivery("Outage: investigating"), None)
    second = adapter.publish(delivery("Update (cause found)", seq=2), root)
    third = adapter.publish(delivery("Resolved", seq=3), second)
    posts = sandbox.sandbox.posts("linkedin")
    assert [p.get("in_reply_to") for p in posts] == [None, root.remote_id, root.remote_id]
    assert posts[1]["text"] == "Update (cause found)"  # comments are plain text, not little format
    assert third.data["root"] == root.remote_id and third.remote_id.startswith("urn:li:comment:")
    assert third.url and third.url.startswith(f"https://www.linkedin.com/feed/update/{root.remote_id}/?commentUrn=")


def test_a_dropped_comment_is_found_by_reconcile(sandbox: SandboxServer) -> None:
    adapter = li(sandbox.base_url("linkedin"))
    root = adapter.publish(delivery("Outage: investigating"), None)
    ref = delivery("Update: cause found", seq=2, parent=root)
    sandbox.sandbox.set_faults("linkedin", drop_after_accept=1)
    with pytest.raises(OutcomeUnknown):
        adapter.publish(ref, root)
    assert adapter.reconcile(ref).remote_id == sandbox.sandbox.posts("linkedin")[1]["remote_id"]


def test_reconcile_reads_the_author_posts_past_a_full_page_to_the_first_attempt(sandbox: SandboxServer) -> None:
    adapter = li(sandbox.base_url("linkedin"))
    now = datetime.now(UTC)
    ref = delivery(unique_text("page two"), created_at=now, first_attempt_at=now, attempt_at=now)
    sandbox.sandbox.set_faults("linkedin", drop_after_accept=1)
    with pytest.raises(OutcomeUnknown):
        adapter.publish(ref, None)
    platform = sandbox.platforms["linkedin"]
    for i in range(130):  # straight into the emulator: loopback round trips would only cost time
        platform.handle(Request("POST", "/rest/posts", {}, {
            "authorization": f"Bearer {CANARY}", "linkedin-version": "202610", "x-restli-protocol-version": "2.0.0",
            "content-type": "application/json"}, json.dumps({
                "author": adapter.author, "commentary": unique_text(f"other {i}"), "visibility": "PUBLIC",
                "distribution": {"feedDistribution": "MAIN_FEED"}, "lifecycleState": "PUBLISHED"}).encode()))
    assert adapter.reconcile(ref).remote_id == sandbox.sandbox.posts("linkedin")[0]["remote_id"]


def test_reconcile_is_unsupported_when_the_token_cannot_read_posts() -> None:
    adapter = li(None)
    with responses.RequestsMock() as rsps:
        rsps.get("https://api.linkedin.com/rest/posts", status=403, json={
            "status": 403, "serviceErrorCode": 100, "code": "ACCESS_DENIED",
            "message": "Not enough permissions to access: partnerApiPostsExternal.FINDER-author"})
        with pytest.raises(ReconcileUnsupported):
            adapter.reconcile(delivery("Anything"))


def test_requests_carry_the_version_and_restli_headers_and_a_bearer_token() -> None:
    adapter = li(None)
    with responses.RequestsMock() as rsps:
        rsps.post("https://api.linkedin.com/rest/posts", status=201, headers={"x-restli-id": "urn:li:share:1"})
        adapter.publish(delivery("Headers"), None)
        sent = rsps.calls[0].request
    assert sent.headers["LinkedIn-Version"] == "202610"
    assert sent.headers["X-Restli-Protocol-Version"] == "2.0.0"
    assert sent.headers["Authorization"] == f"Bearer {CANARY}"
    body = json.loads(sent.body or b"{}")
    assert body["lifecycleState"] == "PUBLISHED" and body["visibility"] == "PUBLIC"
    assert body["distribution"]["feedDistribution"] == "MAIN_FEED"
