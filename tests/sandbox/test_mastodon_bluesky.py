"""The Mastodon and Bluesky emulators: the shapes of real recorded traffic and the PLATFORMS.md section 8 rules.

Mastodon.py runs against the sandbox unchanged; the bskyr and MarshalX recordings give the keys, statuses and
headers every sandbox answer must match.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
import requests
import yaml

from publisher.channels.bluesky_tid import rkey_for
from publisher.sandbox.bluesky import BlueskyPlatform
from publisher.sandbox.mastodon import MastodonPlatform
from publisher.sandbox.server import SandboxServer
from tests.conftest import SHARED

CASSETTES = SHARED / "cassettes"
ISO_MICROS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")
MASTODON_CRITICAL = {"content-type", "x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "cache-control"}
BLUESKY_CRITICAL = {"content-type", "ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy"}


def mastodon_recording(name: str, index: int) -> tuple[int, Any, dict[str, str]]:
    exchange = yaml.safe_load((CASSETTES / "Mastodon.py" / name).read_text())["interactions"][index]["response"]
    return exchange["status"]["code"], json.loads(exchange["body"]["string"]), {
        k.lower(): v[0] for k, v in exchange["headers"].items()}


def bluesky_recording(name: str, index: int) -> tuple[int, Any, dict[str, str]]:
    exchange = yaml.safe_load((CASSETTES / "bskyr" / name).read_text())["http_interactions"][index]["response"]
    return exchange["status"], json.loads(exchange["body"]["string"]), {
        k.lower(): str(v) for k, v in exchange["headers"].items()}


def same_shape(ours: Any, theirs: Any, where: str = "body") -> None:
    """Every key the recording has, ours has too, with the same JSON type, recursively through objects."""
    if isinstance(theirs, dict):
        assert isinstance(ours, dict), where
        missing = set(theirs) - set(ours)
        assert not missing, f"{where} lacks {sorted(missing)}"
        for key, value in theirs.items():
            if value is not None and ours[key] is not None:
                same_shape(ours[key], value, f"{where}.{key}")
    elif theirs is not None and ours is not None:
        assert type(ours) is type(theirs), f"{where}: {type(ours).__name__} != {type(theirs).__name__}"


# -- Mastodon --


def mastodon_post(server: SandboxServer, token: str, **form: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"}
    if "key" in form:
        headers["Idempotency-Key"] = form.pop("key")
    return requests.post(f"{server.base_url('mastodon')}/api/v1/statuses", data=form, headers=headers, timeout=5)


def test_a_mastodon_status_has_the_recorded_shape_status_and_rate_headers(sandbox: SandboxServer) -> None:
    code, body, headers = mastodon_recording("test_status_post_None-public.yaml", 0)
    resp = mastodon_post(sandbox, "shape-token", status="Toot!", visibility="public")
    assert resp.status_code == code == 200
    same_shape(resp.json(), body)
    assert isinstance(resp.json()["id"], str) and resp.json()["url"].startswith("https://")
    assert MASTODON_CRITICAL <= {k.lower() for k in resp.headers} and MASTODON_CRITICAL <= set(headers)
    assert ISO_MICROS.match(resp.headers["x-ratelimit-reset"]) and ISO_MICROS.match(headers["x-ratelimit-reset"])
    assert resp.headers["x-ratelimit-limit"] == headers["x-ratelimit-limit"] == "300"


def test_mastodon_errors_have_the_recorded_status_and_body_shape(sandbox: SandboxServer) -> None:
    empty_code, empty_body, _ = mastodon_recording("test_status_empty.yaml", 0)
    resp = mastodon_post(sandbox, "shape-token", status="")
    assert resp.status_code == empty_code == 422 and set(resp.json()) == set(empty_body) == {"error"}
    missing_code, missing_body, _ = mastodon_recording("test_status_missing.yaml", 0)
    resp = requests.get(f"{sandbox.base_url('mastodon')}/api/v1/statuses/0",
                        headers={"Authorization": "Bearer shape-token"}, timeout=5)
    assert resp.status_code == missing_code == 404 and set(resp.json()) == set(missing_body)
    resp = mastodon_post(sandbox, "revoked-token", status="hi")
    assert (resp.status_code, resp.json()) == (401, {"error": "The access token is invalid"})


def test_verify_credentials_has_the_recorded_account_shape(sandbox: SandboxServer) -> None:
    _, body, _ = mastodon_recording("test_status_reply.yaml", 1)
    resp = requests.get(f"{sandbox.base_url('mastodon')}/api/v1/accounts/verify_credentials",
                        headers={"Authorization": "Bearer shape-token"}, timeout=5)
    assert resp.status_code == 200
    same_shape(resp.json(), {k: v for k, v in body.items() if k != "role"})  # role: staff accounts only


def test_mastodon_counts_graphemes_with_every_url_as_23(sandbox: SandboxServer) -> None:
    url = "https://example.com/" + "a" * 200
    fits = "👨‍❤️‍👨" * 476 + " " + url  # 476 + 1 + 23 = 500
    assert mastodon_post(sandbox, "len-token", status=fits).status_code == 200
    resp = mastodon_post(sandbox, "len-token", status="é" + fits)
    assert resp.status_code == 422
    assert resp.json() == {"error": "Validation failed: Text character limit of 500 exceeded"}
    resp = mastodon_post(sandbox, "len-token", status="x" * 495, spoiler_text="123456")
    assert resp.status_code == 422  # spoiler text counts too


def test_the_instance_publishes_its_configured_max_characters(sandbox: SandboxServer) -> None:
    pf = sandbox.platforms["mastodon"]
    assert isinstance(pf, MastodonPlatform)
    pf.max_characters = 1000
    try:
        body = requests.get(f"{sandbox.base_url('mastodon')}/api/v2/instance", timeout=5).json()
        assert body["configuration"]["statuses"]["max_characters"] == 1000
        assert mastodon_post(sandbox, "len-token", status="x" * 900).status_code == 200
    finally:
        pf.max_characters = 500


def test_an_idempotency_key_is_per_account_and_forgotten_after_its_hour(sandbox: SandboxServer) -> None:
    first = mastodon_post(sandbox, "alice-token", status="Same", key="k-1").json()
    assert mastodon_post(sandbox, "alice-token", status="Same", key="k-1").json()["id"] == first["id"]
    assert mastodon_post(sandbox, "bob-token", status="Same", key="k-1").json()["id"] != first["id"]
    assert len(sandbox.sandbox.posts("mastodon")) == 2
    pf = sandbox.platforms["mastodon"]
    assert isinstance(pf, MastodonPlatform)
    pf.idempotency_ttl_seconds = 0.05
    try:
        time.sleep(0.1)
        assert mastodon_post(sandbox, "alice-token", status="Same", key="k-1").json()["id"] != first["id"]
    finally:
        pf.idempotency_ttl_seconds = 3600
    assert len(sandbox.sandbox.posts("mastodon")) == 3


def test_mastodon_rate_limit_fault_answers_429_with_an_iso_reset(sandbox: SandboxServer) -> None:
    sandbox.sandbox.set_faults("mastodon", rate_limit=1, rate_window_seconds=60)
    assert mastodon_post(sandbox, "rate-token", status="one").status_code == 200
    resp = mastodon_post(sandbox, "rate-token", status="two")
    assert resp.status_code == 429 and resp.headers["x-ratelimit-remaining"] == "0"
    assert ISO_MICROS.match(resp.headers["x-ratelimit-reset"]) and set(resp.json()) == {"error"}
    assert mastodon_post(sandbox, "other-token", status="three").status_code == 200  # per account


def test_mastodon_py_posts_and_replies_against_the_sandbox_unchanged(sandbox: SandboxServer) -> None:
    from mastodon import Mastodon

    client = Mastodon(access_token="mastodon-py-token", api_base_url=sandbox.base_url("mastodon"))
    status = client.status_post("Toot from Mastodon.py https://example.com #sandbox", visibility="public",
                                idempotency_key="mpy-1")
    reply = client.status_reply(status, "and a reply")
    again = client.status_post("Toot from Mastodon.py https://example.com #sandbox", idempotency_key="mpy-1")
    assert reply.in_reply_to_id == status.id and again.id == status.id
    assert "#<span>sandbox</span>" in status.content
    posts = sandbox.sandbox.posts("mastodon")
    assert [p["remote_id"] for p in posts] == [str(status.id), str(reply.id)]
    assert posts[1]["in_reply_to"] == str(status.id) and posts[1]["text"].endswith("and a reply")
    assert client.status(status.id).id == status.id
    assert client.me().acct.startswith("sandbox_")


# -- Bluesky --


def xrpc(server: SandboxServer, nsid: str, token: str | None = None, body: Any = None,
         **params: str) -> requests.Response:
    url = f"{server.base_url('bluesky')}/xrpc/{nsid}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is None:
        return requests.get(url, params=params, headers=headers, timeout=5)
    return requests.post(url, json=body, headers=headers, timeout=5)


def login(server: SandboxServer, identifier: str = "shape.bsky.social") -> dict[str, Any]:
    resp = xrpc(server, "com.atproto.server.createSession", body={"identifier": identifier, "password": "app-pw"})
    assert resp.status_code == 200
    session: dict[str, Any] = resp.json()
    return session


def post(server: SandboxServer, session: dict[str, Any], text: str, **extra: Any) -> requests.Response:
    record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": "2026-08-01T12:00:00.000Z", **extra}
    body: dict[str, Any] = {"repo": session["did"], "collection": "app.bsky.feed.post", "record": record}
    if "rkey" in extra:
        body["rkey"] = record.pop("rkey")
    return xrpc(server, "com.atproto.repo.createRecord", session["accessJwt"], body)


def assert_rate_headers(resp: requests.Response) -> None:
    assert BLUESKY_CRITICAL <= {k.lower() for k in resp.headers}
    assert re.fullmatch(r"\d{10}", resp.headers["RateLimit-Reset"])
    assert re.fullmatch(r"\d+;w=\d+", resp.headers["RateLimit-Policy"])


def test_a_bluesky_session_has_the_recorded_shape_and_jwt_looking_tokens(sandbox: SandboxServer) -> None:
    code, body, headers = bluesky_recording("repo_auth_direct.yml", 0)
    resp = xrpc(sandbox, "com.atproto.server.createSession", body={"identifier": "shape.bsky.social", "password": "p"})
    assert resp.status_code == code == 200
    same_shape(resp.json(), body)
    assert all(re.fullmatch(r"[\w-]+\.[\w-]+\.[\w-]+", resp.json()[k]) for k in ("accessJwt", "refreshJwt"))
    assert_rate_headers(resp)
    assert BLUESKY_CRITICAL <= set(headers)


def test_a_bluesky_post_has_the_recorded_shape_status_and_headers(sandbox: SandboxServer) -> None:
    code, body, headers = bluesky_recording("r_post_text.yml", 2)
    resp = post(sandbox, login(sandbox), "Hello")
    assert resp.status_code == code == 200
    same_shape(resp.json(), body)
    assert set(resp.json()) == set(body)
    assert_rate_headers(resp)
    assert BLUESKY_CRITICAL <= set(headers)


def test_get_record_delete_record_and_resolve_handle_have_the_recorded_shapes(sandbox: SandboxServer) -> None:
    session = login(sandbox)
    uri = post(sandbox, session, "to fetch").json()["uri"]
    rkey = uri.rsplit("/", 1)[1]
    _, recorded_record, _ = bluesky_recording("r_post_reply.yml", 1)
    got = xrpc(sandbox, "com.atproto.repo.getRecord", repo=session["handle"], collection="app.bsky.feed.post", rkey=rkey)
    assert got.status_code == 200 and set(got.json()) == set(recorded_record) == {"uri", "cid", "value"}
    _, recorded_delete, _ = bluesky_recording("r_post_delete_post.yml", 1)
    deleted = xrpc(sandbox, "com.atproto.repo.deleteRecord", session["accessJwt"],
                   {"repo": session["did"], "collection": "app.bsky.feed.post", "rkey": rkey})
    assert deleted.status_code == 200
    same_shape(deleted.json(), recorded_delete)
    gone = xrpc(sandbox, "com.atproto.repo.getRecord", repo=session["did"], collection="app.bsky.feed.post", rkey=rkey)
    assert gone.status_code == 400 and gone.json()["error"] == "RecordNotFound"
    _, recorded_did, _ = bluesky_recording("r_post_text.yml", 0)
    resolved = xrpc(sandbox, "com.atproto.identity.resolveHandle", handle="atproto.com")
    assert resolved.status_code == 200 and set(resolved.json()) == set(recorded_did)
    assert xrpc(sandbox, "com.atproto.identity.resolveHandle", handle="nobody.example.com").status_code == 400


def test_bluesky_refuses_over_300_graphemes_with_the_recorded_error(sandbox: SandboxServer) -> None:
    code, body, _ = bluesky_recording("r_post_errors.yml", 0)
    resp = post(sandbox, login(sandbox), "a" * 301)
    assert (resp.status_code, resp.json()) == (code, body) == (400, body)
    assert post(sandbox, login(sandbox), "👨‍❤️‍👨" * 150).status_code == 200  # 150 graphemes, 3000 bytes


def test_bluesky_refuses_over_3000_bytes_with_the_pds_string_too_big_error(sandbox: SandboxServer) -> None:
    resp = post(sandbox, login(sandbox), "👨‍❤️‍👨" * 151)  # 151 graphemes but 3020 bytes
    assert (resp.status_code, resp.json()) == (400, {
        "error": "InvalidRequest",
        "message": "Invalid app.bsky.feed.post record: Record/text string too big (maximum 3000)"})
    assert sandbox.sandbox.posts("bluesky") == []


@pytest.mark.parametrize(("start", "end"), [(23, 35), (74, 108), (1, 35), (54, 74), (74, 110), (40, 30)])
def test_bluesky_accepts_facets_the_real_pds_accepts_past_the_end_or_inside_a_character(
    sandbox: SandboxServer, start: int, end: int
) -> None:
    """The PDS checks facets by the lexicon only (non-negative integers); the byte ranges are the client's job."""
    text = "✨ example mentioning @atproto.com to share the URL 👨‍❤️‍👨 https://en.wikipedia.org/wiki/CBOR."
    # 1 and 54 fall inside the sparkle's and the first man's UTF-8 bytes; the text is 109 bytes long
    facet = {"index": {"byteStart": start, "byteEnd": end},
             "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://atproto.com"}]}
    resp = post(sandbox, login(sandbox), text, facets=[facet])
    assert resp.status_code == 200, resp.text


