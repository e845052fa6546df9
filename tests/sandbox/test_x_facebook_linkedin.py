"""The X, Facebook and LinkedIn emulators: same shapes as real recorded traffic and PLATFORMS.md section 8.

Real client libraries run against the sandbox unchanged (only a transport adapter mounted on their session), and
recorded exchanges replayed through the adapters give the same receipts as the sandbox's answers.
"""

from __future__ import annotations

import gzip
import json
from typing import Any

import pytest
import requests
import responses
import yaml

from publisher.channels._transport import RoutingAdapter
from publisher.channels.x import XChannel
from publisher.sandbox.linkedin import little_text
from publisher.sandbox.server import SandboxServer
from publisher.settings import AccountConfig
from tests.channels.contract import delivery
from tests.conftest import SHARED

CASSETTES = SHARED / "cassettes"
TOKEN = {"Authorization": "Bearer sandbox-token"}
CRITICAL_X_HEADERS = {"content-type", "location", "x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset",
                      "api-version", "x-access-level", "cache-control", "content-disposition"}


def tweepy_interactions(name: str) -> list[dict[str, Any]]:
    """Decoded interactions of a tweepy vcrpy cassette (bodies are gzip, base64 in the YAML)."""
    data = yaml.safe_load((CASSETTES / "tweepy" / name).read_text())
    out = []
    for i in data["interactions"]:
        raw = i["response"]["body"]["string"]
        raw = raw if isinstance(raw, bytes) else raw.encode()
        try:
            raw = gzip.decompress(raw)
        except OSError:
            pass
        headers = {k.lower(): v[0] for k, v in i["response"]["headers"].items()}
        out.append({"method": i["request"]["method"], "uri": i["request"]["uri"], "status": i["response"]["status"]["code"],
                    "headers": headers, "body": json.loads(raw)})
    return out


