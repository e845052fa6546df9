"""Facebook Pages through facebook-sdk 3.1.0's ``GraphAPI`` (PLATFORMS.md section 2).

Credential ``page_token`` (a Page access token with pages_manage_posts + pages_read_engagement). Options:
``page_id`` (required), ``graph_version`` (default ``v26.0``), ``timeout`` (read seconds), ``target`` (only
``page``; ``group`` is refused by ``config_problems``: posting to Groups was removed on 2024-04-22).

facebook-sdk 3.1.0 accepts only versions 2.8-3.1, so the client is built with ``version="3.1"`` and the real version
is used in the request paths. The SDK's host is a module constant; a session with a mounted transport adapter
(per account, never the global) sends requests to ``account.base_url``. The token travels in an
``Authorization: OAuth`` header added by that adapter, never in a query string (urllib3 logs URLs at DEBUG).
The SDK ignores HTTP status and headers, so a response hook keeps them for classification and ``last_rate``, per
thread: the hook runs in the thread that sent the request, and one adapter serves all of a worker's threads.

Thread continuations are comments on the thread's first post (``Receipt.data["root"]``).

Images (``payload.extra["media"]``) are uploaded first as unpublished Page photos (``POST /{page}/photos`` with
``published=false`` and the alt text as ``alt_text_custom``), then named by the post (``attached_media``) or the
comment (``attachment_id``, one image): the post stays a feed post, so reconcile finds it where it finds any other.
An upload publishes nothing (unused unpublished photos stay invisible): upload failures are never OutcomeUnknown.

``reconcile`` looks where ``publish`` posted: the Page feed for a top-level post, the root post's comments for a
reply (``delivery.parent``), from the delivery's first attempt on (``window_start``, less a margin for clock skew),
following the cursors to the end: a page of results never proves absence, only the end of the listing does. A
listing longer than ``MAX_PAGES`` cannot be read to its end: then a human decides.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, NoReturn

import requests

from publisher.channels._transport import session_for, transport_error
from publisher.channels.base import Channel, RateInfo
from publisher.errors import (
    AuthExpired,
    NotPublished,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    ReconcileUnsupported,
    TransientError,
)
from publisher.models import DeliveryRef, Receipt
from publisher.settings import AccountConfig
from publisher.textlength import ChannelLimits

ORIGIN = "https://graph.facebook.com"
DEFAULT_VERSION = "v26.0"
RATE_CODES = frozenset({4, 17, 32, 613, 80001})
DEFAULT_RATE_WAIT = timedelta(hours=1)
#: how far before the first attempt a reconcile looks (clock skew between us and the platform)
SKEW = timedelta(minutes=5)
PAGE_SIZE = 100
MAX_PAGES = 20
#: how long after the first attempt an unseen post may still be on its way into the listings
LISTING_LAG = timedelta(minutes=2)
_VERSION = re.compile(r"^v\d+\.\d+$")
_PERMISSION_HINT = ("the Page token needs pages_manage_posts and pages_read_engagement, and the user the "
                    "CREATE_CONTENT task on the Page; renew it, then `publisher accounts verify`")


def config_problems(account: AccountConfig) -> list[str]:
    """What is wrong with a Facebook account's configuration (``publisher config check`` reports these)."""
    problems: list[str] = []
    target = str(account.options.get("target", "page")).lower()
    if target == "group":
        problems.append("posting to Facebook Groups was removed from the Graph API on 2024-04-22 "
                        "(publish_to_groups is gone); post to a Page instead (options.target: page)")
    elif target != "page":
        problems.append(f"options.target {target!r} is not supported; use 'page'")
    if not account.options.get("page_id"):
        problems.append("options.page_id is required (the numeric id of the Page to post to)")
    version = str(account.options.get("graph_version", DEFAULT_VERSION))
    if not _VERSION.match(version):
        problems.append(f"options.graph_version {version!r} must look like 'v26.0'")
    if "page_token" not in account.credentials:
        problems.append("credentials.page_token is required (a reference such as env:FB_PAGE_TOKEN)")
    return problems


