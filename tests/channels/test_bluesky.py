"""The Bluesky adapter against the sandbox: the shared contract plus Bluesky specifics."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest
import responses
import yaml

from publisher.channels import bluesky_session
from publisher.channels.bluesky import BlueskyChannel
from publisher.channels.bluesky_facets import facets
from publisher.channels.bluesky_tid import TID_BASE_US, decode, is_tid, rkey_for
from publisher.errors import (
    AuthExpired,
    ContentTooLong,
    InputError,
    NotPublished,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    TransientError,
)
from publisher.models import Content, DeliveryRef, Payload, Receipt
from publisher.sandbox.bluesky import BlueskyPlatform, did_for
from publisher.sandbox.server import SandboxServer
from publisher.settings import AccountConfig
from tests.channels.contract import CANARY, ChannelContract, delivery, unique_text
from tests.conftest import SHARED

IDENTIFIER = "acme-noc.bsky.social"
CASSETTES = SHARED / "cassettes"
DOCS_EXAMPLE = "✨ example mentioning @atproto.com to share the URL 👨‍❤️‍👨 https://en.wikipedia.org/wiki/CBOR."


def build_bluesky(base_url: str, token: str) -> tuple[AccountConfig, dict[str, str]]:
    account = AccountConfig(name="acme", channel="bluesky", base_url=base_url)
    return account, {"identifier": IDENTIFIER, "app_password": token}


class TestBlueskyContract(ChannelContract):
    channel = "bluesky"
    build = staticmethod(build_bluesky)


# -- Bluesky specifics --


def bluesky(base_url: str | None, password: str = CANARY, identifier: str = IDENTIFIER) -> BlueskyChannel:
    return BlueskyChannel(AccountConfig(name="acme", channel="bluesky", base_url=base_url),
                          {"identifier": identifier, "app_password": password})


def ref(text: str, **kw: Any) -> DeliveryRef:
    return delivery(text, channel="bluesky", **kw)


def pds(server: SandboxServer) -> BlueskyPlatform:
    found = server.platforms["bluesky"]
    assert isinstance(found, BlueskyPlatform)
    return found


@pytest.fixture
def fresh_sessions() -> None:
    """Start without a cached login, as a new worker process would."""
    bluesky_session.forget_sessions()


def test_the_docs_example_gets_mention_and_link_facets_at_its_utf8_byte_offsets() -> None:
    found = facets(DOCS_EXAMPLE, lambda handle: "did:plc:atproto" if handle == "atproto.com" else None)
    assert [(f["index"]["byteStart"], f["index"]["byteEnd"]) for f in found] == [(23, 35), (74, 108)]
    assert found[0]["features"] == [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:atproto"}]
    assert found[1]["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": "https://en.wikipedia.org/wiki/CBOR"}]


def test_hashtags_are_tag_facets_without_the_hash_and_numbers_are_not_tags() -> None:
    text = "Störung behoben #NOC, nicht #2024 (https://example.com/x#frag)"
    found = facets(text, lambda handle: None)
    tags = [f["features"][0] for f in found if f["features"][0]["$type"].endswith("#tag")]
    assert tags == [{"$type": "app.bsky.richtext.facet#tag", "tag": "NOC"}]
    raw = text.encode()
    assert [raw[f["index"]["byteStart"]:f["index"]["byteEnd"]].decode() for f in found] == [
        "#NOC", "https://example.com/x#frag"]


def test_published_record_carries_resolved_mention_facets_langs_and_created_at(sandbox: SandboxServer) -> None:
    adapter = bluesky(sandbox.base_url("bluesky"))
    d = DeliveryRef(id="b-facets-1", post_id="p", account="acme", channel="bluesky",
                    payload=Payload(text=DOCS_EXAMPLE, language="en"))
    receipt = adapter.publish(d, None)
    rkey = receipt.remote_id.rsplit("/", 1)[1]
    record = pds(sandbox).repos[receipt.data["did"]][rkey]["value"]
    assert [(f["index"]["byteStart"], f["index"]["byteEnd"]) for f in record["facets"]] == [(23, 35), (74, 108)]
    assert record["facets"][0]["features"][0]["did"].startswith("did:plc:")
    assert record["langs"] == ["en"] and record["createdAt"].endswith("Z")
    assert rkey == rkey_for("b-facets-1")
    assert receipt.url == f"https://bsky.app/profile/{IDENTIFIER}/post/{rkey}"


@pytest.mark.parametrize(("text", "expected"), [
    ("🚨 Störung in Bodø: @noc.example.com meldet Ausfall 👨\u200d👩\u200d👧, Details https://status.example.no/inc/4711 "
     "#Störung", ["@noc.example.com", "https://status.example.no/inc/4711", "#Störung"]),
    ("障害発生 🔥 @ops.example.jp 対応中 https://例え.jp/パス?q=日本 #障害 終わり",
     ["@ops.example.jp", "https://例え.jp/パス?q=日本", "#障害"]),
    ("Привет @dev.example.org! См. https://example.org/путь, #инцидент.",
     ["@dev.example.org", "https://example.org/путь", "#инцидент"]),
    ("👍@a.example.com✨ #🔥 ok #tag👍 https://x.example/🙂", ["@a.example.com", "#🔥", "#tag👍", "https://x.example/🙂"]),
])
def test_published_facets_slice_the_utf8_text_to_exactly_the_mention_link_and_tag(
    sandbox: SandboxServer, text: str, expected: list[str]
) -> None:
    """The PDS accepts any byte range (as the real one does), so the adapter's offsets are checked here: slicing the
    stored record's UTF-8 bytes at byteStart:byteEnd must give exactly what each feature says."""
    receipt = bluesky(sandbox.base_url("bluesky")).publish(ref(text), None)
    record = pds(sandbox).repos[receipt.data["did"]][receipt.remote_id.rsplit("/", 1)[1]]["value"]
    raw = record["text"].encode("utf-8")
    sliced = []
    for facet in record["facets"]:
        piece = raw[facet["index"]["byteStart"]:facet["index"]["byteEnd"]].decode("utf-8")
        [feature] = facet["features"]
        if feature["$type"].endswith("#mention"):
            assert feature["did"] == did_for(piece[1:])
        elif feature["$type"].endswith("#link"):
            assert feature["uri"] == piece
        else:
            assert "#" + feature["tag"] == piece
        sliced.append(piece)
    assert sliced == expected