def test_bluesky_accepts_overlapping_facets_and_refuses_only_what_the_lexicon_refuses(sandbox: SandboxServer) -> None:
    session = login(sandbox)
    link = [{"$type": "app.bsky.richtext.facet#link", "uri": "https://atproto.com"}]
    overlapping = [{"index": {"byteStart": 0, "byteEnd": 10}, "features": link},
                   {"index": {"byteStart": 5, "byteEnd": 15}, "features": link}]
    assert post(sandbox, session, "overlapping facets here", facets=overlapping).status_code == 200
    negative = post(sandbox, session, "negative", facets=[{"index": {"byteStart": -1, "byteEnd": 3}, "features": link}])
    assert (negative.status_code, negative.json()) == (400, {
        "error": "InvalidRequest",
        "message": "Invalid app.bsky.feed.post record: Record/facets/0/index/byteStart can not be less than 0"})
    no_features = post(sandbox, session, "bare", facets=[{"index": {"byteStart": 0, "byteEnd": 3}}])
    assert no_features.json()["message"].endswith('Record/facets/0 must have the property "features"')


@pytest.mark.parametrize(("created_at", "ok"), [
    ("2026-08-01T12:00:00.000Z", True), ("2026-08-01T14:00:00+02:00", True), ("2026-08-01T12:00:00.123456Z", True),
    ("2026-08-01T12:00:00.000", False), ("2026-08-01T12:00:00", False), ("2026-08-01 12:00:00Z", False),
    ("2026-08-01T12:00:00-00:00", False), ("2026-02-30T12:00:00Z", False),
])
def test_bluesky_requires_a_timezone_in_created_at_like_the_real_pds(sandbox: SandboxServer, created_at: str,
                                                                   ok: bool) -> None:
    resp = post(sandbox, login(sandbox), f"at {created_at}", createdAt=created_at)
    if ok:
        assert resp.status_code == 200, resp.text
    else:
        assert (resp.status_code, resp.json()) == (400, {
            "error": "InvalidRequest", "message": "Invalid app.bsky.feed.post record: createdAt must be an valid "
                                                  "atproto datetime (both RFC-3339 and ISO-8601)"})


