"""Facebook Graph API emulator for Pages (PLATFORMS.md section 2 and the section 8 checklist), under ``/facebook``.

Paths ``/vNN.N/...`` (``v2.8``-``v3.1`` are served as the oldest live version, v21.0, like the real Graph):
``POST /{page}/feed``, ``POST /{post}/comments``, ``GET /{page}/feed|posts``, ``GET /{post}/comments``,
``GET /{page}`` or ``/me``, ``GET /{page}_{post}`` (a post or comment; an unknown id is error #100, subcode 33),
``DELETE /{id}`` (the post leaves listings and the duplicate check), ``POST /{page}/photos`` (multipart ``source``
JPEG/PNG/GIF/BMP/TIFF up to 4 MB, else #324; ``alt_text_custom``; ``published=false`` keeps it for
``attached_media[i]={"media_fbid": id}`` on a feed post or ``attachment_id`` on a comment, which must name an
unpublished photo of the same Page; ``photos`` keeps every upload). Listings are cursor-paged like Graph's:
``limit`` (at most 100), ``since``/``until`` (unix seconds), ``after``/``before`` cursors, ``paging.next`` only when
more follow; feeds are newest first, comments oldest first unless ``order=reverse_chronological``. The token may come in the form body, the query string, or an
``Authorization: OAuth|Bearer`` header. Tokens containing "expired"/"revoked" get #190, "noperm" gets #200.

Every answer has ``content-type: application/json`` (facebook-sdk 3.1.0 raises KeyError without it), errors
sit under ``"error"`` (the SDK ignores the HTTP status), and usage headers are always sent. Throttling answers
#80001 (Page token) with ``X-Business-Use-Case-Usage.estimated_time_to_regain_access`` in minutes.
"""

from __future__ import annotations

import base64
import itertools
import json
import math
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from publisher.sandbox.core import Platform, Request, Response, Sandbox, image_info

MAX_MESSAGE = 63206
PHOTO_TYPES = ("image/jpeg", "image/png", "image/gif", "image/bmp", "image/tiff")
PHOTO_MAX_BYTES = 4 * 1024 * 1024
OLDEST_LIVE = "v21.0"
LATEST = (26, 0)
_PATH = re.compile(r"^/(v\d+\.\d+)/(.+?)/?$")
_PERMISSION = ("(#200) If posting to a group, requires app being installed in the group, and \\ either "
               "publish_to_groups permission with user token, or both pages_read_engagement \\ and "
               "pages_manage_posts permission with page token; If posting to a page, \\ requires both "
               "pages_read_engagement and pages_manage_posts as an admin with \\ sufficient administrative permission")


def _unknown_object(method: str, object_id: str) -> dict[str, Any]:
    return graph_error(100, f"Unsupported {method.lower()} request. Object with ID '{object_id}' does not exist, "
                       "cannot be loaded due to missing permissions, or does not support this operation. Please "
                       "read the Graph API documentation at https://developers.facebook.com/docs/graph-api",
                       "GraphMethodException", error_subcode=33)


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(f"i:{index}".encode()).decode().rstrip("=")


def _index(cursor: str) -> int:
    try:
        return int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")[2])
    except ValueError:
        return -1


def graph_error(code: int, message: str, type_: str = "OAuthException", **extra: Any) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "code": code, **extra,
                      "fbtrace_id": uuid.uuid4().hex[:11]}}


