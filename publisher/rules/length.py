"""``length``: the text fits the target channel, measured the way the platform counts.

The limits come from the channel adapter (``publisher.channels.adapter_class(channel).limits``), the same object the
adapter renders with; if an adapter cannot be imported the documented platform limits below are used. Counting goes
through ``publisher.textlength`` (twitter-text for X, graphemes for Bluesky/Mastodon), with exact shortcuts that skip
the library when the answer cannot differ (see ``measure``).
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import Field

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable
from publisher.textlength import ChannelLimits

#: used when the channel's adapter cannot be imported (platform documentation, see PLATFORMS.md)
FALLBACK_LIMITS: dict[str, ChannelLimits] = {
    "x": ChannelLimits(max_length=280, counting="twitter", unit="weighted characters"),
    "mastodon": ChannelLimits(max_length=500, counting="mastodon", unit="characters"),
    "bluesky": ChannelLimits(max_length=300, counting="graphemes", unit="graphemes", max_bytes=3000),
    "linkedin": ChannelLimits(max_length=3000, counting="chars", unit="characters"),
    "facebook": ChannelLimits(max_length=63206, counting="chars", unit="characters"),
    "dryrun": ChannelLimits(max_length=5000, counting="chars", unit="characters"),
}

# A grapheme cluster can only span several code points if one of them is >= U+0300 (combining marks, ZWJ, ...).
_CLUSTERING = re.compile("[^\x00-\u02ff]|\r\n")


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


def measure(text: str, limits: ChannelLimits) -> int:
    """The platform's length of ``text``; identical to ``limits.measure`` but skips the libraries when it can."""
    counting = limits.counting
    if counting == "chars":
        return len(text)
    if counting == "graphemes" and not _CLUSTERING.search(text):
        return len(text)
    return limits.measure(text)  # X: textlength.twitter_weighted has the same kind of exact shortcut


def _upper_bound(text: str, counting: str) -> int:
    """A cheap exact upper bound of the platform length: graphemes never outnumber code points, a URL counts 23
    on X and Mastodon, and X weighs nothing more than 2."""
    if counting in ("chars", "graphemes"):
        return len(text)
    if counting == "mastodon":
        return len(text) + 23 * text.count("://")
    return 2 * len(text) + 23 * text.count(".")


def _overflow_start(text: str, limits: ChannelLimits, max_length: int) -> int:
    """The first index whose inclusion makes the text too long (binary search over prefixes)."""
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if measure(text[:mid], limits) <= max_length:
            lo = mid
        else:
            hi = mid - 1
    return lo


def length(doc: Doc, ctx: Ctx, opts: LengthOptions) -> list[Finding]:
    limits = limits_for(ctx.channel)
    max_length = opts.max_length or limits.max_length
    text = doc.text
    if _upper_bound(text, limits.counting) <= max_length and (
        limits.max_bytes is None or len(text.encode("utf-8")) <= limits.max_bytes
    ):
        return []
    measured = measure(text, limits)
    too_many_bytes = limits.max_bytes is not None and len(text.encode("utf-8")) > limits.max_bytes
    if measured <= max_length and not too_many_bytes:
        return []
    if ctx.account.long_text == "split" and ctx.account.channel == ctx.channel:
        return [ctx.finding("length", opts, f"{measured} {limits.unit}; {ctx.channel} allows {max_length}, so it "
                            "will be published as a numbered thread", 0, len(text),
                            "shorten it if it should be one post", severity="info")]
    if measured <= max_length:  # only the byte limit is exceeded
        return [ctx.finding("length", opts, f"text is {len(text.encode('utf-8'))} bytes; {ctx.channel} allows "
                            f"{limits.max_bytes}", 0, len(text), "shorten it or use fewer emoji and non-Latin text")]
    start = _overflow_start(text, limits, max_length)
    over = measured - max_length
    return [ctx.finding(
        "length", opts,
        f"text is {measured} {limits.unit}; {ctx.channel} allows {max_length}",
        start, len(text),
        f"shorten it by {over} {limits.unit} (the quoted tail does not fit), or set long_text: split on the "
        "account to thread it",
    )]


RULES: RuleTable = {"length": (length, LengthOptions)}
