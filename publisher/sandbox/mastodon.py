"""Mastodon emulator (PLATFORMS.md section 4): statuses, idempotency keys, instance limits, rate headers, errors.

Served under ``/mastodon``; point an account at ``http://127.0.0.1:PORT/mastodon``. Mastodon.py works unchanged
against it (``Mastodon(access_token=..., api_base_url=...)``).

* Any non-empty bearer token is an account (a stable id and username derived from a hash of the token), except
  tokens containing "expired", "revoked" or "wrong": those get 401 ``{"error":"The access token is invalid"}``
  (as does every token while ``Faults.expire_tokens`` is set).
* ``POST /api/v1/statuses`` (form or JSON) answers 200 with a Status (string id). ``Idempotency-Key`` is kept per
  account for ``idempotency_ttl_seconds`` (3600): a repeat answers the original status and creates nothing.
  Text over ``max_characters`` (spoiler + text in graphemes, each URL 23, ``@user@domain`` as ``@user``) answers 422
  ``Validation failed: Text character limit of 500 exceeded``; a blank text 422 ``... Text can't be blank``;
  an unknown ``in_reply_to_id`` 404 ``{"error":"Record not found"}``. ``scheduled_at`` is not emulated (422).
* Rate headers ``X-RateLimit-Limit/Remaining/Reset`` (reset ISO 8601 with microseconds) on every API answer; creates
  use the statuses family (300 per fixed 3-hour bucket, not enforced) unless ``Faults.rate_limit`` sets a limit,
  which is enforced (429 ``{"error":"Too many requests"}``).
* Status URLs use the instance domain ``domain`` (https), as a real instance's would.
* ``POST /api/v2/media`` (multipart ``file``, ``description``): JPEG/PNG/GIF/WebP up to 16 MB and 33,177,600 pixels,
  description up to 1,500 characters, else 422 ``Validation failed: ...``. Files up to ``sync_media_bytes`` answer
  200 with the MediaAttachment; bigger ones 202 with ``url: null`` (processing), and ``GET /api/v1/media/:id``
  answers 206 ``processing_polls`` times before 200. ``media_ids[]`` on a status must be this account's, processed
  (else 422 ``Cannot attach files that have not finished processing``), at most 4. ``media`` keeps every upload.
"""

from __future__ import annotations

import hashlib
import html
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from publisher.sandbox.core import Platform, Request, Response, Sandbox, image_info
from publisher.textlength import mastodon_length

PLATFORM = "mastodon"
MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
MEDIA_MAX_BYTES = 16 * 1024 * 1024
MEDIA_MAX_PIXELS = 33_177_600
MEDIA_MAX_DESCRIPTION = 1500
STATUS_BUCKET_SECONDS = 3 * 3600
STATUS_BUCKET_LIMIT = 300
API_WINDOW_SECONDS = 300
VISIBILITIES = ("public", "unlisted", "private", "direct")
_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
_MENTION = re.compile(r"(?<![\w@/])@([A-Za-z0-9_]+)(?:@[A-Za-z0-9.\-]+\.[A-Za-z]{2,})?")
_TAG = re.compile(r"(?<![\w/#])#(\w+)")
_TOKEN_RE = re.compile(_URL.pattern + "|" + _MENTION.pattern + "|" + _TAG.pattern)


def iso(ts: float, digits: int = 3) -> str:
    """Mastodon's timestamps: ``2026-08-01T13:53:15.714Z`` (entities) or 6 digits (rate-limit reset)."""
    dt = datetime.fromtimestamp(ts, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond:06d}"[:digits] + "Z"


def _inline(text: str, domain: str) -> str:
    out, pos = [], 0
    for m in _TOKEN_RE.finditer(text):
        out.append(html.escape(text[pos:m.start()], quote=False))
        token = m.group(0)
        if token.startswith("http"):
            scheme, _, rest = token.partition("://")
            out.append(f'<a href="{html.escape(token)}" target="_blank" rel="nofollow noopener" translate="no">'
                       f'<span class="invisible">{scheme}://</span><span class="">{html.escape(rest)}</span>'
                       '<span class="invisible"></span></a>')
        elif token.startswith("@"):
            user = token[1:].split("@")[0]
            out.append(f'<span class="h-card" translate="no"><a href="https://{domain}/@{user}" '
                       f'class="u-url mention">@<span>{user}</span></a></span>')
        else:
            out.append(f'<a href="https://{domain}/tags/{token[1:].lower()}" class="mention hashtag" rel="tag">'
                       f'#<span>{token[1:]}</span></a>')
        pos = m.end()
    out.append(html.escape(text[pos:], quote=False))
    return "".join(out)


