"""Hostility by a linear model over the post's words, which the ``sentiment`` rule asks by default (``words``).

The lexicon (``publisher.rules.hostility``) finds the insults it knows; every blind held-out set showed that most
hostility is contempt and sarcasm written without one ("perhaps read the contract", "truly inspiring", "whoever
merged this"). This model weighs every word of the post, the first five letters of its longer words (so one
weight covers a word's inflections) and each pair of neighbouring words (contempt is often a phrase of plain words:
"nobody cares", "stuck in 2015"), lower-cased, with URLs and digits folded: a class-balanced logistic regression
trained on the hostility labels of the labelled sets (``benchmarks/hostility_model.py train`` writes
``publisher/data/hostility-words.json``, with the sets' digests, the figures of a cross-validation that holds out
one whole set (a whole organisation) at a time, and how each account kind's threshold was chosen from them). The
held-out set that measures it is never among them.

Cost: a few hundredths of a millisecond a post, pure Python; the weights (a 1 MB table) load once a process in
well under a millisecond, and only when a post reaches the rule without an insult the lexicon knows. With ``sentiment: {model:
true}``, the worker averages this model's probability with the multilingual model's (``hostility_model``), which is
better than either alone.
"""

from __future__ import annotations

import json
import math
import re
import sys
import unicodedata
import zlib
from array import array
from functools import lru_cache
from itertools import pairwise
from pathlib import Path

from publisher.rules.base import quotations

WEIGHTS = Path(__file__).resolve().parent.parent / "data" / "hostility-words.json"
#: the weights, one float32 (little-endian) per bucket: a feature's weight is its bucket's (``bucket``)
TABLE = WEIGHTS.with_suffix(".f32")
#: 2**18 buckets (the hashing trick): the table loads in a fraction of a millisecond, where a dictionary of the
#: features took 10-17 ms on the ops CLI's path. The ~210,000 features (most of them word pairs) share buckets;
#: 2**20 buckets, a 4 MB table, gained 0.002-0.006 in recall each set held out (2026-12-05)
BITS = 18
#: a word, or a mark that carries tone on its own: quotation marks (scare quotes), ! ? and the ellipsis; an
#: apostrophe inside a word is an elision or a contraction ("d'habitude", "don't"), not a quotation mark
_TOKEN = re.compile(r"\w+|[\"«»„“”‘!?…]|['’](?<!\w['’])|['’](?!\w)")
_URL = re.compile(r"https?://\S+")
_DIGITS = re.compile(r"\d+")
#: shorter texts get no verdict: the labelled sets hold few (5 of 1,816 hostile posts have fewer words), so the
#: model never learnt what a handful of words means; each of them would weigh too much ("needs a yes")
MIN_WORDS = 8
#: words longer than PREFIX + 1 letters also count by their first PREFIX letters
PREFIX = 5


#: a quotation of more words than this is reported speech ('We read the comment: "Hentra is the worst shop in
#: Germany." The criticism is fair.'), not scare quotes, which hold a word or a few: its marks go with its words
SCARE_QUOTE_WORDS = 6


#: a verb of display a few words before a quotation: the quotation is what a screen, a page or a sign showed ("the
#: app displayed lifts as "open"", "l'appli a affiché des remontées « ouvertes »", "die Statusseite zeigte
#: „alles in Ordnung“", "la página mostró «todo funciona»", "skiltet viser «stengt»"), a report, not scare quotes
_SHOWN = re.compile(r"\b(?:show|shows|showed|shown|showing|display\w*|reads|affich\w*|indiqu\w*|zeig\w*|"
                    r"angezeigt\w*|anzeig\w*|mostr\w*|viser|viste|vist)\b(?:\W+\w+){0,4}?\W*$", re.IGNORECASE)


#: a quotation of at least this many words that opens with a capital letter is a quoted sentence ("«Dere er helt
#: ubrukelige», skrev en kunde"), reported speech; scare quotes hold a word or a noun ("the "upgrade"")
SENTENCE_WORDS = 3


def _sentence(words: list[str]) -> bool:
    return len(words) >= SENTENCE_WORDS and words[0][:1].isupper()


