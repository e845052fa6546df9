"""``length``: the text fits the target channel, measured the way the platform counts.

The limits come from the channel adapter (``publisher.channels.adapter_class(channel).limits``), the same object the
adapter renders with; if an adapter cannot be imported the documented platform limits below are used. Whether the
text fits, and which cap fails by how much, is ``ChannelLimits.excess``: the same function the adapters split and
reject with and the sandbox validates with (Bluesky: 300 graphemes and 3000 UTF-8 bytes). ``measure`` (the platform
length with its exact shortcuts) lives in ``publisher.textlength``.
"""

from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

from pydantic import Field

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable
from publisher.textlength import ChannelLimits, measure

#: used when the channel's adapter cannot be imported (platform documentation, see PLATFORMS.md)
FALLBACK_LIMITS: dict[str, ChannelLimits] = {
    "x": ChannelLimits(max_length=280, counting="twitter"),
    "mastodon": ChannelLimits(max_length=500, counting="mastodon"),
    "bluesky": ChannelLimits(max_length=300, counting="graphemes", max_bytes=3000),
    "linkedin": ChannelLimits(max_length=3000, counting="chars"),
    "facebook": ChannelLimits(max_length=63206, counting="chars"),
    "dryrun": ChannelLimits(max_length=5000, counting="chars"),
}


class LengthOptions(RuleOptions):
    #: override the channel's limit (for example a Mastodon instance with a higher limit)
    max_length: int | None = Field(default=None, ge=1)


@lru_cache(maxsize=32)
def _adapter_limits(channel: str) -> ChannelLimits:
    try:
        from publisher.channels import adapter_class

        limits = adapter_class(channel).limits
        if isinstance(limits, ChannelLimits):
            return limits
    except Exception:  # noqa: BLE001 - an adapter being written or broken must not break tone checks
        pass
    return FALLBACK_LIMITS.get(channel, FALLBACK_LIMITS["dryrun"])


def limits_for(channel: str) -> ChannelLimits:
    return _adapter_limits(channel)


def _overflow_start(text: str, limits: ChannelLimits) -> int:
    """The first index whose inclusion makes the text too long (binary search over prefixes)."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if limits.fits(text[:mid]):
            lo = mid
        else:
            hi = mid - 1
    return lo


def length(doc: Doc, ctx: Ctx, opts: LengthOptions) -> list[Finding]:
    limits = limits_for(ctx.channel)
    if opts.max_length:
        limits = replace(limits, max_length=opts.max_length)
    text = doc.text
    excess = limits.excess(text)
    if excess is None:
        return []
    allows = f"{ctx.channel} allows {excess.limit}"
    if ctx.account.long_text == "split" and ctx.account.channel == ctx.channel:
        return [ctx.finding("length", opts, f"{excess.measured} {excess.unit}; {allows}, so it will be published "
                            "as a numbered thread", 0, len(text), "shorten it if it should be one post",
                            severity="info")]
    fewer = " (fewer emoji and non-Latin characters also help)" if excess.unit == "bytes" else ""
    return [ctx.finding(
        "length", opts,
        f"text is {excess.measured} {excess.unit}; {allows}",
        _overflow_start(text, limits), len(text),
        f"shorten it by {excess.over} {excess.unit}{fewer} (the quoted tail does not fit), or set long_text: "
        "split on the account to thread it",
    )]


RULES: RuleTable = {"length": (length, LengthOptions)}
__all__ = ["FALLBACK_LIMITS", "RULES", "limits_for", "measure"]
