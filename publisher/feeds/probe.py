"""What ``publisher feed add`` does with a URL before storing it: fetch it once and read it as the poller would, so
a wrong URL fails at ``feed add`` with a clear error (exit 2), not on the first poll at 3 a.m.

- A feed (RSS, Atom, JSON Feed): stored as given, or at its new address when every redirect hop was permanent.
- A blog's HTML page: its ``<link rel="alternate">`` feeds are read (autodiscovery); the first one that is a feed is
  stored, and the note names it and the others the page announces (WordPress announces posts, then comments).
- Anything else (unreachable, 404, 410, too large, not a feed, entity declarations): ``InputError``, nothing stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from publisher.errors import InputError

if TYPE_CHECKING:
    from publisher.feeds.fetch import Fetched


@dataclass
class Probed:
    url: str  # the URL to store
    note: str | None = None  # what the user should know (a discovered feed, a permanent redirect)


def _read(url: str) -> tuple[str, Fetched]:
    """Fetch ``url`` once: (where it answered from after permanent redirects, the response); raises FetchError."""
    from publisher.feeds import fetch

    got = fetch.fetch(url)
    return got.moved_to or url, got


def probe(url: str) -> Probed:
    from publisher.feeds import fetch, parse

    try:
        stored, got = _read(url)
        try:
            parse.parse(got.body, got.content_type, got.url)
            note = f"{url} moved permanently to {stored}; the new address is stored" if stored != url else None
            return Probed(stored, note)
        except parse.ParseError as e:
            if e.kind != "html":
                raise
        found = parse.discover(got.body, got.url)  # the page already fetched
        problems = []
        for candidate in found:
            try:
                stored, feed = _read(candidate)
                parse.parse(feed.body, feed.content_type, feed.url)
            except (fetch.FetchError, parse.ParseError) as e:
                problems.append(f"{candidate}: {e}")
                continue
            others = [f for f in found if f != candidate]
            note = (f"{url} is a web page; it announces the feed {stored}, which is stored"
                    + (f" (it also announces: {', '.join(others[:3])})" if others else ""))
            return Probed(stored, note)
        if found:
            raise InputError(f"{url[:200]} is an HTML page; none of the feeds it announces could be read: "
                             f"{'; '.join(problems)[:400]}", hint="give the blog's feed URL")
        raise InputError(f"{url[:200]} is an HTML page that announces no feed",
                         hint="give the blog's feed URL (often /feed, /rss.xml, /index.xml or /atom.xml)")
    except fetch.FetchError as e:
        raise InputError(f"cannot add the feed: {e}", hint=_HINTS.get(e.kind, "check the URL")) from None
    except parse.ParseError as e:
        raise InputError(f"cannot add the feed: {e}", hint=e.hint or "check the URL") from None


_HINTS = {
    "unreachable": "check the URL and that this machine can reach it; --no-check stores it unchecked (the scheduler "
                   "fetches it on its own network)",
    "http": "check the URL (a 404 is often a missing /feed or /index.xml)",
    "gone": "the blog removed this feed: find its new address on the blog's home page",
    "too_large": "feeds larger than 5 MB are refused; ask the blog for a shorter feed",
    "scheme": "only http:// and https:// feeds are fetched",
}