def test_an_unresolvable_mention_is_left_as_plain_text_and_the_post_still_publishes(sandbox: SandboxServer) -> None:
    receipt = bluesky(sandbox.base_url("bluesky")).publish(ref(f"ping @nobody.example.com {unique_text('m')}"), None)
    rkey = receipt.remote_id.rsplit("/", 1)[1]
    assert "facets" not in pds(sandbox).repos[receipt.data["did"]][rkey]["value"]


def test_record_keys_are_valid_tids_fixed_per_delivery_and_distinct_between_deliveries() -> None:
    keys = {rkey_for(f"delivery-{i}") for i in range(2000)}
    assert len(keys) == 2000 and all(is_tid(k) for k in keys)
    assert rkey_for("delivery-7") == rkey_for("delivery-7")
    micros, clock = decode(rkey_for("delivery-7"))
    assert TID_BASE_US <= micros < TID_BASE_US + 2**45 and 0 <= clock < 1024


def test_a_thread_replies_with_root_and_parent_strong_refs(sandbox: SandboxServer) -> None:
    adapter = bluesky(sandbox.base_url("bluesky"))
    root = adapter.publish(ref(unique_text("root")), None)
    child = adapter.publish(ref(unique_text("child"), seq=2), root)
    grandchild = adapter.publish(ref(unique_text("grandchild"), seq=3), child)
    repo = pds(sandbox).repos[root.data["did"]]
    reply = repo[grandchild.remote_id.rsplit("/", 1)[1]]["value"]["reply"]
    assert reply["root"] == {"uri": root.remote_id, "cid": root.data["cid"]}
    assert reply["parent"] == {"uri": child.remote_id, "cid": child.data["cid"]}
    assert grandchild.data["root_uri"] == root.remote_id


