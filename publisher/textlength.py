"""Measure text the way each platform counts it. ``ChannelLimits.excess`` is the one function that says whether a
text fits a channel and which cap fails by how much: the adapters (render, split, reject), the tone length rule and
the sandbox's validation all ask it.

- X: twitter-text v3 weighted length (URLs 23, CJK and emoji 2, NFC), via ``twitter-text-parser``.
- Mastodon: grapheme clusters, every URL 23, remote mentions count as the local part.
- Bluesky: grapheme clusters (300), and at most 3000 UTF-8 bytes.
- LinkedIn, Facebook, dry run: characters (code points).

twitter-text and grapheme are imported lazily: accepting a post for a dry-run or LinkedIn account never pays for them.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

_URL = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]", re.IGNORECASE)
_REMOTE_MENTION = re.compile(r"(?<![\w@])(@[A-Za-z0-9_]+)@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")


#: the unit a counting reports in, when the channel does not name one
UNITS = {"twitter": "weighted characters", "mastodon": "characters", "graphemes": "graphemes", "chars": "characters"}


@dataclass(frozen=True)
class Excess:
    """A cap a text goes past: it measures ``measured`` ``unit`` where the channel allows ``limit``."""

    limit: int
    measured: int
    unit: str

    @property
    def over(self) -> int:
        return self.measured - self.limit


@dataclass(frozen=True)
class ChannelLimits:
    """Every cap a channel puts on a post's text, as data: ``max_length`` measured by ``counting`` (a function in
    this module) and, where the platform has one, ``max_bytes`` of UTF-8 (Bluesky: 300 graphemes and 3000 bytes).
    ``excess`` is the one place that says whether a text fits and, if not, which cap fails and by how much; the
    adapters' render and split, the tone length rule and the sandbox all ask it."""

    max_length: int
    counting: str = "chars"  # "twitter" | "mastodon" | "graphemes" | "chars"
    unit: str = ""  # "" = the counting's own unit (UNITS)
    max_bytes: int | None = None
    max_thread: int = 25  # longest numbered thread we will split a text into

    def __post_init__(self) -> None:
        if not self.unit:
            object.__setattr__(self, "unit", UNITS.get(self.counting, "characters"))

    def measure(self, text: str) -> int:
        """The platform's length of ``text`` in ``unit`` (the byte cap is separate: see ``excess``)."""
        return measure(text, self)

    def excess(self, text: str) -> Excess | None:
        """None when ``text`` fits every cap; else the cap it fails. When it fails both the length and the byte
        cap, the one it overshoots most (relative to its cap) is named."""
        failed: list[Excess] = []
        if self.max_bytes is not None and len(text) * 4 > self.max_bytes:  # a code point is at most 4 bytes
            size = len(text.encode("utf-8"))
            if size > self.max_bytes:
                failed.append(Excess(self.max_bytes, size, "bytes"))
        if _upper_bound(text, self.counting) > self.max_length:
            length = measure(text, self)
            if length > self.max_length:
                failed.append(Excess(self.max_length, length, self.unit))
        return max(failed, key=lambda e: e.measured / e.limit, default=None)

    def fits(self, text: str) -> bool:
        return self.excess(text) is None


# A grapheme cluster can only span several code points if one of them is >= U+0300 (combining marks, ZWJ, ...).
_CLUSTERING = re.compile("[^\x00-\u02ff]|\r\n")


def measure(text: str, limits: ChannelLimits) -> int:
    """``COUNTERS[limits.counting](text)``, skipping the libraries when the answer cannot differ (checked equal in
    tests/test_textlength.py)."""
    counting = limits.counting
    if counting == "chars":
        return len(text)
    if counting == "graphemes" and not _CLUSTERING.search(text):
        return len(text)
    return COUNTERS[counting](text)  # X: twitter_weighted has the same kind of exact shortcut


def _upper_bound(text: str, counting: str) -> int:
    """A cheap upper bound of the platform length: graphemes never outnumber code points, a URL counts 23 on X
    and Mastodon, and X weighs nothing more than 2."""
    if counting in ("chars", "graphemes"):
        return len(text)
    if counting == "mastodon":
        return len(text) + 23 * text.count("://")
    return 2 * len(text) + 23 * text.count(".")


def chars(text: str) -> int:
    return len(text)


def graphemes(text: str) -> int:
    import grapheme

    return int(grapheme.length(text))


