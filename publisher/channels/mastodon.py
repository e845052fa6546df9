"""Mastodon adapter: REST over requests (POST /api/v1/statuses), safe to retry through the Idempotency-Key header.

Outcome classes (PLATFORMS.md section 4), decided by HTTP status, never by the error text (it is localised):

=========================================  ===========================
200 Status                                  Receipt (id, status url)
401                                         AuthExpired
403 / 404 (reply parent gone) / 422 / 4xx   PermanentError
429                                         RateLimited(X-RateLimit-Reset, ISO 8601)
5xx, timeout or reset after sending         OutcomeUnknown
connection refused / DNS / TLS              TransientError
=========================================  ===========================

Every create carries ``Idempotency-Key: <delivery.idempotency_key>``; Mastodon keeps the key per account for one
hour and answers a repeat with the original status, creating nothing, so a retried publish is safe within the hour.
``reconcile`` re-sends the key with an empty text (found -> the original; 422 -> nothing under the key, which is
definitive while the key is provably alive: the first attempt, stored with the delivery, was sent less than
55 minutes ago and the latest one has settled); after that it looks the post up among the account's statuses since
the first attempt (verify_credentials + /api/v1/accounts/:id/statuses, page after page) by its text. Everything it
needs is in the delivery reference (stored times, deterministic key), so any process can settle an outcome.
"""

from __future__ import annotations

import html
import logging
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests

from publisher.channels import httpcall
from publisher.channels.base import Channel
from publisher.credentials import redact
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

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://mastodon.social"
DEFAULT_MAX_CHARACTERS = 500
#: Mastodon stores idempotency keys for 3600 s; stay well inside that window
KEY_WINDOW = timedelta(minutes=55)
#: how long after sending an empty key is trusted: a slow server may still be saving the status
SETTLE_SECONDS = 60.0
#: the stored attempt time is the claim; the call starts at most half a lease later (30 s with the default lease)
CLAIM_TO_SEND_SECONDS = 30.0
#: how far before the first attempt the status lookup reads (clock skew between us and the instance)
SKEW = timedelta(minutes=5)
PAGE_SIZE = 40  # the most Mastodon serves per page
MAX_PAGES = 25
#: how long one upload may wait for the instance's image processing before the attempt is retried later
MEDIA_PROCESSING_SECONDS = 20.0
_REMOTE_MENTION = re.compile(r"(?<![\w@])(@[A-Za-z0-9_]+)@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")

_instance_lock = threading.Lock()
_instance_max: dict[str, int] = {}  # base_url -> configuration.statuses.max_characters


def plain_text(content_html: str) -> str:
    """A status' HTML ``content`` as the text the author typed, near enough to compare (whitespace removed)."""
    text = re.sub(r"<br\s*/?>|</p>\s*<p>", "\n", content_html)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return re.sub(r"\s+", "", text)


def comparable(text: str) -> str:
    """What ``plain_text`` gives for a status posted with ``text`` (remote mentions show as @user)."""
    return re.sub(r"\s+", "", _REMOTE_MENTION.sub(r"\1", text))


