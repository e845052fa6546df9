"""VADER's compound score, computed step for step as vaderSentiment's ``polarity_scores`` does, but faster.

``SentimentIntensityAnalyzer.polarity_scores`` lower-cases each word several times, and its ``_negation_check``
and ``_special_idioms_check`` lower-case the whole word list again for every lexicon word (up to four times per
word): most of its time on a 280-character post. Here the words are lower-cased once, and each step below is the
library's own code with ``lows[j]`` for ``words[j].lower()``; the lexicon, emoji table and constants are the
library's. ``_but_check`` and the punctuation emphasis are called on the library itself.
``tests/test_tone_rules.py`` checks the per-word valences and the compound score against the library on the
labelled set, the benchmark posts and thousands of random sentence mixes.

Imported on first use only (it imports vaderSentiment).
"""

from __future__ import annotations

import string
from functools import lru_cache
from typing import Any

from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    C_INCR,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
    normalize,
)

_NEGATE = frozenset(NEGATE)
_PUNCTUATION = string.punctuation


@lru_cache(maxsize=4)
def _ascii_emoji(analyser: Any) -> bool:
    """Whether the analyser replaces any ASCII character (none in vaderSentiment 3.3: then ASCII text has no emoji)."""
    return any(k.isascii() for k in analyser.emojis)


def without_emoji(text: str, emojis: dict[str, str]) -> str:
    """Emoji replaced by their descriptions, as at the start of ``polarity_scores``."""
    if emojis.keys().isdisjoint(text):
        return text
    out: list[str] = []
    prev_space = True
    for ch in text:
        if ch in emojis:
            if not prev_space:
                out.append(" ")
            out.append(emojis[ch])
            prev_space = False
        else:
            out.append(ch)
            prev_space = ch == " "
    return "".join(out)


def words_of(text: str) -> list[str]:
    """``SentiText.words_and_emoticons``: split on white space, punctuation stripped unless <= 2 characters remain."""
    return [token if len(stripped := token.strip(_PUNCTUATION)) <= 2 else stripped for token in text.split()]


def _negated(low: str) -> bool:
    """``negated([low])`` for one lower-case word."""
    return low in _NEGATE or "n't" in low


def _scalar(word: str, low: str, valence: float, cap_diff: bool) -> float:
    """``scalar_inc_dec``."""
    scalar = 0.0
    if low in BOOSTER_DICT:
        scalar = BOOSTER_DICT[low]
        if valence < 0:
            scalar *= -1
        if word.isupper() and cap_diff:
            if valence > 0:
                scalar += C_INCR
            else:
                scalar -= C_INCR
    return scalar


def _negation(valence: float, lows: list[str], start_i: int, i: int) -> float:
    """``_negation_check``."""
    if start_i == 0:
        if _negated(lows[i - 1]):
            valence = valence * N_SCALAR
    if start_i == 1:
        if lows[i - 2] == "never" and (lows[i - 1] == "so" or lows[i - 1] == "this"):
            valence = valence * 1.25
        elif lows[i - 2] == "without" and lows[i - 1] == "doubt":
            pass
        elif _negated(lows[i - 2]):
            valence = valence * N_SCALAR
    if start_i == 2:
        if lows[i - 3] == "never" and (lows[i - 2] == "so" or lows[i - 2] == "this") or \
                (lows[i - 1] == "so" or lows[i - 1] == "this"):
            valence = valence * 1.25
        elif lows[i - 3] == "without" and (lows[i - 2] == "doubt" or lows[i - 1] == "doubt"):
            pass
        elif _negated(lows[i - 3]):
            valence = valence * N_SCALAR
    return valence


