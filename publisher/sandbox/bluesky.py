"""Bluesky PDS emulator (PLATFORMS.md section 5), served under ``/bluesky``: sessions, records, handles, rate headers.

* ``com.atproto.server.createSession``: any identifier and any non-empty password, except passwords containing
  "expired", "revoked" or "wrong" (401 ``AuthenticationRequired``). Logins are limited to 30 per 5 minutes per
  identifier. Tokens look like JWTs; access tokens live ``access_ttl_seconds`` (default 7200), refresh tokens
  ``refresh_ttl_seconds``. A stale access token answers 400 ``ExpiredToken``; ``expire_access_tokens()`` expires
  every access token issued so far (until refreshed); ``Faults.expire_tokens`` treats every token, access and refresh,
  as expired while set.
* ``refreshSession`` rotates both tokens. As on the real PDS the old refresh token stays usable for a grace of
  ``refresh_grace_seconds`` (2 h) from its first use, each reuse answering a new valid session (two workers
  refreshing one session at once both go on); after it, 400 ``ExpiredToken`` "Token has been revoked".
  ``getSession`` names the account.
* ``com.atproto.repo.createRecord`` validates ``app.bsky.feed.post`` as the real PDS does (300 graphemes; 3000 UTF-8
  bytes, refused as ``string too big (maximum 3000)``; at most 3 langs; strong refs in replies; a TID record key;
  ``createdAt`` with a timezone; facets only by the lexicon: non-negative integer byte offsets, so ranges past the
  end, overlapping or inside a character are accepted, as the PDS accepts them) and answers 200
  ``{uri,cid,commit,validationStatus}``; a record key already taken answers 500
  ``InternalServerError`` as the real PDS does. ``getRecord`` (400 ``RecordNotFound``), ``deleteRecord``,
  ``identity.resolveHandle`` (handles containing "unknown" or "nobody" do not resolve).
* The ``app.bsky.*`` reads a client makes after login (``actor.getProfile``, ``actor.getProfiles``,
  ``feed.getAuthorFeed``, ``feed.getPostThread``, ``feed.getPosts``) answer from the repositories with the lexicon's
  view shapes (bluesky_appview.py); any other method answers 501 ``MethodNotImplemented``.
* ``com.atproto.repo.uploadBlob``: raw bytes with their Content-Type, at most 50 MB (413 ``PayloadTooLarge``), answers
  ``{"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType", "size"}}``; ``blobs`` keeps what was uploaded.
  A record with an ``embed`` is validated against the AT Protocol lexicon models shipped by the ``atproto``
  package (``app.bsky.embed.images`` / ``app.bsky.embed.external``), and, as on the PDS, every blob it refers to
  must have been uploaded by the same account with the same MIME type, and an image blob (or card thumbnail) must
  be at most 1,000,000 bytes (the lexicon's ``maxSize``). The ledger entry keeps the embed.
* Every answer carries ``RateLimit-Limit/Remaining/Reset/Policy`` (reset in unix seconds); 429 adds ``Retry-After``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

from publisher.channels.bluesky_tid import is_tid, now_tid
from publisher.sandbox.bluesky_appview import AppView
from publisher.sandbox.core import Platform, Request, Response, Sandbox
from publisher.textlength import ChannelLimits

PLATFORM = "bluesky"
POST = "app.bsky.feed.post"
_HANDLE = re.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_BAD_SECRET = ("expired", "revoked", "wrong")
#: the lexicon's caps on Record/text (maxGraphemes 300, maxLength 3000 UTF-8 bytes), checked with the measuring
#: function every adapter and tone check uses
_DATETIME = re.compile(r"^\d{4}-[01]\d-[0-3]\dT[0-2]\d:[0-6]\d:[0-6]\d(\.\d{1,20})?(Z|[+-][0-2]\d:[0-5]\d)$")
POST_TEXT = ChannelLimits(max_length=300, counting="graphemes", max_bytes=3000)
MAX_BLOB_BYTES = 50 * 1024 * 1024  # uploadBlob (PLATFORMS.md 5.4)
MAX_IMAGE_BLOB = 1_000_000  # app.bsky.embed.images#image and app.bsky.embed.external#external thumb: maxSize


def blob_cid(data: bytes) -> str:
    """A CIDv1 raw-codec sha2-256 string as the PDS gives blobs ("bafkrei..."), from the bytes."""
    digest = bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(data).digest()
    return "b" + base64.b32encode(digest).decode().lower().rstrip("=")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def did_for(handle: str) -> str:
    return "did:plc:" + base64.b32encode(hashlib.sha256(handle.lower().encode()).digest()).decode().lower()[:24]


def cid_for(value: Any) -> str:
    digest = hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).digest()
    return "bafyrei" + base64.b32encode(digest).decode().lower().rstrip("=")[:52]


class BlueskyPlatform(Platform):
    name = PLATFORM
    access_ttl_seconds: float = 7200.0
    refresh_ttl_seconds: float = 90 * 86400.0
    refresh_grace_seconds: float = 7200.0  # a rotated refresh token still refreshes this long (the PDS's 2 h)
    login_limit = (30, 300)  # createSession: 30 per 5 minutes per identifier

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self.tokens: dict[str, dict[str, Any]] = {}  # jwt -> {did, scope, exp, revoked}
        self.handles: dict[str, str] = {}  # did -> handle
        self.repos: dict[str, dict[str, dict[str, Any]]] = {}  # did -> rkey -> {uri, cid, value, indexedAt}
        self.logins: dict[str, list[float]] = {}  # identifier -> createSession times
        self.calls: dict[str, int] = {}  # xrpc method -> number of calls (tests read this)
        self.joined: dict[str, str] = {}  # did -> when the account first logged in (profile createdAt)
        self.appview = AppView(self)
        self.blobs: dict[str, dict[str, Any]] = {}  # cid -> {did, mime, size, sha256, data}

    # -- tokens --

    def _mint(self, did: str, scope: str, ttl: float) -> str:
        now = time.time()
        header = {"typ": "at+jwt" if scope == "com.atproto.access" else "refresh+jwt", "alg": "ES256K"}
        claims = {"scope": scope, "sub": did, "aud": "did:web:sandbox.bsky.test", "iat": int(now),
                  "exp": int(now + ttl), "jti": secrets.token_hex(8)}
        token = ".".join(_b64(json.dumps(p).encode()) for p in (header, claims)) + "." + _b64(secrets.token_bytes(32))
        self.tokens[token] = {"did": did, "scope": scope, "exp": now + ttl, "revoked": False, "grace_until": None}
        return token

    def _session_body(self, did: str, host: str) -> dict[str, Any]:
        handle = self.handles[did]
        return {"did": did, "didDoc": {
            "@context": ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"], "id": did,
            "alsoKnownAs": [f"at://{handle}"],
            "verificationMethod": [{"id": f"{did}#atproto", "type": "Multikey", "controller": did,
                                    "publicKeyMultibase": "zQ3sh" + did_for(did)[8:]}],
            "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                         "serviceEndpoint": f"http://{host}/bluesky"}]},
            "handle": handle, "email": f"{handle.split('.')[0]}@example.com", "emailConfirmed": True,
            "emailAuthFactor": False, "active": True}

    def expire_access_tokens(self) -> None:
        """Make every access token issued so far stale (a session left idle for hours); refreshing fixes it."""
        with self.sandbox.lock:
            for info in self.tokens.values():
                if info["scope"] == "com.atproto.access":
                    info["exp"] = time.time() - 1

    def _auth(self, req: Request, scope: str) -> str | Response:
        """The DID behind a valid token of ``scope``, else the error answer."""
        token = req.bearer()
        if not token:
            return self._answer(401, {"error": "AuthenticationRequired", "message": "Authentication Required"})
        info = self.tokens.get(token)
        if info is None or info["scope"] != scope:
            return self._answer(400, {"error": "InvalidToken", "message": "Token could not be verified"})
        if info["revoked"]:
            return self._answer(400, {"error": "ExpiredToken", "message": "Token has been revoked"})
        if info["exp"] < time.time() or self.sandbox.faults_for(PLATFORM).expire_tokens:
            return self._answer(400, {"error": "ExpiredToken", "message": "Token has expired"})
        return str(info["did"])

    # -- dispatch --

    def handle(self, req: Request) -> Response:
        nsid = req.path.removeprefix("/xrpc/").strip("/")
        with self.sandbox.lock:
            self.calls[nsid] = self.calls.get(nsid, 0) + 1
            burst = self.sandbox.burst(PLATFORM)
            if burst is not None:
                reset = time.time() + burst
                return self._answer(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
                                    (3000, 0, reset, 300))
            route = {
                "com.atproto.server.createSession": self._create_session,
                "com.atproto.server.refreshSession": self._refresh_session,
                "com.atproto.server.getSession": self._get_session,
                "com.atproto.repo.createRecord": self._create_record,
                "com.atproto.repo.getRecord": self._get_record,
                "com.atproto.repo.deleteRecord": self._delete_record,
                "com.atproto.identity.resolveHandle": self._resolve_handle,
                "com.atproto.repo.uploadBlob": self._upload_blob,
            }.get(nsid)
            read = {
                "app.bsky.actor.getProfile": self.appview.get_profile,
                "app.bsky.actor.getProfiles": self.appview.get_profiles,
                "app.bsky.feed.getAuthorFeed": self.appview.get_author_feed,
                "app.bsky.feed.getPostThread": self.appview.get_post_thread,
                "app.bsky.feed.getPosts": self.appview.get_posts,
            }.get(nsid)
            if read is not None:
                did = self._auth(req, "com.atproto.access")
                return did if isinstance(did, Response) else self._answer(*read(req.query))
            if route is None:
                return self._answer(501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"})
            return route(req)

    def _answer(self, status: int, body: Any, rate: tuple[int, int, float, int] | None = None) -> Response:
        limit, remaining, reset, window = rate or (3000, 2999, (time.time() // 300 + 1) * 300, 300)
        headers = {"content-type": "application/json; charset=utf-8", "RateLimit-Limit": str(limit),
                   "RateLimit-Remaining": str(max(0, remaining)), "RateLimit-Reset": str(int(reset)),
                   "RateLimit-Policy": f"{limit};w={window}", "Access-Control-Allow-Origin": "*",
                   "Access-Control-Expose-Headers": "RateLimit-Limit,RateLimit-Remaining,RateLimit-Reset,RateLimit-Policy"}
        if status == 429:
            headers["Retry-After"] = str(max(1, math.ceil(reset - time.time())))
        return Response(status, body, headers)

    # -- sessions --

    def _create_session(self, req: Request) -> Response:
        data = req.json() or {}
        identifier, password = str(data.get("identifier") or "").lower(), str(data.get("password") or "")
        now = time.time()
        limit, window = self.login_limit
        recent = [t for t in self.logins.get(identifier, []) if t > now - window]
        rate = (limit, limit - len(recent) - 1, (recent[0] if recent else now) + window, window)
        if len(recent) >= limit:
            return self._answer(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, rate)
        self.logins[identifier] = [*recent, now]
        if not identifier or not password or any(w in password for w in _BAD_SECRET):
            return self._answer(401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"},
                                rate)
        if identifier.startswith("did:"):
            if identifier not in self.handles:
                return self._answer(401, {"error": "AuthenticationRequired",
                                          "message": "Invalid identifier or password"}, rate)
            did = identifier
        else:
            handle = identifier if "." in identifier else f"{identifier}.bsky.social"
            did = did_for(handle)
            self.handles.setdefault(did, handle)
        self.joined.setdefault(did, _iso(now))
        body = self._session_body(did, req.headers.get("host", "127.0.0.1"))
        body.update(accessJwt=self._mint(did, "com.atproto.access", self.access_ttl_seconds),
                    refreshJwt=self._mint(did, "com.atproto.refresh", self.refresh_ttl_seconds))
        return self._answer(200, body, rate)

    def _refresh_session(self, req: Request) -> Response:
        did = self._auth(req, "com.atproto.refresh")
        if isinstance(did, Response):
            return did
        info, now = self.tokens[req.bearer() or ""], time.time()
        if info["grace_until"] is not None and info["grace_until"] < now:
            return self._answer(400, {"error": "ExpiredToken", "message": "Token has been revoked"})
        # rotated, not revoked: like the real PDS, the old refresh token keeps working for a grace period (each
        # reuse answers a new valid session), so workers refreshing one session at once all go on
        info["grace_until"] = min(info["grace_until"] or info["exp"], now + self.refresh_grace_seconds)
        body = self._session_body(did, req.headers.get("host", "127.0.0.1"))
        body.update(accessJwt=self._mint(did, "com.atproto.access", self.access_ttl_seconds),
                    refreshJwt=self._mint(did, "com.atproto.refresh", self.refresh_ttl_seconds))
        return self._answer(200, body)

    def _get_session(self, req: Request) -> Response:
        did = self._auth(req, "com.atproto.access")
        if isinstance(did, Response):
            return did
        return self._answer(200, self._session_body(did, req.headers.get("host", "127.0.0.1")))

    def _resolve_handle(self, req: Request) -> Response:
        handle = (req.query.get("handle") or [""])[0].lower()
        if not _HANDLE.match(handle):
            return self._answer(400, {"error": "InvalidRequest", "message": "Error: handle must be a valid handle"})
        if "unknown" in handle or "nobody" in handle:
            return self._answer(400, {"error": "InvalidRequest", "message": "Unable to resolve handle"})
        return self._answer(200, {"did": did_for(handle)})

    # -- records --

    def _repo_did(self, repo: str) -> str | None:
        if repo.startswith("did:"):
            return repo
        return next((d for d, h in self.handles.items() if h == repo.lower()), None)

    def _create_record(self, req: Request) -> Response:
        did = self._auth(req, "com.atproto.access")
        if isinstance(did, Response):
            return did
        if self.sandbox.roll_error(PLATFORM):
            return self._answer(503, {"error": "InternalServerError", "message": "Service Unavailable"})
        data = req.json() or {}
        if self._repo_did(str(data.get("repo") or "")) != did:
            return self._answer(401, {"error": "AuthenticationRequired", "message": "Authentication Required"})
        collection, record, rkey = data.get("collection"), data.get("record"), data.get("rkey")
        problem = validate_post(record) if collection == POST else "sandbox: only app.bsky.feed.post is emulated"
        if problem is None and isinstance(record, dict) and record.get("embed") is not None:
            problem = self._embed_problem(record, did)
        if problem is None and rkey is not None and not is_tid(str(rkey)):
            problem = "Invalid record key: must be a TID"
        if problem is not None or not isinstance(record, dict):
            return self._answer(400, {"error": "InvalidRequest", "message": problem or "Invalid record"})
        allowed, limit, remaining, reset = self.sandbox.rate_check(PLATFORM, did)
        faults = self.sandbox.faults_for(PLATFORM)
        rate = (limit, remaining, reset, faults.rate_window_seconds) if faults.rate_limit is not None else None
        if not allowed:
            return self._answer(429, {"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}, rate)
        repo = self.repos.setdefault(did, {})
        rkey = str(rkey or now_tid())
        if rkey in repo:  # bluesky-social/atproto#3718: a taken key is an unhandled 500
            return self._answer(500, {"error": "InternalServerError", "message": "Internal Server Error"}, rate)
        uri = f"at://{did}/{POST}/{rkey}"
        repo[rkey] = {"uri": uri, "cid": cid_for(record), "value": record, "indexedAt": _iso(time.time())}
        reply = record.get("reply") or {}
        self.sandbox.record(PLATFORM, did, uri, record["text"], in_reply_to=(reply.get("parent") or {}).get("uri"),
                            rkey=rkey, facets=record.get("facets") or [], embed=record.get("embed"))
        if self.sandbox.take(PLATFORM, "drop_after_accept"):
            return Response(200, drop=True)
        if self.sandbox.take(PLATFORM, "error_after_accept"):
            return self._answer(500, {"error": "InternalServerError", "message": "Internal Server Error"}, rate)
        return self._answer(200, {"uri": uri, "cid": repo[rkey]["cid"],
                                  "commit": {"cid": cid_for([uri, time.time()]), "rev": now_tid()},
                                  "validationStatus": "valid"}, rate)

    def _upload_blob(self, req: Request) -> Response:
        did = self._auth(req, "com.atproto.access")
        if isinstance(did, Response):
            return did
        if len(req.body) > MAX_BLOB_BYTES:
            return self._answer(413, {"error": "PayloadTooLarge", "message": "request entity too large"})
        if not req.body:
            return self._answer(400, {"error": "InvalidRequest", "message": "Request body is empty"})
        mime = req.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
        cid = blob_cid(req.body)
        self.blobs[cid] = {"did": did, "mime": mime, "size": len(req.body),
                           "sha256": hashlib.sha256(req.body).hexdigest(), "data": req.body}
        return self._answer(200, {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime,
                                           "size": len(req.body)}})

    def _embed_problem(self, record: dict[str, Any], did: str) -> str | None:
        """The lexicon's verdict on the record with its embed (atproto's models), then the PDS's blob checks."""
        prefix = "Invalid app.bsky.feed.post record: "
        try:
            from atproto_client import models  # the package import resolves the models' forward references
            from atproto_client.exceptions import ModelError
            from atproto_client.models.utils import get_or_create
        except ImportError:  # the `test` extra: without it, only the blob checks below run
            models = None
        if models is not None:
            try:
                get_or_create(record, model=models.AppBskyFeedPost.Record, strict=True)
            except ModelError as e:
                return prefix + " ".join(str(e).split())[:400]
        embed = record["embed"]
        blobs: list[tuple[str, Any]] = []
        if embed.get("$type") == "app.bsky.embed.images":
            blobs = [(f"Record/embed/images/{i}/image", im.get("image")) for i, im in enumerate(embed["images"])]
            if len(embed["images"]) > 4:
                return prefix + "Record/embed/images must not have more than 4 elements"
        elif embed.get("$type") == "app.bsky.embed.external" and embed["external"].get("thumb") is not None:
            blobs = [("Record/embed/external/thumb", embed["external"]["thumb"])]
        for path, blob in blobs:
            cid = str(((blob or {}).get("ref") or {}).get("$link") or "")
            found = self.blobs.get(cid)
            if found is None or found["did"] != did:
                return f"Could not find blob: {cid}"
            if not found["mime"].startswith("image/") or blob.get("mimeType") != found["mime"]:
                return prefix + f"{path} has a mimeType that does not match the uploaded blob"
            if found["size"] > MAX_IMAGE_BLOB:
                return prefix + f"{path} file too large ({found['size']} bytes; {MAX_IMAGE_BLOB} maximum)"
        return None

    def _get_record(self, req: Request) -> Response:
        q = {k: v[0] for k, v in req.query.items() if v}
        did = self._repo_did(q.get("repo", ""))
        found = self.repos.get(did or "", {}).get(q.get("rkey", "")) if q.get("collection") == POST else None
        if found is None:
            where = f"at://{q.get('repo', '')}/{q.get('collection', '')}/{q.get('rkey', '')}"
            return self._answer(400, {"error": "RecordNotFound", "message": f"Could not locate record: {where}"})
        return self._answer(200, {k: found[k] for k in ("uri", "cid", "value")})

    def _delete_record(self, req: Request) -> Response:
        did = self._auth(req, "com.atproto.access")
        if isinstance(did, Response):
            return did
        data = req.json() or {}
        if self._repo_did(str(data.get("repo") or "")) != did:
            return self._answer(401, {"error": "AuthenticationRequired", "message": "Authentication Required"})
        self.repos.get(did, {}).pop(str(data.get("rkey") or ""), None)
        return self._answer(200, {"commit": {"cid": cid_for([did, time.time()]), "rev": now_tid()}})


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _strong_ref(ref: Any) -> bool:
    return isinstance(ref, dict) and str(ref.get("uri", "")).startswith("at://") and bool(ref.get("cid"))


