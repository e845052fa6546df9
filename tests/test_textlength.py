"""``textlength``: the one place that measures text against a channel's caps.

``twitter_weighted`` takes a shortcut past twitter-text's emoji scan for text that cannot hold an emoji or a heavy
character; it must give exactly the library's weighted length, for every text. ``ChannelLimits.excess`` names the
cap a text fails (weighted characters, graphemes, characters or UTF-8 bytes) for split, reject, the tone length rule
and the sandbox alike."""

from __future__ import annotations

import random
import re

import pytest
import twitter_text

from publisher.textlength import (
    COUNTERS,
    X_SPACES,
    ChannelLimits,
    Excess,
    measure,
    split_thread,
    twitter_weighted,
)
from tests.tone_labelled import iter_texts, load

PIECES = [*"abc XYZ.:/-_?=&#@\r\n\t0123456789", "https://", "http://", "www.", ".com", ".no", "example", "é", "å",
          "ø", "ß", "©", "®", "\u00a0", "\u0301", "Ω", "ж", "\u10ff", "\u1100", "😀", "中", "…", "‼", "1\ufe0f\u20e3",
          "e\u0301", "\u2000", "\u200d", "INC-4711", " 14:00 CET"]


def library(text: str) -> int:
    return int(twitter_text.parse_tweet(text).weightedLength)


@pytest.mark.slow  # thousands of random texts
def test_the_shortcut_equals_twitter_text_on_random_mixes() -> None:
    rnd = random.Random(20261201)
    texts = ["".join(rnd.choice(PIECES) for _ in range(rnd.randint(0, 60))) for _ in range(5000)]
    wrong = [(t, twitter_weighted(t), library(t)) for t in texts if twitter_weighted(t) != library(t)]
    assert wrong == []


URL_PIECES = [*" \t\n\r\x0b\x0c\x1c\x85\u00a0\u2000.,;:!?()[]@#$-_/=&'\"", "https://", "http://", "www.", "t.co/",
              "example", "ex-ample", ".com", ".co", ".no", ".xn--p1ai", ".museum", "..", "a.b", "x.y.z", "é", "ж", "中",
              "Bergen", "14.05.2026", ":8080", "/path", "?q=1", "(a)", "INC-4711", "@noc", "#drift", "..."]


def test_the_url_shortcut_equals_twitter_text_on_texts_thick_with_urls_and_near_urls() -> None:
    """twitter-text's URL pattern is given only the runs between spaces that can hold a URL (with one character
    each side), not the whole text: on texts dense with URLs, near-URLs, brackets, marks and every kind of space,
    up to 280 characters, the weighted length is still exactly the library's."""
    rnd = random.Random(20261205)
    texts = ["".join(rnd.choice(URL_PIECES) for _ in range(rnd.randint(1, 90))) for _ in range(3000)]
    assert sum("://" in t for t in texts) > 2000
    assert [t for t in texts if twitter_weighted(t) != library(t)] == []


def test_the_shortcut_knows_twitter_texts_own_spaces() -> None:
    """Python's \\s holds \\x1c-\\x1f, which twitter-text lets into a domain: a shortcut that took them for spaces
    counted this URL as plain text (28 instead of 30)."""
    from twitter_text.regexp.spaces_group import spaces_group

    theirs = re.compile(f"[{spaces_group}]")
    assert [c for c in map(chr, range(0x110000)) if (c in X_SPACES) != bool(theirs.match(c))] == []
    text = "?&?\nhttps://\x1c.xn--p1aiwww.\xa0\xa0"
    assert twitter_weighted(text) == library(text) == 30


def test_the_shortcut_equals_twitter_text_on_the_labelled_posts() -> None:
    texts = list(iter_texts(load()[0]))
    assert len(texts) >= 200
    assert [t for t in texts if twitter_weighted(t) != library(t)] == []


# -- every cap of a channel, measured by one function (ChannelLimits.excess) --

BLUESKY = ChannelLimits(max_length=300, counting="graphemes", max_bytes=3000)
KISS = "👨\u200d❤\ufe0f\u200d👨"  # one grapheme, 20 UTF-8 bytes


def test_the_measuring_shortcuts_equal_the_library_counters() -> None:
    rnd = random.Random(20261202)
    texts = ["".join(rnd.choice(PIECES) for _ in range(rnd.randint(0, 60))) for _ in range(2000)]
    for counting in COUNTERS:
        limits = ChannelLimits(max_length=10, counting=counting)
        assert [t for t in texts if measure(t, limits) != COUNTERS[counting](t)] == [], counting


@pytest.mark.parametrize(("limits", "text", "expected"), [
    (ChannelLimits(max_length=280, counting="twitter"), "a" * 250 + " https://example.org/" + "p" * 60, None),
    (ChannelLimits(max_length=280, counting="twitter"), "中" * 141, Excess(280, 282, "weighted characters")),
    (ChannelLimits(max_length=500, counting="mastodon"), "b" * 476 + " https://example.org/" + "p" * 80, None),
    (ChannelLimits(max_length=500, counting="mastodon"), "b" * 501, Excess(500, 501, "characters")),
    (ChannelLimits(max_length=3000), "c" * 3001, Excess(3000, 3001, "characters")),
    (BLUESKY, "é" * 300, None),
    (BLUESKY, "é" * 301, Excess(300, 301, "graphemes")),
    (BLUESKY, KISS * 150, None),  # 150 graphemes, 3000 bytes: both caps exactly met
    (BLUESKY, KISS * 151, Excess(3000, 3020, "bytes")),  # 151 graphemes, but 3020 bytes
    (BLUESKY, KISS * 400, Excess(3000, 8000, "bytes")),  # both caps fail: the bigger overshoot is named
])
def test_excess_names_the_cap_a_text_fails_and_by_how_much(limits: ChannelLimits, text: str,
                                                          expected: Excess | None) -> None:
    assert limits.excess(text) == expected
    assert limits.fits(text) is (expected is None)


def test_a_bluesky_text_under_300_graphemes_but_over_3000_bytes_is_split_within_both_caps() -> None:
    words = [KISS * 5] * 40  # 239 graphemes, 4039 bytes
    text = " ".join(words)
    assert BLUESKY.measure(text) < 300 and len(text.encode()) > 3000
    parts = split_thread(text, BLUESKY)
    assert len(parts) == 2
    assert all(BLUESKY.fits(p) for p in parts), [len(p.encode()) for p in parts]
    assert [w for p in parts for w in p.split()[:-1]] == words  # whole words, in order, numbered


def test_a_single_word_past_the_byte_cap_is_refused_naming_bytes() -> None:
    with pytest.raises(ValueError, match="is 3200 bytes, at most 3000 fit"):
        split_thread(f"intro {KISS * 160} outro", BLUESKY)  # the middle word: 160 graphemes, 3200 bytes


def test_split_parts_never_break_a_url_and_each_fits_the_weighted_cap() -> None:
    x = ChannelLimits(max_length=280, counting="twitter")
    url = "https://example.org/" + "long-path/" * 30
    text = " ".join(["中文"] * 100 + [url] + ["word"] * 40)
    parts = split_thread(text, x)
    assert all(x.fits(p) for p in parts)
    assert sum(url in p.split() for p in parts) == 1
