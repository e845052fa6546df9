"""LinkedIn Posts API through requests (PLATFORMS.md section 3).

Credential ``access_token``. Options: ``author_urn`` (``urn:li:person:...`` for a personal account,
``urn:li:organization:...`` for an organisation; checked against ``account.kind``), ``linkedin_version``
(``YYYYMM``, default ``DEFAULT_VERSION``; LinkedIn answers 426 once a version is sunset, about 12 months after
release), ``visibility`` (default ``PUBLIC``), ``timeout`` (read seconds).

``commentary`` is in LinkedIn's "little" text format: the reserved characters are backslash-escaped here, because
LinkedIn silently truncates the post at the first unescaped one while still answering 201. Comment text is plain
text and is sent as is. Thread continuations are comments on the thread's first post.

``reconcile`` looks where ``publish`` posted: the author's posts for a top-level post (newest first, back to the
delivery's first attempt less a margin), the root post's comments for a reply (``delivery.parent``, every page).
Only the end of a listing proves absence; a listing too long to read to its end, or a token that may not read
posts, leaves the decision to a human.

A 429 carries no documented reset information; the delivery waits one hour, or until midnight UTC (when the
daily quotas reset) if that is sooner. A ``Retry-After`` header, if LinkedIn ever sends one, wins.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, NoReturn
from urllib.parse import quote, urlsplit

import requests

from publisher.channels import httpcall
from publisher.channels._transport import session_for, transport_error
from publisher.channels.base import Channel
from publisher.errors import (
    AuthExpired,
    NotPublished,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    ReconcileUnsupported,
    TransientError,
)
from publisher.models import AccountKind, DeliveryRef, Receipt
from publisher.settings import AccountConfig
from publisher.textlength import ChannelLimits

log = logging.getLogger(__name__)

ORIGIN = "https://api.linkedin.com"
DEFAULT_VERSION = "202610"
RESERVED = "\\|{}@[]()<>#*_~"
_ESCAPE = re.compile("([" + re.escape(RESERVED) + "])")
_URN = re.compile(r"urn:li:(?:share|ugcPost):\d+")
_AUTHOR = {AccountKind.PERSONAL: "urn:li:person:", AccountKind.ORGANISATION: "urn:li:organization:"}
#: how far before the first attempt a reconcile looks (clock skew between us and the platform)
SKEW = timedelta(minutes=5)
PAGE_SIZE = 100
MAX_PAGES = 20


def escape_little(text: str) -> str:
    """Backslash-escape every reserved character of the little text format."""
    return _ESCAPE.sub(r"\\\1", text)


def config_problems(account: AccountConfig) -> list[str]:
    """What is wrong with a LinkedIn account's configuration (``publisher config check`` reports these)."""
    problems: list[str] = []
    author = str(account.options.get("author_urn") or "")
    prefix = _AUTHOR[account.kind]
    if not author:
        problems.append(f"options.author_urn is required ({prefix}<id>)")
    elif not author.startswith(prefix) or not author[len(prefix):]:
        problems.append(f"options.author_urn {author!r} does not fit a {account.kind} account; use {prefix}<id>")
    version = str(account.options.get("linkedin_version", DEFAULT_VERSION))
    if not re.fullmatch(r"20\d\d(0[1-9]|1[0-2])", version):
        problems.append(f"options.linkedin_version {version!r} must be YYYYMM, e.g. {DEFAULT_VERSION}")
    if "access_token" not in account.credentials:
        problems.append("credentials.access_token is required (a reference such as env:LINKEDIN_TOKEN)")
    return problems