def test_a_reply_to_a_receipt_without_cid_looks_the_parent_up(sandbox: SandboxServer) -> None:
    adapter = bluesky(sandbox.base_url("bluesky"))
    root = adapter.publish(ref(unique_text("root")), None)
    adapter.publish(ref(unique_text("child"), seq=2), Receipt(root.remote_id))
    assert sandbox.sandbox.posts("bluesky")[1]["in_reply_to"] == root.remote_id


def test_an_expired_token_is_refreshed_once_and_one_login_serves_every_post(
    sandbox: SandboxServer, fresh_sessions: None
) -> None:
    calls = pds(sandbox).calls
    logins, refreshes = calls.get("com.atproto.server.createSession", 0), calls.get("com.atproto.server.refreshSession", 0)
    bluesky(sandbox.base_url("bluesky")).publish(ref(unique_text("first")), None)
    pds(sandbox).expire_access_tokens()
    for i in range(5):
        bluesky(sandbox.base_url("bluesky")).publish(ref(unique_text(f"after {i}")), None)  # a new adapter each time
    assert len(sandbox.sandbox.posts("bluesky")) == 6
    assert calls["com.atproto.server.createSession"] - logins == 1
    assert calls["com.atproto.server.refreshSession"] - refreshes == 1


def test_concurrent_posts_of_a_new_worker_share_one_login(sandbox: SandboxServer, fresh_sessions: None) -> None:
    logins = pds(sandbox).calls.get("com.atproto.server.createSession", 0)
    errors: list[BaseException] = []

    def post(i: int) -> None:
        try:
            bluesky(sandbox.base_url("bluesky")).publish(ref(unique_text(f"thread {i}")), None)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not errors and len(sandbox.sandbox.posts("bluesky")) == 8
    assert pds(sandbox).calls["com.atproto.server.createSession"] - logins == 1


def test_two_workers_refreshing_one_inherited_session_both_publish_without_a_new_login(
    sandbox: SandboxServer, fresh_sessions: None
) -> None:
    """Dramatiq forks its worker processes: a session cached before the fork is refreshed by every child with the
    same refresh token. The real PDS accepts the reuse within its 2 h grace; nothing may fall back to a login."""
    bluesky(sandbox.base_url("bluesky")).publish(ref(unique_text("before the fork")), None)
    inherited = dict(bluesky_session._sessions)  # what the second worker's memory holds after the fork
    pds(sandbox).expire_access_tokens()
    logins, refreshes = pds(sandbox).calls["com.atproto.server.createSession"], pds(sandbox).calls.get(
        "com.atproto.server.refreshSession", 0)
    bluesky(sandbox.base_url("bluesky")).publish(ref(unique_text("worker one")), None)  # refreshes, rotates
    bluesky_session._sessions.update(inherited)  # now the second worker, still holding the pre-fork session
    bluesky(sandbox.base_url("bluesky")).publish(ref(unique_text("worker two")), None)
    assert len(sandbox.sandbox.posts("bluesky")) == 3
    assert pds(sandbox).calls["com.atproto.server.refreshSession"] - refreshes == 2
    assert pds(sandbox).calls["com.atproto.server.createSession"] - logins == 0


def test_a_failed_refresh_falls_back_to_one_new_login_and_publishes(sandbox: SandboxServer, fresh_sessions: None) -> None:
    adapter = bluesky(sandbox.base_url("bluesky"))
    adapter.publish(ref(unique_text("before")), None)
    logins = pds(sandbox).calls["com.atproto.server.createSession"]
    for info in pds(sandbox).tokens.values():
        info["revoked"] = info["scope"] == "com.atproto.refresh"
    pds(sandbox).expire_access_tokens()
    adapter.publish(ref(unique_text("after")), None)
    assert pds(sandbox).calls["com.atproto.server.createSession"] - logins == 1
    assert len(sandbox.sandbox.posts("bluesky")) == 2


