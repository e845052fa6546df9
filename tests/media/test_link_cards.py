"""Bluesky link cards from a page served on loopback: OpenGraph read at accept, thumbnail uploaded as a blob,
the record checked against the AT Protocol lexicon model; a page that cannot be read never blocks the post."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from publisher.channels import linkcard, media
from publisher.sandbox.server import SandboxServer
from tests.conftest import Env
from tests.media.conftest import Site

PAGE = """<!doctype html><html><head><title>Fallback title</title>
<meta property="og:title" content="Fibre maintenance: what changes">
<meta property="og:description" content="Tonight 22:00-23:00 the Oslo-Stockholm path is moved.">
<meta property="og:image" content="/cover.png">
<meta name="twitter:card" content="summary_large_image">
</head><body><p>Body text</p></body></html>"""


def _cover() -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.effect_noise((1000, 525), 100).convert("RGB").save(buf, "PNG")  # ~1.5 MB of noise: over the blob cap
    return buf.getvalue()


class Pages:
    def __init__(self) -> None:
        self.routes: dict[str, tuple[int, str, bytes]] = {}
        pages = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                status, ctype, body = pages.routes.get(self.path, (404, "text/html", b"<h1>Not Found</h1>"))
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("location", body.decode())
                    body = b""
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"


@pytest.fixture(scope="module")
def pages() -> Iterator[Pages]:
    p = Pages()
    p.routes["/post.html"] = (200, "text/html; charset=utf-8", PAGE.encode())
    p.routes["/cover.png"] = (200, "image/png", _cover())
    p.routes["/twitter.html"] = (200, "text/html", b'<meta name="twitter:title" content="TC title">'
                                                    b'<meta name="twitter:description" content="TC desc">'
                                                    b'<meta name="twitter:image" content="/missing.png">')
    p.routes["/to-metadata"] = (302, "text/html", b"http://169.254.169.254/latest/meta-data/")
    p.routes["/to-post"] = (301, "text/html", b"/post.html")
    p.routes["/feed.xml"] = (200, "application/rss+xml", b"<rss/>")
    yield p
    p.server.shutdown()


@pytest.fixture
def site(env: Env, sandbox: SandboxServer) -> Iterator[Site]:
    """Personal accounts: the loopback page's http:// link would be a links.https block on an organisation's."""
    s = Site(env, sandbox, kind="personal")
    yield s
    s.store.dispose()


def _record(sandbox: SandboxServer) -> dict[str, Any]:
    """The record the sandbox stored for the one post published in this test."""
    platform: Any = sandbox.platforms["bluesky"]
    [posted] = sandbox.sandbox.posts("bluesky")
    return dict(platform.repos[posted["account"]][posted["rkey"]]["value"])


@pytest.mark.slow  # the first record with an embed imports atproto's models (~3-6 s)
def test_card_with_thumbnail_matches_the_lexicon(site: Site, sandbox: SandboxServer, pages: Pages) -> None:
    from atproto_client import models
    from atproto_client.models.utils import get_or_create

    link = pages.url("/post.html")
    accepted = site.accept("Maintenance tonight, details:", ["m-bsky"], link=link)
    card = accepted.deliveries[0]["payload"]["extra"]["card"]
    assert card["title"] == "Fibre maintenance: what changes" and card["thumb"]["size"] <= 1_000_000
    site.publish(accepted.post_id)
    record = _record(sandbox)
    parsed = get_or_create(record, model=models.AppBskyFeedPost.Record, strict=True)
    assert isinstance(parsed.embed, models.AppBskyEmbedExternal.Main)
    external = record["embed"]["external"]
    assert external["uri"] == link
    assert external["description"] == "Tonight 22:00-23:00 the Oslo-Stockholm path is moved."
    blob = sandbox.platforms["bluesky"].blobs[external["thumb"]["ref"]["$link"]]  # type: ignore[attr-defined]
    assert blob["size"] <= 1_000_000 and blob["sha256"] == card["thumb"]["sha256"]


def test_page_that_404s_still_publishes_without_card(site: Site, sandbox: SandboxServer, pages: Pages) -> None:
    accepted = site.accept("Read the post", ["m-bsky"], link=pages.url("/gone.html"))
    assert "card" not in (accepted.deliveries[0]["payload"].get("extra") or {})
    site.publish(accepted.post_id)
    assert "embed" not in _record(sandbox)
    assert [p["text"] for p in sandbox.sandbox.posts("bluesky")] == [f"Read the post {pages.url('/gone.html')}"]


def test_twitter_card_fallback_and_missing_image(pages: Pages) -> None:
    card = linkcard.build(pages.url("/twitter.html"), allow_loopback=True)
    assert card is not None and (card.title, card.description, card.thumb) == ("TC title", "TC desc", None)


@pytest.mark.parametrize("link", ["file:///etc/passwd", "ftp://127.0.0.1/x", "http://10.0.0.1/", "http://[::1]/x",
                                  "http://169.254.169.254/latest/meta-data/"])
def test_ssrf_guard_refuses_non_public_targets(link: str) -> None:
    assert linkcard.build(link) is None


def test_loopback_only_for_a_loopback_account(pages: Pages) -> None:
    assert linkcard.build(pages.url("/post.html"), allow_loopback=False) is None
    assert linkcard.build(pages.url("/post.html"), allow_loopback=True) is not None


def test_card_images_are_stored_once(site: Site, pages: Pages, tmp_path: Path) -> None:
    site.accept("First mention", ["m-bsky"], link=pages.url("/post.html"))
    site.accept("Second mention", ["m-bsky"], link=pages.url("/post.html"))
    from sqlalchemy import func, select

    from publisher.schema import media as media_table

    with site.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(media_table)).scalar() == 1
    assert media.CARD_THUMB_BYTES == 1_000_000


def test_redirects_are_checked_hop_by_hop(pages: Pages) -> None:
    assert linkcard.build(pages.url("/to-metadata"), allow_loopback=True) is None  # loopback -> link-local: refused
    card = linkcard.build(pages.url("/to-post"), allow_loopback=True)
    assert card is not None and card.uri == pages.url("/to-post") and card.title.startswith("Fibre maintenance")


def test_size_cap_and_non_html(pages: Pages, monkeypatch: pytest.MonkeyPatch) -> None:
    assert linkcard.build(pages.url("/feed.xml"), allow_loopback=True) is None
    monkeypatch.setattr(linkcard, "MAX_PAGE_BYTES", 100)
    assert linkcard.build(pages.url("/post.html"), allow_loopback=True) is None


def test_a_linkedin_post_with_a_link_carries_the_card_as_an_article(site: Site, sandbox: SandboxServer,
                                                                     pages: Pages) -> None:
    """LinkedIn's Posts API makes no preview of a link in the commentary: the card read at accept goes as
    content.article, with its thumbnail uploaded through the Images API."""
    link = pages.url("/post.html")
    accepted = site.accept("Maintenance tonight, details:", ["m-li"], link=link)
    card = accepted.deliveries[0]["payload"]["extra"]["card"]
    assert card["title"] == "Fibre maintenance: what changes"
    site.publish(accepted.post_id)
    [posted] = sandbox.sandbox.posts("linkedin")
    article = posted["article"]
    assert article["source"] == link and article["title"] == "Fibre maintenance: what changes"
    assert article["description"] == "Tonight 22:00-23:00 the Oslo-Stockholm path is moved."
    [thumb] = posted["media"]  # the thumbnail: an image the author uploaded
    assert thumb["id"] == article["thumbnail"] and thumb["mime"] in ("image/jpeg", "image/png")


def test_a_linkedin_card_whose_page_cannot_be_read_still_publishes_the_link(site: Site, sandbox: SandboxServer,
                                                                             pages: Pages) -> None:
    accepted = site.accept("Details:", ["m-li"], link=pages.url("/gone.html"))
    assert "card" not in accepted.deliveries[0]["payload"].get("extra", {})
    site.publish(accepted.post_id)
    [posted] = sandbox.sandbox.posts("linkedin")
    assert posted["article"] is None and pages.url("/gone.html") in posted["text"]
