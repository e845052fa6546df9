"""The channel contract suite: the behaviour every adapter must show against its sandbox emulator.

Use it by subclassing ``ChannelContract`` in a test module (the class name must start with ``Test``)::

    from tests.channels.contract import ChannelContract

    def build(base_url: str, token: str) -> tuple[AccountConfig, dict[str, str]]:
        account = AccountConfig(name="acme", channel="x", base_url=base_url, options={...})
        return account, {"bearer_token": token}

    class TestXContract(ChannelContract):
        channel = "x"
        build = staticmethod(build)

The tests need the ``sandbox`` fixture (tests/channels/conftest.py: a running ``SandboxServer`` reset before each
test). ``build(base_url, token)`` returns an account pointed at ``base_url`` and the resolved credentials in which
``token`` is the secret the emulator checks (the suite passes tokens containing "expired" to script auth failures,
and a canary to check that no secret leaks into exceptions or receipts).

Conventions the suite relies on, which every emulator follows:

* every accepted post is recorded with ``Sandbox.record(platform, account, remote_id, text, in_reply_to=...)``,
  where ``text`` is the text as the platform shows it and ``in_reply_to`` the remote id of the post it replies or
  comments on (absent or None for a top-level post);
* ``Faults.burst_429`` answers 429 with the platform's reset information ``burst_reset_seconds`` from now
  (set ``rate_reset_from_headers = False`` for platforms that send none, e.g. LinkedIn);
* ``Faults.error_rate`` answers 503 before anything is created; ``drop_after_accept`` stores the post, then drops
  the connection; ``expire_tokens`` treats every token as expired.

Class attributes a subclass may set:

``error_rate_outcomes``
    the outcome classes allowed for a 503 on create (``TransientError`` only where the platform has an idempotency
    key or the 503 provably means "not processed"; otherwise ``OutcomeUnknown``).
``reconcile_supported``
    False if the platform cannot look a post up: reconcile must then raise ReconcileUnsupported.
``rate_reset_from_headers``
    False if the platform sends no reset information with a 429.
``rate_reset_granularity``
    seconds of rounding in the platform's reset information (Facebook sends minutes: 60).
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest

from publisher.channels import adapter_class
from publisher.channels.base import Channel
from publisher.errors import (
    AuthExpired,
    ChannelError,
    ContentTooLong,
    NotPublished,
    OutcomeUnknown,
    PermanentError,
    RateLimited,
    ReconcileUnsupported,
    TransientError,
)
from publisher.models import Content, DeliveryRef, Payload, Receipt
from publisher.sandbox.server import SandboxServer
from publisher.settings import AccountConfig

#: (base_url, token) -> (account pointed at base_url, resolved credentials carrying token)
AccountBuilder = Callable[[str, str], tuple[AccountConfig, dict[str, str]]]

CANARY = "canary-7f3a9c1e-secret-token"
BURST_RESET_SECONDS = 437  # distinctive, so a default back-off cannot pass for the platform's reset time


def delivery(text: str, *, account: str = "acme", channel: str = "x", seq: int = 1, attempt: int = 1,
             parent: Receipt | None = None, created_at: datetime | None = None,
             first_attempt_at: datetime | None = None, attempt_at: datetime | None = None) -> DeliveryRef:
    """A delivery carrying ``text`` exactly (no rendering), built by the one builder publishing uses, from the
    rows it would read: ``parent`` is the receipt it replies to; the times are what the store would hold (None:
    not known, as for a delivery stored before they were recorded)."""
    from publisher.publishing import delivery_ref

    row = {"id": uuid.uuid4().hex[:12], "post_id": uuid.uuid4().hex[:12], "account": account, "channel": channel,
           "payload": Payload(text=text).to_dict(), "attempts": attempt, "part": 1,
           "prev_id": uuid.uuid4().hex[:12] if seq > 1 or parent is not None else None,
           "first_attempt_at": first_attempt_at, "attempt_at": attempt_at}
    return delivery_ref(row, {"created_at": created_at, "thread_seq": seq}, parent)


def unique_text(label: str) -> str:
    return f"Maintenance window {label} finished, all systems normal ({uuid.uuid4().hex[:8]})"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ChannelContract:
    """Contract tests shared by every adapter. Subclass as ``Test<Channel>Contract`` and set ``channel``/``build``."""

    channel: ClassVar[str]
    build: ClassVar[AccountBuilder]
    error_rate_outcomes: ClassVar[tuple[type[ChannelError], ...]] = (OutcomeUnknown,)
    reconcile_supported: ClassVar[bool] = True
    rate_reset_from_headers: ClassVar[bool] = True
    rate_reset_granularity: ClassVar[int] = 1

    # -- helpers --

    def adapter(self, server: SandboxServer, token: str = CANARY, *, base_url: str | None = None,
                **account_changes: Any) -> Channel:
        account, creds = type(self).build(base_url or server.base_url(self.channel), token)
        if account_changes:
            account = account.model_copy(update=account_changes)
        return adapter_class(self.channel)(account, creds)

    def ref(self, adapter: Channel, text: str, **kw: Any) -> DeliveryRef:
        return delivery(text, account=adapter.account.name or "acme", channel=self.channel, **kw)

    def ledger(self, server: SandboxServer) -> list[dict[str, Any]]:
        return server.sandbox.posts(self.channel)

    def faults(self, server: SandboxServer, **values: Any) -> None:
        server.sandbox.set_faults(self.channel, **values)

    @staticmethod
    def assert_no_secret(obj: object) -> None:
        assert CANARY not in repr(obj) and CANARY not in str(obj)

    # -- publishing --

    def test_publish_returns_receipt_and_ledger_holds_exactly_that_post(self, sandbox: SandboxServer) -> None:
        adapter = self.adapter(sandbox)
        text = unique_text("publish")
        receipt = adapter.publish(self.ref(adapter, text), None)
        assert receipt.remote_id
        assert receipt.url and receipt.url.startswith("https://")
        posts = self.ledger(sandbox)
        assert len(posts) == 1
        assert posts[0]["remote_id"] == receipt.remote_id
        assert posts[0]["text"] == text
        assert not posts[0].get("in_reply_to")
        self.assert_no_secret(receipt.to_dict())

    def test_reply_to_a_parent_receipt_links_to_the_parent(self, sandbox: SandboxServer) -> None:
        adapter = self.adapter(sandbox)
        parent = adapter.publish(self.ref(adapter, unique_text("root")), None)
        child = adapter.publish(self.ref(adapter, unique_text("update"), seq=2), parent)
        assert child.remote_id != parent.remote_id
        posts = self.ledger(sandbox)
        assert [p["remote_id"] for p in posts] == [parent.remote_id, child.remote_id]
        assert posts[1]["in_reply_to"] == parent.remote_id

    def test_verify_names_the_identity_behind_a_good_token(self, sandbox: SandboxServer) -> None:
        identity = self.adapter(sandbox).verify()
        assert identity and CANARY not in identity

    # -- outcome classification --

    def test_rate_limited_delivery_reports_reset_time(self, sandbox: SandboxServer) -> None:
        adapter = self.adapter(sandbox)
        self.faults(sandbox, burst_429=1, burst_reset_seconds=BURST_RESET_SECONDS)
        before = datetime.now(UTC)
        with pytest.raises(RateLimited) as info:
            adapter.publish(self.ref(adapter, unique_text("rate")), None)
        after = datetime.now(UTC)
        retry_at = info.value.retry_at
        assert retry_at.tzinfo is not None
        if self.rate_reset_from_headers:
            low = before + timedelta(seconds=BURST_RESET_SECONDS - 1)
            high = after + timedelta(seconds=BURST_RESET_SECONDS + self.rate_reset_granularity)
            assert low <= retry_at <= high
        else:
            assert retry_at > after
        assert self.ledger(sandbox) == []
        self.assert_no_secret(info.value)

    def test_per_account_rate_limit_refuses_the_post_over_budget(self, sandbox: SandboxServer) -> None:
        adapter = self.adapter(sandbox)
        self.faults(sandbox, rate_limit=1, rate_window_seconds=600)
        adapter.publish(self.ref(adapter, unique_text("first")), None)
        with pytest.raises(RateLimited) as info:
            adapter.publish(self.ref(adapter, unique_text("second")), None)
        assert info.value.retry_at > datetime.now(UTC)
        assert len(self.ledger(sandbox)) == 1

    def test_expired_tokens_fault_reports_auth_expired(self, sandbox: SandboxServer) -> None:
        adapter = self.adapter(sandbox)
        self.faults(sandbox, expire_tokens=True)
        with pytest.raises(AuthExpired) as info:
            adapter.publish(self.ref(adapter, unique_text("auth")), None)
        assert self.ledger(sandbox) == []
        self.assert_no_secret(info.value)

    def test_revoked_token_fails_verify_with_auth_expired(self, sandbox: SandboxServer) -> None:
        with pytest.raises(AuthExpired) as info:
            self.adapter(sandbox, token="revoked-token-0001").verify()
        assert "revoked-token-0001" not in str(info.value)

    def test_server_error_before_create_is_classified_by_platform_semantics(self, sandbox: SandboxServer) -> None:
        adapter = self.adapter(sandbox)
        self.faults(sandbox, error_rate=1.0)
        with pytest.raises(ChannelError) as info:
            adapter.publish(self.ref(adapter, unique_text("503")), None)
        assert isinstance(info.value, self.error_rate_outcomes), type(info.value)
        assert self.ledger(sandbox) == []
        self.assert_no_secret(info.value)

    def test_connection_refused_before_sending_is_transient(self, sandbox: SandboxServer) -> None:
        adapter = self.adapter(sandbox, base_url=f"http://127.0.0.1:{closed_port()}/{self.channel}")
        with pytest.raises(TransientError) as info:
            adapter.publish(self.ref(adapter, unique_text("refused")), None)
        self.assert_no_secret(info.value)

    def test_dropped_connection_after_accept_is_unknown_and_reconcile_finds_the_post(
        self, sandbox: SandboxServer
    ) -> None:
        adapter = self.adapter(sandbox)
        ref = self.ref(adapter, unique_text("dropped"))
        self.faults(sandbox, drop_after_accept=1)
        with pytest.raises(OutcomeUnknown):
            adapter.publish(ref, None)
        posts = self.ledger(sandbox)
        assert len(posts) == 1
        if not self.reconcile_supported:
            with pytest.raises(ReconcileUnsupported):
                adapter.reconcile(ref)
            return
        found = adapter.reconcile(ref)
        assert isinstance(found, Receipt)
        assert found.remote_id == posts[0]["remote_id"]

    def test_dropped_reply_is_found_by_reconcile_where_it_was_posted(self, sandbox: SandboxServer) -> None:
        """A reply is looked for among its parent's replies or comments (the reference carries the parent)."""
        adapter = self.adapter(sandbox)
        parent = adapter.publish(self.ref(adapter, unique_text("root")), None)
        ref = self.ref(adapter, unique_text("reply"), seq=2, parent=parent)
        self.faults(sandbox, drop_after_accept=1)
        with pytest.raises(OutcomeUnknown):
            adapter.publish(ref, parent)
        posts = self.ledger(sandbox)
        assert len(posts) == 2 and posts[1]["in_reply_to"] == parent.remote_id
        if not self.reconcile_supported:
            return
        assert adapter.reconcile(ref).remote_id == posts[1]["remote_id"]
        assert len(self.ledger(sandbox)) == 2

    def test_reconcile_of_a_delivery_never_sent_is_not_published(self, sandbox: SandboxServer) -> None:
        """A complete look (the account's whole short history) is definitive."""
        adapter = self.adapter(sandbox)
        adapter.publish(self.ref(adapter, unique_text("other")), None)
        if not self.reconcile_supported:
            return
        with pytest.raises(NotPublished):
            adapter.reconcile(self.ref(adapter, unique_text("never sent")))

    def test_invalid_request_is_permanent(self, sandbox: SandboxServer) -> None:
        """A text over the platform's limit, sent without rendering, is refused for good and not recorded."""
        adapter = self.adapter(sandbox)
        too_long = "word " * (adapter.limits_for().max_length // 4 + 10)
        with pytest.raises(PermanentError):
            adapter.publish(self.ref(adapter, too_long.strip()), None)
        assert self.ledger(sandbox) == []

    # -- rendering --

    def test_render_rejects_long_text_when_the_account_rejects(self, sandbox: SandboxServer) -> None:
        adapter = self.adapter(sandbox, long_text="reject")
        text = "word " * (adapter.limits_for().max_length // 4 + 10)
        with pytest.raises(ContentTooLong):
            adapter.render(Content(text=text))

    def test_render_splits_long_text_into_parts_that_fit_when_the_account_splits(self, sandbox: SandboxServer) -> None:
        adapter = self.adapter(sandbox, long_text="split")
        limits = adapter.limits_for()
        text = "word " * (limits.max_length // 4 + 10)
        parts = adapter.render(Content(text=text))
        assert len(parts) >= 2
        assert all(limits.fits(p.text) for p in parts)

    def test_render_keeps_a_short_text_as_one_payload(self, sandbox: SandboxServer) -> None:
        adapter = self.adapter(sandbox)
        assert [p.text for p in adapter.render(Content(text="All systems normal."))] == ["All systems normal."]