def test_a_refused_login_is_auth_expired_without_the_password(sandbox: SandboxServer) -> None:
    with pytest.raises(AuthExpired) as info:
        bluesky(sandbox.base_url("bluesky"), password="wrong-" + CANARY).publish(ref(unique_text("x")), None)
    assert CANARY not in str(info.value)
    assert sandbox.sandbox.posts("bluesky") == []


def test_reconcile_after_a_dropped_connection_finds_the_record_and_a_resend_never_duplicates(
    sandbox: SandboxServer,
) -> None:
    adapter = bluesky(sandbox.base_url("bluesky"))
    d = ref(unique_text("dropped"))
    sandbox.sandbox.set_faults("bluesky", drop_after_accept=1)
    with pytest.raises(OutcomeUnknown):
        adapter.publish(d, None)
    found = bluesky(sandbox.base_url("bluesky")).reconcile(d)
    [post] = sandbox.sandbox.posts("bluesky")
    assert found.remote_id == post["remote_id"] and found.data["cid"]
    with pytest.raises(OutcomeUnknown, match="500"):  # the same record key again: the PDS's duplicate-key 500
        adapter.publish(d, None)
    assert len(sandbox.sandbox.posts("bluesky")) == 1


def test_reconcile_of_a_delivery_that_never_arrived_is_not_published(sandbox: SandboxServer) -> None:
    with pytest.raises(NotPublished):
        bluesky(sandbox.base_url("bluesky")).reconcile(ref(unique_text("never")))


def test_reconcile_finds_the_record_by_its_key_even_behind_more_posts_than_one_listing_page(
    sandbox: SandboxServer,
) -> None:
    """The record key lookup is definitive: a listing (listRecords, getAuthorFeed: 100 a page) would not see a post
    this far back and must never be what "not published" rests on."""
    adapter = bluesky(sandbox.base_url("bluesky"))
    d = ref(unique_text("far back"))
    sandbox.sandbox.set_faults("bluesky", drop_after_accept=1)
    with pytest.raises(OutcomeUnknown):
        adapter.publish(d, None)
    for i in range(120):
        adapter.publish(ref(unique_text(f"later {i}")), None)
    calls_before = dict(pds(sandbox).calls)
    found = adapter.reconcile(d)
    assert found.remote_id == sandbox.sandbox.posts("bluesky")[0]["remote_id"]
    asked = {k: v - calls_before.get(k, 0) for k, v in pds(sandbox).calls.items() if v != calls_before.get(k, 0)}
    assert asked == {"com.atproto.repo.getRecord": 1}


@pytest.mark.parametrize(("status", "body", "outcome"), [
    (502, {"error": "UpstreamFailure", "message": "Upstream Failure"}, TransientError),
    (500, {"error": "InternalServerError", "message": "Internal Server Error"}, TransientError),
    (200, {}, TransientError),  # an answer without the record is no answer
    (400, {"error": "InvalidRequest", "message": "Could not find repo: did:plc:5c2r73erhng4bszmxlfdtscf"},
     PermanentError),
])
def test_reconcile_never_concludes_not_published_from_anything_but_record_not_found(
    status: int, body: dict[str, Any], outcome: type[Exception], fresh_sessions: None
) -> None:
    with responses.RequestsMock() as rsps:
        recorded_login(rsps)
        rsps.get("https://bsky.social/xrpc/com.atproto.repo.getRecord", json=body, status=status)
        with pytest.raises(outcome) as info:
            bluesky(None, identifier="bskyr.bsky.social").reconcile(ref(unique_text("unknown")))
    assert not isinstance(info.value, NotPublished)


def test_a_rate_limit_reports_the_unix_reset_and_last_rate_follows_the_headers(sandbox: SandboxServer) -> None:
    adapter = bluesky(sandbox.base_url("bluesky"))
    adapter.verify()  # log in first so the 429 lands on createRecord
    sandbox.sandbox.set_faults("bluesky", rate_limit=2, rate_window_seconds=3600)
    adapter.publish(ref(unique_text("one")), None)
    assert adapter.last_rate is not None and (adapter.last_rate.limit, adapter.last_rate.remaining) == (2, 1)
    adapter.publish(ref(unique_text("two")), None)
    with pytest.raises(RateLimited) as info:
        adapter.publish(ref(unique_text("three")), None)
    assert info.value.retry_at == adapter.last_rate.reset_at
    assert info.value.retry_at.timestamp() == int(info.value.retry_at.timestamp())  # whole unix seconds


