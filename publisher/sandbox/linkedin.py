"""LinkedIn Posts API emulator (PLATFORMS.md section 3 and the section 8 checklist), under ``/linkedin``.

``POST /rest/posts`` (201, empty body, URN in ``x-restli-id``), ``GET /rest/posts?q=author`` (newest first,
``start``/``count`` paging, ``paging.total``), ``DELETE /rest/posts/{urn}`` (204; the text is no longer a duplicate), ``POST|GET /rest/socialActions/{urn}/comments``, ``GET /v2/userinfo``,
``GET /rest/organizations/{id}``. ``/rest/`` calls need ``LinkedIn-Version`` (active: the last 12 months; else
426 NONEXISTENT_VERSION) and ``X-Restli-Protocol-Version: 2.0.0``. Tokens containing "expired"/"revoked" get the
401s of section 3.3, "noperm" the 403 ACCESS_DENIED. The member id behind a token is ``member_id(token)``.

Images API: ``POST /rest/images?action=initializeUpload`` (``{"initializeUploadRequest": {"owner"}}``) answers
``{"value": {"uploadUrlExpiresAt", "uploadUrl", "image"}}`` with an upload URL on this sandbox; ``PUT`` of the bytes
there (JPEG/PNG/GIF, at most 36,152,320 pixels, else 400) answers 201. A post's ``content.media``
(``{"id", "altText"}``, one image) or ``content.multiImage.images`` (2-20) must name uploaded images of the author,
``altText`` at most 4,086 characters, else 422; a comment may carry ``content: [{"entity": {"image": urn}}]``.
A link card is ``content.article`` (``source`` URL and ``title`` required, ``description``, ``thumbnail`` an
uploaded image URN of the author), else 422. ``images`` keeps every upload; ledger entries keep ``media`` and
``article``.

``commentary`` is parsed as little text format: the post is truncated at the first unescaped reserved character,
and the 201 is sent all the same, like the real API. A 429 carries no rate headers (none are documented).
"""

from __future__ import annotations

import hashlib
import itertools
import re
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from publisher.sandbox.core import Platform, Request, Response, Sandbox, image_info

MAX_COMMENTARY = 3000
IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif")
MAX_IMAGE_PIXELS = 36_152_320
MAX_ALT_TEXT = 4086
RESERVED = set("\\|{}@[]()<>#*_~")
_AUTHOR = re.compile(r"^urn:li:(person|organization):[A-Za-z0-9_-]+$")
_COMMENTS = re.compile(r"^/rest/socialActions/([^/]+)/comments$")


def member_id(token: str) -> str:
    """The sandbox member id (OIDC ``sub``) a token belongs to."""
    return "m" + hashlib.sha256(token.encode()).hexdigest()[:10]


def little_text(commentary: str) -> tuple[str, str, int]:
    """(displayed text, stored commentary, full unescaped length): cut at the first unescaped reserved char."""
    shown: list[str] = []
    full = 0
    cut: int | None = None
    i = 0
    while i < len(commentary):
        ch = commentary[i]
        if ch == "\\" and i + 1 < len(commentary):
            if cut is None:
                shown.append(commentary[i + 1])
            full += 1
            i += 2
            continue
        if ch in RESERVED and cut is None:
            cut = i
        if cut is None:
            shown.append(ch)
        full += 1
        i += 1
    return "".join(shown), commentary if cut is None else commentary[:cut], full


def error(status: int, code: str, message: str, service_code: int | None = None) -> Response:
    body: dict[str, Any] = {"status": status, "code": code, "message": message}
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    return Response(status, body, {"content-type": "application/json"})


def input_error(status: int, message: str, code: str, description: str) -> Response:
    return Response(status, {
        "errorDetailType": "com.linkedin.common.error.BadRequest",
        "message": f"com.linkedin.content.common.exception.BadRequestResponseException: {message}",
        "errorDetails": {"inputErrors": [{"description": description, "input": {}, "code": code}]},
        "status": status}, {"content-type": "application/json"})


def active_versions(now: datetime | None = None) -> set[str]:
    now = now or datetime.now(UTC)
    out = set()
    y, m = now.year, now.month
    for _ in range(13):
        out.add(f"{y:04d}{m:02d}")
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
    return out