def keys(obj: Any) -> Any:
    """The key structure of a JSON value (what 'same shape' compares)."""
    if isinstance(obj, dict):
        return {k: keys(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [keys(obj[0])] if obj else []
    return type(obj).__name__


# -- X --

def test_recorded_tweepy_create_replays_through_the_adapter_to_the_same_receipt() -> None:
    create = tweepy_interactions("test_client_create_and_delete_tweet.yaml")[0]
    headers = {k: v for k, v in create["headers"].items() if k not in ("content-encoding", "content-length")}
    adapter = XChannel(AccountConfig(name="a", channel="x", options={"username": "TweepyDev"}), {"bearer_token": "t"})
    with responses.RequestsMock() as rsps:
        rsps.post(create["uri"], status=create["status"], json=create["body"], headers=headers)
        receipt = adapter.publish(delivery("Test Tweet"), None)
        assert json.loads(rsps.calls[0].request.body or b"{}") == {"text": "Test Tweet"}
    assert receipt.remote_id == "1456012973835788293"
    assert receipt.url == "https://x.com/TweepyDev/status/1456012973835788293"
    assert adapter.last_rate is not None
    assert (adapter.last_rate.limit, adapter.last_rate.remaining) == (200, 199)
    assert adapter.last_rate.reset_at is not None and int(adapter.last_rate.reset_at.timestamp()) == 1635976418


@pytest.mark.parametrize("cassette", ["test_client_create_and_delete_tweet.yaml",
                                      "test_asyncclient_create_and_delete_tweet.yaml"])
def test_sandbox_create_answer_has_the_shape_of_the_recorded_one(sandbox: SandboxServer, cassette: str) -> None:
    recorded = tweepy_interactions(cassette)[0]
    r = requests.post(sandbox.base_url("x") + "/2/tweets", json={"text": "Test Tweet"}, headers=TOKEN, timeout=5)
    assert r.status_code == recorded["status"] == 201
    body = r.json()
    assert set(recorded["body"]["data"]) <= set(body["data"])
    assert list(body["data"]) == ["edit_history_tweet_ids", "id", "text"]  # post-2022 key order
    assert body["data"]["edit_history_tweet_ids"] == [body["data"]["id"]]
    assert CRITICAL_X_HEADERS <= set(recorded["headers"]) | {"content-disposition"}
    assert CRITICAL_X_HEADERS <= {k.lower() for k in r.headers}
    assert r.headers["content-type"] == recorded["headers"]["content-type"]
    assert r.headers["location"] == f"https://api.twitter.com/2/tweets/{body['data']['id']}"
    for h in ("x-user-limit-24hour-reset", "x-app-limit-24hour-remaining"):
        assert h in r.headers


def test_sandbox_escapes_slashes_like_x(sandbox: SandboxServer) -> None:
    r = requests.post(sandbox.base_url("x") + "/2/tweets", json={"text": "see https://a.example/b"}, headers=TOKEN,
                      timeout=5)
    assert b"https:\\/\\/a.example\\/b" in r.content


def test_every_x_429_carries_the_reset_header(sandbox: SandboxServer) -> None:
    sandbox.sandbox.set_faults("x", burst_429=1)
    r = requests.get(sandbox.base_url("x") + "/2/users/me", headers=TOKEN, timeout=5)
    assert r.status_code == 429 and int(r.headers["x-rate-limit-reset"]) > 0
    sandbox.sandbox.set_faults("x", rate_limit=1)
    requests.post(sandbox.base_url("x") + "/2/tweets", json={"text": "one"}, headers=TOKEN, timeout=5)
    r = requests.post(sandbox.base_url("x") + "/2/tweets", json={"text": "two"}, headers=TOKEN, timeout=5)
    assert r.status_code == 429 and r.headers["x-rate-limit-remaining"] == "0" and "x-rate-limit-reset" in r.headers
    assert r.json() == {"detail": "Too Many Requests", "type": "about:blank", "title": "Too Many Requests", "status": 429}


@pytest.mark.parametrize(("text", "status"), [("界" * 140, 201), ("界" * 141, 400),
                                              ("x" * 256 + " https://example.com/" + "a" * 100, 201),
                                              ("x" * 257 + " https://example.com/", 400)])
def test_x_length_is_weighted_like_twitter_text(sandbox: SandboxServer, text: str, status: int) -> None:
    r = requests.post(sandbox.base_url("x") + "/2/tweets", json={"text": text}, headers=TOKEN, timeout=5)
    assert r.status_code == status
    if status == 400:
        assert r.json()["errors"][0]["message"].startswith("Your Tweet text is too long.")


def test_x_error_bodies_match_the_recorded_problem_objects(sandbox: SandboxServer) -> None:
    url = sandbox.base_url("x") + "/2/tweets"
    requests.post(url, json={"text": "dup"}, headers=TOKEN, timeout=5)
    dup = requests.post(url, json={"text": "dup"}, headers=TOKEN, timeout=5)
    assert dup.status_code == 403 and dup.json() == {
        "detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank",
        "title": "Forbidden", "status": 403}
    unauth = requests.post(url, json={"text": "x"}, headers={"Authorization": "Bearer expired-1"}, timeout=5)
    assert unauth.status_code == 401 and unauth.json()["title"] == "Unauthorized"
    paid = requests.post(url, json={"text": "x"}, headers={"Authorization": "Bearer credits-depleted"}, timeout=5)
    assert paid.status_code == 402 and paid.json()["type"] == "https://api.x.com/2/problems/credits-depleted"


def test_real_tweepy_client_posts_and_replies_against_the_sandbox(sandbox: SandboxServer) -> None:
    import tweepy

    client = tweepy.Client(bearer_token="sandbox-user-token")
    client.session.mount("https://api.twitter.com/", RoutingAdapter("https://api.twitter.com", sandbox.base_url("x")))
    first = client.create_tweet(text="Real tweepy", user_auth=False)
    reply = client.create_tweet(text="Real tweepy reply", in_reply_to_tweet_id=first.data["id"], user_auth=False)
    oauth1 = tweepy.Client(consumer_key="ck", consumer_secret="cs", access_token="at", access_token_secret="ats")
    oauth1.session.mount("https://api.twitter.com/", RoutingAdapter("https://api.twitter.com", sandbox.base_url("x")))
    third = oauth1.create_tweet(text="Real tweepy OAuth 1.0a")
    posts = sandbox.sandbox.posts("x")
    assert [p["remote_id"] for p in posts] == [first.data["id"], reply.data["id"], third.data["id"]]
    assert posts[1]["in_reply_to"] == first.data["id"]
    sandbox.sandbox.set_faults("x", burst_429=1, burst_reset_seconds=60)
    with pytest.raises(tweepy.TooManyRequests) as info:
        client.create_tweet(text="limited", user_auth=False)
    assert info.value.reset_time is not None
    me = client.get_me(user_auth=False)
    assert me.data.username.startswith("sandbox_")


# -- Facebook --

def graph(sandbox: SandboxServer, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(method, sandbox.base_url("facebook") + path, timeout=5, **kw)


def test_every_graph_answer_has_a_json_content_type_and_usage_headers(sandbox: SandboxServer) -> None:
    answers = [graph(sandbox, "POST", "/v26.0/1/feed", data={"message": "m", "access_token": "t"}),
               graph(sandbox, "POST", "/v26.0/1/feed", data={"message": "m", "access_token": "t"}),  # 506
               graph(sandbox, "GET", "/v26.0/1/nothing/here", params={"access_token": "t"}),
               graph(sandbox, "GET", "/nonsense"),
               graph(sandbox, "POST", "/v26.0/1/feed", data={"message": "m", "access_token": "expired"})]
    for r in answers:
        assert "json" in r.headers["content-type"], r.status_code
        assert "x-app-usage" in r.headers and r.headers["facebook-api-version"].startswith("v")
    assert answers[1].json()["error"]["code"] == 506 and "www-authenticate" in answers[1].headers
    assert answers[4].json()["error"]["code"] == 190 and answers[4].status_code == 400


def test_graph_serves_sdk_versions_as_the_oldest_live_one(sandbox: SandboxServer) -> None:
    r = graph(sandbox, "POST", "/v2.8/1/feed", data={"message": "old sdk", "access_token": "t", "published": "False"})
    assert r.status_code == 200 and r.json()["id"].startswith("1_")
    assert r.headers["facebook-api-version"] == "v21.0"
    assert sandbox.sandbox.posts("facebook")[0]["published"] is False


def test_sandbox_graph_bodies_have_the_shape_of_the_recorded_ones(sandbox: SandboxServer) -> None:
    recorded_error = json.loads((CASSETTES / "python-facebook" / "error_data.json").read_text())
    recorded_post = json.loads((CASSETTES / "python-facebook" / "single_post_data.json").read_text())
    post = graph(sandbox, "POST", "/v26.0/1/feed", data={"message": "shape", "access_token": "t"}).json()
    comment = graph(sandbox, "POST", f"/v26.0/{post['id']}/comments", data={"message": "c", "access_token": "t"}).json()
    assert comment["id"].startswith(post["id"].split("_")[1] + "_")  # {post}_{comment}, like the recording
    error = graph(sandbox, "POST", "/v26.0/9_9/comments", data={"message": "c", "access_token": "t"}).json()
    assert keys(error) == keys(recorded_error)
    listed = graph(sandbox, "GET", "/v26.0/1/feed", params={"fields": "id,message,created_time"},
                   headers={"Authorization": "OAuth t"}).json()["data"][0]
    assert set(listed) <= set(recorded_post)
    assert len(listed["created_time"]) == len(recorded_post["created_time"]) and listed["created_time"].endswith("+0000")


def test_real_facebook_sdk_posts_through_a_mounted_session(sandbox: SandboxServer) -> None:
    import facebook

    session = requests.Session()
    session.mount("https://graph.facebook.com/", RoutingAdapter("https://graph.facebook.com", sandbox.base_url("facebook")))
    api = facebook.GraphAPI(access_token="page-token", version="3.1", session=session)
    api.version = "v26.0"
    result = api.put_object("555", "feed", message="From facebook-sdk")
    assert sandbox.sandbox.posts("facebook")[0]["remote_id"] == result["id"]
    with pytest.raises(facebook.GraphAPIError) as info:
        api.put_object("555", "feed", message="From facebook-sdk")
    assert info.value.code == 506


# -- LinkedIn --

def li_headers(**extra: str) -> dict[str, str]:
    return {"Authorization": "Bearer t", "LinkedIn-Version": "202610", "X-Restli-Protocol-Version": "2.0.0", **extra}


def li_post(sandbox: SandboxServer, commentary: str, headers: dict[str, str] | None = None) -> requests.Response:
    body = {"author": "urn:li:person:abc", "commentary": commentary, "visibility": "PUBLIC",
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED", "isReshareDisabledByAuthor": False}
    return requests.post(sandbox.base_url("linkedin") + "/rest/posts", json=body, headers=headers or li_headers(),
                         timeout=5)


def test_linkedin_create_is_201_with_an_empty_body_and_the_urn_header(sandbox: SandboxServer) -> None:
    r = li_post(sandbox, "Hello")
    assert r.status_code == 201 and r.content == b""
    assert r.headers["x-restli-id"].startswith("urn:li:share:")


def test_linkedin_truncates_unescaped_text_at_the_first_reserved_char_yet_answers_201(sandbox: SandboxServer) -> None:
    r = li_post(sandbox, "Release notes #update are out")
    assert r.status_code == 201
    assert sandbox.sandbox.posts("linkedin")[0]["text"] == "Release notes "
    assert little_text(r"a \#b \\ c") == ("a #b \\ c", r"a \#b \\ c", 8)


def test_linkedin_enforces_version_protocol_length_and_duplicates(sandbox: SandboxServer) -> None:
    stale = li_post(sandbox, "x", li_headers(**{"LinkedIn-Version": "202401"}))
    assert stale.status_code == 426 and stale.json() == {
        "status": 426, "code": "NONEXISTENT_VERSION", "message": "Requested version 20240101 is not active"}
    headers = li_headers()
    del headers["X-Restli-Protocol-Version"]
    assert li_post(sandbox, "x", headers).status_code == 400
    too_long = li_post(sandbox, "a" * 3001)
    assert too_long.status_code == 400
    assert too_long.json()["errorDetails"]["inputErrors"][0]["code"] == "FIELD_ARRAY_SIZE_TOO_HIGH"
    assert li_post(sandbox, "a" * 3000).status_code == 201
    first = li_post(sandbox, "same")
    dup = li_post(sandbox, "same")
    assert dup.status_code == 422
    assert dup.json()["errorDetails"]["inputErrors"][0]["code"] == "DUPLICATE_POST"
    assert first.headers["x-restli-id"] in dup.json()["message"]


@pytest.mark.parametrize(("token", "code", "service"), [("expired-1", "EXPIRED_ACCESS_TOKEN", 65602),
                                                       ("revoked-1", "REVOKED_ACCESS_TOKEN", 65601)])
def test_linkedin_token_failures_use_the_documented_401_bodies(
    sandbox: SandboxServer, token: str, code: str, service: int
) -> None:
    r = li_post(sandbox, "x", li_headers(Authorization=f"Bearer {token}"))
    assert r.status_code == 401 and r.json()["code"] == code and r.json()["serviceErrorCode"] == service


# -- lookups, paging and deletion (each platform's reconcile depends on them) --

def x_call(sandbox: SandboxServer, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(method, sandbox.base_url("x") + path, headers=TOKEN, timeout=5, **kw)


def test_x_tweet_lookup_returns_the_post_and_a_not_found_error_for_an_unknown_id(sandbox: SandboxServer) -> None:
    created = x_call(sandbox, "POST", "/2/tweets", json={"text": "Looked up"}).json()["data"]
    found = x_call(sandbox, "GET", f"/2/tweets/{created['id']}", params={"tweet.fields": "created_at"})
    assert found.status_code == 200
    assert found.json()["data"]["id"] == created["id"] and found.json()["data"]["text"] == "Looked up"
    assert found.json()["data"]["created_at"].endswith(".000Z")
    missing = x_call(sandbox, "GET", "/2/tweets/1")
    assert missing.status_code == 200  # X answers a single lookup of an unknown id with 200 and an error object
    [error] = missing.json()["errors"]
    assert error["title"] == "Not Found Error" and error["resource_id"] == "1" and "data" not in missing.json()


def test_x_deleted_text_may_be_posted_again_and_leaves_the_timeline(sandbox: SandboxServer) -> None:
    first = x_call(sandbox, "POST", "/2/tweets", json={"text": "Posted by mistake"}).json()["data"]
    assert x_call(sandbox, "POST", "/2/tweets", json={"text": "Posted by mistake"}).status_code == 403
    assert x_call(sandbox, "DELETE", f"/2/tweets/{first['id']}").json() == {"data": {"deleted": True}}
    assert "errors" in x_call(sandbox, "GET", f"/2/tweets/{first['id']}").json()
    again = x_call(sandbox, "POST", "/2/tweets", json={"text": "Posted by mistake"})
    assert again.status_code == 201
    user = x_call(sandbox, "GET", "/2/users/me").json()["data"]["id"]
    listed = x_call(sandbox, "GET", f"/2/users/{user}/tweets").json()["data"]
    assert [t["id"] for t in listed] == [again.json()["data"]["id"]]


def test_x_timeline_pages_with_next_token_until_the_oldest_post(sandbox: SandboxServer) -> None:
    ids = [x_call(sandbox, "POST", "/2/tweets", json={"text": f"post {i}"}).json()["data"]["id"] for i in range(12)]
    user = x_call(sandbox, "GET", "/2/users/me").json()["data"]["id"]
    seen: list[str] = []
    params: dict[str, Any] = {"max_results": 5}
    while True:
        body = x_call(sandbox, "GET", f"/2/users/{user}/tweets", params=params).json()
        seen.extend(t["id"] for t in body["data"])
        if "next_token" not in body["meta"]:
            break
        params["pagination_token"] = body["meta"]["next_token"]
    assert seen == list(reversed(ids))


def test_graph_get_of_a_post_id_returns_that_post_and_error_100_for_an_unknown_id(sandbox: SandboxServer) -> None:
    auth = {"Authorization": "OAuth t"}
    post = graph(sandbox, "POST", "/v26.0/1/feed", data={"message": "Single post", "access_token": "t"}).json()
    found = graph(sandbox, "GET", f"/v26.0/{post['id']}", params={"fields": "id,message,created_time"}, headers=auth)
    assert found.status_code == 200 and found.json()["id"] == post["id"] and found.json()["message"] == "Single post"
    missing = graph(sandbox, "GET", "/v26.0/1_999", headers=auth)
    assert missing.status_code == 400
    error = missing.json()["error"]
    assert (error["code"], error["error_subcode"], error["type"]) == (100, 33, "GraphMethodException")
    page = graph(sandbox, "GET", "/v26.0/1", params={"fields": "id,name"}, headers=auth).json()
    assert page["id"] == "1" and "message" not in page


def test_graph_deleted_post_may_be_posted_again_and_leaves_the_feed(sandbox: SandboxServer) -> None:
    auth = {"Authorization": "OAuth t"}
    post = graph(sandbox, "POST", "/v26.0/1/feed", data={"message": "Oops", "access_token": "t"}).json()
    assert graph(sandbox, "DELETE", f"/v26.0/{post['id']}", headers=auth).json() == {"success": True}
    assert graph(sandbox, "GET", f"/v26.0/{post['id']}", headers=auth).status_code == 400
    again = graph(sandbox, "POST", "/v26.0/1/feed", data={"message": "Oops", "access_token": "t"})
    assert again.status_code == 200 and "error" not in again.json()
    feed = graph(sandbox, "GET", "/v26.0/1/feed", headers=auth).json()["data"]
    assert [p["id"] for p in feed] == [again.json()["id"]]


def test_graph_listings_page_with_cursors_and_next_only_while_more_follow(sandbox: SandboxServer) -> None:
    auth = {"Authorization": "OAuth t"}
    ids = [graph(sandbox, "POST", "/v26.0/1/feed", data={"message": f"post {i}", "access_token": "t"}).json()["id"]
           for i in range(7)]
    seen: list[str] = []
    params: dict[str, str] = {"limit": "3"}
    while True:
        body = graph(sandbox, "GET", "/v26.0/1/feed", params=params, headers=auth).json()
        seen.extend(p["id"] for p in body["data"])
        if "next" not in body["paging"]:
            break
        assert body["paging"]["next"].startswith("https://graph.facebook.com/v26.0/1/feed?")
        params["after"] = body["paging"]["cursors"]["after"]
    assert seen == list(reversed(ids))


def test_linkedin_deleted_text_may_be_posted_again_and_listings_page_by_start(sandbox: SandboxServer) -> None:
    urn = li_post(sandbox, "Oops").headers["x-restli-id"]
    assert li_post(sandbox, "Oops").status_code == 422
    deleted = requests.delete(sandbox.base_url("linkedin") + "/rest/posts/" + requests.utils.quote(urn, safe=""),
                              headers=li_headers(), timeout=5)
    assert deleted.status_code == 204
    assert li_post(sandbox, "Oops").status_code == 201
    for i in range(4):
        li_post(sandbox, f"post {i}")
    listed = requests.get(sandbox.base_url("linkedin") + "/rest/posts", headers=li_headers(), timeout=5,
                          params={"q": "author", "author": "urn:li:person:abc", "start": 3, "count": 3}).json()
    assert listed["paging"]["total"] == 5 and [e["commentary"] for e in listed["elements"]] == ["post 0", "Oops"]
