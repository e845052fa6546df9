"""Every format as its generator writes it, parsed into one entry shape; entity declarations refused."""

from __future__ import annotations

import resource
from datetime import UTC, datetime

import pytest

from publisher.feeds import parse
from tests.feeds.server import DATA

CASES = {
    # file: (format, entries, first identity, first tags, first image)
    "wordpress.xml": ("rss20", 3, "https://andrew.example.org/?p=1423", ["Networking", "BGP", "incident review"],
                      "https://andrew.example.org/wp-content/uploads/2026/12/backhoe-1024x683.jpg"),
    "ghost.xml": ("rss20", 2, "656f1b2a9d3e4a0001c0ffee", ["on-call", "SRE"],
                  "https://quietops.example.com/content/images/2026/11/pager.jpg"),
    "hugo.xml": ("rss20", 2, "https://kari.example.net/posts/boring-tech/", [], None),
    "jekyll.xml": ("atom10", 2, "https://sam.example.io/2026/11/28/borrow-checker-stories", ["rust", "type systems"],
                   "https://sam.example.io/assets/crab.png"),
    "blogger.xml": ("atom10", 2, "tag:blogger.com,1999:blog-4872638291023847561.post-7712093344556677889",
                    ["gardening", "winter prep"], "https://blogger.googleusercontent.com/img/b/R29vZ2xl/s72-c/beds.jpg"),
    "substack.xml": ("rss20", 2, "https://platformweekly.substack.com/p/48-golden-paths-paved-roads", [],
                     "https://substack-post-media.s3.amazonaws.com/public/images/abc123_1456x816.png"),
    "medium.xml": ("rss20", 2, "https://medium.com/p/9f8e7d6c5b4a", ["finops", "kubernetes", "cloud-cost"],
                   "https://cdn-images-1.medium.com/max/1024/1*cost.png"),
    "podcast.xml": ("rss20", 2, "pc-episode-112", [], "https://packetsandcoffee.example.fm/ep112.jpg"),
    "jsonfeed.json": ("json11", 2, "https://noor.example.com/2026/12/01/terminal-colours", ["terminals", "accessibility"],
                      "https://noor.example.com/img/projector.png"),
    "rss091.xml": ("rss091n", 1, "http://oldschool.example.org/news/rss-091.html", [], None),
    "rss10.xml": ("rss10", 1, "https://rdf.example.org/2026/one.html", ["semantic web"], None),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_generator_parses_into_entries(name: str) -> None:
    fmt, count, first_id, tags, image = CASES[name]
    p = parse.parse((DATA / name).read_bytes(), "", f"https://example.org/{name}")
    assert p.format == fmt and len(p.entries) == count and p.bozo is None
    e = p.entries[0]
    assert (e.identity, e.tags, e.image_url) == (first_id, tags, image)
    assert e.summary and "<" not in e.summary  # HTML reduced to text


def test_html_summary_becomes_text_and_dates_are_utc() -> None:
    hugo = parse.parse((DATA / "hugo.xml").read_bytes()).entries[0]
    assert hugo.summary == "Why I moved my blog to Hugo & never looked back."
    assert hugo.published == datetime(2026, 11, 29, 17, 0, tzinfo=UTC)
    assert parse.html_to_text("<p>a<br>b</p><p>c &amp; <b>d</b>") == "a b c & d"


def test_podcast_enclosure_is_not_taken_for_an_image_and_json_feed_without_title_keeps_its_id() -> None:
    pod = parse.parse((DATA / "podcast.xml").read_bytes()).entries[1]
    assert pod.image_url is None  # only an audio enclosure
    note = parse.parse((DATA / "jsonfeed.json").read_bytes()).entries[1]
    assert (note.identity, note.title, note.summary, note.author) == ("2026-11-10-note", "", "A short note without a title.", "Noor Haddad")


def test_identity_falls_back_to_link_then_to_a_hash_of_title_and_link() -> None:
    assert parse.identity("  guid-1 ", "https://x/1", "t") == "guid-1"
    assert parse.identity(None, "https://x/1", "t") == "https://x/1"
    a, b = parse.identity(None, None, "title a"), parse.identity("", "", "title b")
    assert a.startswith("sha256:") and a != b and a == parse.identity(None, None, "title a")


def test_malformed_feed_is_read_and_marked_bozo() -> None:
    p = parse.parse((DATA / "bozo.xml").read_bytes())
    assert p.bozo and [e.link for e in p.entries] == ["https://broken.example.org/posts/1", "https://broken.example.org/posts/2"]


def test_billion_laughs_is_refused_before_any_parser_sees_it() -> None:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(parse.ParseError) as e:
        parse.parse((DATA / "billion_laughs.xml").read_bytes())
    assert e.value.kind == "entities"
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 50_000  # KiB: nothing expanded


def test_html_page_names_the_feeds_it_announces() -> None:
    with pytest.raises(parse.ParseError) as e:
        parse.parse((DATA / "blog.html").read_bytes(), "text/html", "https://andrew.example.org/")
    assert e.value.kind == "html"
    assert "https://andrew.example.org/feed/" in (e.value.hint or "")
    assert parse.discover((DATA / "blog.html").read_bytes(), "https://andrew.example.org/") == [
        "https://andrew.example.org/feed/", "https://andrew.example.org/comments/feed/"]


def test_json_that_is_not_a_json_feed_is_refused() -> None:
    with pytest.raises(parse.ParseError):
        parse.parse(b'{"hello": "world"}', "application/json")


@pytest.mark.parametrize("name", sorted(n for n in CASES if n.endswith(".xml") and n != "rss10.xml"))
def test_entries_already_seen_are_dropped_before_feedparser_and_the_rest_parse_the_same(name: str) -> None:
    body = (DATA / name).read_bytes()
    full = parse.parse(body).entries
    seen_key = full[0].key
    asked: list[list[str]] = []

    def seen(keys: list[str]) -> set[str]:
        asked.append(keys)
        return {seen_key} & set(keys)

    rest = parse.parse(body, seen=seen).entries
    assert asked and rest == full[1:]  # namespaced fields (content, dc, media) survive the subset
    assert parse.parse(body, seen=lambda keys: set(keys)).entries == []


def test_rss_1_0_is_always_read_whole_by_feedparser() -> None:
    body = (DATA / "rss10.xml").read_bytes()
    assert parse.parse(body, seen=lambda keys: set(keys)).entries == parse.parse(body).entries