def to_html(text: str, domain: str) -> str:
    """The plain-text formatter: paragraphs on blank lines, <br /> on newlines, links, mentions and tags."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p]
    return "".join("<p>" + "<br />".join(_inline(line, domain) for line in p.split("\n")) + "</p>" for p in paragraphs)


class MastodonPlatform(Platform):
    name = PLATFORM
    #: the instance's public domain (status URLs); a sandbox instance still speaks https in its links
    domain: ClassVar[str] = "mastodon.sandbox.test"
    max_characters: int = 500
    idempotency_ttl_seconds: float = 3600.0

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.statuses: dict[str, dict[str, Any]] = {}
        self.idempotency: dict[tuple[str, str], tuple[str, float]] = {}
        self.api_calls: dict[tuple[str, int], int] = {}
        self._last_id = 0
        self.media: dict[str, dict[str, Any]] = {}  # media id -> upload (account, mime, size, description, ...)
        #: uploads bigger than this are processed asynchronously (202, then 206 on GET until done)
        self.sync_media_bytes = 256 * 1024
        self.processing_polls = 1

    # -- accounts --

    def _account(self, token: str) -> dict[str, Any]:
        digest = hashlib.sha256(token.encode()).hexdigest()
        account_id = str(110_000_000_000_000_000 + int(digest[:15], 16) % 10**16)
        username = f"sandbox_{digest[:8]}"
        return {
            "id": account_id, "username": username, "acct": username, "display_name": "", "locked": False,
            "bot": False, "discoverable": True, "indexable": True, "group": False,
            "created_at": "2026-08-01T00:00:00.000Z", "note": "", "url": f"https://{self.domain}/@{username}",
            "uri": f"https://{self.domain}/users/{username}",
            "avatar": f"https://{self.domain}/avatars/original/missing.png",
            "avatar_static": f"https://{self.domain}/avatars/original/missing.png", "avatar_description": "",
            "header": f"https://{self.domain}/headers/original/missing.png",
            "header_static": f"https://{self.domain}/headers/original/missing.png", "header_description": "",
            "followers_count": 0, "following_count": 0,
            "statuses_count": sum(1 for s in self.statuses.values() if s["account_id"] == account_id and not s["deleted"]),
            "last_status_at": None, "hide_collections": None, "show_media": True, "show_media_replies": True,
            "show_featured": True, "noindex": False,
            "feature_approval": {"automatic": ["public"], "manual": [], "current_user": "automatic"},
            "emojis": [], "roles": [], "fields": [],
        }

    def _authenticate(self, req: Request) -> dict[str, Any] | None:
        token = req.bearer()
        if not token or any(w in token for w in ("expired", "revoked", "wrong")):
            return None
        if self.sandbox.faults_for(PLATFORM).expire_tokens:
            return None
        return self._account(token)

    # -- responses --

    @staticmethod
    def _base_headers() -> dict[str, str]:
        return {"content-type": "application/json; charset=utf-8", "cache-control": "private, no-store",
                "vary": "Authorization, Origin", "x-request-id": str(uuid.uuid4()), "x-runtime": "0.010000",
                "x-content-type-options": "nosniff", "x-frame-options": "SAMEORIGIN",
                "referrer-policy": "strict-origin-when-cross-origin"}

    def _answer(self, status: int, body: Any, limit: int, remaining: int, reset: float) -> Response:
        headers = self._base_headers()
        headers.update({"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(max(0, remaining)),
                        "x-ratelimit-reset": iso(reset, 6)})
        return Response(status, body, headers)

    def _api(self, account_id: str, status: int, body: Any) -> Response:
        """An answer under the general API family: 300 requests per 5-minute bucket."""
        now = time.time()
        bucket = int(now // API_WINDOW_SECONDS)
        with self.sandbox.lock:
            used = self.api_calls.get((account_id, bucket), 0) + 1
            self.api_calls[(account_id, bucket)] = used
        return self._answer(status, body, 300, 300 - used, (bucket + 1) * API_WINDOW_SECONDS)

    # -- dispatch --

    def handle(self, req: Request) -> Response:
        with self.sandbox.lock:  # one request at a time: the state is plain dicts
            return self._handle(req)

    def _handle(self, req: Request) -> Response:
        path = req.path.rstrip("/") or "/"
        if req.method == "GET" and path in ("/api/v1/instance", "/api/v2/instance"):
            return Response(200, self._instance(path.endswith("v2/instance")), self._base_headers())
        account = self._authenticate(req)
        if account is None:
            return Response(401, {"error": "The access token is invalid"}, self._base_headers())
        burst = self.sandbox.burst(PLATFORM)
        if burst is not None:
            reset = time.time() + burst
            return self._answer(429, {"error": "Too many requests"}, 300, 0, reset)
        aid = account["id"]
        if req.method == "POST" and path == "/api/v1/statuses":
            return self._create(req, account)
        if req.method == "POST" and path == "/api/v2/media":
            return self._upload(req, aid)
        m = re.fullmatch(r"/api/v1/media/(\d+)", path)
        if req.method == "GET" and m:
            return self._media_status(aid, m.group(1))
        if req.method == "GET" and path == "/api/v1/accounts/verify_credentials":
            source = {"privacy": "public", "sensitive": False, "language": None, "note": "", "fields": [],
                      "follow_requests_count": 0, "hide_collections": None, "discoverable": True,
                      "indexable": True, "attribution_domains": [], "quote_policy": "public"}
            return self._api(aid, 200, {**account, "source": source})
        m = re.fullmatch(r"/api/v1/accounts/(\d+)/statuses", path)
        if req.method == "GET" and m:
            return self._api(aid, 200, self._account_statuses(m.group(1), req.query))
        m = re.fullmatch(r"/api/v1/statuses/(\d+)", path)
        if m and req.method in ("GET", "DELETE"):
            found = self.statuses.get(m.group(1))
            if found is None or found["deleted"] or (req.method == "DELETE" and found["account_id"] != aid):
                return self._api(aid, 404, {"error": "Record not found"})
            if req.method == "GET":
                return self._api(aid, 200, self._entity(found))
            found["deleted"] = True
            return self._answer(200, {**self._entity(found, source=True)}, 30, 29, time.time() + 1800)
        return self._api(aid, 404, {"error": "Not Found"})

    # -- media --

    def _attachment(self, m: dict[str, Any]) -> dict[str, Any]:
        done = m["polls_left"] <= 0
        w, h = m["width"], m["height"]
        return {"id": m["id"], "type": "image", "url": f"https://{self.domain}/system/media/{m['id']}.png" if done
                else None, "preview_url": f"https://{self.domain}/system/media/{m['id']}_small.png",
                "remote_url": None, "preview_remote_url": None, "text_url": None,
                "meta": {"original": {"width": w, "height": h, "size": f"{w}x{h}", "aspect": w / h}},
                "description": m["description"], "blurhash": "UFPZlA~q-;of_3WBRjay"}

    def _upload(self, req: Request, aid: str) -> Response:
        fields = req.multipart()
        file = fields.get("file")
        if file is None or not file.data:
            return self._api(aid, 422, {"error": "Validation failed: File can't be blank"})
        info = image_info(file.data)
        if info is None or info[0] not in MEDIA_TYPES:
            return self._api(aid, 422, {"error": "Validation failed: File content type is invalid"})
        if len(file.data) > MEDIA_MAX_BYTES:
            return self._api(aid, 422, {"error": "Validation failed: File file size must be less than 16 MB"})
        if info[1] * info[2] > MEDIA_MAX_PIXELS:
            return self._api(aid, 422, {"error": "Validation failed: File dimensions are too large"})
        description = fields["description"].text if "description" in fields else None
        if description is not None and len(description) > MEDIA_MAX_DESCRIPTION:
            return self._api(aid, 422, {"error": "Validation failed: Description is too long (maximum is "
                                                 f"{MEDIA_MAX_DESCRIPTION} characters)"})
        slow = len(file.data) > self.sync_media_bytes
        m: dict[str, Any] = {"id": self._next_id(), "account_id": aid, "mime": info[0], "width": info[1], "height": info[2],
             "size": len(file.data), "description": description, "polls_left": self.processing_polls if slow else 0}
        self.media[m["id"]] = m
        return self._api(aid, 202 if slow else 200, self._attachment(m))

    def _media_status(self, aid: str, media_id: str) -> Response:
        m = self.media.get(media_id)
        if m is None or m["account_id"] != aid:
            return self._api(aid, 404, {"error": "Record not found"})
        if m["polls_left"] > 0:
            m["polls_left"] -= 1
            return self._api(aid, 206, self._attachment({**m, "polls_left": 1}))
        return self._api(aid, 200, self._attachment(m))

    def _instance(self, v2: bool) -> dict[str, Any]:
        statuses = {"max_characters": self.max_characters, "max_media_attachments": 4,
                    "characters_reserved_per_url": 23}
        body: dict[str, Any] = {"domain" if v2 else "uri": self.domain, "title": "Publisher sandbox",
                                "version": "4.5.0", "description": "A local emulation for rehearsals.",
                                "languages": ["en"], "configuration": {"statuses": statuses}}
        if not v2:
            body["max_toot_chars"] = self.max_characters
        return body

    # -- statuses --

    def _params(self, req: Request) -> dict[str, Any]:
        if "json" in req.headers.get("content-type", ""):
            data = req.json() or {}
            return {k: v for k, v in data.items() if v is not None}
        return {k.removesuffix("[]"): (v if k.endswith("[]") else v[-1]) for k, v in req.form().items()}

    def _next_id(self) -> str:
        with self.sandbox.lock:
            candidate = (int(time.time() * 1000) << 16) | (uuid.uuid4().int & 0xFFFF)
            self._last_id = max(candidate, self._last_id + 1)
            return str(self._last_id)

    def _create(self, req: Request, account: dict[str, Any]) -> Response:
        aid = account["id"]
        key = req.headers.get("idempotency-key")
        now = time.time()
        if key:
            with self.sandbox.lock:
                seen = self.idempotency.get((aid, key))
            if seen and now - seen[1] < self.idempotency_ttl_seconds:
                return self._status_answer(aid, 200, self._entity(self.statuses[seen[0]]))
        if self.sandbox.roll_error(PLATFORM):
            return Response(503, {"error": "Service Unavailable"}, self._base_headers())
        p = self._params(req)
        text, spoiler = str(p.get("status") or ""), str(p.get("spoiler_text") or "")
        reply_to = str(p.get("in_reply_to_id") or "") or None
        if reply_to and (reply_to not in self.statuses or self.statuses[reply_to]["deleted"]):
            return self._status_answer(aid, 404, {"error": "Record not found"})
        visibility = str(p.get("visibility") or "public")
        if visibility not in VISIBILITIES:
            return self._status_answer(aid, 422, {"error": f"'{visibility}' is not a valid visibility"})
        if p.get("scheduled_at"):
            return self._status_answer(aid, 422, {"error": "Validation failed: scheduled statuses are not emulated"})
        if not text.strip() and not p.get("media_ids"):
            return self._status_answer(aid, 422, {"error": "Validation failed: Text can't be blank"})
        if mastodon_length(spoiler + text) > self.max_characters:
            return self._status_answer(
                aid, 422, {"error": f"Validation failed: Text character limit of {self.max_characters} exceeded"})
        media_ids = p.get("media_ids") or []
        media_ids = [str(i) for i in (media_ids if isinstance(media_ids, list) else [media_ids])]
        if len(media_ids) > 4:
            return self._status_answer(aid, 422, {"error": "Validation failed: You can attach at most 4 files"})
        attached = [self.media.get(i) for i in media_ids]
        if any(m is None or m["account_id"] != aid for m in attached):
            return self._status_answer(aid, 422, {"error": "Validation failed: Media attachments are invalid"})
        if any(m["polls_left"] > 0 for m in attached if m is not None):
            return self._status_answer(aid, 422, {"error": "Cannot attach files that have not finished processing. "
                                                           "Try again in a moment!"})
        allowed, limit, remaining, reset = self.sandbox.rate_check(PLATFORM, aid)
        if not allowed:
            return self._answer(429, {"error": "Too many requests"}, limit, 0, reset)
        status = {"id": self._next_id(), "account_id": aid, "token_account": account, "text": text,
                  "spoiler_text": spoiler, "visibility": visibility, "language": p.get("language") or "en",
                  "in_reply_to_id": reply_to, "sensitive": str(p.get("sensitive", "")).lower() in ("1", "true"),
                  "created": now, "deleted": False, "media_ids": media_ids}
        with self.sandbox.lock:
            self.statuses[status["id"]] = status
            if key:
                self.idempotency[(aid, key)] = (status["id"], now)
        self.sandbox.record(PLATFORM, aid, status["id"], text, in_reply_to=reply_to, visibility=visibility,
                            idempotency_key=key, media=[{k: v for k, v in m.items() if k != "polls_left"}
                                                        for m in attached if m is not None])
        if self.sandbox.take(PLATFORM, "drop_after_accept"):
            return Response(200, drop=True)
        if self.sandbox.take(PLATFORM, "error_after_accept"):
            return Response(500, {"error": "We're sorry, but something went wrong"}, self._base_headers())
        if self.sandbox.faults_for(PLATFORM).rate_limit is not None:
            return self._answer(200, self._entity(status), limit, remaining, reset)
        return self._status_answer(aid, 200, self._entity(status))

    def _status_answer(self, account_id: str, code: int, body: Any) -> Response:
        """Answers of POST /statuses carry the statuses family: 300 creates per fixed 3-hour bucket."""
        bucket_start = time.time() // STATUS_BUCKET_SECONDS * STATUS_BUCKET_SECONDS
        used = sum(1 for s in self.statuses.values() if s["account_id"] == account_id and s["created"] >= bucket_start)
        return self._answer(code, body, STATUS_BUCKET_LIMIT, STATUS_BUCKET_LIMIT - used,
                            bucket_start + STATUS_BUCKET_SECONDS)

    def _entity(self, s: dict[str, Any], source: bool = False) -> dict[str, Any]:
        account = s["token_account"]
        parent = self.statuses.get(s["in_reply_to_id"] or "")
        body: dict[str, Any] = {
            "id": s["id"], "created_at": iso(s["created"]), "in_reply_to_id": s["in_reply_to_id"],
            "in_reply_to_account_id": parent["account_id"] if parent else None, "sensitive": s["sensitive"],
            "spoiler_text": s["spoiler_text"], "visibility": s["visibility"], "language": s["language"],
            "uri": f"https://{self.domain}/users/{account['username']}/statuses/{s['id']}",
            "url": f"https://{self.domain}/@{account['username']}/{s['id']}",
            "replies_count": sum(1 for o in self.statuses.values() if o["in_reply_to_id"] == s["id"]),
            "reblogs_count": 0, "favourites_count": 0, "quotes_count": 0, "edited_at": None, "favourited": False,
            "reblogged": False, "muted": False, "bookmarked": False, "pinned": False, "filtered": [], "reblog": None,
            "application": {"name": "publisher", "website": None}, "account": account,
            "media_attachments": [self._attachment(self.media[i]) for i in s.get("media_ids") or [] if i in self.media],
            "mentions": [], "tags": [], "emojis": [], "tagged_collections": [], "quote": None, "card": None,
            "poll": None, "quote_approval": {"automatic": ["public"], "manual": [], "current_user": "automatic"},
        }
        if source:
            body["text"] = s["text"]
        else:
            body["content"] = to_html(s["text"], self.domain)
        return body

    def _account_statuses(self, account_id: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        limit = min(40, int((query.get("limit") or ["20"])[0]))
        max_id = int((query.get("max_id") or ["0"])[0] or 0)
        since_id = int((query.get("since_id") or query.get("min_id") or ["0"])[0] or 0)
        mine = sorted((s for s in self.statuses.values() if s["account_id"] == account_id and not s["deleted"]
                       and (not max_id or int(s["id"]) < max_id) and int(s["id"]) > since_id),
                      key=lambda s: int(s["id"]), reverse=True)
        return [self._entity(s) for s in mine[:limit]]