def valid_datetime(value: str) -> bool:
    """atproto's datetime syntax as the PDS enforces it on createdAt: RFC 3339 with seconds and a timezone."""
    if len(value) > 64 or not _DATETIME.match(value) or value.endswith("-00:00"):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _facet_problem(facet: Any, path: str) -> str | None:
    """What the lexicon says about one app.bsky.richtext.facet. Like the real PDS, byte ranges are not checked
    against the text: past its end, overlapping or inside a character is accepted (clients then drop the facet)."""
    if not isinstance(facet, dict):
        return f"{path} must be an object"
    for key in ("index", "features"):
        if key not in facet:
            return f'{path} must have the property "{key}"'
    index = facet["index"]
    if not isinstance(index, dict):
        return f"{path}/index must be an object"
    for key in ("byteStart", "byteEnd"):
        if key not in index:
            return f'{path}/index must have the property "{key}"'
        if not isinstance(index[key], int) or isinstance(index[key], bool):
            return f"{path}/index/{key} must be an integer"
        if index[key] < 0:
            return f"{path}/index/{key} can not be less than 0"
    if not isinstance(facet["features"], list):
        return f"{path}/features must be an array"
    if not all(isinstance(f, dict) for f in facet["features"]):
        return f"{path}/features must be an array of objects"
    return None