class MastodonChannel(Channel):
    name: ClassVar[str] = "mastodon"
    limits: ClassVar[ChannelLimits] = ChannelLimits(max_length=DEFAULT_MAX_CHARACTERS, counting="mastodon")
    default_rate: ClassVar[tuple[int, int] | None] = (300, 10800)  # statuses per account per 3 h

    def __init__(self, account: AccountConfig, credentials: dict[str, str] | None = None) -> None:
        super().__init__(account, credentials)
        self.base_url = (account.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = httpcall.timeout_from(account.options)
        self._session: requests.Session | None = None

    # -- rendering --

    def limits_for(self) -> ChannelLimits:
        """The instance limit from ``options.max_characters`` (``accounts verify`` can read it from the instance)."""
        configured = self.account.options.get("max_characters")
        if configured is None:
            return self.limits
        return ChannelLimits(max_length=int(configured), counting="mastodon")

    # -- HTTP --

    @property
    def session(self) -> requests.Session:
        if self._session is None:
            self._session = requests.Session()
            self._session.headers["User-Agent"] = "publisher (+mastodon adapter)"
        return self._session

    def _headers(self) -> dict[str, str]:
        token = self.credentials.get("access_token")
        if not token:
            raise AuthExpired(f"mastodon account {self.account.name!r} has no access_token credential")
        return {"Authorization": f"Bearer {token}"}

    def _call(self, method: str, path: str, *, mutating: bool = False, **kwargs: Any) -> requests.Response:
        headers = {**self._headers(), **kwargs.pop("headers", {})}
        resp = httpcall.send(self.session, self.name, method, f"{self.base_url}{path}", mutating=mutating,
                             timeout=self.timeout, headers=headers, **kwargs)
        log.debug("mastodon %s %s -> %s", method, path, resp.status_code)
        self._note_rate(resp)
        return resp

    def _note_rate(self, resp: requests.Response) -> None:
        info = httpcall.rate_info(httpcall.as_int(resp.headers.get("X-RateLimit-Limit")),
                                  httpcall.as_int(resp.headers.get("X-RateLimit-Remaining")),
                                  httpcall.parse_iso(resp.headers.get("X-RateLimit-Reset")))
        self.last_rate = info

    def _raise_for(self, resp: requests.Response, *, creating: bool) -> None:
        """Turn a non-200 answer into its outcome class (by status code only)."""
        status = resp.status_code
        body = httpcall.body_json(resp)
        said = body.get("error") if isinstance(body, dict) else None
        detail = redact(f": {said}" if said else "")
        if status == 429:
            retry_at = httpcall.retry_time(httpcall.parse_iso(resp.headers.get("X-RateLimit-Reset")),
                                           resp.headers.get("Retry-After"), fallback_seconds=300)
            raise RateLimited(f"mastodon rate limit reached; next attempt at {retry_at.isoformat()}", retry_at)
        if status == 401:
            raise AuthExpired(f"mastodon rejected the access token of account {self.account.name!r} (401{detail})")
        if status >= 500 and creating:
            raise OutcomeUnknown(f"mastodon answered {status} to a new status; it may have been created{detail}")
        if status >= 500:
            raise TransientError(f"mastodon answered {status}{detail}")
        if status == 404 and creating:
            raise PermanentError(f"mastodon: the status to reply to no longer exists (404{detail})")
        raise PermanentError(f"mastodon refused the request ({status}{detail})")

    # -- publishing --

    def _status_form(self, delivery: DeliveryRef, in_reply_to: str | None) -> dict[str, str]:
        payload = delivery.payload
        form = {"status": payload.text,
                "visibility": str(payload.extra.get("visibility") or self.account.options.get("visibility") or "public")}
        if payload.language:
            form["language"] = payload.language
        if payload.extra.get("spoiler_text"):
            form["spoiler_text"] = str(payload.extra["spoiler_text"])
        if in_reply_to:
            form["in_reply_to_id"] = in_reply_to
        return form

    def _upload(self, ref: dict[str, Any]) -> str:
        """POST /api/v2/media with the alt text as description; waits (bounded) while the instance processes it
        (202, then GET /api/v1/media/:id answers 206 until done). An upload publishes nothing: failures here are
        never OutcomeUnknown, and a retry uploads again."""
        image = self.image(ref)
        ext = image.mime.split("/")[-1]
        resp = self._call("POST", "/api/v2/media", files={"file": (f"image.{ext}", image.data, image.mime)},
                          data={"description": str(ref.get("alt") or "")})
        if resp.status_code not in (200, 202):
            self._raise_for(resp, creating=False)
        body = httpcall.body_object(resp)
        media_id = str(body.get("id") or "")
        if not media_id:
            raise TransientError(f"mastodon answered {resp.status_code} to a media upload without an id")
        waited, pause = 0.0, 0.2
        while resp.status_code in (202, 206) or not body.get("url"):
            if waited >= MEDIA_PROCESSING_SECONDS:
                raise TransientError(f"mastodon is still processing media {media_id} after {waited:.0f} s; "
                                     "nothing was published, the next attempt uploads again")
            time.sleep(pause)  # bounded wait for the instance's image processing (not a rate limit)
            waited += pause
            pause = min(pause * 2, 2.0)
            resp = self._call("GET", f"/api/v1/media/{media_id}")
            if resp.status_code not in (200, 206):
                self._raise_for(resp, creating=False)
            body = httpcall.body_object(resp)
        return media_id

    def _post_status(self, delivery: DeliveryRef, in_reply_to: str | None) -> Receipt:
        form: dict[str, Any] = self._status_form(delivery, in_reply_to)
        media_ids = [self._upload(r) for r in self.media_refs(delivery)]
        if media_ids:
            form["media_ids[]"] = media_ids
        resp = self._call("POST", "/api/v1/statuses", mutating=True, data=form,
                          headers={"Idempotency-Key": delivery.idempotency_key})
        if resp.status_code != 200:
            self._raise_for(resp, creating=True)
        body = httpcall.body_json(resp)
        if not isinstance(body, dict) or body.get("id") is None:
            raise OutcomeUnknown("mastodon answered 200 without a status; it may have been created")
        return self._receipt(body)

    @staticmethod
    def _receipt(status: dict[str, Any]) -> Receipt:
        data: dict[str, Any] = {}
        if status.get("in_reply_to_id"):
            data["in_reply_to_id"] = str(status["in_reply_to_id"])
        account = status.get("account")
        if isinstance(account, dict) and account.get("id") is not None:
            data["account_id"] = str(account["id"])
        return Receipt(remote_id=str(status["id"]), url=status.get("url") or status.get("uri"), data=data)

    def publish(self, delivery: DeliveryRef, parent: Receipt | None) -> Receipt:
        return self._post_status(delivery, parent.remote_id if parent else None)

    # -- reconciliation --

    def reconcile(self, delivery: DeliveryRef) -> Receipt:
        """Ask the idempotency key first, then the account's recent statuses.

        The probe re-sends the delivery's key with an empty text: Mastodon answers a known key with the original
        status before it validates anything (PostStatusService), and an unknown key with 422 "Text can't be blank",
        so the probe can never create a post, however old the attempt. A 422 is definitive only while the key would
        still be stored and every attempt has settled: the first was claimed less than 55 minutes ago, the latest
        more than 90 s ago (both times are stored with the delivery, so any process can decide).
        """
        resp = self._call("POST", "/api/v1/statuses", data={"status": ""},
                          headers={"Idempotency-Key": delivery.idempotency_key})
        if resp.status_code == 200:
            body = httpcall.body_json(resp)
            if isinstance(body, dict) and body.get("id") is not None:
                return self._receipt(body)
        if resp.status_code != 422:
            self._raise_for(resp, creating=False)
        first = delivery.first_attempt_at or delivery.attempt_at
        latest = delivery.attempt_at or first
        if first is not None and latest is not None:
            now = datetime.now(UTC)
            if now - latest < timedelta(seconds=CLAIM_TO_SEND_SECONDS + max(SETTLE_SECONDS, 2 * self.timeout[1])):
                # Mastodon stores the key only after the status is saved (mastodon#21840): a request still in
                # flight on a slow server would be missed, and re-sending it could then post twice
                raise TransientError("mastodon: too early to tell whether the status was created; ask again shortly")
            if now - first < KEY_WINDOW:
                raise NotPublished("mastodon holds no status under this delivery's idempotency key")
        return self._lookup(delivery)

    def _lookup(self, delivery: DeliveryRef) -> Receipt:
        """Find the delivery among the account's statuses since its first attempt by its text (the key may be
        gone): page back until the statuses are older than the first attempt, or the account's first status."""
        me = self._verify_credentials()
        want = comparable(delivery.payload.text)
        since = delivery.window_start
        params: dict[str, str] = {"limit": str(PAGE_SIZE), "exclude_reblogs": "true"}
        for _ in range(MAX_PAGES):
            resp = self._call("GET", f"/api/v1/accounts/{me['id']}/statuses", params=params)
            if resp.status_code != 200:
                self._raise_for(resp, creating=False)
            statuses = httpcall.body_json(resp)
            if not isinstance(statuses, list):
                raise TransientError("mastodon: the account's statuses came back unreadable")
            for status in statuses:
                if plain_text(str(status.get("content") or "")) == want:
                    return self._receipt(status)
            if len(statuses) < PAGE_SIZE:  # the listing reached the account's first status
                raise NotPublished("mastodon: the account has no status with this text")
            oldest = httpcall.parse_iso(str(statuses[-1].get("created_at") or ""))
            if since is not None and oldest is not None and oldest < since - SKEW:
                raise NotPublished("mastodon: no status of the account since the first attempt has this text")
            params["max_id"] = str(statuses[-1]["id"])
        raise ReconcileUnsupported(
            f"mastodon: the idempotency window has passed and more than {MAX_PAGES * PAGE_SIZE} statuses were "
            "posted since the first attempt; check the account's profile, then `publisher retry` or cancel"
        )

    # -- identity --

    def _verify_credentials(self) -> dict[str, Any]:
        resp = self._call("GET", "/api/v1/accounts/verify_credentials")
        if resp.status_code != 200:
            self._raise_for(resp, creating=False)
        body = httpcall.body_json(resp)
        if not isinstance(body, dict) or "id" not in body:
            raise PermanentError("mastodon: verify_credentials did not return an account")
        return body

    def verify(self) -> str:
        me = self._verify_credentials()
        return f"@{me.get('acct') or me.get('username')}"

    def instance_max_characters(self) -> int:
        """configuration.statuses.max_characters of the instance (GET /api/v2/instance), cached per instance."""
        with _instance_lock:
            if self.base_url in _instance_max:
                return _instance_max[self.base_url]
        resp = httpcall.send(self.session, self.name, "GET", f"{self.base_url}/api/v2/instance", mutating=False,
                             timeout=self.timeout)
        body = httpcall.body_json(resp) if resp.status_code == 200 else None
        try:
            value = int(body["configuration"]["statuses"]["max_characters"])  # type: ignore[index]
        except (TypeError, KeyError, ValueError):
            value = DEFAULT_MAX_CHARACTERS
        with _instance_lock:
            _instance_max[self.base_url] = value
        return value