def test_a_taken_record_key_answers_500_like_the_real_pds(sandbox: SandboxServer) -> None:
    session = login(sandbox)
    rkey = rkey_for("sandbox-duplicate")
    assert post(sandbox, session, "first", rkey=rkey).status_code == 200
    again = post(sandbox, session, "second", rkey=rkey)
    assert again.status_code == 500 and again.json()["error"] == "InternalServerError"
    assert post(sandbox, session, "bad key", rkey="not-a-tid").status_code == 400
    assert [p["text"] for p in sandbox.sandbox.posts("bluesky")] == ["first"]


def test_a_stale_access_token_answers_400_expired_token_until_refreshed(sandbox: SandboxServer) -> None:
    pds = sandbox.platforms["bluesky"]
    assert isinstance(pds, BlueskyPlatform)
    session = login(sandbox)
    pds.expire_access_tokens()
    stale = post(sandbox, session, "stale")
    assert (stale.status_code, stale.json()) == (400, {"error": "ExpiredToken", "message": "Token has expired"})
    refreshed = xrpc(sandbox, "com.atproto.server.refreshSession", session["refreshJwt"], body={})
    assert refreshed.status_code == 200
    assert post(sandbox, refreshed.json(), "fresh").status_code == 200
    assert xrpc(sandbox, "com.atproto.server.getSession", "not-a-token").json()["error"] == "InvalidToken"


