"""Tone and policy checks: the hook the spine calls at enqueue and again just before publishing.

The contract (stable; the rule set behind it grows):

``check(text, account, *, channel, kind, profiles, variants=None) -> list[Finding]``
    All findings for one rendered text on one channel. Pure: no I/O, no network.
``blocking(findings, allowed) -> list[Finding]``
    The findings that refuse the post, after the per-post overrides (rule ids) in ``allowed``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from publisher.models import Finding, PostKind
from publisher.settings import AccountConfig


def check(
    text: str,
    account: AccountConfig,
    *,
    channel: str | None = None,
    kind: PostKind = PostKind.NOTE,
    profiles: Mapping[str, Any] | None = None,
    variants: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Return every finding for ``text`` as ``account`` would publish it on ``channel``."""
    return []


def blocking(findings: Iterable[Finding], allowed: Iterable[str] = ()) -> list[Finding]:
    allow = set(allowed)
    return [f for f in findings if f.severity == "block" and f.rule not in allow]
