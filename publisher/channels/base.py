"""The channel adapter contract. The docstrings are the contract.

An adapter translates: a delivery in, a receipt out. Scheduling, persistence, retries, rate budgets and the audit
log stay outside it. Adapters raise, never return False:

=====================  ====================================================================================
outcome                 meaning for the publish actor
=====================  ====================================================================================
``Receipt`` returned    published; store remote id and URL
``RateLimited(at)``     nothing sent; wait (``retry_wait``) until ``at``, no sleeping in the worker
``TransientError``      nothing sent (connect refused, DNS, 503 before processing); retry after backoff
``PermanentError``      refused for good (validation, permission, duplicate that reconcile could not match)
``AuthExpired``         credentials expired/revoked; the delivery is held until ``accounts verify`` passes
``OutcomeUnknown``      maybe applied (timeout after send, reset, 5xx on create): ``reconcile`` decides
=====================  ====================================================================================

Platform SDKs are imported inside methods, never at module import, so accepting a post stays cheap.

One adapter serves every thread of a worker for its account: an adapter keeps no per-request state on itself.
What a response said belongs to the call (its receipt or exception); ``last_rate`` is kept per thread.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar

from publisher.errors import ContentTooLong, InputError, PermanentError, ReconcileUnsupported
from publisher.models import Content, DeliveryRef, Payload, Receipt
from publisher.settings import AccountConfig
from publisher.textlength import ChannelLimits, split_thread

if TYPE_CHECKING:
    from publisher.channels.media import Image


@dataclass(frozen=True)
class RateInfo:
    """What the platform's response headers said about the account's posting budget."""

    limit: int | None
    remaining: int | None
    reset_at: datetime | None  # UTC


class Channel(ABC):
    """Base class of every adapter.

    Construction is cheap and offline: ``Channel(account, credentials)``. ``credentials`` maps the account's
    credential names to resolved values (see ``publisher.credentials``); an adapter must never log them, put them
    in exception messages, or return them. ``account.base_url`` (None = the real platform) is where requests go.
    """

    #: channel name as used in configuration and as the Dramatiq queue name
    name: ClassVar[str]
    #: limits as data; tone checks read the same object
    limits: ClassVar[ChannelLimits]

    #: documented default posting budget per account: (posts, window seconds); None = no known limit.
    #: The shared Redis budget (publisher.budget) starts from this and is corrected by ``last_rate``.
    default_rate: ClassVar[tuple[int, int] | None] = None

    #: sha256 -> the stored image, or None (set by ``channels.for_publishing`` from the store; None: no store)
    media_source: Callable[[str], Image | None] | None = None

    def __init__(self, account: AccountConfig, credentials: dict[str, str] | None = None) -> None:
        self.account = account
        self.credentials = credentials or {}
        #: per-thread state of the call in progress (the adapter is shared by a worker's threads)
        self._local = threading.local()

    @property
    def last_rate(self) -> RateInfo | None:
        """The rate headers of the latest response *this thread* received through the adapter (None if none).

        Set by publish/reconcile/verify; each thread reads only what its own calls received, so the publish actor
        can read it right after its call while other threads call the same adapter."""
        rate: RateInfo | None = getattr(self._local, "rate", None)
        return rate

    @last_rate.setter
    def last_rate(self, value: RateInfo | None) -> None:
        self._local.rate = value

    # -- rendering (runs at enqueue; must not import SDKs or touch the network) --

    def limits_for(self) -> ChannelLimits:
        """Limits for this account (an adapter may read e.g. Mastodon's instance ``max_characters`` from options)."""
        return self.limits

    def render(self, content: Content) -> list[Payload]:
        """Render ``content`` into what will be sent, exactly.

        Returns one payload, or several when the account's ``long_text`` is ``split`` and the text is too long
        (a numbered thread, each part fitting the limit, never split mid-word or inside a URL).
        Raises ContentTooLong when the account rejects long text; InputError for content the channel cannot carry.
        """
        text = content.text.strip()
        if content.link and content.link not in text:
            text = f"{text} {content.link}"
        if not text:
            raise InputError("the post text is empty", hint="give the text to publish as the last argument")
        limits = self.limits_for()
        excess = limits.excess(text)
        if excess is None:
            return [Payload(text=text, link=content.link, language=content.language)]
        if self.account.long_text == "reject":  # name the cap that failed (Bluesky: graphemes or bytes)
            raise ContentTooLong(self.name, excess.limit, excess.measured, excess.unit)
        try:
            parts = split_thread(text, limits)
        except ValueError as e:
            raise InputError(f"cannot split the text for {self.name}: {e}", hint="shorten the text") from None
        return [Payload(text=p, link=content.link if content.link and content.link in p else None,
                        language=content.language) for p in parts]

    # -- publishing (runs in a worker) --

    @staticmethod
    def media_refs(delivery: DeliveryRef) -> list[dict[str, Any]]:
        """The image references of the payload (``extra["media"]``: sha256, mime, width, height, size, alt)."""
        return [dict(m) for m in delivery.payload.extra.get("media") or []]

    def image(self, ref: dict[str, Any]) -> Image:
        """The bytes a payload's image reference names, from the store. An upload is not a publish: uploading
        again on a retry is harmless, so adapters upload on every attempt and keep no upload state."""
        found = self.media_source(str(ref.get("sha256"))) if self.media_source is not None else None
        if found is None:
            raise PermanentError(f"{self.name}: image {str(ref.get('sha256'))[:12]} is not in the store",
                                 hint="the post's image was removed from the media table; post it again")
        if found.sha256 != ref.get("sha256"):  # the payload (audited) names the bytes: altered bytes never go out
            raise PermanentError(f"{self.name}: the stored bytes of image {str(ref.get('sha256'))[:12]} do not match "
                                 "its sha256", hint="the media table was changed outside publisher; post it again")
        return found

    @abstractmethod
    def publish(self, delivery: DeliveryRef, parent: Receipt | None) -> Receipt:
        """Publish ``delivery.payload``; when ``parent`` is given, as a reply to it (a thread continuation).

        ``parent`` is the receipt of the nearest published predecessor in the thread; adapters that need the
        thread root (Bluesky strong refs, Facebook comments on the first post) carry it forward in
        ``Receipt.data``. Returns the new post's receipt. Raises one of the outcome errors in the module docstring.
        """

    def reconcile(self, delivery: DeliveryRef) -> Receipt:
        """Find out whether a delivery whose outcome was unknown was in fact published.

        Returns its receipt if the platform has it; raises NotPublished if the platform definitively has no
        such post (the delivery may then be sent again); raises ReconcileUnsupported (or RateLimited /
        TransientError / AuthExpired) when it cannot tell yet. Default: cannot tell.

        Look where ``publish`` posted (a reply among ``delivery.parent``'s replies or comments), from
        ``delivery.window_start`` on. NotPublished only after a complete look: a full page of results proves
        nothing; read on to the end of the listing or back to the window's start, else ReconcileUnsupported.
        """
        raise ReconcileUnsupported(f"{self.name} cannot look up posts; check the account and `publisher retry` or cancel")

    def verify(self) -> str:
        """Call the cheapest identity endpoint; return the identity (handle, page name). Raises AuthExpired or
        PermanentError (permission missing)."""
        return self.account.name
