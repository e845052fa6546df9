"""Bluesky adapter: XRPC over requests, ``app.bsky.feed.post`` records with facets and a deterministic record key.

Outcome classes (PLATFORMS.md section 5), decided by status and XRPC error name:

=====================================================  ===============================================
200 ``{uri, cid, commit, validationStatus}``            Receipt (at:// uri, bsky.app URL, cid + root)
400 ``ExpiredToken``/``InvalidToken``, 401              refresh, else one new login, retried once;
                                                        still refused -> AuthExpired
400 ``InvalidRequest`` (too long, bad facets), 403      PermanentError
409 / ``...AlreadyExists`` / 5xx (duplicate rkey: 500)  OutcomeUnknown -> reconcile
429 ``RateLimitExceeded``                               RateLimited(RateLimit-Reset, unix seconds)
timeout or reset after sending                          OutcomeUnknown
connection refused / DNS / TLS                          TransientError
=====================================================  ===============================================

Every create passes ``rkey = bluesky_tid.rkey_for(delivery.id)``, so a repeat cannot duplicate the post and
``reconcile`` is a definitive ``com.atproto.repo.getRecord``: found -> receipt, ``RecordNotFound`` -> NotPublished.
Replies carry ``reply.root`` and ``reply.parent`` strong refs; the root is carried forward in ``Receipt.data``.

Images (``payload.extra["media"]``) are uploaded with ``com.atproto.repo.uploadBlob`` right before the create and
embedded as ``app.bsky.embed.images`` (alt, aspectRatio); a link card (``payload.extra["card"]``, built when the
post was accepted, see ``linkcard``) as ``app.bsky.embed.external`` with its thumbnail uploaded the same way.
An upload is not a publish: a failed upload is retried like any call that created nothing (blobs nothing refers to
are garbage-collected by the PDS), and only the createRecord carries the exactly-once guarantees above.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any, ClassVar

import requests

from publisher.channels import bluesky_facets, bluesky_tid, httpcall
from publisher.channels.base import Channel
from publisher.channels.bluesky_session import XrpcClient, xrpc_error
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

DEFAULT_BASE_URL = "https://bsky.social"
COLLECTION = "app.bsky.feed.post"

_handles_lock = threading.Lock()
_handles: dict[tuple[str, str], str | None] = {}  # (service, handle) -> did, or None when it did not resolve


def post_url(handle_or_did: str, rkey: str) -> str:
    return f"https://bsky.app/profile/{handle_or_did}/post/{rkey}"


def _rkey(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


class BlueskyChannel(Channel):
    name: ClassVar[str] = "bluesky"
    limits: ClassVar[ChannelLimits] = ChannelLimits(max_length=300, counting="graphemes", unit="graphemes",
                                                    max_bytes=3000)
    default_rate: ClassVar[tuple[int, int] | None] = (1666, 3600)  # 5000 write points/h, CREATE = 3

    def __init__(self, account: AccountConfig, credentials: dict[str, str] | None = None) -> None:
        super().__init__(account, credentials)
        self.base_url = (account.base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout = httpcall.timeout_from(account.options)
        self._client: XrpcClient | None = None

    @property
    def client(self) -> XrpcClient:
        if self._client is None:
            http = requests.Session()
            http.headers["User-Agent"] = "publisher (+bluesky adapter)"
            self._client = XrpcClient(self.base_url, self.credentials.get("identifier", ""),
                                      self.credentials.get("app_password", ""), self.timeout, http)
        return self._client

    # -- responses --

    def _note_rate(self, resp: requests.Response) -> None:
        info = httpcall.rate_info(httpcall.as_int(resp.headers.get("RateLimit-Limit")),
                                  httpcall.as_int(resp.headers.get("RateLimit-Remaining")),
                                  httpcall.epoch(resp.headers.get("RateLimit-Reset")))
        if info is not None:
            self.last_rate = info

    def _raise_for(self, resp: requests.Response, *, creating: bool) -> None:
        status = resp.status_code
        error, message = xrpc_error(resp)
        said = redact(f"{error}: {message}" if message else error or str(status))
        if status == 429:
            retry_at = httpcall.retry_time(httpcall.epoch(resp.headers.get("RateLimit-Reset")),
                                           resp.headers.get("Retry-After"), fallback_seconds=60)
            raise RateLimited(f"bluesky rate limit reached; next attempt at {retry_at.isoformat()}", retry_at)
        if status == 401:
            raise AuthExpired(f"bluesky rejected the session ({said})")
        if creating and (status >= 500 or status == 409 or "AlreadyExists" in error):
            raise OutcomeUnknown(f"bluesky answered {status} to a new post ({said}); it may have been created")
        if status >= 500:
            raise TransientError(f"bluesky answered {status} ({said})")
        raise PermanentError(f"bluesky refused the request ({status} {said})")

    # -- publishing --

    def _resolve(self, handle: str) -> str | None:
        key = (self.base_url, handle)
        with _handles_lock:
            if key in _handles:
                return _handles[key]
        try:
            resp = self.client.public("GET", "com.atproto.identity.resolveHandle", params={"handle": handle})
            body = httpcall.body_json(resp) if resp.status_code == 200 else None
            did = str(body["did"]) if isinstance(body, dict) and body.get("did") else None
        except TransientError:
            return None  # no facet this time; do not remember a network failure
        with _handles_lock:
            _handles[key] = did
        return did

    def _strong_refs(self, parent: Receipt) -> dict[str, Any]:
        cid = parent.data.get("cid")
        root = {"uri": parent.data.get("root_uri"), "cid": parent.data.get("root_cid")}
        if not cid or not root["uri"]:
            found = self._get_record(parent.remote_id.split("/")[2], _rkey(parent.remote_id))
            if found is None:
                raise PermanentError("bluesky: the post to reply to no longer exists")
            cid = found["cid"]
            reply = (found.get("value") or {}).get("reply") or {}
            root = reply.get("root") or {"uri": parent.remote_id, "cid": cid}
        return {"root": {"uri": root["uri"], "cid": root["cid"]}, "parent": {"uri": parent.remote_id, "cid": cid}}

    def _record(self, delivery: DeliveryRef, parent: Receipt | None) -> dict[str, Any]:
        text = delivery.payload.text
        record: dict[str, Any] = {
            "$type": COLLECTION, "text": text,
            "createdAt": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        lang = delivery.payload.language or (self.account.languages[0] if self.account.languages else None)
        if lang:
            record["langs"] = [lang]
        facets = bluesky_facets.facets(text, self._resolve)
        if facets:
            record["facets"] = facets
        if parent is not None:
            record["reply"] = self._strong_refs(parent)
        embed = self._embed(delivery)
        if embed is not None:
            record["embed"] = embed
        return record

    def _upload(self, ref: dict[str, Any]) -> dict[str, Any]:
        """Upload one stored image as a blob; returns the blob ref to embed."""
        image = self.image(ref)
        resp = self.client.call("POST", "com.atproto.repo.uploadBlob", data=image.data,
                                headers={"Content-Type": image.mime})
        self._note_rate(resp)
        if resp.status_code != 200:
            self._raise_for(resp, creating=False)  # nothing is published by an upload: never OutcomeUnknown
        blob = (httpcall.body_object(resp)).get("blob")
        if not isinstance(blob, dict) or not (blob.get("ref") or blob.get("cid")):
            raise TransientError("bluesky: uploadBlob answered 200 without a blob")
        return blob

    def _embed(self, delivery: DeliveryRef) -> dict[str, Any] | None:
        refs = self.media_refs(delivery)
        if refs:
            return {"$type": "app.bsky.embed.images", "images": [
                {"image": self._upload(r), "alt": str(r.get("alt") or ""),
                 "aspectRatio": {"width": int(r["width"]), "height": int(r["height"])}} for r in refs]}
        card = delivery.payload.extra.get("card")
        if not isinstance(card, dict) or not card.get("uri"):
            return None
        external: dict[str, Any] = {"uri": str(card["uri"]), "title": str(card.get("title") or ""),
                                    "description": str(card.get("description") or "")}
        if isinstance(card.get("thumb"), dict):
            try:
                external["thumb"] = self._upload(card["thumb"])
            except PermanentError as e:  # a card never blocks a publish: without its thumbnail, then
                log.warning("bluesky: link card without its thumbnail: %s", e.message)
        return {"$type": "app.bsky.embed.external", "external": external}

    def publish(self, delivery: DeliveryRef, parent: Receipt | None) -> Receipt:
        session = self.client.session()
        record = self._record(delivery, parent)
        body = {"repo": session.did, "collection": COLLECTION, "rkey": bluesky_tid.rkey_for(delivery.id),
                "record": record}
        resp = self.client.call("POST", "com.atproto.repo.createRecord", mutating=True, json=body)
        self._note_rate(resp)
        if resp.status_code != 200:
            self._raise_for(resp, creating=True)
        answer = httpcall.body_json(resp)
        if not isinstance(answer, dict) or not answer.get("uri") or not answer.get("cid"):
            raise OutcomeUnknown("bluesky answered 200 without uri and cid; the post may have been created")
        return self._receipt(str(answer["uri"]), str(answer["cid"]), record.get("reply"))

    def _receipt(self, uri: str, cid: str, reply: dict[str, Any] | None) -> Receipt:
        root = (reply or {}).get("root") or {"uri": uri, "cid": cid}
        session = self.client.session()
        did = uri.split("/")[2] if uri.startswith("at://") else session.did
        owner = session.handle if did == session.did else did
        return Receipt(remote_id=uri, url=post_url(owner, _rkey(uri)),
                       data={"cid": cid, "root_uri": root["uri"], "root_cid": root["cid"], "root": root["uri"],
                             "did": did})

    # -- reconciliation --

    def _get_record(self, repo: str, rkey: str) -> dict[str, Any] | None:
        """The record, or None when the repository definitively has no such record."""
        resp = self.client.call("GET", "com.atproto.repo.getRecord",
                                params={"repo": repo, "collection": COLLECTION, "rkey": rkey})
        self._note_rate(resp)
        if resp.status_code == 200:
            body = httpcall.body_json(resp)
            if isinstance(body, dict) and body.get("uri") and body.get("cid"):
                return body
            raise TransientError("bluesky: getRecord answered 200 without a record")
        error, message = xrpc_error(resp)
        if resp.status_code == 400 and (error == "RecordNotFound" or "Could not locate record" in message):
            return None
        self._raise_for(resp, creating=False)
        raise AssertionError("unreachable")  # pragma: no cover

    def reconcile(self, delivery: DeliveryRef) -> Receipt:
        session = self.client.session()
        found = self._get_record(session.did, bluesky_tid.rkey_for(delivery.id))
        if found is None:
            raise NotPublished("bluesky: the repository has no record with this delivery's key")
        value = found.get("value") or {}
        if value.get("text") != delivery.payload.text:
            raise ReconcileUnsupported("bluesky: the record under this delivery's key has other text; look at it")
        return self._receipt(str(found["uri"]), str(found["cid"]), value.get("reply"))

    # -- identity --

    def verify(self) -> str:
        resp = self.client.call("GET", "com.atproto.server.getSession")
        self._note_rate(resp)
        if resp.status_code != 200:
            self._raise_for(resp, creating=False)
        body = httpcall.body_json(resp) or {}
        return f"@{body.get('handle') or self.client.session().handle}"