class FacebookPlatform(Platform):
    name = "facebook"

    def __init__(self, sandbox: Sandbox) -> None:
        super().__init__(sandbox)
        self._ids = itertools.count(130068550371568 + int(time.time()) % 100_000 * 100)
        self.photos: dict[str, dict[str, Any]] = {}  # photo id -> upload (page, mime, w, h, size, alt, published)

    # -- helpers --

    @staticmethod
    def token(req: Request) -> str | None:
        multipart = req.headers.get("content-type", "").startswith("multipart/")
        form = {k: [p.text] for k, p in req.multipart().items() if k == "access_token"} if multipart else (
            req.form() if req.body else {})
        for source in (form, req.query):
            if source.get("access_token"):
                return source["access_token"][0] or None
        auth = req.headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        return value.strip() or None if scheme.lower() in ("oauth", "bearer") else None

    def answer(self, status: int, body: dict[str, Any], version: str, *, page: str | None = None,
               pct: int = 1, regain_minutes: int = 0) -> Response:
        headers = {
            "content-type": "application/json; charset=UTF-8",
            "facebook-api-version": version,
            "x-fb-trace-id": uuid.uuid4().hex[:11],
            "x-fb-request-id": uuid.uuid4().hex[:20],
            "x-fb-rev": "1019273645",
            "x-app-usage": json.dumps({"call_count": pct, "total_cputime": 1, "total_time": 1}),
        }
        if page:
            headers["x-business-use-case-usage"] = json.dumps({page: [{
                "type": "pages", "call_count": pct, "total_cputime": 1, "total_time": 1,
                "estimated_time_to_regain_access": regain_minutes}]})
        error = body.get("error")
        if isinstance(error, dict):
            kind = "invalid_token" if error.get("code") == 190 else "invalid_request"
            headers["www-authenticate"] = f'OAuth "Facebook Platform" "{kind}" "{error["message"]}"'
        return Response(status, body, headers)

    @staticmethod
    def served_version(requested: str) -> str | None:
        major, minor = (int(x) for x in requested[1:].split("."))
        if (major, minor) > LATEST:
            return None
        return requested if major >= 21 else OLDEST_LIVE

    @staticmethod
    def created(at: float) -> str:
        return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")

    # -- dispatch --

    def handle(self, req: Request) -> Response:
        m = _PATH.match(req.path)
        if not m:
            return self.answer(400, graph_error(2500, "Unknown path components: " + req.path), OLDEST_LIVE)
        version = self.served_version(m.group(1))
        if version is None:
            return self.answer(400, graph_error(2635, f"Unknown version {m.group(1)}"), OLDEST_LIVE)
        parts = m.group(2).split("/")
        faults = self.sandbox.faults_for(self.name)
        page = parts[0].split("_")[0]
        burst = self.sandbox.burst(self.name)
        if burst is not None:
            minutes = math.ceil(burst / 60)
            return self.answer(403, graph_error(80001, "(#80001) There have been too many calls to this Page account. "
                                                "Wait a bit and try again.", is_transient=True),
                               version, page=page, pct=100, regain_minutes=minutes)
        token = self.token(req)
        if not token:
            return self.answer(400, graph_error(104, "An access token is required to request this resource."),
                               version)
        if faults.expire_tokens or "expired" in token:
            return self.answer(400, graph_error(190, "Error validating access token: Session has expired. The "
                                                "current time is later.", error_subcode=463), version)
        if "revoked" in token:
            return self.answer(400, graph_error(190, "Error validating access token: The session has been "
                                                "invalidated because the user changed their password.",
                                                error_subcode=460), version)
        if req.method == "POST" and len(parts) == 2 and parts[1] == "photos":
            return self.photo(req, version, page)
        if req.method == "POST" and len(parts) == 2 and parts[1] in ("feed", "comments"):
            return self.create(req, version, parts[0], parts[1], token)
        if req.method == "GET" and len(parts) == 2 and parts[1] in ("feed", "posts", "comments"):
            return self.listing(req, version, parts[0], parts[1])
        if req.method == "GET" and len(parts) == 1 and "_" in parts[0]:
            return self.lookup(req, version, parts[0])
        if req.method == "GET" and len(parts) == 1:
            name = f"Sandbox Page {page}" if parts[0] != "me" else "Sandbox Page"
            return self.answer(200, {"name": name, "id": page if parts[0] != "me" else "0"}, version, page=page)
        if req.method == "DELETE" and len(parts) == 1:
            if not self.sandbox.delete(self.name, parts[0]):
                return self.answer(400, _unknown_object("delete", parts[0]), version)
            return self.answer(200, {"success": True}, version, page=page)
        return self.answer(400, graph_error(100, f"Unsupported {req.method.lower()} request. Object with ID "
                                            f"'{parts[0]}' does not exist, cannot be loaded due to missing "
                                            "permissions, or does not support this operation.",
                                            "GraphMethodException"), version)

    def photo(self, req: Request, version: str, page: str) -> Response:
        fields = req.multipart()
        source = fields.get("source")
        info = image_info(source.data) if source is not None else None
        if source is None or info is None or info[0] not in PHOTO_TYPES:
            return self.answer(400, graph_error(324, "(#324) Requires upload file"), version, page=page)
        if len(source.data) > PHOTO_MAX_BYTES:
            return self.answer(400, graph_error(324, "(#324) Missing or invalid image file"), version, page=page)
        value = {k: p.text for k, p in fields.items() if k != "source"}
        published = value.get("published", "true").lower() not in ("false", "0")
        photo_id = str(next(self._ids))
        self.photos[photo_id] = {"id": photo_id, "page": page, "mime": info[0], "width": info[1],
                                 "height": info[2], "size": len(source.data), "alt": value.get("alt_text_custom"),
                                 "published": published, "used": False}
        if not published:
            return self.answer(200, {"id": photo_id}, version, page=page)
        remote_id = f"{page}_{photo_id}"
        self.photos[photo_id]["used"] = True
        self.sandbox.record(self.name, page, remote_id, value.get("message", ""), page=page, in_reply_to=None,
                            published=True, media=[dict(self.photos[photo_id])])
        return self.answer(200, {"id": photo_id, "post_id": remote_id}, version, page=page)

    def _attached(self, form: dict[str, str], page: str) -> list[dict[str, Any]] | str:
        """The unpublished photos a feed post (attached_media[i]) or comment (attachment_id) names, or the error."""
        ids: list[str] = []
        for key in sorted((k for k in form if k.startswith("attached_media[")),
                          key=lambda k: int(k[15:-1]) if k[15:-1].isdigit() else 0):
            try:
                ids.append(str(json.loads(form[key]).get("media_fbid")))
            except (ValueError, AttributeError):
                return "(#100) param attached_media must be an array of objects with media_fbid"
        if form.get("attachment_id"):
            ids.append(form["attachment_id"])
        found = [self.photos.get(i) for i in ids]
        if any(p is None or p["page"] != page or p["published"] for p in found):
            return "(#100) attached_media must name unpublished photos of this Page"
        return [dict(p) for p in found if p is not None]

    def create(self, req: Request, version: str, target: str, edge: str, token: str) -> Response:
        page = target.split("_")[0]
        ok, limit, remaining, reset = self.sandbox.rate_check(self.name, page)
        pct = math.ceil(100 * (limit - remaining) / limit) if limit else 0
        if not ok:
            minutes = max(1, math.ceil((reset - time.time()) / 60))
            return self.answer(403, graph_error(80001, "(#80001) There have been too many calls to this Page account. "
                                                "Wait a bit and try again.", is_transient=True),
                               version, page=page, pct=100, regain_minutes=minutes)
        if "noperm" in token:
            return self.answer(403, graph_error(200, _PERMISSION), version, page=page, pct=pct)
        if self.sandbox.roll_error(self.name):
            return self.answer(503, graph_error(2, "Service temporarily unavailable", is_transient=True), version)
        form = {k: v[0] for k, v in req.form().items()} if req.body else {}
        message = form.get("message", "")
        attached = self._attached(form, page)
        if isinstance(attached, str):
            return self.answer(400, graph_error(100, attached), version, page=page)
        if not message.strip() and not form.get("link") and not attached:
            return self.answer(400, graph_error(100, "(#100) Missing message or attachment"), version, page=page)
        if len(message) > MAX_MESSAGE:
            return self.answer(400, graph_error(100, f"(#100) Param message must be at most {MAX_MESSAGE} "
                                                "characters long"), version, page=page)
        if edge == "comments":
            if self.sandbox.find(self.name, target) is None:
                return self.answer(400, graph_error(100, f"Unsupported post request. Object with ID '{target}' "
                                                    "does not exist", "GraphMethodException"), version)
            remote_id = f"{target.partition('_')[2] or target}_{next(self._ids)}"
            parent: str | None = target
        else:
            if self.sandbox.has_text(self.name, page, message, replies=False):
                return self.answer(400, graph_error(506, "(#506) Duplicate status message"), version, page=page)
            remote_id, parent = f"{page}_{next(self._ids)}", None
        published = form.get("published", "true").lower() not in ("false", "0")
        for p in attached:
            self.photos[p["id"]]["used"] = True
        self.sandbox.record(self.name, page, remote_id, message, page=page, in_reply_to=parent,
                            link=form.get("link"), published=published, media=attached)
        if self.sandbox.take(self.name, "drop_after_accept"):
            return Response(0, drop=True)
        if self.sandbox.take(self.name, "error_after_accept"):
            return self.answer(500, graph_error(1, "An unknown error occurred", is_transient=True), version)
        return self.answer(200, {"id": remote_id}, version, page=page, pct=pct)

    def _row(self, p: dict[str, Any], fields: set[str]) -> dict[str, Any]:
        row = {"id": p["remote_id"]}
        if "message" in fields:
            row["message"] = p["text"]
        if "created_time" in fields:
            row["created_time"] = self.created(p["at"])
        return row

    def lookup(self, req: Request, version: str, object_id: str) -> Response:
        """``GET /{page}_{post}`` (or a comment id): the object, or #100 for an id that does not exist."""
        found = self.sandbox.find(self.name, object_id)
        if found is None:
            return self.answer(400, _unknown_object("get", object_id), version)
        fields = set(",".join(req.query.get("fields", ["id,message,created_time"])).split(","))
        return self.answer(200, self._row(found, fields), version, page=object_id.split("_")[0])

    def listing(self, req: Request, version: str, target: str, edge: str) -> Response:
        fields = set(",".join(req.query.get("fields", ["id,message,created_time"])).split(","))
        limit = max(1, min(100, int((req.query.get("limit") or ["25"])[0])))
        since = float((req.query.get("since") or ["0"])[0])
        until = float((req.query.get("until") or ["inf"])[0])
        posts = [p for p in self.sandbox.posts(self.name) if not p.get("deleted")]
        if edge == "comments":
            items = [p for p in posts if p.get("in_reply_to") == target]
            newest_first = (req.query.get("order") or ["chronological"])[0] == "reverse_chronological"
        else:
            items = [p for p in posts if p["page"] == target and not p.get("in_reply_to")]
            newest_first = True
        items = [p for p in (reversed(items) if newest_first else items) if since <= p["at"] <= until]
        start = _index((req.query.get("after") or [""])[0]) + 1 if req.query.get("after") else 0
        if req.query.get("before"):
            start = max(0, _index(req.query["before"][0]) - limit)
        page = items[start:start + limit]
        paging: dict[str, Any] = {}
        if page:
            paging["cursors"] = {"before": _cursor(start), "after": _cursor(start + len(page) - 1)}
        if start + limit < len(items):
            query = {k: v[0] for k, v in req.query.items() if k not in ("after", "before", "access_token")}
            query["after"] = paging["cursors"]["after"]
            paging["next"] = f"https://graph.facebook.com/{version}/{target}/{edge}?{urlencode(query)}"
        return self.answer(200, {"data": [self._row(p, fields) for p in page], "paging": paging},
                           version, page=target.split("_")[0])
