"""Fixtures of the media tests: images made with Pillow, accounts on the sandbox, publish one stored delivery."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from publisher import channels, service
from publisher.channels import media
from publisher.models import Receipt
from publisher.publishing.decide import delivery_ref
from publisher.sandbox.server import SandboxServer
from publisher.settings import Settings
from publisher.store import Store, deliveries_of, get_post
from tests.channels.test_linkedin import member_id
from tests.conftest import Env

LI_TOKEN = "li-media-token"


def make_image(path: Path, size: tuple[int, int] = (640, 480), fmt: str = "JPEG", *, noise: bool = False,
               exif: dict[int, Any] | None = None, mode: str = "RGB") -> Path:
    from PIL import Image

    img = Image.effect_noise(size, 90).convert(mode) if noise else Image.new(mode, size, (200, 40, 40, 128)[:len(mode)])
    buf = io.BytesIO()
    params: dict[str, Any] = {}
    if exif:
        e = Image.Exif()
        for k, v in exif.items():
            e[k] = v
        params["exif"] = e.tobytes()
    img.save(buf, fmt, **params)
    path.write_bytes(buf.getvalue())
    return path


def sandbox_accounts(server: SandboxServer, kind: str = "organisation") -> dict[str, Any]:
    def at(p: str) -> str:
        return server.base_url(p)

    return {
        "m-x": {"channel": "x", "kind": kind, "base_url": at("x"), "options": {"username": "acme"},
                "credentials": {"bearer_token": "env:M_X_TOKEN"}},
        "m-fb": {"channel": "facebook", "kind": kind, "base_url": at("facebook"), "options": {"page_id": "1001"},
                 "credentials": {"page_token": "env:M_FB_TOKEN"}},
        "m-li": {"channel": "linkedin", "kind": kind, "base_url": at("linkedin"),
                 "options": {"author_urn": "urn:li:organization:4242" if kind == "organisation"
                             else f"urn:li:person:{member_id(LI_TOKEN)}"},
                 "credentials": {"access_token": "env:M_LI_TOKEN"}},
        "m-masto": {"channel": "mastodon", "kind": kind, "base_url": at("mastodon"),
                    "credentials": {"access_token": "env:M_MASTO_TOKEN"}},
        "m-bsky": {"channel": "bluesky", "kind": kind, "base_url": at("bluesky"),
                   "credentials": {"identifier": "env:M_BSKY_HANDLE", "app_password": "env:M_BSKY_PASSWORD"}},
    }


class Site:
    """An installation whose five accounts publish to the sandbox."""

    def __init__(self, env: Env, server: SandboxServer, kind: str = "organisation") -> None:
        env.env.update(M_X_TOKEN="x-media-token", M_FB_TOKEN="fb-media-token", M_LI_TOKEN=LI_TOKEN,
                       M_MASTO_TOKEN="masto-media-token", M_BSKY_HANDLE="media.bsky.social",
                       M_BSKY_PASSWORD="app-pass-media")
        env.write_config(sandbox_accounts(server, kind))
        self.env = env
        self.settings: Settings = env.settings()
        self.store = Store(self.settings.database_url)

    def accept(self, text: str, accounts: list[str], attachments: list[media.Attachment] | None = None,
               link: str | None = None) -> service.Accepted:
        new = service.NewPost(text=text, accounts=accounts, at=datetime.now(UTC), link=link,
                              media=attachments or [])
        return service.accept(self.settings, self.store, new)

    def publish(self, post_id: str) -> dict[str, Receipt]:
        """Publish every delivery of the post through its adapter (real HTTP to the sandbox, images from the store)."""
        out = {}
        with self.store.read() as conn:
            post = get_post(conn, post_id) or {}
            rows = deliveries_of(conn, post_id)
        for d in rows:
            adapter = channels.for_publishing(self.settings.account(d["account"]), self.settings, store=self.store)
            out[d["account"]] = adapter.publish(delivery_ref(d, post, None, 1), None)
        return out


@pytest.fixture
def site(env: Env, sandbox: SandboxServer) -> Iterator[Site]:
    s = Site(env, sandbox)
    yield s
    s.store.dispose()
