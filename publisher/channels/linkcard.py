"""Link cards: a page's OpenGraph / Twitter-card metadata (title, description, image) for Bluesky's
``app.bsky.embed.external``, which Bluesky clients do not build themselves.

The page is fetched when the post is accepted, not when it is published: the card (and its thumbnail, stored in the
``media`` table like any image) is then part of the stored payload, so what is published is what was accepted and
checked, the payload hash covers it, a retry sends the same card, and the worker makes no extra outbound call.
A page that cannot be read gives a card without a thumbnail or no card at all; it never refuses the post.

Fetching is guarded against server-side request forgery: http(s) only, every address the host resolves to must be
public (no loopback, private, link-local, multicast or reserved address; the sandbox's loopback pages are allowed
only for an account whose ``base_url`` is itself on loopback), no redirects followed blindly (each hop is checked
again, at most 3), a short timeout and a size cap on the body.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from publisher.channels import media

log = logging.getLogger(__name__)

TIMEOUT = (3.0, 5.0)
MAX_PAGE_BYTES = 2 * 1024 * 1024
MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 3
#: the lexicon's caps are generous (title/description strings without maxLength); keep cards readable
MAX_TITLE = 300
MAX_DESCRIPTION = 1000


class Refused(Exception):
    """The URL may not be fetched (scheme, address) or the answer is unusable."""


@dataclass(frozen=True)
class Card:
    uri: str
    title: str
    description: str
    thumb: media.Image | None = None

    def ref(self) -> dict[str, Any]:
        out: dict[str, Any] = {"uri": self.uri, "title": self.title, "description": self.description}
        if self.thumb is not None:
            out["thumb"] = self.thumb.ref("")
        return out


def is_loopback_url(url: str | None) -> bool:
    host = urlsplit(url or "").hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_address(url: str, allow_loopback: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Refused(f"only http(s) URLs are fetched, not {parts.scheme or 'a relative URL'}")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80),
                                   type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as e:
        raise Refused(f"{parts.hostname} does not resolve ({type(e).__name__})") from None
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if addr.is_loopback and allow_loopback:
            continue
        if not addr.is_global or addr.is_multicast:
            raise Refused(f"{parts.hostname} resolves to a non-public address ({addr})")


def _get(url: str, cap: int, allow_loopback: bool, accept: str) -> tuple[str, bytes, str]:
    """(final URL, body, content type) of a GET, following at most MAX_REDIRECTS checked redirects."""
    import requests

    for _ in range(MAX_REDIRECTS + 1):
        _check_address(url, allow_loopback)
        try:
            with requests.get(url, timeout=TIMEOUT, stream=True, allow_redirects=False,
                              headers={"Accept": accept, "User-Agent": "publisher (+link cards)"}) as resp:
                if resp.status_code in (301, 302, 303, 307, 308) and resp.headers.get("location"):
                    url = urljoin(url, resp.headers["location"])
                    continue
                if resp.status_code != 200:
                    raise Refused(f"{url} answered {resp.status_code}")
                declared = resp.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise Refused(f"{url} is {declared} bytes, over the {cap} cap")
                body = b""
                for chunk in resp.iter_content(65536):
                    body += chunk
                    if len(body) > cap:
                        raise Refused(f"{url} is over the {cap} byte cap")
                return url, body, resp.headers.get("content-type", "")
        except requests.RequestException as e:
            raise Refused(f"{url} could not be fetched ({type(e).__name__})") from None
    raise Refused(f"{url}: more than {MAX_REDIRECTS} redirects")


def parse(html: bytes | str, base_url: str) -> dict[str, str]:
    """title, description and image (absolute URL) from OpenGraph, else Twitter-card, else the HTML itself."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")

    def meta(*names: str) -> str:
        for name in names:
            tag = soup.find("meta", attrs={"property": name}) or soup.find("meta", attrs={"name": name})
            content = tag.get("content") if tag is not None else None
            if isinstance(content, str) and content.strip():
                return " ".join(content.split())
        return ""

    title = meta("og:title", "twitter:title") or (soup.title.get_text(" ", strip=True) if soup.title else "")
    description = meta("og:description", "twitter:description", "description")
    image = meta("og:image:secure_url", "og:image", "og:image:url", "twitter:image", "twitter:image:src")
    return {"title": title[:MAX_TITLE], "description": description[:MAX_DESCRIPTION],
            "image": urljoin(base_url, image) if image else ""}


def fetch_image(url: str, *, allow_loopback: bool = False) -> media.Image | None:
    """An image from the web (a feed entry's enclosure or og:image), validated and cleaned like ``media.load``,
    under the same SSRF guard; None when it cannot be fetched or is not a usable image."""
    try:
        _, data, _ = _get(url, MAX_IMAGE_BYTES, allow_loopback, "image/*")
        return media.decode(data, what=f"the image {url}")
    except Exception as e:  # noqa: BLE001 - the caller posts without the image
        log.info("image %s not used: %s", url, e)
        return None


def build(link: str, *, allow_loopback: bool = False) -> Card | None:
    """The card for ``link``, a card without thumbnail when its image cannot be used, or None when the page cannot
    be read. Never raises for anything the page or the network does."""
    try:
        final, body, ctype = _get(link, MAX_PAGE_BYTES, allow_loopback, "text/html,application/xhtml+xml")
        if "html" not in ctype.lower():
            raise Refused(f"{link} is {ctype or 'not HTML'}")
        found = parse(body, final)
    except Refused as e:
        log.info("no link card for %s: %s", link, e)
        return None
    except Exception as e:  # noqa: BLE001 - a card is never worth refusing the post for
        log.warning("no link card for %s: %s", link, type(e).__name__)
        return None
    thumb = None
    image = fetch_image(found["image"], allow_loopback=allow_loopback) if found["image"] else None
    if image is not None:
        try:
            thumb = media.fit_to(image, media.Limits(frozenset({"JPEG", "PNG"}), media.CARD_THUMB_BYTES, 1, 0,
                                                     2000, 2000))
        except Exception as e:  # noqa: BLE001 - a card without a thumbnail still shows title and description
            log.info("card for %s without a thumbnail: %s", link, e)
    return Card(uri=link, title=found["title"] or link, description=found["description"], thumb=thumb)
