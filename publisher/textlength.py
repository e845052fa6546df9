"""Measure text the way each platform counts it. Shared by the adapters and the tone checks.

- X: twitter-text v3 weighted length (URLs 23, CJK and emoji 2, NFC), via ``twitter-text-parser``.
- Mastodon: grapheme clusters, every URL 23, remote mentions count as the local part.
- Bluesky: grapheme clusters (300), and at most 3000 UTF-8 bytes.
- LinkedIn, Facebook, dry run: characters (code points).

twitter-text and grapheme are imported lazily: accepting a post for a dry-run or LinkedIn account never pays for them.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)
_REMOTE_MENTION = re.compile(r"(?<![\w@])(@[A-Za-z0-9_]+)@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class ChannelLimits:
    """A channel's limits as data. ``counting`` names the function in this module that measures a text."""

    max_length: int
    counting: str = "chars"  # "twitter" | "mastodon" | "graphemes" | "chars"
    unit: str = "characters"
    max_bytes: int | None = None
    max_thread: int = 25  # longest numbered thread we will split a text into

    def measure(self, text: str) -> int:
        return COUNTERS[self.counting](text)

    def fits(self, text: str) -> bool:
        if self.max_bytes is not None and len(text.encode("utf-8")) > self.max_bytes:
            return False
        return self.measure(text) <= self.max_length


def chars(text: str) -> int:
    return len(text)


def graphemes(text: str) -> int:
    import grapheme

    return int(grapheme.length(text))


# Code points twitter-text v3 weighs 1 are U+0000..U+10FF (plus a few punctuation ranges); (c) and (R) may be emoji.
_HEAVY_FOR_X = re.compile("[^\x00-\u10ff]|[\xa9\xae]")
# twitter-text only recognises URLs with a dot between two non-space characters.
_URL_CANDIDATE = re.compile(r"[^\s.]\.[^\s.]")


def twitter_weighted(text: str) -> int:
    """twitter-text's weighted length. Text that is NFC and holds only code points twitter-text weighs 1 (no emoji
    possible) is its length after twitter-text's CRLF normalisation, with every URL twitter-text finds counted 23:
    that skips ``parse_tweet``'s emoji scan (0.3-2.5 ms a text). Anything else goes to ``parse_tweet``. Checked
    equal to the library in tests/test_textlength.py and tests/test_tone_rules.py."""
    import unicodedata

    if not _HEAVY_FOR_X.search(text) and unicodedata.is_normalized("NFC", text):
        n = text.replace("\r\n", "\n")
        if not _URL_CANDIDATE.search(n):
            return len(n)
        from twitter_text import extract_urls_with_indices

        return len(n) + sum(23 - (u["indices"][1] - u["indices"][0]) for u in extract_urls_with_indices(n))
    import twitter_text

    return int(twitter_text.parse_tweet(text).weightedLength)


def mastodon_length(text: str) -> int:
    """Mastodon's StatusLengthValidator: graphemes, each URL 23, ``@user@domain`` counted as ``@user``."""
    text = _REMOTE_MENTION.sub(r"\1", text)
    text = _URL.sub("x" * 23, text)
    return graphemes(text)


COUNTERS: dict[str, Callable[[str], int]] = {
    "chars": chars,
    "graphemes": graphemes,
    "twitter": twitter_weighted,
    "mastodon": mastodon_length,
}


def urls(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) for every http(s) URL in ``text`` (string indices)."""
    return [(m.start(), m.end(), m.group(0)) for m in _URL.finditer(text)]


def split_thread(text: str, limits: ChannelLimits) -> list[str]:
    """Split ``text`` into numbered parts ("1/3 ...") that each fit ``limits``.

    Never splits inside a word or a URL: parts break at whitespace. A single word longer than the limit raises
    ValueError (the caller turns it into a clear error).
    """
    if limits.fits(text):
        return [text]
    words = text.split()
    for total_guess in (9, 99):
        suffix_len = len(f" {total_guess}/{total_guess}")
        parts: list[list[str]] = [[]]
        for word in words:
            candidate = " ".join([*parts[-1], word])
            if limits.measure(candidate) + suffix_len <= limits.max_length:
                parts[-1].append(word)
            elif not parts[-1]:
                raise ValueError(f"a single word or URL is longer than {limits.max_length} {limits.unit}: {word[:40]!r}")
            else:
                parts.append([word])
        if len(parts) <= total_guess:
            n = len(parts)
            if n > limits.max_thread:
                raise ValueError(f"text would need {n} posts; the most we thread is {limits.max_thread}")
            return [f"{' '.join(p)} {i}/{n}" for i, p in enumerate(parts, 1)]
    raise ValueError("text is too long to thread")
