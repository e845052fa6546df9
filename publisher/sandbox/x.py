"""X API v2 emulator (PLATFORMS.md sections 1.2-1.7 and the section 8 checklist), served under ``/x``.

Endpoints: ``POST /2/tweets``, ``GET /2/tweets/:id`` (an unknown or deleted id: 200 with a "Not Found Error" in
``errors``), ``DELETE /2/tweets/:id`` (the text no longer counts as a duplicate), ``GET /2/users/me``,
``GET /2/users/:id/tweets`` (newest first, ``max_results`` 5-100, ``start_time``, ``pagination_token`` /
``meta.next_token`` while older posts remain).
Auth: ``Authorization: Bearer <token>`` or OAuth 1.0a (``oauth_token="..."``; signatures are not checked). Any
non-empty token is accepted except ones containing "expired" or "revoked" (401); tokens containing "readonly" get
the generic 403 and tokens containing "credits-depleted" the 402 of the pay-per-use plan, so tests can script them.
Every response carries the rate headers; a 429 always carries ``x-rate-limit-reset`` (tweepy loops without it).

Media (v1.1, as tweepy 4.17 uploads; an account routes ``upload.twitter.com`` to the same prefix):
``POST /1.1/media/upload.json`` (multipart ``media``) answers as the recorded cassette
(``{media_id, media_id_string, size, expires_after_secs, image{image_type, w, h}}``); JPEG/PNG/WebP up to 5 MB and
GIF up to 15 MB, else 400 ``{"errors":[{"code":324,...}]}``. ``POST /1.1/media/metadata/create.json``
(``{"media_id", "alt_text": {"text"}}``, at most 1,000 characters) answers 200 with no body. ``media.media_ids`` on
``POST /2/tweets`` must name this user's uploads (at most 4); the ledger entry keeps them with their alt text.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

# imported here, not on the first create (~0.4 s, which every thread's first create would wait on)
import twitter_text  # noqa: F401

from publisher.sandbox.core import Platform, Request, Response, Sandbox, image_info
from publisher.textlength import ChannelLimits

_TOO_LONG = ("Your Tweet text is too long. For more information on how Twitter determines text length see "
             "https://github.com/twitter/twitter-text.")
_OAUTH_TOKEN = re.compile(r'oauth_token="([^"]*)"')
_USER_TWEETS = re.compile(r"^/2/users/([^/]+)/tweets$")
_TWEET = re.compile(r"^/2/tweets/([^/]+)$")
DAILY_USER_LIMIT = 2400
DAILY_APP_LIMIT = 10_000
#: v1.1 simple upload caps per image type (bytes)
_MEDIA_CAPS = {"image/jpeg": 5 * 1024 * 1024, "image/png": 5 * 1024 * 1024, "image/webp": 5 * 1024 * 1024,
               "image/gif": 15 * 1024 * 1024}
#: the post's text cap, checked with the measuring function every adapter and tone check uses
TWEET_TEXT = ChannelLimits(max_length=280, counting="twitter")


def problem(status: int, title: str, detail: str, type_: str = "about:blank", **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "type": type_, "title": title, "status": status, **extra}


class XPlatform(Platform):
    name = "x"

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self._ids = itertools.count(1874732600935198942 + int(time.time()) % 100_000 * 1_000_000)
        self._media_ids = itertools.count(1349010955083132928 + int(time.time()) % 100_000 * 1_000_000)
        self.media: dict[str, dict[str, Any]] = {}  # media id -> upload (user, mime, w, h, size, alt)

    # -- helpers --

    @staticmethod
    def token(req: Request) -> str | None:
        auth = req.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:].strip() or None
        m = _OAUTH_TOKEN.search(auth)
        return unquote(m.group(1)) or None if m else None

    @staticmethod
    def user(token: str) -> dict[str, str]:
        digest = hashlib.sha256(token.encode()).hexdigest()
        user_id = str(1_000_000_000 + int(digest[:12], 16) % 9_000_000_000)
        return {"id": user_id, "name": f"Sandbox {digest[:6]}", "username": f"sandbox_{digest[:6]}"}

    def headers(self, limit: int, remaining: int, reset: float, *, post: bool = False) -> dict[str, str]:
        h = {
            "content-type": "application/json; charset=utf-8",
            "api-version": "2.152",
            "x-access-level": "read-write",
            "cache-control": "no-cache, no-store, max-age=0",
            "content-disposition": "attachment; filename=json.json",
            "x-transaction-id": uuid.uuid4().hex[:16],
            "x-response-time": "12",
            "x-rate-limit-limit": str(limit),
            "x-rate-limit-remaining": str(max(remaining, 0)),
            "x-rate-limit-reset": str(int(reset)),
        }
        if post:
            day = int(time.time()) + 86_400
            posted = self.sandbox.post_count(self.name)
            h.update({
                "x-user-limit-24hour-limit": str(DAILY_USER_LIMIT),
                "x-user-limit-24hour-remaining": str(max(DAILY_USER_LIMIT - posted, 0)),
                "x-user-limit-24hour-reset": str(day),
                "x-app-limit-24hour-limit": str(DAILY_APP_LIMIT),
                "x-app-limit-24hour-remaining": str(max(DAILY_APP_LIMIT - posted, 0)),
                "x-app-limit-24hour-reset": str(day),
            })
        return h

    @staticmethod
    def body(data: dict[str, Any]) -> bytes:
        """X escapes ``/`` as ``\\/`` in its JSON."""
        return json.dumps(data, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/").encode("utf-8")

    def reply(self, status: int, data: dict[str, Any], headers: dict[str, str]) -> Response:
        if status >= 400:
            headers = {**headers, "content-type": "application/problem+json; charset=utf-8"}
        return Response(status, self.body(data), headers)

    # -- dispatch --

    def handle(self, req: Request) -> Response:
        faults = self.sandbox.faults_for(self.name)
        post = req.method == "POST" and req.path == "/2/tweets"
        token = self.token(req)
        user = self.user(token) if token else {"id": "0", "username": "anonymous"}
        now = time.time()
        burst = self.sandbox.burst(self.name)
        if burst is not None:
            reset = now + burst
            return self.reply(429, problem(429, "Too Many Requests", "Too Many Requests"),
                              self.headers(100, 0, reset, post=post))
        if not token or faults.expire_tokens or "expired" in token or "revoked" in token:
            return self.reply(401, {"title": "Unauthorized", "type": "about:blank", "status": 401,
                                    "detail": "Unauthorized"}, self.headers(100, 99, now + 900))
        if post:
            return self.create(req, token, user)
        if req.method == "POST" and req.path == "/1.1/media/upload.json":
            return self.upload(req, user)
        if req.method == "POST" and req.path == "/1.1/media/metadata/create.json":
            return self.metadata(req, user)
        limit, remaining, reset = 900, 899, now + 900
        if req.method == "GET" and req.path == "/2/users/me":
            return self.reply(200, {"data": user}, self.headers(limit, remaining, reset))
        m = _USER_TWEETS.match(req.path)
        if req.method == "GET" and m:
            return self.reply(200, self.timeline(m.group(1), req), self.headers(limit, remaining, reset))
        m = _TWEET.match(req.path)
        if req.method == "GET" and m:
            return self.reply(200, self.lookup(m.group(1), req), self.headers(limit, remaining, reset))
        if req.method == "DELETE" and m:
            found = self.sandbox.find(self.name, m.group(1))
            deleted = found is not None and found.get("user_id") == user["id"] and self.sandbox.delete(self.name,
                                                                                                       m.group(1))
            return self.reply(200, {"data": {"deleted": deleted}}, self.headers(50, 49, reset))
        return self.reply(404, problem(404, "Not Found Error", f"Could not find {req.method} {req.path}",
                                       "https://api.twitter.com/2/problems/resource-not-found"),
                          self.headers(limit, remaining, reset))

    def upload(self, req: Request, user: dict[str, str]) -> Response:
        headers = self.headers(415, 414, time.time() + 900)
        part = req.multipart().get("media")
        info = image_info(part.data) if part is not None else None
        if part is None or info is None or info[0] not in _MEDIA_CAPS:
            return self.reply(400, {"errors": [{"code": 324, "message": "Unsupported or missing media file."}]},
                              headers)
        cap = _MEDIA_CAPS[info[0]]
        if len(part.data) > cap:
            return self.reply(400, {"errors": [{"code": 324, "message": f"File size exceeds {cap} bytes."}]},
                              headers)
        media_id = str(next(self._media_ids))
        self.media[media_id] = {"media_id": media_id, "user_id": user["id"], "mime": info[0], "w": info[1],
                                "h": info[2], "size": len(part.data), "alt": None}
        return self.reply(200, {"media_id": int(media_id), "media_id_string": media_id, "size": len(part.data),
                                "expires_after_secs": 86400,
                                "image": {"image_type": info[0], "w": info[1], "h": info[2]}}, headers)

    def metadata(self, req: Request, user: dict[str, str]) -> Response:
        headers = self.headers(415, 414, time.time() + 900)
        body = req.json() or {}
        found = self.media.get(str(body.get("media_id")))
        if found is None or found["user_id"] != user["id"]:
            return self.reply(400, {"errors": [{"code": 324, "message": "The media_id is invalid."}]}, headers)
        alt = ((body.get("alt_text") or {}).get("text"))
        if not isinstance(alt, str) or len(alt) > 1000:
            return self.reply(400, {"errors": [{"code": 44, "message": "alt_text.text must be at most 1000 "
                                                                       "characters."}]}, headers)
        found["alt"] = alt
        return Response(200, None, headers)

    def create(self, req: Request, token: str, user: dict[str, str]) -> Response:
        ok, limit, remaining, reset = self.sandbox.rate_check(self.name, user["id"])
        if not ok:
            return self.reply(429, problem(429, "Too Many Requests", "Too Many Requests"),
                              self.headers(limit, 0, reset, post=True))
        headers = self.headers(limit, remaining, reset, post=True)
        if "credits-depleted" in token:
            return self.reply(402, problem(402, "Payment Required", "credits depleted",
                                           "https://api.x.com/2/problems/credits-depleted"), headers)
        if "readonly" in token:
            return self.reply(403, problem(403, "Forbidden", "You are not permitted to perform this action."), headers)
        if self.sandbox.roll_error(self.name):
            return self.reply(503, problem(503, "Service Unavailable", "Service Unavailable"), headers)
        try:
            body = req.json() or {}
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = {}
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return self.reply(400, invalid("text", text, "The `text` field is required and must not be empty."),
                              headers)
        if not TWEET_TEXT.fits(text):
            return self.reply(400, invalid("text", text, _TOO_LONG), headers)
        parent = ((body.get("reply") or {}).get("in_reply_to_tweet_id"))
        if parent is not None and self.sandbox.find(self.name, str(parent)) is None:
            return self.reply(400, invalid("reply.in_reply_to_tweet_id", parent,
                                           "Invalid Request: the Tweet you are replying to does not exist."), headers)
        media_ids = [str(i) for i in ((body.get("media") or {}).get("media_ids") or [])]
        if len(media_ids) > 4 or any(self.media.get(i, {}).get("user_id") != user["id"] for i in media_ids):
            return self.reply(400, invalid("media.media_ids", media_ids, "Your media IDs are invalid."), headers)
        if self.sandbox.has_text(self.name, user["username"], text, replies=True):
            return self.reply(403, problem(403, "Forbidden",
                                           "You are not allowed to create a Tweet with duplicate content."), headers)
        tweet_id = str(next(self._ids))
        self.sandbox.record(self.name, user["username"], tweet_id, text, user_id=user["id"],
                            in_reply_to=str(parent) if parent is not None else None,
                            created_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                            media=[dict(self.media[i]) for i in media_ids])
        if self.sandbox.take(self.name, "drop_after_accept"):
            return Response(0, drop=True)
        if self.sandbox.take(self.name, "error_after_accept"):
            return self.reply(500, problem(500, "Internal Server Error", "Internal Server Error"), headers)
        headers["location"] = f"https://api.twitter.com/2/tweets/{tweet_id}"
        return self.reply(201, {"data": {"edit_history_tweet_ids": [tweet_id], "id": tweet_id, "text": text}},
                          headers)

    @staticmethod
    def item(p: dict[str, Any], fields: list[str]) -> dict[str, Any]:
        item: dict[str, Any] = {"edit_history_tweet_ids": [p["remote_id"]], "id": p["remote_id"], "text": p["text"]}
        if "created_at" in fields:
            item["created_at"] = p["created_at"]
        return item

    def lookup(self, tweet_id: str, req: Request) -> dict[str, Any]:
        found = self.sandbox.find(self.name, tweet_id)
        if found is None:
            return {"errors": [{"value": tweet_id, "detail": f"Could not find tweet with id: [{tweet_id}].",
                                "title": "Not Found Error", "resource_type": "tweet", "parameter": "id",
                                "resource_id": tweet_id,
                                "type": "https://api.twitter.com/2/problems/resource-not-found"}]}
        return {"data": self.item(found, ",".join(req.query.get("tweet.fields", [])).split(","))}

    def timeline(self, user_id: str, req: Request) -> dict[str, Any]:
        fields = ",".join(req.query.get("tweet.fields", [])).split(",")
        start = (req.query.get("start_time") or [""])[0]
        limit = max(5, min(100, int((req.query.get("max_results") or ["10"])[0])))
        tweets = [p for p in self.sandbox.posts(self.name) if p.get("user_id") == user_id and not p.get("deleted")]
        if start:
            tweets = [p for p in tweets if p["created_at"] >= start.replace("Z", ".000Z")]
        tweets = list(reversed(tweets))  # newest first
        token = (req.query.get("pagination_token") or [""])[0]
        if token:
            older = [i for i, p in enumerate(tweets) if p["remote_id"] == token]
            tweets = tweets[older[0]:] if older else []
        page, rest = tweets[:limit], tweets[limit:]
        if not page:
            return {"meta": {"result_count": 0}}
        data = [self.item(p, fields) for p in page]
        meta: dict[str, Any] = {"result_count": len(data), "newest_id": data[0]["id"], "oldest_id": data[-1]["id"]}
        if rest:
            meta["next_token"] = rest[0]["remote_id"]
        return {"data": data, "meta": meta}


def invalid(param: str, value: Any, message: str) -> dict[str, Any]:
    return {"errors": [{"parameters": {param: [value]}, "message": message}], "title": "Invalid Request",
            "detail": "One or more parameters to your request was invalid.",
            "type": "https://api.twitter.com/2/problems/invalid-request"}
