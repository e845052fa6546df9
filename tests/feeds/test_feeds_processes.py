"""Feeds through real processes: a scheduler SIGKILLed between fetching and committing loses and doubles nothing;
two schedulers poll each feed once at a time; `feed add` to posts published on the sandbox's Mastodon and Bluesky."""

from __future__ import annotations

import os
import signal
from collections import Counter

import pytest
from sqlalchemy import select

from publisher.sandbox.server import SandboxServer
from publisher.schema import feed_entries, posts
from publisher.store import Store
from publisher.workflows.feeds import PAUSE_ENV
from tests.conftest import DRYRUN, Env, wait_for
from tests.feeds.server import FeedServer, item, rss

pytestmark = pytest.mark.slow  # scheduler, worker and broker processes


def _announced(store: Store) -> Counter[tuple[str, str]]:
    with store.read() as conn:
        return Counter((r.variables["feed"], r.variables["entry"]) for r in conn.execute(select(posts.c.variables)))


def _entries(store: Store) -> list[tuple[str, str, str | None]]:
    with store.read() as conn:
        return [(r.feed, r.status, r.post_id) for r in conn.execute(select(feed_entries))]


def test_sigkill_between_fetch_and_commit_then_restart_announces_every_entry_once(env: Env, feeds_http: FeedServer) -> None:
    env.write_config(DRYRUN, scheduler={"lease_seconds": 3})
    for i in range(3):
        url = feeds_http.set(f"/f{i}", rss("Blog", [item(1, 1)]))
        assert env.cli("feed", "add", f"f{i}", url, "--account", "andrew", "--template", "{{ title }} {{ link }}",
                       "--interval", "1").returncode == 0
    assert env.cli("feed", "poll").returncode == 0  # seeds each feed's first entry
    for i in range(3):
        feeds_http.set(f"/f{i}", rss("Blog", [item(n, n) for n in (4, 3, 2, 1)]))
    store = env.store()
    marker = env.home / "paused"
    env.env[PAUSE_ENV] = str(marker)
    victim = env.spawn("scheduler", log="victim")
    del env.env[PAUSE_ENV]
    wait_for(marker.exists, timeout=60, what="the scheduler to fetch new entries and pause before committing")
    os.killpg(victim.pid, signal.SIGKILL)
    victim.wait(10)
    assert _announced(store) == Counter() and all(s == "seeded" for _, s, _ in _entries(store))
    env.spawn("scheduler", log="s1")
    env.spawn("scheduler", log="s2")  # and a second one racing it once the dead one's lease expires
    wait_for(lambda: len(_announced(store)) == 9, timeout=90, what="9 announcements")
    for i in range(3):  # a further entry per feed, polled by whichever scheduler holds the lease
        feeds_http.set(f"/f{i}", rss("Blog", [item(n, n) for n in (5, 4, 3, 2, 1)]))
    wait_for(lambda: len(_announced(store)) == 12, timeout=90, what="12 announcements")
    env.stop_all()
    counts = _announced(store)
    assert set(counts.values()) == {1} and len(counts) == 12
    with store.read() as conn:
        post_ids = sorted(p for p, in conn.execute(select(posts.c.id)))
    assert sorted(e for _, s, e in _entries(store) if s == "announced") == post_ids  # each row names its post
    assert env.cli("audit", "verify").returncode == 0