# Code points twitter-text v3 weighs 1 are U+0000..U+10FF (plus a few punctuation ranges); (c) and (R) may be emoji.
_HEAVY_FOR_X = re.compile("[^\x00-\u10ff]|[\xa9\xae]")
# twitter-text's spaces (its regexp.spaces_group; tests/test_textlength.py holds them equal, code point by code point).
# Python's str.isspace is not the same set: it holds \x1c-\x1f, which twitter-text lets into a domain.
X_SPACES = frozenset("\t\n\x0b\x0c\r \x85\xa0\u1680\u180e\u2028\u2029\u202f\u205f\u3000"
                     + "".join(map(chr, range(0x2000, 0x200B))))
_NOT_BESIDE_A_URL_DOT = X_SPACES | {"."}
# Every character twitter-text lets into a URL is outside these, so each of its URLs lies inside one run between them.
_RUN_BREAKS = " \t\n\r\x0b\x0c"
_RUN_BREAK = re.compile(f"[{_RUN_BREAKS}]")


def twitter_weighted(text: str) -> int:
    """twitter-text's weighted length. Text that is NFC and holds only code points twitter-text weighs 1 (no emoji
    possible; all ASCII text is such) is its length after twitter-text's CRLF normalisation, with every URL
    twitter-text finds counted 23: that skips ``parse_tweet``'s emoji scan (0.3-2.5 ms a text). Anything else goes
    to ``parse_tweet``. Checked equal to the library in tests/test_textlength.py and tests/test_tone_rules.py."""
    if text.isascii() or (not _HEAVY_FOR_X.search(text) and unicodedata.is_normalized("NFC", text)):
        n = text.replace("\r\n", "\n") if "\r" in text else text
        runs = _url_runs(n)
        return len(n) + _url_weight(n, runs) if runs else len(n)
    import twitter_text

    return int(twitter_text.parse_tweet(text).weightedLength)


def _url_runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of every run between ``_RUN_BREAKS`` that holds a dot between two characters that are neither
    twitter-text's spaces nor dots: twitter-text finds a URL nowhere else (its domains need one)."""
    runs: list[tuple[int, int]] = []
    last = len(text) - 1
    taken = 0
    i = text.find(".", 1)
    while -1 < i < last:
        if i >= taken and text[i - 1] not in _NOT_BESIDE_A_URL_DOT and text[i + 1] not in _NOT_BESIDE_A_URL_DOT:
            start = max([text.rfind(c, 0, i) for c in _RUN_BREAKS]) + 1
            stop = m.start() if (m := _RUN_BREAK.search(text, i)) else len(text)
            runs.append((start, stop))
            taken = stop
        i = text.find(".", i + 1)
    return runs


def _url_weight(text: str, runs: list[tuple[int, int]]) -> int:
    """What twitter-text's URLs add to ``text``'s length: 23 each, less their own length. Its URL pattern tries
    every position of the text it is given (70 µs on a 280-character post), so it is given only each run that can
    hold a URL, with the one character before and after it that its pattern looks at (the URL's preceding
    character and the look-ahead after a top-level domain): the same URLs, at a fraction of the cost."""
    from twitter_text import extract_urls_with_indices

    change = 0
    for start, stop in runs:
        window = text[max(start - 1, 0):stop + 1]
        change += sum(23 - (u["indices"][1] - u["indices"][0]) for u in extract_urls_with_indices(window))
    return change


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
    """Split ``text`` into numbered parts ("... 1/3") that each fit every cap of ``limits`` (``excess``).

    Never splits inside a word or a URL: parts break at whitespace. A single word or URL that does not fit one
    post with its part number raises ValueError naming the cap it fails (the caller turns it into a clear error).
    """
    if limits.fits(text):
        return [text]
    words = text.split()
    for total_guess in (9, 99):
        widest = f" {total_guess}/{total_guess}"  # the widest part number of a thread this long
        parts: list[list[str]] = [[]]
        for word in words:
            candidate = " ".join([*parts[-1], word])
            excess = limits.excess(candidate + widest)
            if excess is None:
                parts[-1].append(word)
            elif parts[-1] and limits.fits(word + widest):
                parts.append([word])
            else:
                alone = limits.excess(word)
                if alone is None:
                    raise ValueError(f"a single word or URL leaves no room for the part number: {word[:40]!r}")
                raise ValueError(f"a single word or URL is {alone.measured} {alone.unit}, at most {alone.limit} fit "
                                 f"in one post: {word[:40]!r}")
        if len(parts) <= total_guess:
            n = len(parts)
            if n > limits.max_thread:
                raise ValueError(f"text would need {n} posts; the most we thread is {limits.max_thread}")
            return [f"{' '.join(p)} {i}/{n}" for i, p in enumerate(parts, 1)]
    raise ValueError("text is too long to thread")