def usage_wait(headers: Any, now: datetime | None = None) -> tuple[datetime | None, int | None]:
    """(regain-access time, highest usage percentage) from X-Business-Use-Case-Usage / X-App-Usage."""
    now = now or datetime.now(UTC)
    minutes: list[int] = []
    pcts: list[int] = []
    for name in ("x-business-use-case-usage", "x-app-usage", "x-page-usage"):
        raw = headers.get(name)
        if not raw:
            continue
        try:
            data = json.loads(raw)
        except ValueError:
            continue
        entries = [e for v in data.values() for e in v] if name == "x-business-use-case-usage" else [data]
        for e in entries:
            if not isinstance(e, dict):
                continue
            minutes.append(int(e.get("estimated_time_to_regain_access") or 0))
            pcts.extend(int(e[k]) for k in ("call_count", "total_time", "total_cputime") if isinstance(e.get(k), int))
    wait = max(minutes, default=0)
    return (now + timedelta(minutes=wait) if wait else None), max(pcts, default=None)


class FacebookChannel(Channel):
    name: ClassVar[str] = "facebook"
    limits: ClassVar[ChannelLimits] = ChannelLimits(max_length=63206)
    default_rate: ClassVar[tuple[int, int] | None] = None  # BUC budget depends on engaged users; headers correct it

    _graph: Any = None

    # -- plumbing --

    @property
    def page_id(self) -> str:
        page = self.account.options.get("page_id")
        if not page:
            raise PermanentError(f"Facebook account {self.account.name!r} has no options.page_id",
                                 hint="set the Page id; `publisher config check` lists what is missing")
        return str(page)

    @property
    def version(self) -> str:
        return str(self.account.options.get("graph_version", DEFAULT_VERSION))

    def _sign(self, request: requests.PreparedRequest) -> None:
        request.headers["Authorization"] = f"OAuth {self.credentials.get('page_token', '')}"

    @property
    def _status(self) -> int | None:
        """HTTP status of this thread's latest response (the SDK does not expose it)."""
        status: int | None = getattr(self._local, "status", None)
        return status

    @property
    def _headers(self) -> Any:
        """Headers of this thread's latest response."""
        return getattr(self._local, "headers", None) or {}

    def _hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._local.status, self._local.headers = response.status_code, response.headers
        limit_at, pct = usage_wait(response.headers)
        self.last_rate = None if pct is None else RateInfo(limit=100, remaining=max(100 - pct, 0), reset_at=limit_at)

    def graph(self) -> Any:
        if self._graph is None:
            import facebook

            if not self.credentials.get("page_token"):
                raise AuthExpired(f"Facebook account {self.account.name!r} has no page_token",
                                  hint="configure credentials.page_token, then `publisher accounts verify`")
            read = float(self.account.options.get("timeout", 30))
            session = session_for(ORIGIN, self.account.base_url, timeout=(5.0, read), sign=self._sign)
            session.hooks["response"].append(self._hook)
            graph = facebook.GraphAPI(access_token=None, timeout=read, version="3.1", session=session)
            graph.version = self.version  # the SDK validates only 2.8-3.1 (PLATFORMS.md 2.6)
            self._graph = graph
        return self._graph

    def _request(self, what: str, path: str, *, post: dict[str, str] | None = None,
                 args: dict[str, Any] | None = None, creating: bool = False,
                 files: dict[str, Any] | None = None) -> dict[str, Any]:
        import facebook

        graph = self.graph()
        self._local.status, self._local.headers = None, {}
        try:
            result = graph.request(f"{self.version}/{path}", args=args, post_args=post, files=files)
        except facebook.GraphAPIError as e:
            self._raise_graph(what, e, creating=creating)
        except requests.RequestException as e:
            raise transport_error(e, "Facebook", what, creating=creating) from None
        except (KeyError, ValueError):  # no content-type / not JSON: the SDK cannot read the answer
            self._raise_unreadable(what, creating)
        if self._status is not None and self._status >= 500:
            self._raise_unreadable(what, creating)
        return result if isinstance(result, dict) else {}

    def _raise_unreadable(self, what: str, creating: bool) -> NoReturn:
        msg = f"Facebook answered {self._status} with an unreadable body to {what}"
        raise (OutcomeUnknown(msg) if creating else TransientError(msg))

    def _raise_graph(self, what: str, e: Any, *, creating: bool) -> NoReturn:
        error = e.result.get("error", {}) if isinstance(e.result, dict) else {}
        code = error.get("code") if isinstance(error, dict) else None
        message = str(error.get("message") or e.message) if isinstance(error, dict) and error else str(e.message)
        if code is None:
            self._raise_unreadable(what, creating)
        if code == 190 or code == 102:
            raise AuthExpired(f"Facebook rejected the Page token of account {self.account.name!r}: {message}",
                              hint="get a new Page access token, then `publisher accounts verify`")
        if code in RATE_CODES:
            regain, _ = usage_wait(self._headers)
            raise RateLimited(f"Facebook rate limit (#{code}) for {what}: {message}",
                              retry_at=regain or datetime.now(UTC) + DEFAULT_RATE_WAIT)
        if code == 506:
            raise _Duplicate(message)
        if code == 368:
            raise PermanentError(f"Facebook blocked {what} for policy reasons (#368): {message}",
                                 hint="the Page is temporarily blocked from posting; wait (often 24 h or more), "
                                      "review the Page quality, then `publisher retry`")
        if code == 100 or 200 <= code <= 299:
            raise PermanentError(f"Facebook refused {what} (#{code}): {message}", hint=_PERMISSION_HINT)
        if code in (1, 2) or (self._status or 0) >= 500:
            if creating:
                raise OutcomeUnknown(f"Facebook answered #{code} to {what}; the post may exist: {message}")
            raise TransientError(f"Facebook answered #{code} to {what}: {message}")
        raise PermanentError(f"Facebook refused {what} (#{code}): {message}", hint="fix the post; retrying cannot help")

    # -- the contract --

    def _upload(self, ref: dict[str, Any]) -> str:
        """One unpublished Page photo with its alt text; returns the photo id."""
        image = self.image(ref)
        post = {"published": "false"}
        if ref.get("alt"):
            post["alt_text_custom"] = str(ref["alt"])
        result = self._request("the photo upload", f"{self.page_id}/photos", post=post,
                               files={"source": (f"image.{image.mime.split('/')[-1]}", image.data, image.mime)})
        if not result.get("id"):
            raise TransientError(f"Facebook answered {self._status} to a photo upload without an id")
        return str(result["id"])

    def publish(self, delivery: DeliveryRef, parent: Receipt | None) -> Receipt:
        text = delivery.payload.text
        photos = [self._upload(r) for r in self.media_refs(delivery)]
        if parent is None:
            post = {"message": text}
            if delivery.payload.link and not photos:  # a link preview and photos exclude each other
                post["link"] = delivery.payload.link
            for i, photo in enumerate(photos):
                post[f"attached_media[{i}]"] = json.dumps({"media_fbid": photo})
            path, what = f"{self.page_id}/feed", "the post"
        else:
            root = str(parent.data.get("root", parent.remote_id))
            post, path, what = {"message": text}, f"{root}/comments", "the comment"
            if photos:
                post["attachment_id"] = photos[0]  # a comment carries one image
        try:
            result = self._request(what, path, post=post, creating=True)
        except _Duplicate as dup:
            self._duplicate(delivery, dup.message)
        if not result.get("id"):
            raise OutcomeUnknown(f"Facebook answered {self._status} without a post id")
        return self._receipt(str(result["id"]), None if parent is None else str(parent.data.get("root", parent.remote_id)))

    def _duplicate(self, delivery: DeliveryRef, message: str) -> NoReturn:
        try:
            found = self.reconcile(delivery)
        except NotPublished:
            first = delivery.window_start
            if delivery.attempt > 1 and (first is None or datetime.now(UTC) - first < LISTING_LAG):
                raise OutcomeUnknown("Facebook refused the text as a duplicate (#506) after an earlier attempt; the "
                                     "Page does not list it yet: reconcile later") from None
            raise PermanentError(f"Facebook refused the text as a duplicate (#506): {message}",
                                 hint="no post of the Page since the first attempt matches; change the text") from None
        except (RateLimited, TransientError, AuthExpired, OutcomeUnknown, ReconcileUnsupported):
            raise OutcomeUnknown("Facebook refused the text as a duplicate (#506); reconcile later") from None
        raise OutcomeUnknown(f"Facebook says duplicate; already published as {found.remote_id}", existing=found)

    def _receipt(self, remote_id: str, root: str | None) -> Receipt:
        page, _, post = (root or remote_id).partition("_")
        url = f"https://www.facebook.com/{page}/posts/{post or page}"
        if root is not None:
            url += f"?comment_id={remote_id.rpartition('_')[2]}"
        return Receipt(remote_id=remote_id, url=url, data={"root": root or remote_id})

    def _listing(self, path: str, since: datetime | None, extra: dict[str, str]) -> Iterator[dict[str, Any]]:
        """Every item of a Graph listing created since ``since`` (all of it when None), page after page.

        Raises ReconcileUnsupported when the listing is longer than MAX_PAGES pages: what was not read proves
        nothing."""
        args: dict[str, Any] = {"fields": "id,message,created_time", "limit": str(PAGE_SIZE), **extra}
        if since is not None:
            args["since"] = str(math.floor((since - SKEW).timestamp()))
        for _ in range(MAX_PAGES):
            try:
                result = self._request("the lookup", path, args=args)
            except PermanentError as e:  # e.g. the token lacks pages_read_engagement: no lookup can tell
                raise ReconcileUnsupported(f"Facebook cannot list {path}: {e.message}; check the Page, then "
                                           "`publisher retry` or cancel") from None
            yield from (d for d in result.get("data") or [] if isinstance(d, dict))
            paging = result.get("paging")
            paging = paging if isinstance(paging, dict) else {}
            cursors = paging.get("cursors")
            after = cursors.get("after") if isinstance(cursors, dict) else None
            if not paging.get("next") or not after:
                return  # the end of the listing: what was not seen is not there
            args = {**args, "after": str(after)}
        raise ReconcileUnsupported(f"Facebook: more than {MAX_PAGES * PAGE_SIZE} items to look through since the "
                                   "first attempt; check the Page, then `publisher retry` or cancel")

    def reconcile(self, delivery: DeliveryRef) -> Receipt:
        wanted = " ".join(delivery.payload.text.split())
        parent = delivery.parent
        if parent is None:
            for p in self._listing(f"{self.page_id}/feed", delivery.window_start, {}):
                if " ".join(str(p.get("message", "")).split()) == wanted:
                    return self._receipt(str(p["id"]), None)
            raise NotPublished("Facebook: the Page has no post with the delivery's text since its first attempt")
        root = str(parent.data.get("root", parent.remote_id))  # a reply is a comment on its thread's first post
        for c in self._listing(f"{root}/comments", delivery.window_start, {"order": "reverse_chronological"}):
            if " ".join(str(c.get("message", "")).split()) == wanted:
                return self._receipt(str(c["id"]), root)
        raise NotPublished("Facebook: the thread's first post has no comment with the delivery's text since its "
                           "first attempt")

    def verify(self) -> str:
        page = self._request("the Page lookup", self.page_id, args={"fields": "id,name"})
        return str(page.get("name") or page.get("id") or self.page_id)


class _Duplicate(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