def test_text_over_300_graphemes_is_refused_for_good_even_when_under_3000_bytes(sandbox: SandboxServer) -> None:
    with pytest.raises(PermanentError, match="300 graphemes"):
        bluesky(sandbox.base_url("bluesky")).publish(ref("é" * 301), None)
    assert bluesky(None).limits_for().fits("👨‍❤️‍👨" * 120)  # 120 graphemes, 2400 bytes
    assert not bluesky(None).limits_for().fits("👨‍❤️‍👨" * 160)  # 160 graphemes but 3200 bytes


KISS = "👨\u200d❤\ufe0f\u200d👨"  # one grapheme, 20 UTF-8 bytes


def bluesky_account(base_url: str | None, long_text: str) -> BlueskyChannel:
    account = AccountConfig(name="acme", channel="bluesky", base_url=base_url, long_text=long_text)
    return BlueskyChannel(account, {"identifier": IDENTIFIER, "app_password": CANARY})


def test_a_text_under_300_graphemes_but_over_3000_bytes_is_rejected_naming_the_byte_cap() -> None:
    text = " ".join([KISS * 5] * 40)  # 239 graphemes, 4039 bytes
    with pytest.raises(ContentTooLong) as info:
        bluesky_account(None, "reject").render(Content(text=text))
    assert info.value.message == "text is 4039 bytes long; bluesky allows 3000"
    assert "shorten it by 1039 bytes" in (info.value.hint or "")


def test_a_text_over_3000_bytes_splits_into_a_thread_the_pds_accepts(sandbox: SandboxServer) -> None:
    adapter = bluesky_account(sandbox.base_url("bluesky"), "split")
    parts = adapter.render(Content(text=" ".join([KISS * 5] * 40)))
    assert len(parts) == 2 and all(len(p.text.encode()) <= 3000 for p in parts)
    parent = None
    for i, part in enumerate(parts, 1):
        parent = adapter.publish(DeliveryRef(id=f"b-bytes-{i}", post_id="p", account="acme", channel="bluesky",
                                             payload=part, thread_seq=i), parent)
    assert [p["text"] for p in sandbox.sandbox.posts("bluesky")] == [p.text for p in parts]


def test_a_single_word_over_3000_bytes_is_a_clear_input_error_naming_bytes() -> None:
    with pytest.raises(InputError, match="3200 bytes, at most 3000 fit") as info:
        bluesky_account(None, "split").render(Content(text=f"Status: {KISS * 160} resolved"))
    assert not isinstance(info.value, ContentTooLong)


