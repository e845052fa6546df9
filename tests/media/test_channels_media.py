"""Images (and link cards) through every adapter to the sandbox: what the sandbox recorded is asserted."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from publisher.channels import media
from publisher.errors import PermanentError, RateLimited
from publisher.sandbox.server import SandboxServer
from publisher.schema import media as media_table
from tests.media.conftest import Site, make_image


def _bsky(server: SandboxServer) -> object:
    return server.platforms["bluesky"]


@pytest.mark.slow  # the sandbox validates the embed with atproto's models: the first import costs 3-6 s
def test_image_with_alt_is_uploaded_as_blob_and_embedded(site: Site, sandbox: SandboxServer, tmp_path: Path) -> None:
    path = make_image(tmp_path / "wide.jpg", (1200, 600))
    accepted = site.accept("Maintenance done", ["m-bsky"], [media.Attachment(media.load(path), "A red rectangle")])
    receipts = site.publish(accepted.post_id)
    assert receipts["m-bsky"].remote_id.startswith("at://")
    [entry] = sandbox.sandbox.posts("bluesky")
    embed = entry["embed"]
    assert embed["$type"] == "app.bsky.embed.images"
    [img] = embed["images"]
    assert img["alt"] == "A red rectangle"
    assert img["aspectRatio"] == {"width": 1200, "height": 600}
    blob = _bsky(sandbox).blobs[img["image"]["ref"]["$link"]]  # type: ignore[attr-defined]
    ref = accepted.deliveries[0]["payload"]["extra"]["media"][0]
    assert blob["sha256"] == ref["sha256"] and blob["mime"] == "image/jpeg"


def test_mastodon_image_with_description_after_processing(site: Site, sandbox: SandboxServer, tmp_path: Path) -> None:
    platform = sandbox.platforms["mastodon"]
    platform.sync_media_bytes = 10  # type: ignore[attr-defined]  # every upload is processed asynchronously (202)
    try:
        path = make_image(tmp_path / "p.png", (300, 200), "PNG")
        accepted = site.accept("Mastodon picture", ["m-masto"], [media.Attachment(media.load(path), "Two bars")])
        site.publish(accepted.post_id)
    finally:
        platform.sync_media_bytes = 256 * 1024  # type: ignore[attr-defined]
    [entry] = sandbox.sandbox.posts("mastodon")
    [m] = entry["media"]
    assert m["description"] == "Two bars" and (m["width"], m["height"]) == (300, 200) and m["mime"] == "image/png"
    assert sandbox.sandbox.counters.get("mastodon:206", 0) >= 1  # it polled while processing


def test_x_image_with_alt_text(site: Site, sandbox: SandboxServer, tmp_path: Path) -> None:
    path = make_image(tmp_path / "x.webp", (500, 400), "WEBP")
    accepted = site.accept("X picture", ["m-x"], [media.Attachment(media.load(path), "A red square")])
    site.publish(accepted.post_id)
    [entry] = sandbox.sandbox.posts("x")
    [m] = entry["media"]
    assert m["alt"] == "A red square" and (m["w"], m["h"], m["mime"]) == (500, 400, "image/webp")


def test_facebook_photos_attached_to_a_feed_post(site: Site, sandbox: SandboxServer, tmp_path: Path) -> None:
    a = make_image(tmp_path / "a.jpg", (800, 600))
    b = make_image(tmp_path / "b.webp", (400, 400), "WEBP")  # Facebook takes no WebP: converted at accept
    accepted = site.accept("Facebook pictures", ["m-fb"], [media.Attachment(media.load(a), "First"),
                                                             media.Attachment(media.load(b), "Second")])
    receipt = site.publish(accepted.post_id)["m-fb"]
    [entry] = sandbox.sandbox.posts("facebook")
    assert entry["remote_id"] == receipt.remote_id and entry["text"] == "Facebook pictures"
    assert [(m["alt"], m["mime"], m["published"]) for m in entry["media"]] == [
        ("First", "image/jpeg", False), ("Second", "image/jpeg", False)]


def test_linkedin_images_api_single_and_multi(site: Site, sandbox: SandboxServer, tmp_path: Path) -> None:
    a = make_image(tmp_path / "a.png", (320, 240), "PNG")
    b = make_image(tmp_path / "b.gif", (100, 50), "GIF", mode="L")
    one = site.accept("LinkedIn one picture", ["m-li"], [media.Attachment(media.load(a), "Alt one")])
    two = site.accept("LinkedIn two pictures", ["m-li"], [media.Attachment(media.load(a), "Alt A"),
                                                          media.Attachment(media.load(b), "Alt B")])
    site.publish(one.post_id)
    site.publish(two.post_id)
    first, second = sandbox.sandbox.posts("linkedin")
    assert [(m["altText"], m["mime"], m["width"]) for m in first["media"]] == [("Alt one", "image/png", 320)]
    assert [(m["altText"], m["mime"]) for m in second["media"]] == [("Alt A", "image/png"), ("Alt B", "image/gif")]


def test_failed_upload_publishes_nothing_and_the_retry_posts_once(site: Site, sandbox: SandboxServer,
                                                                   tmp_path: Path) -> None:
    path = make_image(tmp_path / "r.png", (64, 64), "PNG")
    accepted = site.accept("Retry after a refused upload", ["m-masto"], [media.Attachment(media.load(path), "Dot")])
    sandbox.sandbox.set_faults("mastodon", burst_429=1)  # the first request, the upload, is rate limited
    with pytest.raises(RateLimited):  # nothing sent: the delivery waits, it is never "unknown"
        site.publish(accepted.post_id)
    assert sandbox.sandbox.posts("mastodon") == []
    site.publish(accepted.post_id)
    [entry] = sandbox.sandbox.posts("mastodon")
    assert [m["description"] for m in entry["media"]] == ["Dot"]


def test_image_missing_from_the_store_is_a_permanent_error(site: Site, sandbox: SandboxServer,
                                                            tmp_path: Path) -> None:
    path = make_image(tmp_path / "gone.png", (64, 64), "PNG")
    accepted = site.accept("Image removed meanwhile", ["m-x"], [media.Attachment(media.load(path), "Dot")])
    with site.store.tx() as conn:
        conn.execute(media_table.delete())
    with pytest.raises(PermanentError, match="not in the store"):
        site.publish(accepted.post_id)
    assert sandbox.sandbox.posts("x") == []


@pytest.mark.slow  # the sandbox validates the embed with atproto's models: the first import costs 3-6 s
def test_sandbox_refuses_an_embedded_blob_over_the_lexicon_cap(sandbox: SandboxServer) -> None:
    base = sandbox.base_url("bluesky") + "/xrpc/"
    session = requests.post(base + "com.atproto.server.createSession",
                            json={"identifier": "cap.bsky.social", "password": "app-pass"}, timeout=10).json()
    auth = {"Authorization": f"Bearer {session['accessJwt']}"}
    blob = requests.post(base + "com.atproto.repo.uploadBlob", data=b"\xff\xd8" + b"0" * 1_000_001,
                         headers={**auth, "Content-Type": "image/jpeg"}, timeout=10).json()["blob"]
    record = {"$type": "app.bsky.feed.post", "text": "too big", "createdAt": "2026-12-01T10:00:00.000Z",
              "embed": {"$type": "app.bsky.embed.images", "images": [
                  {"image": blob, "alt": "x", "aspectRatio": {"width": 1, "height": 1}}]}}
    resp = requests.post(base + "com.atproto.repo.createRecord", headers=auth, timeout=30,
                         json={"repo": session["did"], "collection": "app.bsky.feed.post", "record": record})
    assert resp.status_code == 400 and "file too large" in resp.json()["message"]
    record["embed"]["images"][0].pop("alt")  # the lexicon requires alt
    resp = requests.post(base + "com.atproto.repo.createRecord", headers=auth, timeout=30,
                         json={"repo": session["did"], "collection": "app.bsky.feed.post", "record": record})
    assert resp.status_code == 400 and "alt" in resp.json()["message"]


def test_altered_image_bytes_are_never_published(site: Site, sandbox: SandboxServer, tmp_path: Path) -> None:
    path = make_image(tmp_path / "t.png", (64, 64), "PNG")
    other = media.load(make_image(tmp_path / "o.png", (64, 64), "PNG", mode="L"))
    accepted = site.accept("Tampered picture", ["m-fb"], [media.Attachment(media.load(path), "Dot")])
    with site.store.tx() as conn:
        conn.execute(media_table.update().values(data=other.data))
    with pytest.raises(PermanentError, match="do not match"):
        site.publish(accepted.post_id)
    assert sandbox.sandbox.posts("facebook") == []