def test_a_rotated_refresh_token_still_refreshes_within_the_two_hour_grace_then_is_revoked(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    pds = sandbox.platforms["bluesky"]
    assert isinstance(pds, BlueskyPlatform) and pds.refresh_grace_seconds == 2 * 3600
    session = login(sandbox)
    first = xrpc(sandbox, "com.atproto.server.refreshSession", session["refreshJwt"], body={})
    reused = xrpc(sandbox, "com.atproto.server.refreshSession", session["refreshJwt"], body={})  # a second worker
    assert first.status_code == reused.status_code == 200
    assert reused.json()["accessJwt"] != first.json()["accessJwt"]
    assert post(sandbox, reused.json(), "after reuse").status_code == 200
    assert post(sandbox, first.json(), "after first").status_code == 200
    monkeypatch.setattr(pds, "refresh_grace_seconds", -1.0)  # the next rotation's grace is already over
    rotated = first.json()["refreshJwt"]
    assert xrpc(sandbox, "com.atproto.server.refreshSession", rotated, body={}).status_code == 200
    late = xrpc(sandbox, "com.atproto.server.refreshSession", rotated, body={})
    assert (late.status_code, late.json()) == (400, {"error": "ExpiredToken", "message": "Token has been revoked"})


def test_bluesky_rate_limits_answer_429_with_unix_reset_and_retry_after(sandbox: SandboxServer) -> None:
    session = login(sandbox)
    sandbox.sandbox.set_faults("bluesky", rate_limit=1, rate_window_seconds=120)
    assert post(sandbox, session, "one").status_code == 200
    resp = post(sandbox, session, "two")
    assert resp.status_code == 429 and resp.json() == {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}
    assert_rate_headers(resp)
    assert 0 < int(resp.headers["Retry-After"]) <= 120
    assert int(resp.headers["RateLimit-Reset"]) - time.time() <= 121


def test_bluesky_refuses_passwords_scripted_to_fail(sandbox: SandboxServer) -> None:
    for password in ("wrong-pw", "revoked-pw", "expired-pw", ""):
        resp = xrpc(sandbox, "com.atproto.server.createSession", body={"identifier": "a.bsky.social", "password": password})
        assert resp.status_code == 401 and resp.json()["error"] == "AuthenticationRequired"


def test_the_atproto_sdk_logs_in_posts_a_thread_and_reads_it_back_through_app_bsky(sandbox: SandboxServer) -> None:
    """MarshalX's atproto SDK unchanged: its login fetches app.bsky.actor.getProfile (send_post needs it), then the
    feed, thread and post reads a client makes; each answer is parsed into the SDK's lexicon models."""
    import warnings

    from atproto import Client, models
    from atproto.exceptions import BadRequestError

    client = Client(base_url=sandbox.base_url("bluesky"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the SDK warns, and leaves `me` empty, when getProfile is not served
        me = client.login("sdk-reader.bsky.social", "app-pw")
    assert me is not None and (me.handle, me.did) == ("sdk-reader.bsky.social", client.me.did)
    root = client.send_post("Driftsmelding ✨ for Bodø")
    ref = models.create_strong_ref(root)
    reply = client.send_post("Oppdatering 2/2", reply_to=models.AppBskyFeedPost.ReplyRef(parent=ref, root=ref))

    feed = client.get_author_feed(me.handle).feed
    assert [item.post.uri for item in feed] == [reply.uri, root.uri]  # newest first
    assert feed[0].reply is not None and feed[0].reply.parent.uri == root.uri
    assert feed[1].post.record.text == "Driftsmelding ✨ for Bodø" and feed[1].post.reply_count == 1
    thread = client.get_post_thread(root.uri).thread
    assert isinstance(thread, models.AppBskyFeedDefs.ThreadViewPost)
    assert [r.post.uri for r in thread.replies or []] == [reply.uri]
    child = client.get_post_thread(reply.uri).thread
    assert isinstance(child, models.AppBskyFeedDefs.ThreadViewPost) and child.parent.post.uri == root.uri
    assert [p.cid for p in client.get_posts([root.uri, reply.uri]).posts] == [root.cid, reply.cid]
    assert client.get_profile(me.handle).posts_count == 2
    with pytest.raises(BadRequestError) as info:
        client.get_post_thread(root.uri[:-3] + "zzz")
    assert info.value.response is not None and info.value.response.content.error == "NotFound"


def test_app_bsky_reads_need_a_valid_access_token(sandbox: SandboxServer) -> None:
    session = login(sandbox)
    assert xrpc(sandbox, "app.bsky.actor.getProfile", session["accessJwt"], actor=session["handle"]).status_code == 200
    anonymous = xrpc(sandbox, "app.bsky.actor.getProfile", actor=session["handle"])
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "AuthenticationRequired")
    unknown = xrpc(sandbox, "app.bsky.actor.getProfile", session["accessJwt"], actor="never-seen.bsky.social")
    assert (unknown.status_code, unknown.json()) == (400, {"error": "InvalidRequest", "message": "Profile not found"})
    assert xrpc(sandbox, "app.bsky.feed.getTimeline", session["accessJwt"]).status_code == 501