def validate_post(record: Any) -> str | None:
    """What the PDS's lexicon validation would say about an app.bsky.feed.post record, or None if valid."""
    prefix = "Invalid app.bsky.feed.post record: "
    if not isinstance(record, dict) or record.get("$type", POST) != POST:
        return prefix + "Record/$type must be app.bsky.feed.post"
    text = record.get("text")
    if not isinstance(text, str):
        return prefix + 'Record must have the property "text"'
    if not isinstance(record.get("createdAt"), str):
        return prefix + 'Record must have the property "createdAt"'
    excess = POST_TEXT.excess(text)
    if excess is not None and excess.unit == "bytes":  # the PDS's words for the UTF-8 byte cap
        return prefix + f"Record/text string too big (maximum {excess.limit})"
    if excess is not None:
        return prefix + f"Record/text must not be longer than {excess.limit} graphemes"
    if len(record.get("langs") or []) > 3:
        return prefix + "Record/langs must not have more than 3 elements"
    reply = record.get("reply")
    if reply is not None and not (isinstance(reply, dict) and _strong_ref(reply.get("root"))
                                  and _strong_ref(reply.get("parent"))):
        return prefix + "Record/reply must have strong refs root and parent (uri and cid)"
    for i, facet in enumerate(record.get("facets") or []):
        problem = _facet_problem(facet, f"Record/facets/{i}")
        if problem:
            return prefix + problem
    if not valid_datetime(record["createdAt"]):  # the PDS's stricter check after the lexicon's (prepare.ts)
        return prefix + "createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
    return None