class LinkedInPlatform(Platform):
    name = "linkedin"

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self._ids = itertools.count(7295588489876647936 + int(time.time()) % 100_000 * 1000)
        self.images: dict[str, dict[str, Any]] = {}  # image urn -> {owner, upload id, uploaded, mime, w, h, size}

    def handle(self, req: Request) -> Response:
        faults = self.sandbox.faults_for(self.name)
        if self.sandbox.burst(self.name) is not None:  # LinkedIn sends no reset information
            return error(429, "TOO_MANY_REQUESTS", "Resource level throttle limit for calls to this resource is reached.", 101)
        token = req.bearer()
        if not token:
            return error(401, "INVALID_ACCESS_TOKEN", "Invalid access token", 65600)
        if faults.expire_tokens or "expired" in token:
            return error(401, "EXPIRED_ACCESS_TOKEN", "The token used in the request has expired", 65602)
        if "revoked" in token:
            return error(401, "REVOKED_ACCESS_TOKEN", "The token used in the request has been revoked by the user", 65601)
        if req.method == "PUT" and req.path.startswith("/dms-uploads/"):
            return self.upload(req, req.path.removeprefix("/dms-uploads/"))
        if req.method == "GET" and req.path == "/v2/userinfo":
            sub = member_id(token)
            return Response(200, {"sub": sub, "name": f"Sandbox Member {sub}", "given_name": "Sandbox",
                                  "family_name": f"Member {sub}", "locale": {"country": "US", "language": "en"}})
        if not req.path.startswith("/rest/"):
            return error(404, "NOT_FOUND", f"No resource found for {req.path}")
        version = req.headers.get("linkedin-version", "")
        if not version:
            return error(400, "VERSION_MISSING", "A version must be present. Please specify a version by adding "
                                                  "the LinkedIn-Version header.")
        if version not in active_versions():
            return error(426, "NONEXISTENT_VERSION", f"Requested version {version}01 is not active")
        if req.headers.get("x-restli-protocol-version") != "2.0.0":
            return error(400, "ILLEGAL_ARGUMENT", "Rest.li protocol version 2.0.0 is required (X-Restli-Protocol-Version)")
        if req.method == "POST" and req.path == "/rest/posts":
            return self.create_post(req, token)
        if req.method == "POST" and req.path == "/rest/images":
            return self.initialize_upload(req, token)
        if req.method == "GET" and req.path == "/rest/posts":
            return self.list_posts(req)
        m = _COMMENTS.match(req.path)
        if m and req.method == "POST":
            return self.create_comment(req, token, unquote(m.group(1)))
        if m and req.method == "GET":
            return self.list_comments(unquote(m.group(1)), req)
        if req.method == "DELETE" and req.path.startswith("/rest/posts/"):
            urn = unquote(req.path.removeprefix("/rest/posts/"))
            return Response(204) if self.sandbox.delete(self.name, urn) else error(404, "NOT_FOUND", f"Not found: {urn}")
        if req.method == "GET" and req.path.startswith("/rest/organizations/"):
            if "noperm" in token:
                return error(403, "ACCESS_DENIED", "Not enough permissions to access: organizations.GET.NO_VERSION", 100)
            org = req.path.rpartition("/")[2]
            return Response(200, {"id": int(org) if org.isdigit() else org, "localizedName": f"Sandbox Org {org}",
                                  "vanityName": f"sandbox-org-{org}"})
        return error(404, "NOT_FOUND", f"No resource found for {req.method} {req.path}")

    def initialize_upload(self, req: Request, token: str) -> Response:
        if (req.query.get("action") or [""])[0] != "initializeUpload":
            return error(400, "ILLEGAL_ARGUMENT", "action=initializeUpload is required")
        body = req.json() or {}
        owner = str(((body.get("initializeUploadRequest") or {}) if isinstance(body, dict) else {}).get("owner") or "")
        if not _AUTHOR.match(owner):
            return error(422, "UNPROCESSABLE_ENTITY", f"ERROR :: /initializeUploadRequest/owner :: {owner!r} is not a "
                                                      "valid person or organization URN")
        if "noperm" in token:
            return error(403, "ACCESS_DENIED", "Not enough permissions to access: images.ACTION.20250101", 100)
        upload_id = str(next(self._ids))
        urn = f"urn:li:image:D4E10AQ{upload_id}"
        self.images[urn] = {"owner": owner, "upload_id": upload_id, "uploaded": False}
        host = req.headers.get("host", "127.0.0.1")
        return Response(200, {"value": {"uploadUrlExpiresAt": int(time.time() * 1000) + 86_400_000,
                                        "uploadUrl": f"http://{host}/{self.name}/dms-uploads/{upload_id}",
                                        "image": urn}})

    def upload(self, req: Request, upload_id: str) -> Response:
        urn = next((u for u, i in self.images.items() if i["upload_id"] == upload_id), None)
        if urn is None:
            return error(404, "NOT_FOUND", f"No upload {upload_id}")
        info = image_info(req.body)
        if info is None or info[0] not in IMAGE_TYPES:
            return error(400, "BAD_REQUEST", "Unsupported image format; use JPG, GIF or PNG")
        if info[1] * info[2] > MAX_IMAGE_PIXELS:
            return error(400, "BAD_REQUEST", f"Image has more than {MAX_IMAGE_PIXELS} pixels")
        self.images[urn].update(uploaded=True, mime=info[0], width=info[1], height=info[2], size=len(req.body))
        return Response(201)

    @staticmethod
    def _article(article: dict[str, Any]) -> Response | None:
        """``content.article``: ``source`` (an http(s) URL) and ``title`` required, ``description`` optional,
        ``thumbnail`` an uploaded image URN (checked with the media)."""
        source = article.get("source")
        if not isinstance(source, str) or not source.startswith(("http://", "https://")):
            return error(422, "UNPROCESSABLE_ENTITY", "ERROR :: /content/article/source :: field is required and "
                                                      "must be a URL")
        if not isinstance(article.get("title"), str) or not article["title"]:
            return error(422, "UNPROCESSABLE_ENTITY", "ERROR :: /content/article/title :: field is required but not "
                                                      "found and has no default value")
        return None

    def _media(self, entries: list[tuple[str, Any]], author: str) -> list[dict[str, Any]] | Response:
        out = []
        for path, item in entries:
            urn = str((item or {}).get("id") or "")
            image = self.images.get(urn)
            if image is None or not image["uploaded"] or image["owner"] != author:
                return error(422, "UNPROCESSABLE_ENTITY", f"ERROR :: {path}/id :: {urn!r} is not an uploaded image "
                                                          "of the author")
            alt = (item or {}).get("altText")
            if alt is not None and (not isinstance(alt, str) or len(alt) > MAX_ALT_TEXT):
                return error(422, "UNPROCESSABLE_ENTITY", f"ERROR :: {path}/altText :: longer than {MAX_ALT_TEXT}")
            out.append({"id": urn, "altText": alt, **{k: image[k] for k in ("mime", "width", "height", "size")}})
        return out

    def _gate(self, token: str, author: str, resource: str) -> Response | None:
        """Rate window, permissions and the 503 fault, in the order the platform applies them."""
        ok, *_ = self.sandbox.rate_check(self.name, author)
        if not ok:
            return error(429, "TOO_MANY_REQUESTS", "Resource level throttle limit for calls to this resource is reached.", 101)
        if "noperm" in token:
            return error(403, "ACCESS_DENIED", f"Not enough permissions to access: {resource}.CREATE.20250101", 100)
        if self.sandbox.roll_error(self.name):
            return Response(503, {"message": "Service Unavailable", "status": 503}, {"content-type": "application/json"})
        return None

    def _after_accept(self) -> Response | None:
        if self.sandbox.take(self.name, "drop_after_accept"):
            return Response(0, drop=True)
        if self.sandbox.take(self.name, "error_after_accept"):
            return error(500, "INTERNAL_SERVER_ERROR", "Internal Server Error")
        return None

    def create_post(self, req: Request, token: str) -> Response:
        try:
            body = req.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        author = str(body.get("author") or "")
        if not _AUTHOR.match(author):
            return error(422, "UNPROCESSABLE_ENTITY", f"ERROR :: /author :: {author!r} is not a valid person or organization URN")
        gated = self._gate(token, author, "partnerApiPostsExternal")
        if gated:
            return gated
        for field in ("commentary", "visibility", "distribution", "lifecycleState"):
            if field not in body:
                return error(422, "UNPROCESSABLE_ENTITY", f"ERROR :: /{field} :: field is required but not found and has no default value")
        shown, stored, length = little_text(str(body["commentary"]))
        if length > MAX_COMMENTARY:
            return input_error(400, f"ShareCommentary text length ({length} characters) exceeded the maximum allowed "
                                    f"({MAX_COMMENTARY} characters)", "FIELD_ARRAY_SIZE_TOO_HIGH",
                               "Size of array cannot be higher than the maxLength")
        content: dict[str, Any] = body["content"] if isinstance(body.get("content"), dict) else {}
        entries: list[tuple[str, Any]] = []
        if "media" in content:
            entries = [("/content/media", content["media"])]
        elif "multiImage" in content:
            images = (content["multiImage"] or {}).get("images") or []
            if not 2 <= len(images) <= 20:
                return error(422, "UNPROCESSABLE_ENTITY", "ERROR :: /content/multiImage/images :: 2 to 20 images")
            entries = [(f"/content/multiImage/images/{i}", im) for i, im in enumerate(images)]
        article = content.get("article") if isinstance(content.get("article"), dict) else None
        if article is not None:
            bad = self._article(article)
            if bad is not None:
                return bad
            if article.get("thumbnail"):
                entries = [("/content/article/thumbnail", {"id": article["thumbnail"]})]
        media = self._media(entries, author)
        if isinstance(media, Response):
            return media
        if self.sandbox.has_text(self.name, author, shown, replies=False):
            first = next(p for p in self.sandbox.posts(self.name)
                         if p["account"] == author and not p.get("in_reply_to") and p["text"] == shown)
            return input_error(422, f"Content is a duplicate of {first['remote_id']}", "DUPLICATE_POST",
                               "Duplicate post is detected")
        urn = f"urn:li:share:{next(self._ids)}"
        self.sandbox.record(self.name, author, urn, shown, author=author, commentary=stored, in_reply_to=None,
                            visibility=body["visibility"], member=member_id(token), media=media,
                            article=article)
        return self._after_accept() or Response(201, None, {"x-restli-id": urn, "x-linkedin-id": urn})

    @staticmethod
    def _window(req: Request, default: int) -> tuple[int, int]:
        """(start, count) of a Rest.li collection request; count at most 100."""
        start = int((req.query.get("start") or ["0"])[0])
        return max(0, start), max(1, min(100, int((req.query.get("count") or [str(default)])[0])))

    def list_posts(self, req: Request) -> Response:
        author = (req.query.get("author") or [""])[0]
        start, count = self._window(req, 10)
        posts = [p for p in self.sandbox.posts(self.name) if p.get("author") == author and not p.get("in_reply_to")
                 and not p.get("deleted")]
        elements = [{"id": p["remote_id"], "author": author, "commentary": p["commentary"],
                     "visibility": p["visibility"], "lifecycleState": "PUBLISHED",
                     "createdAt": int(p["at"] * 1000), "publishedAt": int(p["at"] * 1000),
                     "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [],
                                      "thirdPartyDistributionChannels": []}}
                    for p in reversed(posts)][start:start + count]
        return Response(200, {"paging": {"start": start, "count": count, "links": [], "total": len(posts)},
                              "elements": elements})

    def create_comment(self, req: Request, token: str, root: str) -> Response:
        try:
            body = req.json()
        except ValueError:
            body = None
        body = body if isinstance(body, dict) else {}
        actor = str(body.get("actor") or "")
        text = (body.get("message") or {}).get("text")
        if not _AUTHOR.match(actor) or not isinstance(text, str) or not text:
            return error(422, "UNPROCESSABLE_ENTITY", "ERROR :: /actor or /message/text :: missing or invalid")
        if self.sandbox.find(self.name, root) is None:
            return error(404, "NOT_FOUND", f"Not found: {root}")
        gated = self._gate(token, actor, "partnerApiSocialActions")
        if gated:
            return gated
        items: list[Any] = body["content"] if isinstance(body.get("content"), list) else []
        media = self._media([(f"/content/{i}/entity/image", {"id": (c.get("entity") or {}).get("image")})
                             for i, c in enumerate(items) if isinstance(c, dict)], actor)
        if isinstance(media, Response):
            return media
        comment_id = str(next(self._ids))
        urn = f"urn:li:comment:({root},{comment_id})"
        now = int(time.time() * 1000)
        self.sandbox.record(self.name, actor, urn, text, author=actor, in_reply_to=root, comment_id=comment_id,
                            media=media)
        return self._after_accept() or Response(201, {
            "actor": actor, "object": root, "message": {"text": text}, "id": comment_id, "commentUrn": urn,
            "created": {"actor": actor, "time": now}, "lastModified": {"actor": actor, "time": now}},
            {"x-restli-id": urn})

    def list_comments(self, root: str, req: Request) -> Response:
        start, count = self._window(req, 10)
        items = [p for p in self.sandbox.posts(self.name) if p.get("in_reply_to") == root and not p.get("deleted")]
        elements = [{"actor": p["author"], "object": root, "message": {"text": p["text"]}, "id": p["comment_id"],
                     "commentUrn": p["remote_id"], "created": {"time": int(p["at"] * 1000)}}
                    for p in reversed(items)][start:start + count]
        return Response(200, {"paging": {"start": start, "count": count, "links": [], "total": len(items)},
                              "elements": elements})
