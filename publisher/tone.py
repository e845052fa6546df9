"""Tone and policy checks: the hook the spine calls at enqueue and again just before publishing.

The contract (stable; the rule set behind it grows):

``check(text, account, *, channel, kind, profiles, variants=None, overrides=None) -> list[Finding]``
    All findings for one rendered text on one channel. Pure: no I/O, no network.
``blocking(findings, allowed) -> list[Finding]``
    The findings that refuse the post, after the per-post overrides (rule ids) in ``allowed``.
``load_profiles(raw) -> dict[str, Profile]``
    Validates the configuration's ``profiles:`` section; raises ConfigError naming the key and the fix.
``profile_for(account, profiles) -> Profile``
    The account's profile (named, or the built-in matching its kind) with its ``options.tone`` overrides.

Rules live in ``publisher.rules`` (one module per family), profiles in ``publisher.tone_profiles``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from publisher.models import Finding, PostKind
from publisher.rules import REGISTRY, Ctx, Doc
from publisher.settings import AccountConfig
from publisher.tone_profiles import BUILTIN, Profile, load_profiles, profile_for

__all__ = ["BUILTIN", "REGISTRY", "Profile", "blocking", "check", "load_profiles", "profile_for", "rule_ids"]

SEVERITY_ORDER = {"block": 0, "warn": 1, "info": 2}


def check(
    text: str,
    account: AccountConfig,
    *,
    channel: str | None = None,
    kind: PostKind | str = PostKind.NOTE,
    profiles: Mapping[str, Any] | None = None,
    variants: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> list[Finding]:
    """Return every finding for ``text`` as ``account`` would publish it on ``channel``.

    ``profiles`` is the configuration's ``profiles:`` mapping (or ``load_profiles``' result); ``variants`` maps
    channel -> that channel's full rendered text of the same post (for the consistency rule); ``overrides`` is one
    more layer of rule settings for this post only, e.g. ``{"hashtags.required": {"tags": ["Launch2026"]}}``.
    Raises ConfigError for an invalid profile or override.
    """
    profile = profile_for(account, profiles)
    if overrides:
        profile = profile.with_rules(overrides, "overrides")
    post_kind = PostKind(kind)
    ctx = Ctx(account=account, channel=channel or account.channel, kind=post_kind, variants=variants or {},
              options=profile.options[post_kind])
    doc = Doc(text)
    findings: list[Finding] = []
    for _, fn, opts in profile.active[post_kind]:
        findings.extend(fn(doc, ctx, opts))
    return findings


def blocking(findings: Iterable[Finding], allowed: Iterable[str] = ()) -> list[Finding]:
    allow = set(allowed)
    return [f for f in findings if f.severity == "block" and f.rule not in allow]


def rule_ids() -> list[str]:
    return list(REGISTRY)