def test_feed_add_to_published_on_mastodon_and_bluesky(env: Env, feeds_http: FeedServer, sandbox: SandboxServer) -> None:
    accounts = {
        "andrew-masto": {"channel": "mastodon", "kind": "personal", "credentials": {"access_token": "env:T_MASTO"},
                         "base_url": sandbox.base_url("mastodon")},
        "andrew-bsky": {"channel": "bluesky", "kind": "personal", "base_url": sandbox.base_url("bluesky"),
                        "credentials": {"identifier": "env:T_BSKY_ID", "app_password": "env:T_BSKY_PW"}},
    }
    env.write_config(accounts)
    env.env.update({"T_MASTO": "masto-token", "T_BSKY_ID": "andrew.bsky.social", "T_BSKY_PW": "app-password"})
    long = "A long summary sentence that goes on. " * 20
    url = feeds_http.set("/index.xml", rss("Blog", [item(2, 2, description=long, category="open source"), item(1, 1)]))
    r = env.cli("feed", "add", "andrews-blog", url, "--account", "andrew-bsky", "--account", "andrew-masto",
                "--template", "New post: {{ title }}: {{ summary | fit }} {{ link }} {{ tags | hashtags }}",
                "--interval", "1", "--backfill", "2")
    assert r.returncode == 0, r.stderr
    env.spawn("run", "--threads", "2", log="run")
    wait_for(lambda: len(sandbox.sandbox.posts("mastodon")) == 2 and len(sandbox.sandbox.posts("bluesky")) == 2,
             timeout=90, what="2 posts on each of Mastodon and Bluesky")
    bsky = [p["text"] for p in sandbox.sandbox.posts("bluesky")]
    masto = [p["text"] for p in sandbox.sandbox.posts("mastodon")]
    assert bsky[0].startswith("New post: Post number 1: Summary of post 1. https://blog.example.org/1/")
    assert bsky[1].startswith("New post: Post number 2: A long summary") and "… https://blog.example.org/2/ #OpenSource" in bsky[1]
    assert len(bsky[1]) <= 300 and len(masto[1]) > len(bsky[1])  # fitted per channel: Mastodon has 500
    feeds_http.set("/index.xml", rss("Blog", [item(3, 3), item(2, 2, description=long), item(1, 1)]))
    wait_for(lambda: len(sandbox.sandbox.posts("bluesky")) == 3 and len(sandbox.sandbox.posts("mastodon")) == 3,
             timeout=90, what="the third entry on both")
    env.stop_all()
    assert env.cli("audit", "verify").returncode == 0


def test_feed_add_to_published_with_link_previews_on_all_five_channels(env: Env, feeds_http: FeedServer,
                                                                        sandbox: SandboxServer) -> None:
    """A blogger's whole path: `feed add`, then `run`, to all five platforms, each post carrying the preview that
    platform shows: Bluesky an app.bsky.embed.external card and LinkedIn a content.article (both built from the
    page's OpenGraph at accept, thumbnail uploaded), Facebook the link field it previews itself, X and Mastodon the
    link in the text, which they preview themselves."""
    import io

    from PIL import Image

    from tests import chaos

    env.env.update(chaos.secrets(1))
    accounts = chaos.accounts(sandbox, 1)
    for a in accounts.values():
        a["kind"] = "personal"  # the post's loopback link is http://, which an organisation's links.https refuses
    from tests.channels.test_linkedin import member_id

    accounts["linkedin-0"]["options"]["author_urn"] = f"urn:li:person:{member_id(env.env['CHAOS_LI_TOKEN_0'])}"
    env.write_config(accounts)
    cover = io.BytesIO()
    Image.new("RGB", (1200, 630), (20, 80, 140)).save(cover, "PNG")
    feeds_http.set("/cover.png", cover.getvalue(), content_type="image/png")
    page = feeds_http.set("/2026/12/fibre/", (
        '<!doctype html><html><head><meta property="og:title" content="Moving the Oslo-Stockholm fibre">'
        '<meta property="og:description" content="What changes tonight, and why.">'
        '<meta property="og:image" content="/cover.png"></head><body>post</body></html>'), content_type="text/html")
    url = feeds_http.set("/index.xml", rss("Blog", [item(1, 1, link=page, title="Moving the fibre")]))
    names = sorted(accounts)
    r = env.cli("feed", "add", "blog", url, *(x for n in names for x in ("--account", n)),
                "--template", "New post: {{ title }} {{ link }}", "--interval", "1", "--backfill", "1")
    assert r.returncode == 0, r.stderr
    env.spawn("run", "--threads", "4", log="run")
    channels = ("x", "facebook", "linkedin", "mastodon", "bluesky")
    wait_for(lambda: all(len(sandbox.sandbox.posts(c)) == 1 for c in channels), timeout=120,
             what="the announcement on all five platforms")
    env.stop_all()
    posted = {c: sandbox.sandbox.posts(c)[0] for c in channels}
    assert all(posted[c]["text"].startswith("New post: Moving the fibre") for c in channels if c != "facebook")
    assert page in posted["x"]["text"] and page in posted["mastodon"]["text"]
    assert posted["facebook"]["link"] == page
    article = posted["linkedin"]["article"]
    assert article["source"] == page and article["title"] == "Moving the Oslo-Stockholm fibre" and article["thumbnail"]
    external = posted["bluesky"]["embed"]["external"]
    assert external["uri"] == page and external["title"] == "Moving the Oslo-Stockholm fibre" and external["thumb"]
    assert env.cli("audit", "verify").returncode == 0
