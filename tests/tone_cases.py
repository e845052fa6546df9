"""Helpers the tone-rule round tests share: an account to check against, and the text each finding points at."""

from __future__ import annotations

from publisher import tone
from publisher.models import PostKind
from publisher.settings import AccountConfig


def acc(languages: list[str], kind: str = "organisation", tz: str = "Europe/Oslo",
        own_domains: list[str] | None = None) -> AccountConfig:
    return AccountConfig(name="a", channel="mastodon", kind=kind, timezone=tz, languages=languages,
                         own_domains=own_domains)


def found(rule: str, text: str, account: AccountConfig, kind: PostKind = PostKind.NOTE) -> list[str]:
    """The text each finding of ``rule`` points at."""
    return [text[f.start:f.end] for f in tone.check(text, account, kind=kind) if f.rule == rule]
