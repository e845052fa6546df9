"""``textlength.twitter_weighted`` takes a shortcut past twitter-text's emoji scan for text that cannot hold an
emoji or a heavy character; it must give exactly the library's weighted length, for every text (the adapters,
the tone length rule and the sandbox all count with it)."""

from __future__ import annotations

import random

import pytest
import twitter_text

from publisher.textlength import twitter_weighted
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


def test_the_shortcut_equals_twitter_text_on_the_labelled_posts() -> None:
    texts = list(iter_texts(load()[0]))
    assert len(texts) >= 200
    assert [t for t in texts if twitter_weighted(t) != library(t)] == []