def test_no_secret_or_minted_token_reaches_any_log_record_at_debug(
    sandbox: SandboxServer, fresh_sessions: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    adapter = bluesky(sandbox.base_url("bluesky"))
    d = ref(f"{unique_text('logs')} @atproto.com")
    parent = adapter.publish(d, None)
    pds(sandbox).expire_access_tokens()
    adapter.publish(ref(unique_text("logs reply"), seq=2), parent)
    adapter.reconcile(d)
    adapter.verify()
    with pytest.raises(AuthExpired):
        bluesky(sandbox.base_url("bluesky"), password="revoked-" + CANARY).verify()
    secrets = [CANARY, *pds(sandbox).tokens]
    assert caplog.records, "DEBUG logging captured nothing, so the check below would prove nothing"
    for record in caplog.records:
        text = record.getMessage() + repr(record.args)
        assert not any(s in text for s in secrets)


# -- the recorded exchanges (bskyr, MarshalX/atproto) replayed through the adapter --


def recorded(name: str) -> list[dict[str, Any]]:
    return list(yaml.safe_load((CASSETTES / "bskyr" / name).read_text(encoding="utf-8"))["http_interactions"])


def replay(rsps: responses.RequestsMock, exchange: dict[str, Any]) -> dict[str, Any]:
    answer = exchange["response"]
    headers = {k: str(v) for k, v in answer["headers"].items()
               if k.lower() not in ("content-length", "content-type", "content-encoding", "transfer-encoding")}
    url = exchange["request"]["uri"].split("?")[0]
    rsps.add(exchange["request"]["method"].upper(), url, body=answer["body"]["string"], status=answer["status"],
             headers=headers, content_type="application/json; charset=utf-8")
    body: dict[str, Any] = json.loads(answer["body"]["string"])
    return body


def recorded_login(rsps: responses.RequestsMock) -> None:
    replay(rsps, recorded("repo_auth_direct.yml")[0])


def test_the_recorded_post_replays_to_a_receipt_with_uri_cid_url_and_rate(fresh_sessions: None) -> None:
    with responses.RequestsMock() as rsps:
        recorded_login(rsps)
        created = replay(rsps, recorded("r_post_text.yml")[2])
        adapter = bluesky(None, identifier="bskyr.bsky.social")
        receipt = adapter.publish(ref("Hello from bskyr"), None)
        sent = json.loads(rsps.calls[1].request.body)
    assert receipt.remote_id == created["uri"] and receipt.data["cid"] == created["cid"]
    assert receipt.url == "https://bsky.app/profile/bskyr.bsky.social/post/3lprdud4gi72i"
    assert sent["repo"] == "did:plc:5c2r73erhng4bszmxlfdtscf" and is_tid(sent["rkey"])
    assert adapter.last_rate is not None and (adapter.last_rate.limit, adapter.last_rate.remaining) == (3000, 2997)
    assert adapter.last_rate.reset_at is not None and adapter.last_rate.reset_at.timestamp() == 1747925095


def test_the_recorded_over_300_graphemes_refusal_is_permanent(fresh_sessions: None) -> None:
    with responses.RequestsMock() as rsps:
        recorded_login(rsps)
        replay(rsps, recorded("r_post_errors.yml")[0])
        with pytest.raises(PermanentError, match="300 graphemes"):
            bluesky(None, identifier="bskyr.bsky.social").publish(ref("x" * 301), None)


def test_the_recorded_reply_resolves_the_mention_and_fetches_the_parent_strong_ref(fresh_sessions: None) -> None:
    exchanges = recorded("r_post_reply.yml")
    with responses.RequestsMock() as rsps:
        recorded_login(rsps)
        replay(rsps, exchanges[0])  # resolveHandle
        parent = replay(rsps, exchanges[1])  # getRecord of the parent
        created = replay(rsps, exchanges[3])  # createRecord
        receipt = bluesky(None, identifier="bskyr.bsky.social").publish(
            ref("Replying to @bskyr.bsky.social", seq=2), Receipt(parent["uri"]))
        sent = json.loads(rsps.calls[-1].request.body)["record"]
    assert receipt.remote_id == created["uri"]
    assert sent["reply"]["parent"] == {"uri": parent["uri"], "cid": parent["cid"]}
    assert sent["reply"]["root"] == sent["reply"]["parent"]
    assert sent["facets"][0]["features"][0]["did"] == "did:plc:5c2r73erhng4bszmxlfdtscf"
    assert receipt.data["root_uri"] == parent["uri"]


@pytest.mark.parametrize("name", ["post_record.json", "extended_post_record.json"])
def test_a_recorded_get_record_reconciles_to_the_records_receipt(name: str, fresh_sessions: None) -> None:
    record = json.loads((CASSETTES / "atproto-MarshalX" / name).read_text(encoding="utf-8"))
    with responses.RequestsMock() as rsps:
        recorded_login(rsps)
        rsps.get("https://bsky.social/xrpc/com.atproto.repo.getRecord", json=record)
        found = bluesky(None, identifier="bskyr.bsky.social").reconcile(ref(record["value"]["text"]))
    assert (found.remote_id, found.data["cid"]) == (record["uri"], record["cid"])
    assert found.url == f"https://bsky.app/profile/{record['uri'].split('/')[2]}/post/{record['uri'].rsplit('/', 1)[1]}"
