"""Parsing a fetched feed into entries of one shape: feedparser for RSS 0.9x/1.0/2.0 and Atom 1.0, our own reader
for JSON Feed 1.x (feedparser does not read it), and autodiscovery of ``<link rel="alternate">`` feeds in an HTML
page (a blog's home page given instead of its feed).

Entity expansion: an XML document declaring entities (``<!ENTITY``: billion laughs, quadratic blowup, external
entities) is refused before any parser sees it, as defusedxml's ``forbid_entities`` does. Feeds never need them.

HTML summaries become plain text with BeautifulSoup (``html.parser``): it is already installed, needs no C
library, and copes with the broken markup blogs put in feeds (unclosed tags, entities, CDATA leftovers), where a
regex would leave fragments or eat text. feedparser has already sanitised the HTML (scripts and styles removed).
"""

from __future__ import annotations

import calendar
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

_ENTITY_DECL = re.compile(rb"<!ENTITY", re.IGNORECASE)
_HTML_START = re.compile(rb"^\s*(<!--.*?-->\s*)*(<!doctype\s+html|<html)", re.IGNORECASE | re.DOTALL)
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json",
               "application/rdf+xml")


class ParseError(Exception):
    def __init__(self, kind: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.hint = hint


@dataclass
class Entry:
    identity: str  # guid/id, else link, else "sha256:" of title and link
    title: str
    link: str | None
    summary: str  # plain text
    author: str
    tags: list[str] = field(default_factory=list)
    published: datetime | None = None
    updated: datetime | None = None
    image_url: str | None = None
    image_alt: str = ""  # the <img alt> the entry gives its image; empty: none (then it is not attached)

    @property
    def key(self) -> str:
        return hashlib.sha256(self.identity.encode("utf-8")).hexdigest()

    def fields(self) -> dict[str, Any]:
        """What a template sees."""
        return {"title": self.title, "link": self.link or "", "summary": self.summary, "author": self.author,
                "tags": list(self.tags), "published": self.published}


@dataclass
class Parsed:
    title: str
    entries: list[Entry]  # in document order
    format: str  # "rss20", "atom10", "json11", ...
    bozo: str | None = None  # feedparser's complaint about a malformed feed it still read


def identity(guid: str | None, link: str | None, title: str | None) -> str:
    if guid and guid.strip():
        return guid.strip()
    if link and link.strip():
        return link.strip()
    digest = hashlib.sha256(f"{title or ''}\n{link or ''}".encode()).hexdigest()
    return f"sha256:{digest}"


def html_to_text(html: str) -> str:
    if not html:
        return ""
    if "<" not in html and "&" not in html:
        return " ".join(html.split())
    from bs4 import BeautifulSoup

    return " ".join(BeautifulSoup(html, "html.parser").get_text(" ").split())


def first_image(html: str, base: str | None) -> tuple[str, str] | None:
    """The first ``<img>`` of an entry's HTML: (absolute URL, its alt text or "")."""
    if not html or "<img" not in html.lower():
        return None
    from bs4 import BeautifulSoup

    img = BeautifulSoup(html, "html.parser").find("img", src=True)
    if img is None:
        return None
    return urljoin(base or "", str(img["src"])), " ".join(str(img.get("alt") or "").split())


def discover(html: bytes, base: str) -> list[str]:
    """The feeds an HTML page announces (``<link rel="alternate" type="application/rss+xml" href=...>``)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html[:2_000_000], "html.parser")
    found: list[str] = []
    for link in soup.find_all("link", href=True):
        rel: Any = link.get("rel") or []
        rels = [r.lower() for r in (rel if isinstance(rel, list) else str(rel).split())]
        if "alternate" in rels and str(link.get("type", "")).split(";")[0].strip().lower() in _FEED_TYPES:
            url = urljoin(base, str(link["href"]))
            if url not in found:
                found.append(url)
    return found


def _looks_json(body: bytes, content_type: str) -> bool:
    return "json" in content_type.lower() or body.lstrip()[:1] == b"{"


def parse(body: bytes, content_type: str = "", url: str = "",
          seen: Callable[[list[str]], set[str]] | None = None) -> Parsed:
    """``seen``: given entry keys, the ones already seen. With it, entries it names are dropped before feedparser
    runs (``_prescan``), so a feed with one new entry costs one entry's parse, not fifty."""
    if _looks_json(body, content_type):
        return parse_json_feed(body, url)
    head = body[:4096]
    if _HTML_START.match(head) or (b"<html" in head.lower() and b"<rss" not in head and b"<feed" not in head):
        feeds = discover(body, url)
        hint = (f"this page announces {len(feeds)} feed(s): {', '.join(feeds[:3])}; use that URL" if feeds
                else "give the blog's feed URL (often /feed, /rss.xml, /index.xml or /atom.xml)")
        raise ParseError("html", f"{url[:200] or 'the URL'} is an HTML page, not a feed", hint)
    if _ENTITY_DECL.search(body):
        raise ParseError("entities", f"{url[:200] or 'the feed'} declares XML entities (<!ENTITY>): refused, as an "
                         "entity-expansion attack (billion laughs) would be", "feeds never need entity declarations")
    skipped = 0
    if seen is not None:
        scan = _prescan(body)
        if scan is not None:
            root, items = scan
            known = seen([hashlib.sha256(i.encode()).hexdigest() for _, _, i in items])
            drop = [(parent, el) for parent, el, i in items
                    if hashlib.sha256(i.encode()).hexdigest() in known]
            if len(drop) == len(items) and items:
                return Parsed(title="", entries=[], format="prescan", bozo=None)
            for parent, el in drop:
                parent.remove(el)
            skipped = len(drop)
            if skipped:
                import xml.etree.ElementTree as ET

                body = ET.tostring(root, encoding="utf-8")
    import feedparser

    d = feedparser.parse(body, response_headers={"content-location": url, "content-type": content_type or "application/xml"},
                         sanitize_html=True)
    version = d.get("version") or ""
    bozo = str(d.get("bozo_exception")) if d.get("bozo") else None
    if not version and not d.entries and not skipped:
        raise ParseError("not_feed", f"{url[:200] or 'the document'} is not a feed feedparser can read"
                         + (f" ({bozo[:200]})" if bozo else ""), "check the URL: it should serve RSS, Atom or JSON Feed")
    entries = [_feedparser_entry(e, url) for e in d.entries]
    return Parsed(title=str(d.feed.get("title", "")), entries=entries, format=version or "unknown", bozo=bozo)


_ATOM = "{http://www.w3.org/2005/Atom}"


def _prescan(body: bytes) -> tuple[Any, list[tuple[Any, Any, str]]] | None:
    """A quick look with ElementTree (C; about 10x faster than feedparser here) at a well-formed RSS 0.9x/2.0 or
    Atom 1.0 document: (root, [(parent, item element, identity)]), or None for anything else (feedparser then reads
    it all). The identity is computed the way ``_feedparser_entry`` computes it. Where the two could differ (a
    relative link, an odd title), the prescan's identity is one never stored, so the item goes on to feedparser
    and the store's own check: a difference costs time, it cannot hide a new entry."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None
    items: list[tuple[Any, Any, str]] = []
    if root.tag == "rss":
        channel = root.find("channel")
        if channel is None:
            return None
        for el in channel.findall("item"):
            guid, link = el.findtext("guid"), el.findtext("link")
            items.append((channel, el, identity(guid, link, _plain(el.findtext("title")))))
    elif root.tag == f"{_ATOM}feed":
        for el in root.findall(f"{_ATOM}entry"):
            link = next((str(a.get("href")) for a in el.findall(f"{_ATOM}link")
                         if a.get("rel", "alternate") == "alternate" and a.get("href")), None)
            items.append((root, el, identity(el.findtext(f"{_ATOM}id"), link, _plain(el.findtext(f"{_ATOM}title")))))
    else:
        return None
    return root, items


def _plain(title: str | None) -> str:
    return html_to_text(title or "")


def _when(struct: Any) -> datetime | None:
    if not struct:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(struct), UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _feedparser_entry(e: Any, base: str) -> Entry:
    link = e.get("link") or None
    title = html_to_text(e.get("title", ""))
    content = ""
    if e.get("content"):
        content = e.content[0].get("value", "")
    html = e.get("summary") or content
    tags = [str(t.get("term") or t.get("label") or "").strip() for t in e.get("tags", [])]
    return Entry(
        identity=identity(e.get("id"), link, title), title=title, link=link, summary=html_to_text(html),
        author=str(e.get("author", "")), tags=[t for t in dict.fromkeys(tags) if t],
        published=_when(e.get("published_parsed")) or _when(e.get("updated_parsed")),
        updated=_when(e.get("updated_parsed")), **_image(e, content or html, link or base))


def _image(e: Any, html: str, base: str) -> dict[str, Any]:
    """``image_url`` (and ``image_alt`` where the entry gives one) for an Entry."""
    img = first_image(html, base)
    alt = img[1] if img else ""
    for enc in e.get("enclosures", []):
        if str(enc.get("type", "")).startswith("image/") and enc.get("href"):
            return {"image_url": str(enc["href"]), "image_alt": alt if img and img[0] == enc["href"] else ""}
    for media in e.get("media_content", []):
        if (media.get("medium") == "image" or str(media.get("type", "")).startswith("image/")) and media.get("url"):
            return {"image_url": str(media["url"]), "image_alt": alt if img and img[0] == media["url"] else ""}
    itunes = e.get("image")
    if isinstance(itunes, dict) and itunes.get("href"):  # a podcast episode's itunes:image
        return {"image_url": str(itunes["href"])}
    for thumb in e.get("media_thumbnail", []):
        if thumb.get("url"):
            return {"image_url": str(thumb["url"]), "image_alt": alt if img and img[0] == thumb["url"] else ""}
    return {"image_url": img[0], "image_alt": alt} if img else {}


# -- JSON Feed 1.0 / 1.1 (https://www.jsonfeed.org/version/1.1/) --


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_json_feed(body: bytes, url: str = "") -> Parsed:
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ParseError("not_feed", f"{url[:200] or 'the document'} is not valid JSON: {e}"[:300],
                         "check the URL: it should serve RSS, Atom or JSON Feed") from None
    version = doc.get("version", "") if isinstance(doc, dict) else ""
    if not isinstance(version, str) or not version.startswith("https://jsonfeed.org/version/"):
        raise ParseError("not_feed", f"{url[:200] or 'the document'} is JSON but not a JSON Feed (no "
                         "'version': 'https://jsonfeed.org/version/1.1')", "give the blog's feed URL")
    items = doc.get("items")
    if not isinstance(items, list):
        raise ParseError("not_feed", "the JSON Feed has no 'items' list", "check the feed's generator")
    feed_authors = _authors(doc)
    entries = []
    for item in items:
        if not isinstance(item, dict):
            continue
        link = item.get("url") if isinstance(item.get("url"), str) else None
        title = html_to_text(str(item.get("title") or ""))
        html = item.get("summary") or item.get("content_html") or item.get("content_text") or ""
        image = item.get("image") or item.get("banner_image")
        for att in item.get("attachments") or []:
            if not image and isinstance(att, dict) and str(att.get("mime_type", "")).startswith("image/"):
                image = att.get("url")
        image_alt = ""
        if not image:
            found = first_image(str(item.get("content_html") or ""), link or url)
            image, image_alt = found if found else (None, "")
        guid = item.get("id")
        entries.append(Entry(
            identity=identity(str(guid) if guid is not None else None, link, title), title=title, link=link,
            summary=html_to_text(str(html)), author=_authors(item) or feed_authors,
            tags=[str(t) for t in item.get("tags") or [] if str(t).strip()],
            published=_iso(item.get("date_published")) or _iso(item.get("date_modified")),
            updated=_iso(item.get("date_modified")), image_url=str(image) if image else None, image_alt=image_alt))
    version_name = "json" + version.rsplit("/", 1)[-1].replace(".", "")
    return Parsed(title=str(doc.get("title", "")), entries=entries, format=version_name)


def _authors(obj: dict[str, Any]) -> str:
    authors = obj.get("authors") or ([obj["author"]] if isinstance(obj.get("author"), dict) else [])
    names = [str(a.get("name")) for a in authors if isinstance(a, dict) and a.get("name")]
    return ", ".join(names)
