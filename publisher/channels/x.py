"""X (Twitter) API v2 through tweepy's ``Client`` (PLATFORMS.md section 1).

Credentials (resolved names): OAuth 1.0a user context ``consumer_key``, ``consumer_secret``, ``access_token``,
``access_token_secret``; or an OAuth 2.0 *user* token ``bearer_token``. Options: ``username`` (for receipt URLs;
``i`` when unknown), ``user_id`` (saves a ``/2/users/me`` call when reconciling), ``timeout`` (read seconds).

tweepy hard-codes ``https://api.twitter.com``; a transport adapter mounted on ``client.session`` sends the requests
to ``account.base_url`` instead, enforces timeouts, and signs them. tweepy itself only ever holds a placeholder
token, because it logs its request headers at DEBUG; the real Authorization header is added by the adapter.
``wait_on_rate_limit`` is never enabled: a 429 becomes ``RateLimited`` and the scheduler waits, not the worker.

Outcomes of ``POST /2/tweets``: 429 -> RateLimited (latest applicable reset, 24-hour caps included); 401 ->
AuthExpired; 402 credits depleted, 400, other 403, 404 -> PermanentError; 403 duplicate content -> the user's
posts since the first attempt are searched: found -> OutcomeUnknown(existing=receipt); not found on a first attempt
-> PermanentError (the text repeats an older post); not found on a later attempt -> OutcomeUnknown while the
first attempt is recent (X's timeline may lag behind a post our earlier attempt made), PermanentError after;
5xx, reset or read timeout -> OutcomeUnknown; connect refused/DNS/connect timeout -> TransientError.

Images (``payload.extra["media"]``) go up first through tweepy's v1.1 ``API.simple_upload`` (tweepy 4.17 has no v2
upload; ``upload.twitter.com`` is routed like the API host), the alt text through ``create_media_metadata``, then
``create_tweet(media_ids=...)``. An upload publishes nothing: its failures are never OutcomeUnknown, and a retry of
the delivery uploads again (X forgets unused media after ``expires_after_secs``).

``reconcile`` reads the user's timeline from the first attempt on (``start_time``), following ``next_token`` to the
end: a full page never proves absence. A timeline too long to read to its end leaves the decision to a human.
"""

from __future__ import annotations

import html
import io
import re
import time
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, NoReturn

import requests

from publisher.channels import httpcall
from publisher.channels._transport import as_int, epoch, session_for, transport_error
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
from publisher.textlength import ChannelLimits, urls

ORIGIN = "https://api.twitter.com"
UPLOAD_ORIGIN = "https://upload.twitter.com"
_PLACEHOLDER = "publisher-redacted"  # what tweepy sees (and logs) instead of the token
_OAUTH1 = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")
_URL_RE = re.compile(r"https?://\S+")
#: how far before the first attempt a reconcile looks (clock skew between us and the platform)
SKEW = timedelta(minutes=5)
PAGE_SIZE = 100
MAX_PAGES = 32  # X serves a user's 3,200 most recent posts at most
#: how long after the first attempt an unseen post may still be on its way into the timeline
TIMELINE_LAG = timedelta(minutes=2)


def normalise(text: str) -> str:
    """Text as X stores it, for matching: entities decoded, URLs (t.co-shortened by X) masked, spaces collapsed."""
    text = unicodedata.normalize("NFC", html.unescape(text))
    for start, end, _ in reversed(urls(text)):
        text = text[:start] + "<url>" + text[end:]
    text = _URL_RE.sub("<url>", text)
    return " ".join(text.split())


def oauth1_header(request: requests.PreparedRequest, creds: dict[str, str]) -> str:
    """RFC 5849 HMAC-SHA1 Authorization header, built without oauthlib's Client (which logs the base string)."""
    from oauthlib.oauth1.rfc5849 import signature, utils

    oauth = [
        ("oauth_consumer_key", creds["consumer_key"]),
        ("oauth_nonce", uuid.uuid4().hex),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", str(int(time.time()))),
        ("oauth_token", creds["access_token"]),
        ("oauth_version", "1.0"),
    ]
    url = request.url or ""
    query = url.partition("?")[2]
    params = oauth + signature.collect_parameters(uri_query=query, exclude_oauth_signature=True)
    base = signature.signature_base_string(request.method or "GET", signature.base_string_uri(url),
                                           signature.normalize_parameters(params))
    sig = signature.sign_hmac_sha1(base, creds["consumer_secret"], creds["access_token_secret"])
    fields = [*oauth, ("oauth_signature", sig)]
    return "OAuth " + ", ".join(f'{k}="{utils.escape(v)}"' for k, v in fields)


