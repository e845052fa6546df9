"""Links: ``links.required`` (blog announcements carry their link), ``links.https``, ``links.shortener``,
``links.max``."""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable, quote

SHORTENERS = frozenset(
    """
    bit.ly bitly.com tinyurl.com t.co goo.gl ow.ly buff.ly is.gd v.gd rebrand.ly cutt.ly shorturl.at tiny.cc lnkd.in
    dlvr.it trib.al rb.gy t.ly bl.ink soo.gd short.io shorte.st adf.ly qr.ae tr.im x.co su.pr mcaf.ee db.tt
    """.split()
)


class RequiredOptions(RuleOptions):
    #: at least this many links
    min: int = Field(default=1, ge=1)


class HttpsOptions(RuleOptions):
    #: hosts allowed over plain http (an intranet status page that cannot do TLS)
    allow_hosts: list[str] = Field(default_factory=list)


class ShortenerOptions(RuleOptions):
    #: extra shortener domains to refuse
    domains: list[str] = Field(default_factory=list)


class MaxOptions(RuleOptions):
    max: int = Field(default=2, ge=0)


def _host(url: str) -> str:
    if "://" not in url:
        url = "//" + url
    try:
        return (urlsplit(url).hostname or "").lower().removeprefix("www.")
    except ValueError:
        return ""


def required(doc: Doc, ctx: Ctx, opts: RequiredOptions) -> list[Finding]:
    if len(doc.urls) >= opts.min:
        return []
    what = "a link" if opts.min == 1 else f"{opts.min} links"
    return [ctx.finding(
        "links.required", opts, f"a {ctx.kind} post needs {what} (found {len(doc.urls)})", len(doc.text),
        len(doc.text), "add the full https:// URL of the post it announces (or pass --link)",
    )]


def https(doc: Doc, ctx: Ctx, opts: HttpsOptions) -> list[Finding]:
    allow = {h.lower() for h in opts.allow_hosts}
    out = []
    for start, end, url in doc.urls:
        if url[:5].lower() == "http:" and _host(url) not in allow:
            out.append(ctx.finding(
                "links.https", opts, f"plain http link: {quote(doc.text, start, end)!r}", start, end,
                f"use {'https' + url[4:]!r} (and make sure the site serves it)",
            ))
    return out


def shortener(doc: Doc, ctx: Ctx, opts: ShortenerOptions) -> list[Finding]:
    domains = SHORTENERS | {d.lower() for d in opts.domains}
    out = []
    for start, end, url in [*doc.urls, *doc.bare_links]:
        host = _host(url)
        if host in domains:
            out.append(ctx.finding(
                "links.shortener", opts, f"URL shortener {host}: readers cannot see where it goes", start, end,
                "use the full destination URL; every platform shortens links itself",
            ))
    return sorted(out, key=lambda f: f.start)


def max_links(doc: Doc, ctx: Ctx, opts: MaxOptions) -> list[Finding]:
    links = doc.urls
    if len(links) <= opts.max:
        return []
    start, end = links[opts.max][0], links[-1][1]
    return [ctx.finding(
        "links.max", opts, f"{len(links)} links (at most {opts.max})", start, end,
        f"keep the {opts.max} most important link(s); link a page that lists the rest",
    )]


RULES: RuleTable = {
    "links.required": (required, RequiredOptions),
    "links.https": (https, HttpsOptions),
    "links.shortener": (shortener, ShortenerOptions),
    "links.max": (max_links, MaxOptions),
}
