"""The `publisher feed` commands through the real CLI process: exit codes, clear errors, nothing changed on bad
input, config feeds validated and synced, and `publisher show` naming an announcement's feed entry."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
import yaml

from tests.conftest import DRYRUN, Env
from tests.feeds.server import FeedServer, item, rss

pytestmark = pytest.mark.slow  # one CLI process per step

TEMPLATE = "New post: {{ title }} {{ link }} {{ tags | hashtags }}"


def test_feed_lifecycle_through_the_cli(env: Env, feeds_http: FeedServer) -> None:
    url = feeds_http.set("/index.xml", rss("Blog", [item(2, 2, category="open source"), item(1, 1)]))
    r = env.cli("feed", "add", "andrews-blog", url, "--account", "andrew", "--template", TEMPLATE, "--backfill", "1")
    assert r.returncode == 0, r.stderr
    dry = env.cli("feed", "poll", "andrews-blog", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "[andrew] New post: Post number 2 https://blog.example.org/2/ #OpenSource" in dry.stdout
    assert "1 present entries would be marked seen" in dry.stdout
    polled = json.loads(env.cli("feed", "poll", "andrews-blog", "--json").stdout)
    [announcement] = polled[0]["announcements"]
    shown = env.cli("show", announcement["post_id"])
    assert "feed: andrews-blog  entry: https://blog.example.org/?p=2" in shown.stdout
    assert "feed.entry_announced" in shown.stdout
    [listed] = json.loads(env.cli("feed", "list", "--json").stdout)
    assert listed["entries"] == {"announced": 1, "seeded": 1} and listed["first_poll_pending"] is False
    show = env.cli("feed", "show", "andrews-blog")
    assert "1 announced, 1 seen at the start" in show.stdout and "last success: 2" in show.stdout
    assert env.cli("feed", "pause", "andrews-blog").stdout.strip() == "feed andrews-blog is paused"
    assert env.cli("feed", "resume", "andrews-blog").stdout.strip() == "feed andrews-blog is active"
    assert env.cli("feed", "remove", "andrews-blog").returncode == 0
    missing = env.cli("feed", "show", "andrews-blog")
    assert missing.returncode == 5 and "no feed named 'andrews-blog'" in missing.stderr
    assert env.cli("audit", "verify").returncode == 0


def test_a_private_feed_url_is_fetched_with_its_token_and_never_shown(env: Env, feeds_http: FeedServer) -> None:
    canary = "feedtok-5e1f0c9a77b2"
    url = feeds_http.set(f"/private.xml?token={canary}", rss("Blog", [item(1, 1)]))
    added = env.cli("feed", "add", "private-blog", url, "--account", "andrew", "--template", TEMPLATE)
    assert added.returncode == 0, added.stderr
    polled = env.cli("feed", "poll", "private-blog", "--json")
    assert polled.returncode == 0, polled.stderr
    assert feeds_http.hits[f"/private.xml?token={canary}"] == 2  # checked at add, then polled: with its token
    said = [added, polled, env.cli("feed", "list"), env.cli("feed", "list", "--json"),
            env.cli("feed", "show", "private-blog"), env.cli("feed", "show", "private-blog", "--json"),
            env.cli("audit", "export")]
    for r in said:
        assert r.returncode == 0, r.stderr
        assert canary not in r.stdout + r.stderr
    assert "private.xml?token=***" in said[4].stdout


def test_bad_input_exits_2_with_a_clear_message_and_stores_nothing(env: Env) -> None:
    cases = [
        (["--template", "New: {{ title }"], "syntax error on line 1"),
        (["--template", "New: {{ titel }}"], "unknown field(s): titel"),
        (["--template", "{{ title }}", "--template-for", "x"], "is not CHANNEL=TEMPLATE"),
    ]
    for extra, message in cases:
        r = env.cli("feed", "add", "blog", "https://example.org/feed", "--account", "andrew", *extra)
        assert r.returncode == 2 and message in r.stderr, (extra, r.stderr)
        assert "Traceback" not in r.stderr
    r = env.cli("feed", "add", "blog", "gopher://example.org/feed", "--account", "andrew", "--template", "{{ title }}")
    assert r.returncode == 2 and "not an http(s) URL" in r.stderr
    assert json.loads(env.cli("feed", "list", "--json").stdout) == []


def test_html_page_poll_names_the_feed_to_use(env: Env, feeds_http: FeedServer) -> None:
    url = feeds_http.file("/", "blog.html")
    added = env.cli("feed", "add", "blog", url, "--account", "andrew", "--template", "{{ title }}", "--no-check")
    assert added.returncode == 0 and feeds_http.hits["/"] == 0  # stored unchecked: not fetched
    r = env.cli("feed", "poll", "blog")
    assert r.returncode == 1 and "is an HTML page, not a feed" in r.stderr and feeds_http.url("/feed/") in r.stderr
    assert "last error:" in env.cli("feed", "show", "blog").stdout


def test_config_feeds_are_checked_and_synced(env: Env, feeds_http: FeedServer) -> None:
    url = feeds_http.file("/feed.json", "jsonfeed.json")
    env.write_config(DRYRUN, feeds={"noor": {"url": url, "accounts": ["andrew"], "template": TEMPLATE, "interval": 60}})
    assert env.cli("config", "check").returncode == 0
    [listed] = json.loads(env.cli("feed", "list", "--json").stdout)
    assert listed["source"] == "config" and listed["interval"] == 60
    env.write_config(DRYRUN, feeds={"noor": {"url": url, "accounts": ["andrew"], "template": TEMPLATE, "interval": 120}})
    assert json.loads(env.cli("feed", "list", "--json").stdout)[0]["interval"] == 120
    log = env.cli("audit", "log").stdout
    assert "feed.added" in log and "feed.changed" in log
    env.write_config(DRYRUN, feeds={"noor": {"url": url, "accounts": ["nobody"], "template": "{{ nope }}"}})
    r = env.cli("config", "check")
    assert r.returncode == 2 and "feeds.noor" in r.stderr  # problems in the file: exit 2
    (env.home / "config.yaml").write_text(yaml.safe_dump({**env.config, "feeds": {"noor": {"url": url}}}))
    r = env.cli("config", "check")
    assert r.returncode != 0 and "feeds.noor" in r.stderr


def test_the_ops_path_does_not_import_jinja2_feedparser_or_requests(env: Env) -> None:
    code = ("import sys; from publisher.cli import main\n"
            "try:\n    main(['feed', '--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('jinja2', 'feedparser', 'requests', 'bs4') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], env=env.env, capture_output=True, text=True, timeout=60)
    assert r.stdout.strip().splitlines()[-1] == "[]", r.stdout + r.stderr


def test_feed_add_finds_the_feed_a_blog_page_announces(env: Env, feeds_http: FeedServer) -> None:
    page = feeds_http.file("/", "blog.html")  # announces /feed/ (posts), then the comments feed
    feeds_http.set("/feed/", rss("Blog", [item(2, 2), item(1, 1)]))
    r = env.cli("feed", "add", "blog", page, "--account", "andrew", "--template", "{{ title }} {{ link }}")
    assert r.returncode == 0, r.stderr
    assert f"it announces the feed {feeds_http.url('/feed/')}, which is stored" in r.stdout
    assert "comments/feed" in r.stdout  # the others it announces are named
    assert feeds_http.hits["/"] == 1  # the page is fetched once: discovery reads the body already fetched
    [listed] = json.loads(env.cli("feed", "list", "--json").stdout)
    assert listed["url"] == feeds_http.url("/feed/")


def test_feed_add_stores_a_permanently_moved_feed_at_its_new_address(env: Env, feeds_http: FeedServer) -> None:
    new = feeds_http.set("/new.xml", rss("Blog", [item(1, 1)]))
    old = feeds_http.set("/old.xml", status=301, location=new)
    r = env.cli("feed", "add", "blog", old, "--account", "andrew", "--template", "{{ title }}")
    assert r.returncode == 0 and "moved permanently" in r.stdout, r.stderr
    assert json.loads(env.cli("feed", "list", "--json").stdout)[0]["url"] == new


def test_feed_add_refuses_what_is_not_a_readable_feed_and_stores_nothing(env: Env, feeds_http: FeedServer) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}/feed.xml"  # nothing listens there once closed
    cases = [
        (closed, "cannot reach"),
        (feeds_http.url("/missing.xml"), "answered HTTP 404"),
        (feeds_http.set("/gone.xml", status=410), "410 Gone"),
        (feeds_http.set("/plain.txt", b"just some text, no feed here", content_type="text/plain"), "is not a feed"),
        (feeds_http.file("/laughs.xml", "billion_laughs.xml"), "entity"),
        (feeds_http.set("/huge.xml", stream_bytes=6 * 1024 * 1024), "bytes"),
        (feeds_http.set("/bare.html", b"<!DOCTYPE html><html><head><title>x</title></head><body>hi</body></html>",
                        content_type="text/html"), "announces no feed"),
    ]
    for url, message in cases:
        r = env.cli("feed", "add", "blog", url, "--account", "andrew", "--template", "{{ title }}")
        assert r.returncode == 2 and message in r.stderr, (url, r.returncode, r.stderr)
        assert "Traceback" not in r.stderr
    assert json.loads(env.cli("feed", "list", "--json").stdout) == []
    assert "feed.added" not in env.cli("audit", "export").stdout