class XChannel(Channel):
    name: ClassVar[str] = "x"
    limits: ClassVar[ChannelLimits] = ChannelLimits(max_length=280, counting="twitter")
    default_rate: ClassVar[tuple[int, int] | None] = (100, 900)  # POST /2/tweets: 100 per 15 min per user

    _client: Any = None
    _uploader: Any = None
    _me: dict[str, Any] | None = None

    # -- plumbing --

    def _sign(self, request: requests.PreparedRequest) -> None:
        if all(self.credentials.get(k) for k in _OAUTH1):
            request.headers["Authorization"] = oauth1_header(request, self.credentials)
        elif self.credentials.get("bearer_token"):
            request.headers["Authorization"] = f"Bearer {self.credentials['bearer_token']}"
        else:
            request.headers.pop("Authorization", None)

    def client(self) -> Any:
        if self._client is None:
            import tweepy

            if not (self.credentials.get("bearer_token") or all(self.credentials.get(k) for k in _OAUTH1)):
                raise AuthExpired(
                    f"X account {self.account.name!r} has no usable credentials",
                    hint="configure bearer_token (OAuth 2.0 user token) or the four OAuth 1.0a credentials",
                )
            client = tweepy.Client(bearer_token=_PLACEHOLDER, return_type=requests.Response,
                                   wait_on_rate_limit=False)
            read = float(self.account.options.get("timeout", 30))
            session_for(ORIGIN, self.account.base_url, timeout=(5.0, read), sign=self._sign, session=client.session)
            self._client = client
        return self._client

    def uploader(self) -> Any:
        """tweepy's v1.1 ``API`` for media uploads, routed and signed like the v2 client."""
        if self._uploader is None:
            import tweepy

            self.client()  # checks the credentials the same way
            read = float(self.account.options.get("timeout", 30))
            api = tweepy.API(_Unsigned(), timeout=read, wait_on_rate_limit=False)
            session_for(UPLOAD_ORIGIN, self.account.base_url, timeout=(5.0, read), sign=self._sign,
                        session=api.session)
            self._uploader = api
        return self._uploader

    def _upload(self, ref: dict[str, Any]) -> str:
        """Upload one stored image, then its alt text; returns the media id."""
        import tweepy

        image = self.image(ref)
        api = self.uploader()
        try:
            uploaded = api.simple_upload(f"image.{image.mime.split('/')[-1]}", file=io.BytesIO(image.data))
            media_id = str(getattr(uploaded, "media_id_string", "") or getattr(uploaded, "media_id", ""))
            if not media_id:
                raise TransientError("X answered the media upload without a media id; nothing was published")
            alt = str(ref.get("alt") or "")
            if alt:
                api.create_media_metadata(media_id, alt)
        except tweepy.HTTPException as e:
            self._note_rate(e.response)
            self._raise_http("the media upload", e, creating=False)
        except tweepy.TweepyException as e:  # transport failure, wrapped by tweepy: an upload publishes nothing
            raise TransientError(f"X: the media upload failed in transit ({type(e.__cause__ or e).__name__}); "
                                 "nothing was published") from None
        return media_id

    def _note_rate(self, response: requests.Response | None) -> None:
        if response is None:
            return
        h = response.headers
        known = "x-rate-limit-limit" in h or "x-rate-limit-remaining" in h
        self.last_rate = RateInfo(as_int(h.get("x-rate-limit-limit")), as_int(h.get("x-rate-limit-remaining")),
                                  epoch(h.get("x-rate-limit-reset"))) if known else None

    def _call(self, what: str, fn: Any, *args: Any, creating: bool = False, **kwargs: Any) -> requests.Response:
        import tweepy

        try:
            response: requests.Response = fn(*args, user_auth=False, **kwargs)
        except tweepy.HTTPException as e:
            self._note_rate(e.response)
            self._raise_http(what, e, creating=creating)
        except requests.RequestException as e:
            raise transport_error(e, "X", what, creating=creating) from None
        self._note_rate(response)
        return response

    def _raise_http(self, what: str, e: Any, *, creating: bool) -> NoReturn:
        import tweepy

        status = e.response.status_code
        detail = "; ".join(e.api_messages) or _detail(e.response) or f"HTTP {status}"
        if isinstance(e, tweepy.TooManyRequests):
            raise RateLimited(f"X rate limit reached for {what}: {detail}", retry_at=rate_reset(e.response.headers))
        if isinstance(e, tweepy.Unauthorized):
            raise AuthExpired(f"X rejected the credentials of account {self.account.name!r}: {detail}",
                              hint="renew the tokens, then run `publisher accounts verify`")
        if status == 402:
            raise PermanentError("X refused the post: the app's pay-per-use credits are depleted (402)",
                                 hint="buy credits in the X developer console, then `publisher retry`")
        if isinstance(e, tweepy.Forbidden):
            if "duplicate content" in detail.lower():
                raise _Duplicate(detail)
            raise PermanentError(f"X refused {what} (403 permission): {detail}",
                                 hint="check the app has read-write access and the account may post")
        if isinstance(e, tweepy.TwitterServerError):
            if creating:
                raise OutcomeUnknown(f"X answered {status} to {what}; the post may exist: {detail}")
            raise TransientError(f"X answered {status} to {what}: {detail}")
        raise PermanentError(f"X refused {what} ({status}): {detail}", hint="fix the post; retrying cannot help")

    # -- the contract --

    def publish(self, delivery: DeliveryRef, parent: Receipt | None) -> Receipt:
        client = self.client()
        kwargs: dict[str, Any] = {"text": delivery.payload.text}
        media_ids = [self._upload(r) for r in self.media_refs(delivery)]
        if media_ids:
            kwargs["media_ids"] = media_ids
        if parent is not None:
            kwargs["in_reply_to_tweet_id"] = parent.remote_id
        try:
            response = self._call("the post", client.create_tweet, creating=True, **kwargs)
        except _Duplicate as dup:
            self._duplicate(delivery, dup.detail)
        data = httpcall.body_object(response).get("data") or {}
        if not data.get("id"):
            raise OutcomeUnknown(f"X answered {response.status_code} without a post id")
        return self._receipt(str(data["id"]), parent)

    def _duplicate(self, delivery: DeliveryRef, detail: str) -> NoReturn:
        """403 duplicate: perhaps our own earlier attempt landed. Look before declaring anything."""
        try:
            found = self.reconcile(delivery)
        except NotPublished:
            first = delivery.window_start
            if delivery.attempt > 1 and (first is None or datetime.now(UTC) - first < TIMELINE_LAG):
                raise OutcomeUnknown(f"X refused the text as a duplicate ({detail}) after an earlier attempt; "
                                     "the timeline does not show it yet: reconcile later") from None
            raise PermanentError(f"X refused the text as a duplicate of an older post: {detail}",
                                 hint="no post of this account since the first attempt matches; change the text") from None
        except (RateLimited, TransientError, AuthExpired, OutcomeUnknown, ReconcileUnsupported):
            raise OutcomeUnknown(f"X refused the text as a duplicate ({detail}); reconcile later") from None
        raise OutcomeUnknown(f"X refused the text as a duplicate; it is already published as {found.remote_id}",
                             existing=found)

    def _receipt(self, tweet_id: str, parent: Receipt | None) -> Receipt:
        username = self.account.options.get("username") or (self._me or {}).get("username") or "i"
        root = parent.data.get("root", parent.remote_id) if parent else tweet_id
        return Receipt(remote_id=tweet_id, url=f"https://x.com/{username}/status/{tweet_id}", data={"root": root})

    def me(self) -> dict[str, Any]:
        if self._me is None:
            response = self._call("the identity lookup", self.client().get_me)
            self._me = dict(httpcall.body_object(response).get("data") or {})
        return self._me

    def reconcile(self, delivery: DeliveryRef) -> Receipt:
        user_id = self.account.options.get("user_id") or self.me().get("id")
        params: dict[str, Any] = {"max_results": PAGE_SIZE, "tweet_fields": ["created_at"]}
        if delivery.window_start is not None:
            start = delivery.window_start.astimezone(UTC) - SKEW
            params["start_time"] = start.strftime("%Y-%m-%dT%H:%M:%SZ")
        wanted = normalise(delivery.payload.text)
        for _ in range(MAX_PAGES):
            try:
                response = self._call("the timeline lookup", self.client().get_users_tweets, user_id, **params)
            except PermanentError as e:  # e.g. no read access to the timeline: no lookup can tell
                raise ReconcileUnsupported(f"X cannot read the account's timeline: {e.message}; check the account, "
                                           "then `publisher retry` or cancel") from None
            body = httpcall.body_object(response)
            for tweet in body.get("data") or []:  # newest first
                if normalise(str(tweet.get("text", ""))) == wanted:
                    return self._receipt(str(tweet["id"]), delivery.parent)
            token = (body.get("meta") or {}).get("next_token")
            if not token:
                raise NotPublished("X: no post of this account since the first attempt has the delivery's text")
            params["pagination_token"] = token
        raise ReconcileUnsupported(f"X: more than {MAX_PAGES * PAGE_SIZE} posts since the first attempt; check the "
                                   "account's timeline, then `publisher retry` or cancel")

    def verify(self) -> str:
        me = self.me()
        return f"@{me.get('username') or me.get('id')}"


class _Unsigned:
    """tweepy.API wants an auth handler; the routing adapter signs each request instead (see ``_sign``)."""

    def apply_auth(self) -> None:
        return None


class _Duplicate(Exception):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def rate_reset(headers: Any) -> datetime:
    """When a 429 ends: the latest of the 15-minute reset and any exhausted 24-hour (user or app) reset."""
    resets = [epoch(headers.get("x-rate-limit-reset"))]
    for scope in ("x-user-limit-24hour", "x-app-limit-24hour"):
        if headers.get(f"{scope}-remaining") == "0":
            resets.append(epoch(headers.get(f"{scope}-reset")))
    known = [r for r in resets if r is not None]
    return max(known) if known else datetime.now(UTC) + timedelta(minutes=15)


def _detail(response: requests.Response) -> str:
    body = httpcall.body_object(response)
    return str(body.get("detail") or body.get("title") or "")