def _idioms(valence: float, lows: list[str], i: int) -> float:
    """``_special_idioms_check`` (only reached with i >= 3)."""
    onezero = f"{lows[i - 1]} {lows[i]}"
    twoonezero = f"{lows[i - 2]} {lows[i - 1]} {lows[i]}"
    twoone = f"{lows[i - 2]} {lows[i - 1]}"
    threetwoone = f"{lows[i - 3]} {lows[i - 2]} {lows[i - 1]}"
    threetwo = f"{lows[i - 3]} {lows[i - 2]}"
    for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
        if seq in SPECIAL_CASES:
            valence = SPECIAL_CASES[seq]
            break
    if len(lows) - 1 > i:
        zeroone = f"{lows[i]} {lows[i + 1]}"
        if zeroone in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroone]
    if len(lows) - 1 > i + 1:
        zeroonetwo = f"{lows[i]} {lows[i + 1]} {lows[i + 2]}"
        if zeroonetwo in SPECIAL_CASES:
            valence = SPECIAL_CASES[zeroonetwo]
    for n_gram in (threetwoone, threetwo, twoone):
        if n_gram in BOOSTER_DICT:
            valence = valence + BOOSTER_DICT[n_gram]
    return valence


def _least(valence: float, lows: list[str], i: int, lexicon: dict[str, float]) -> float:
    """``_least_check``."""
    if i > 1 and lows[i - 1] not in lexicon and lows[i - 1] == "least":
        if lows[i - 2] != "at" and lows[i - 2] != "very":
            valence = valence * N_SCALAR
    elif i > 0 and lows[i - 1] not in lexicon and lows[i - 1] == "least":
        valence = valence * N_SCALAR
    return valence


def _valence(words: list[str], lows: list[str], i: int, lexicon: dict[str, float], cap_diff: bool) -> float:
    """``sentiment_valence`` for a word whose lower case is in the lexicon."""
    low = lows[i]
    valence = lexicon[low]
    if low == "no" and i != len(words) - 1 and lows[i + 1] in lexicon:
        valence = 0.0
    if (i > 0 and lows[i - 1] == "no") or (i > 1 and lows[i - 2] == "no") \
            or (i > 2 and lows[i - 3] == "no" and lows[i - 1] in ("or", "nor")):
        valence = lexicon[low] * N_SCALAR
    if words[i].isupper() and cap_diff:
        if valence > 0:
            valence += C_INCR
        else:
            valence -= C_INCR
    for start_i in range(3):
        j = i - (start_i + 1)
        if i > start_i and lows[j] not in lexicon:
            s = _scalar(words[j], lows[j], valence, cap_diff)
            if start_i == 1 and s != 0:
                s = s * 0.95
            if start_i == 2 and s != 0:
                s = s * 0.9
            valence = valence + s
            valence = _negation(valence, lows, start_i, i)
            if start_i == 2:
                valence = _idioms(valence, lows, i)
    return _least(valence, lows, i, lexicon)


def sentiments(analyser: Any, text: str) -> tuple[list[float], str]:
    """The per-word valences after the "but" check, and the text ``score_valence`` gets (emoji replaced, stripped)."""
    if not text.isascii() or _ascii_emoji(analyser):
        text = without_emoji(text, analyser.emojis)
    text = text.strip()
    words = words_of(text)
    lows = [w.lower() for w in words]
    n = len(words)
    caps = sum(map(str.isupper, words))
    cap_diff = 0 < n - caps < n  # allcap_differential
    lexicon: dict[str, float] = analyser.lexicon
    out: list[float] = [0] * n  # a word outside the lexicon, a booster and the "kind" of "kind of" score 0
    for i in [i for i, low in enumerate(lows) if low in lexicon]:
        low = lows[i]
        if low not in BOOSTER_DICT and not (i < n - 1 and low == "kind" and lows[i + 1] == "of"):
            out[i] = _valence(words, lows, i, lexicon, cap_diff)
    if "but" in lows:
        out = SentimentIntensityAnalyzer._but_check(words, out)
    return out, text


def compound(analyser: Any, text: str) -> float:
    """``analyser.polarity_scores(text)["compound"]``."""
    values, text = sentiments(analyser, text)
    if not values:
        return 0.0
    sum_s = float(sum(values))
    emphasis = analyser._punctuation_emphasis(text)
    if sum_s > 0:
        sum_s += emphasis
    elif sum_s < 0:
        sum_s -= emphasis
    return round(normalize(sum_s), 4)
