"""One error tree. Every error a user can see says what to do next; none carries a secret."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from publisher.models import Finding, Receipt

# Documented exit codes (README "Exit codes"); the CLI maps errors to these and nothing else does.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BLOCKED = 3
EXIT_NOT_PERMITTED = 4
EXIT_NOT_FOUND = 5


class PublisherError(Exception):
    """Root of every error publisher raises on purpose."""

    exit_code = EXIT_ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\n  -> {self.hint}"


class ConfigError(PublisherError):
    """Configuration is missing or invalid."""


class InputError(PublisherError):
    """The user's input is invalid; nothing was changed."""

    exit_code = EXIT_USAGE


class NotFound(PublisherError):
    exit_code = EXIT_NOT_FOUND


class NotPermitted(PublisherError):
    """The acting user may not do this (account posters/approvers)."""

    exit_code = EXIT_NOT_PERMITTED


class InvalidState(PublisherError):
    """The requested change does not apply to the delivery's current state."""


class ToneBlocked(PublisherError):
    """A blocking tone/policy finding refused the post."""

    exit_code = EXIT_BLOCKED

    def __init__(self, message: str, findings: list[Finding], hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.findings = findings


class ContentTooLong(InputError):
    """Text exceeds a channel's limit and the account is set to reject rather than split."""

    def __init__(self, channel: str, limit: int, measured: int, unit: str) -> None:
        super().__init__(
            f"text is {measured} {unit} long; {channel} allows {limit}",
            hint=f"shorten it by {measured - limit} {unit}, or set long_text: split on the account to thread it",
        )
        self.channel = channel
        self.limit = limit
        self.measured = measured


class BrokerError(PublisherError):
    """The message broker cannot be reached or started."""


# --- channel outcomes: adapters raise exactly these (see publisher/channels/base.py) ---


class ChannelError(PublisherError):
    """Root of every outcome an adapter reports other than success.

    Its message and hint are where platform text enters publisher (and from here the store, the audit log, logs
    and output): both are redacted here, once, against the resolved secrets and token-shaped values
    (``credentials.redact``), whatever the adapter put in them. The library exception being handled when it was
    raised (an SDK's error, whose text is the platform's, unredacted) is never printed with it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        from publisher.credentials import redact

        super().__init__(redact(message), redact(hint) if hint else hint)
        self.__suppress_context__ = True


class RateLimited(ChannelError):
    """Nothing was sent; the platform (or our shared budget) allows the next attempt at ``retry_at`` (UTC)."""

    def __init__(self, message: str, retry_at: datetime) -> None:
        super().__init__(message)
        self.retry_at = retry_at


class TransientError(ChannelError):
    """Nothing was sent (connect refused, DNS failure, 503 before processing); safe to retry after a backoff."""


class PermanentError(ChannelError):
    """The platform refused the post for good (validation, permission, policy); retrying cannot help."""


class AuthExpired(ChannelError):
    """The account's credentials are expired or revoked; hold the account's deliveries until re-verified."""


class OutcomeUnknown(ChannelError):
    """The request may have been applied (timeout after send, reset, 5xx on create): reconcile, never blindly retry.

    ``hint_remote`` may carry what the platform said about an existing post (LinkedIn's duplicate URN).
    """

    def __init__(self, message: str, existing: Receipt | None = None) -> None:
        super().__init__(message)
        self.existing = existing


class NotPublished(ChannelError):
    """Raised by ``reconcile`` when the platform definitively has no post for the delivery."""


class ReconcileUnsupported(ChannelError):
    """Raised by ``reconcile`` when the adapter cannot tell; a human must look (``publisher show`` says how)."""
