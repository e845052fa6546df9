"""``consistency``: every variant of one post (per account, or per channel) states the same facts.

Facts are links, the profile's required hashtags, ticket ids (INC-4711), clock times (14:00, kl. 14.00) and
figures with a unit (8 ms, 99.9 %, 15 minutes). A fact stated in another channel's variant but missing here is a
finding: a shortened X variant must not drop the ETA the Mastodon variant gives. Variants are keyed by account name
(one campaign to several accounts on the same platform, each with its own wording) or, in older callers and the
labelled set, by channel; ``own_key`` tells which entry is the checked text's own. Units are compared by meaning
("15 min" = "15 minutes" = "15 minutter"), numbers by value ("99,9 %" = "99.9%").
"""

from __future__ import annotations

import re

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable
from publisher.rules.hashtags import RequiredOptions as RequiredTags

_TICKET = re.compile(r"\b[A-Z][A-Z0-9]{1,9}-\d{1,7}\b")
_TIME = re.compile(r"(?<![\d:.])([01]?\d|2[0-3]):([0-5]\d)(?!\d|:\d)|\bkl\.?\s*([01]?\d|2[0-3])[.:]([0-5]\d)\b",
                   re.IGNORECASE)
_UNITS: dict[str, tuple[str, ...]] = {
    "ms": ("ms", "millisecond", "milliseconds", "millisekunder", "millisekunden"),
    "s": ("s", "sec", "secs", "second", "seconds", "sekund", "sekunder", "sekunden", "secondes", "segundos"),
    "min": ("min", "mins", "minute", "minutes", "minutt", "minutter", "minuten", "minutos"),
    "h": ("h", "hr", "hrs", "hour", "hours", "time", "timer", "stunde", "stunden", "heure", "heures", "hora", "horas"),
    "d": ("day", "days", "dag", "dager", "tag", "tage", "jour", "jours", "día", "días"),
    "%": ("%", "percent", "prosent", "prozent", "pour cent", "por ciento"),
    "gb": ("gb",), "mb": ("mb",), "tb": ("tb",), "gbps": ("gbps", "gbit/s"), "mbps": ("mbps", "mbit/s"),
    "kr": ("kr", "nok"), "eur": ("eur", "€", "euro", "euros"), "usd": ("usd", "$"),
}
_CANON = {alias: unit for unit, aliases in _UNITS.items() for alias in aliases}
_FIGURE = re.compile(
    r"(?<![\w.,])(\d+(?:[.,]\d+)?)\s?(" + "|".join(sorted((re.escape(a) for a in _CANON), key=len, reverse=True))
    + r")(?!\w)",
    re.IGNORECASE,
)


def facts(text: str, required_tags: tuple[str, ...] = ()) -> dict[str, str]:
    """canonical fact -> how it is written (first occurrence)."""
    out: dict[str, str] = {}
    if "://" in text:
        doc = Doc(text)
        for _, _, url in doc.urls:
            out.setdefault("link:" + url.rstrip("/").lower().replace("http://", "https://", 1), url)
    if "-" in text:
        for m in _TICKET.finditer(text):
            out.setdefault("ticket:" + m.group(0), m.group(0))
    if ":" in text or "kl" in text.lower():
        for m in _TIME.finditer(text):
            h, mi = (m.group(1), m.group(2)) if m.group(1) is not None else (m.group(3), m.group(4))
            out.setdefault(f"time:{int(h):02d}:{mi}", m.group(0))
    for m in _FIGURE.finditer(text):
        value = float(m.group(1).replace(",", "."))
        out.setdefault(f"figure:{value:g}{_CANON[m.group(2).lower()]}", m.group(0))
    if required_tags and "#" in text:
        present = {t.lower() for _, _, t in Doc(text).hashtags}
        for tag in required_tags:
            if tag.lower() in present:
                out.setdefault("tag:" + tag.lower(), "#" + tag)
    return out


def own_key(ctx: Ctx) -> str:
    """The key of the checked text's own variant: its account's name when variants are keyed by account (as the
    service and the pre-publish check key them), else its channel (a per-channel variant)."""
    name = ctx.account.name
    return name if name and name in ctx.variants else ctx.channel


def consistency(doc: Doc, ctx: Ctx, opts: RuleOptions) -> list[Finding]:
    me = own_key(ctx)
    others = {key: t for key, t in ctx.variants.items() if key != me and t}
    if not others:
        return []
    own = ctx.variants.get(me)
    if own and own != doc.text and not own.startswith(doc.text):
        return []  # a later part of a split thread: the first part reports for the whole channel
    req = ctx.options.get("hashtags.required")
    tags = tuple(req.tags) if isinstance(req, RequiredTags) else ()
    mine = facts(doc.text, tags)
    if own and own != doc.text:
        mine.update(facts(own, tags))
    missing: dict[str, tuple[str, list[str]]] = {}
    for other in sorted(others):
        for key, written in facts(others[other], tags).items():
            if key not in mine:
                missing.setdefault(key, (written, []))[1].append(other)
    end = len(doc.text)
    return [
        ctx.finding(
            "consistency", opts,
            f"the {', '.join(keys)} variant{'s' if len(keys) > 1 else ''} state{'' if len(keys) > 1 else 's'} "
            f"{written!r}, this {me} variant does not",
            end, end, f"add {written!r} so every variant says the same",
        )
        for key, (written, keys) in missing.items()
    ]


RULES: RuleTable = {"consistency": (consistency, RuleOptions)}