def _unquoted(text: str) -> str:
    """The text with every quotation's words taken out: an insult the post reports ('a customer called us "useless
    idiots"') is not the writer's. A short quotation's marks stay, as a sign of sarcasm (scare quotes: the
    "upgrade"); a long one's go too (``SCARE_QUOTE_WORDS``), and so do those of a quoted sentence (``_sentence``)
    and of what a screen or a sign showed (``_SHOWN``)."""
    spans = quotations(text)
    if not spans:
        return text
    parts, at = [], 0
    for start, end in spans:
        inside = text[start + 1:end - 1].split()
        if len(inside) > SCARE_QUOTE_WORDS or _SHOWN.search(text[max(at, start - 60):start]) or _sentence(inside):
            parts += [text[at:start], " "]
            at = end
        else:
            parts += [text[at:start + 1], " "]
            at = end - 1
    return "".join(parts) + text[at:]


#: a call-out: a sentence that opens by addressing someone described by a relative clause, then a colon ("To
#: whoever pushed a config change at 02:00: thank you so much", "An alle, die hier parken: ...", "Til den nye
#: arkitekten som mener ...: ...", "Aux cabinets qui envoient ...: ...", "A quien nos escribió que ...: ..."): the
#: public post speaks to someone it does not name. A feature the model weighs, not a verdict ("To everyone who
#: came to our stand: thank you!" is one too). German marks a relative clause with a comma ("An den Fahrer, der").
_CALLOUT = re.compile(
    r"(?:^|[.!?]\s+)(?:(?:to|dear|à|aux|au|chers?|chères?|a|al|querid[oa]s?|til|kjære)\s[^.!?:]{0,80}?"
    r"\b(?:who|that|whoever|qui|que|quien|quienes|som)\b"
    r"|(?:an|für|liebe[rn]?)\s[^.!?:]{0,80}?,\s*(?:der|die|das|denen|dem|den)\b)[^.!?:]{0,120}:",
    re.IGNORECASE)


def features(text: str) -> set[str]:
    """The post's features: ``w:`` + each word or mark, ``p:`` + the first five letters of each longer word,
    ``b:`` + each pair of neighbouring words (so "no whining", "nobody cares", "stuck in" weigh as phrases);
    quoted words left out, and a long quotation's marks too (``_unquoted``); an apostrophe inside a word is no
    mark; ``s:callout`` for a call-out (``_CALLOUT``)."""
    folded = _DIGITS.sub("0", _URL.sub(" url ", unicodedata.normalize("NFKC", _unquoted(text)).lower()))
    listed = _TOKEN.findall(folded)
    tokens = set(listed)
    found = {"w:" + t for t in tokens}
    found.update(["p:" + t[:PREFIX] for t in tokens if len(t) > PREFIX + 1 and t.isalpha()])
    found.update([f"b:{a} {b}" for a, b in pairwise([t for t in listed if t.isalnum()])])
    if ":" in folded and _CALLOUT.search(folded):
        found.add("s:callout")
    return found


def bucket(feature: str) -> int:
    return zlib.crc32(feature.encode()) & ((1 << BITS) - 1)


@lru_cache(maxsize=1)
def _model() -> tuple[array[float], float, dict[str, float]]:
    data = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    table = array("f")
    table.frombytes(TABLE.read_bytes())
    if sys.byteorder == "big":
        table.byteswap()
    if len(table) != 1 << BITS:
        raise ValueError(f"{TABLE.name}: {len(table)} weights, expected {1 << BITS}")
    return table, float(data["bias"]), {kind: float(t) for kind, t in data["thresholds"].items()}


def threshold(kind: str) -> float:
    """The probability from which a post of an account of this kind (organisation, personal) is hostile: each
    kind's own, chosen over that kind's texts with each set held out (``benchmarks/hostility_model.py``)."""
    return _model()[2][kind]


@lru_cache(maxsize=4096)
def score(text: str) -> float:
    """The model's probability (0..1) that ``text`` is hostile: a logistic regression over the text's features,
    each weighing 1/sqrt(their number)."""
    table, bias, _ = _model()
    found = features(text)
    crc, mask = zlib.crc32, (1 << BITS) - 1  # ``bucket``, inlined: a post has ~100 features
    z = bias + (math.fsum([table[crc(f.encode()) & mask] for f in found]) / math.sqrt(len(found)) if found else 0.0)
    return 1.0 / (1.0 + math.exp(-z))