def rate_wait(headers: Any, now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    retry_after = headers.get("retry-after")
    if retry_after and str(retry_after).isdigit():
        return now + timedelta(seconds=int(retry_after))
    midnight = (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return min(now + timedelta(hours=1), midnight)


class LinkedInChannel(Channel):
    name: ClassVar[str] = "linkedin"
    limits: ClassVar[ChannelLimits] = ChannelLimits(max_length=3000)
    default_rate: ClassVar[tuple[int, int] | None] = None  # daily limits exist but are not published (PLATFORMS 3.4)

    _session: requests.Session | None = None

    # -- plumbing --

    @property
    def base(self) -> str:
        return (self.account.base_url or ORIGIN).rstrip("/")

    @property
    def author(self) -> str:
        problems = [p for p in config_problems(self.account) if "author_urn" in p or "linkedin_version" in p]
        if problems:
            raise PermanentError(f"LinkedIn account {self.account.name!r}: {problems[0]}",
                                 hint="fix the account options; `publisher config check` lists every problem")
        return str(self.account.options["author_urn"])

    def _sign(self, request: requests.PreparedRequest) -> None:
        request.headers["Authorization"] = f"Bearer {self.credentials.get('access_token', '')}"

    def session(self) -> requests.Session:
        if self._session is None:
            if not self.credentials.get("access_token"):
                raise AuthExpired(f"LinkedIn account {self.account.name!r} has no access_token",
                                  hint="configure credentials.access_token, then `publisher accounts verify`")
            read = float(self.account.options.get("timeout", 30))
            session = session_for(self.base, None, timeout=(5.0, read), sign=self._sign)
            session.headers.update({
                "LinkedIn-Version": str(self.account.options.get("linkedin_version", DEFAULT_VERSION)),
                "X-Restli-Protocol-Version": "2.0.0",
            })
            self._session = session
        return self._session

    def _call(self, what: str, method: str, path: str, *, body: Any = None, params: dict[str, Any] | None = None,
              creating: bool = False) -> requests.Response:
        session = self.session()
        try:
            response = session.request(method, self.base + path, json=body, params=params)
        except requests.RequestException as e:
            raise transport_error(e, "LinkedIn", what, creating=creating) from None
        if response.status_code >= 400:
            self._raise_http(what, response, creating=creating)
        return response

    def _raise_http(self, what: str, response: requests.Response, *, creating: bool) -> NoReturn:
        status = response.status_code
        body = httpcall.body_object(response)
        code = str(body.get("code") or "")
        input_codes = [str(e.get("code")) for e in (body.get("errorDetails") or {}).get("inputErrors") or []
                       if isinstance(e, dict)]
        message = str(body.get("message") or response.reason or f"HTTP {status}")
        if status == 401:
            raise AuthExpired(f"LinkedIn rejected the token of account {self.account.name!r}: {code or message}",
                              hint="LinkedIn tokens last 60 days; renew it, then `publisher accounts verify`")
        if status == 429:
            raise RateLimited(f"LinkedIn throttled {what}: {message}", retry_at=rate_wait(response.headers))
        if status == 422 and "DUPLICATE_POST" in input_codes:
            m = _URN.search(message)
            existing = self._receipt(m.group(0), None) if m else None
            raise OutcomeUnknown(f"LinkedIn says the text duplicates {m.group(0) if m else 'an earlier post'}",
                                 existing=existing)
        if status == 426:
            header = self.session().headers.get("LinkedIn-Version")
            version = header.decode() if isinstance(header, bytes) else header
            raise PermanentError(f"LinkedIn no longer serves API version {version} (426 {code}): {message}",
                                 hint=f"change option linkedin_version to a recent YYYYMM, e.g. {DEFAULT_VERSION}")
        if status == 403:
            raise PermanentError(f"LinkedIn refused {what} (403 {code}): {message}",
                                 hint="the app needs w_member_social (person) or w_organization_social and a page "
                                      "admin role (organisation); re-authorise, then `publisher accounts verify`")
        if status >= 500:
            if creating:
                raise OutcomeUnknown(f"LinkedIn answered {status} to {what}; the post may exist")
            raise TransientError(f"LinkedIn answered {status} to {what}")
        raise PermanentError(f"LinkedIn refused {what} ({status} {code or ','.join(input_codes)}): {message}",
                             hint="fix the post; retrying cannot help")

    # -- the contract --

    def _upload(self, ref: dict[str, Any]) -> str:
        """Images API: initializeUpload, then PUT the bytes to the upload URL; returns the image URN. An upload
        publishes nothing: failures are never OutcomeUnknown, and a retry uploads again."""
        image = self.image(ref)
        response = self._call("the image upload", "POST", "/rest/images", params={"action": "initializeUpload"},
                              body={"initializeUploadRequest": {"owner": self.author}})
        value = httpcall.body_object(response).get("value") or {}
        url, urn = str(value.get("uploadUrl") or ""), str(value.get("image") or "")
        if not url or not urn:
            raise TransientError("LinkedIn answered initializeUpload without an upload URL or image URN")
        host = urlsplit(url).hostname or ""
        if not (url.startswith(self.base + "/") or host == "linkedin.com" or host.endswith(".linkedin.com")):
            raise PermanentError(f"LinkedIn gave an upload URL on {host!r}, which is not LinkedIn's; not uploading")
        try:  # the upload host is not the API host: sign this one request explicitly
            put = self.session().put(url, data=image.data, headers={
                "Authorization": f"Bearer {self.credentials.get('access_token', '')}", "Content-Type": image.mime})
        except requests.RequestException as e:
            raise transport_error(e, "LinkedIn", "the image upload", creating=False) from None
        if put.status_code >= 400:
            self._raise_http("the image upload", put, creating=False)
        return urn

    def publish(self, delivery: DeliveryRef, parent: Receipt | None) -> Receipt:
        author, text = self.author, delivery.payload.text
        refs = self.media_refs(delivery)
        images = [(self._upload(r), str(r.get("alt") or "")) for r in refs]
        if parent is not None:
            root = str(parent.data.get("root", parent.remote_id))
            comment: dict[str, Any] = {"actor": author, "object": root, "message": {"text": text}}
            if images:
                comment["content"] = [{"entity": {"image": urn}} for urn, _ in images]
            response = self._call("the comment", "POST", f"/rest/socialActions/{quote(root, safe='')}/comments",
                                  body=comment, creating=True)
            urn = str(response.headers.get("x-restli-id") or httpcall.body_object(response).get("commentUrn") or "")
            if not urn:
                raise OutcomeUnknown(f"LinkedIn answered {response.status_code} without a comment URN")
            return self._receipt(urn, root)
        body = {
            "author": author,
            "commentary": escape_little(text),
            "visibility": str(self.account.options.get("visibility", "PUBLIC")),
            "distribution": {"feedDistribution": "MAIN_FEED", "targetEntities": [], "thirdPartyDistributionChannels": []},
            "lifecycleState": "PUBLISHED",
            "isReshareDisabledByAuthor": False,
        }
        if len(images) == 1:
            body["content"] = {"media": _image(*images[0])}
        elif images:
            body["content"] = {"multiImage": {"images": [_image(urn, alt) for urn, alt in images]}}
        elif isinstance(card := delivery.payload.extra.get("card"), dict) and card.get("uri"):
            body["content"] = {"article": self._article(card)}
        response = self._call("the post", "POST", "/rest/posts", body=body, creating=True)
        urn = str(response.headers.get("x-restli-id") or "")
        if not urn:
            raise OutcomeUnknown(f"LinkedIn answered {response.status_code} without an x-restli-id")
        return self._receipt(urn, None)

    def _article(self, card: dict[str, Any]) -> dict[str, Any]:
        """A link card as the Posts API's ``content.article``: the API makes no preview of a link in the commentary,
        so the card read at accept (title, description, thumbnail uploaded through the Images API) is sent."""
        article: dict[str, Any] = {"source": str(card["uri"]), "title": str(card.get("title") or card["uri"])[:400]}
        if card.get("description"):
            article["description"] = str(card["description"])[:4086]
        thumb = card.get("thumb")
        if isinstance(thumb, dict) and thumb.get("sha256"):
            try:
                article["thumbnail"] = self._upload(thumb)
            except PermanentError as e:  # a card never blocks a publish: without its thumbnail, then
                log.warning("linkedin: link card without its thumbnail: %s", e.message)
        return article

    @staticmethod
    def _receipt(urn: str, root: str | None) -> Receipt:
        url = f"https://www.linkedin.com/feed/update/{root or urn}/"
        if root is not None:
            url += f"?commentUrn={quote(urn, safe='')}"
        return Receipt(remote_id=urn, url=url, data={"root": root or urn})

    def _elements(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Every element of a Rest.li collection, page after page (``start``/``count``), to its end.

        Raises ReconcileUnsupported when the token may not read it or it is longer than MAX_PAGES pages: what was
        not read proves nothing."""
        start = 0
        for _ in range(MAX_PAGES):
            try:
                response = self._call("the lookup", "GET", path, params={**params, "start": start, "count": PAGE_SIZE})
            except PermanentError as e:  # reading posts needs r_*_social, which member apps rarely have
                raise ReconcileUnsupported(f"LinkedIn cannot list the posts: {e.message}; check the profile or "
                                           "page, then `publisher retry` or cancel") from None
            body = httpcall.body_object(response)
            elements = [e for e in body.get("elements") or [] if isinstance(e, dict)]
            yield from elements
            total = (body.get("paging") or {}).get("total") if isinstance(body.get("paging"), dict) else None
            start += len(elements)
            if len(elements) < PAGE_SIZE or (isinstance(total, int) and start >= total):
                return  # the end of the collection: what was not seen is not there
        raise ReconcileUnsupported(f"LinkedIn: more than {MAX_PAGES * PAGE_SIZE} items to look through; check the "
                                   "profile or page, then `publisher retry` or cancel")

    def reconcile(self, delivery: DeliveryRef) -> Receipt:
        author = self.author
        parent = delivery.parent
        if parent is None:
            wanted = escape_little(delivery.payload.text)
            since = delivery.window_start
            cutoff = int((since - SKEW).timestamp() * 1000) if since is not None else None
            for p in self._elements("/rest/posts", {"q": "author", "author": author, "sortBy": "CREATED"}):
                if p.get("commentary") == wanted:
                    return self._receipt(str(p["id"]), None)
                created = p.get("createdAt")
                if cutoff is not None and isinstance(created, int) and created < cutoff:
                    break  # newest first: everything further is older than the first attempt
            raise NotPublished("LinkedIn: the author has no post with the delivery's text since its first attempt")
        root = str(parent.data.get("root", parent.remote_id))  # a reply is a comment on its thread's first post
        for c in self._elements(f"/rest/socialActions/{quote(root, safe='')}/comments", {}):
            if (c.get("message") or {}).get("text") == delivery.payload.text:
                return self._receipt(str(c.get("commentUrn") or c.get("$URN") or c.get("id")), root)
        raise NotPublished("LinkedIn: the thread's first post has no comment with the delivery's text")

    def verify(self) -> str:
        author = self.author
        if author.startswith("urn:li:person:"):
            info = httpcall.body_object(self._call("the identity lookup", "GET", "/v2/userinfo"))
            sub = str(info.get("sub") or "")
            if sub and sub != author.rpartition(":")[2]:
                raise PermanentError(f"LinkedIn token of account {self.account.name!r} belongs to another member "
                                     f"than {author}", hint=f"set options.author_urn to urn:li:person:{sub}")
            return str(info.get("name") or sub)
        org_id = author.rpartition(":")[2]
        org = httpcall.body_object(self._call("the organisation lookup", "GET", f"/rest/organizations/{org_id}"))
        return str(org.get("localizedName") or org_id)


def _image(urn: str, alt: str) -> dict[str, Any]:
    return {"id": urn, "altText": alt} if alt else {"id": urn}
