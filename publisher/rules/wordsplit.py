"""Whether a lower-case hashtag is several words run together ("#ruralbroadband"), from word frequencies.

The words are wordfreq's lists (MIT code, CC BY-SA 4.0 data), read from the package's data files without importing
the package (its import brings ftfy, regex and langcodes: ~0.2 s on the CLI's path for a list read in ~10 ms). A tag
is several words when it is not a word of the "small" lists (the words used at least once per million words,
26,000 to 39,000 a language; accents folded: "#reseaux" is "réseaux"; with an ending too: "postmortems"), splits
into two to four common words, and is not a rarer word of the "large" lists either ("failovers", "endpoints";
read only when a tag splits). Languages that write compounds as one word (German, Norwegian, Dutch, Swedish, Danish) are
stricter: "#stellenangebot" is one German word even if no list holds it, so a split in such a language counts only
when one of its parts is a very common word (a function word or a name: "für", "for", "norge"). Each split uses one
language's words ("#offredemploi" is not English "of" + "fred" + French "emploi").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Container
from functools import lru_cache

#: ISO 639-1 code -> wordfreq's list name (Norwegian: Bokmål's list serves the family)
_LISTS = {"en": "en", "de": "de", "fr": "fr", "es": "es", "nb": "nb", "nn": "nb", "no": "nb", "nl": "nl",
          "sv": "sv", "da": "da", "it": "it", "pt": "pt", "fi": "fi"}
_COMPOUNDING = frozenset({"de", "nb", "nl", "sv", "da", "fi"})
#: a part of a split must be at least this common (Zipf scale: 3 = once per million words)
MIN_ZIPF = 3.0
#: a three-letter part must be a common word ("are", "con"; not the abbreviations and names the lists hold: "ems")
MIN_ZIPF_3 = 4.0
#: a two-letter part must be a very common word ("we", "of", "de")
MIN_ZIPF_SHORT = 5.0
#: a one-letter part must be a function word ("y" and "o" in Spanish, "à" in French, "i" and "å" in Norwegian:
#: "#aguayclima" is agua y clima); an English one in another language's list is English (``_word_freq``)
MIN_ZIPF_1 = 6.5
#: in a compounding language, a part this common makes the split a phrase, not a compound: function words and
#: names ("für" 6.9, "for" 7.2, "norge" 6.2, "deutschland" 5.8), not the content words compounds are made of
#: ("stellen" 5.4, "jobb" 5.6, "nett" 5.0)
PHRASE_ZIPF = 5.8
MAX_PARTS = 4
#: how common a part that is one of the organisation's own names counts (as a name of a country does: "norge")
NAME_ZIPF = 6.0
#: French words elided before a vowel or a mute h (d'emploi, l'équipe, j'ai, qu'il: "qu" is two letters, left out)
_ELIDED = frozenset("dljnmstc")
_VOWELS = frozenset("aeiouyh")
#: a tag at least this common in a large list is a word, not words run together (tags scraped from the web as
#: tokens stay below it: "blackfriday" 1.5, "oncall" 1.4; words: "failover" 2.0, "hotfix" 2.1, "endpoint" 2.9)
KNOWN_ZIPF = 2.0


def fold(word: str) -> str:
    """Lower case without accents: "Réseaux" -> "reseaux" (ø, æ, å stay: they are letters, not accents); "ß" is
    "ss", as in wordfreq's lists, which are case-folded ("straße" is listed as "strasse")."""
    return "".join(c for c in unicodedata.normalize("NFD", word.lower()) if unicodedata.category(c) != "Mn"
                   ).replace("ß", "ss")


def _buckets(lang: str, size: str) -> list[list[str]]:
    """wordfreq's ``{size}_{lang}`` list as buckets: bucket i holds the words at -i centibels (Zipf 9 - i / 100)."""
    import gzip
    from importlib.util import find_spec
    from pathlib import Path

    import msgpack

    name = _LISTS.get(lang)
    spec = find_spec("wordfreq")  # finds the package without importing it
    if name is None or spec is None or not spec.submodule_search_locations:
        return []
    path = Path(spec.submodule_search_locations[0]) / "data" / f"{size}_{name}.msgpack.gz"
    if not path.exists():
        return []
    return msgpack.unpackb(gzip.decompress(path.read_bytes()), raw=False)[1:]  # type: ignore[no-any-return]


@lru_cache(maxsize=16)
def zipf(lang: str) -> dict[str, float]:
    """Folded word -> Zipf frequency in one of wordfreq's small lists ({} when the language has none)."""
    out: dict[str, float] = {}
    for i, words in enumerate(_buckets(lang, "small")):
        for w in words:
            out.setdefault(w if w.isascii() else fold(w), (900 - i) / 100)  # the lists are lower case already
    return out


def frequency(word: str, lang: str) -> float:
    """The Zipf frequency of a lower-case ``word`` in ``lang``'s small list (0.0 when it is not there)."""
    return zipf(lang).get(word if word.isascii() else fold(word), 0.0)


@lru_cache(maxsize=16)
def known(lang: str) -> frozenset[str]:
    """Folded words of Zipf >= ``KNOWN_ZIPF`` in wordfreq's large list: the rarer words a small list lacks
    ("failover", "endpoint", "handover"). Read only when a tag splits (0.1-0.3 s a language)."""
    last = round((9 - KNOWN_ZIPF) * 100)
    return frozenset(w if w.isascii() else fold(w) for words in _buckets(lang, "large")[:last + 1] for w in words)


def split(tag: str, languages: tuple[str, ...], names: tuple[str, ...] = ()) -> list[str] | None:
    """The words a lower-case ``tag`` runs together, or None when it is one word or does not split cleanly. The
    parts come from one language's list (English or one the account declares) or are ``names`` (the
    organisation's own: the labels of its domains, "brattli"), and a number may end the tag ("#brattliconf27":
    brattli, conf, 27); no list, small or large, may hold the tag itself."""
    parts = candidate(tag, languages, names)
    if parts is None or _is_word(_letters(fold(tag)), _languages(languages), known):
        return None  # a rarer word ("#failovers", "#hotfixes"); hashtags run together are rarer still
    return parts


def _letters(low: str) -> str:
    """The tag without the number that ends it: "brattliconf27" -> "brattliconf" (a year or an edition)."""
    return low.rstrip("0123456789")


def _is_word(low: str, langs: list[str], words: Callable[[str], Container[str]]) -> bool:
    """``low``, or ``low`` without an ending of one or two letters, is among ``words(lang)`` of one of ``langs``."""
    return any(w in words(lang) for lang in langs for w in (low, low[:-1], low[:-2]))


def _languages(languages: tuple[str, ...]) -> list[str]:
    return [lang for lang in dict.fromkeys(("en", *(c.lower().split("-")[0] for c in languages))) if zipf(lang)]


def candidate(tag: str, languages: tuple[str, ...], names: tuple[str, ...] = ()) -> list[str] | None:
    """``split`` by the small lists alone (~10 ms a language to read): None means ``split`` is None too; a split
    found here still needs the large lists' word check (0.1-0.3 s and ~30 MB a language to read)."""
    whole = fold(tag)
    low = _letters(whole)
    number = whole[len(low):]
    if len(low) < 6 or not low.isalpha():
        return None
    langs = _languages(languages)
    if _is_word(low, langs, zipf):
        return None  # a word, or a word with an ending ("postmortems", "incidenten"): the lists hold few inflections
    own = tuple(sorted({fold(n) for n in names if len(n) >= 4 and fold(n) != low}))
    found = [(best, lang) for lang in langs if (best := _best(low, lang, own)) is not None]
    if not found:
        return None
    (_, parts), lang = max(found, key=lambda f: f[0][0])  # the likeliest reading, in whichever language
    if any(len(p) == 1 and not (0 < k < len(parts) - 1 and len(parts[k - 1]) >= 3 and len(parts[k + 1]) >= 3)
           for k, p in enumerate(parts)):
        return None  # a one-letter word joins two words ("agua y clima"); "tin dr a" is not a reading of "tindra"
    if _LISTS[lang] in _COMPOUNDING and max(NAME_ZIPF if p in own else zipf(lang)[p] for p in parts) < PHRASE_ZIPF \
            and not (lang == "de" and any(_inflected_adjective(p) for p in parts[:-1])):
        return None  # a compound of content words is one word in this language ("stellenangebot", "vieles" + "jobs")
    return [*parts, number] if number else parts


def _inflected_adjective(part: str) -> bool:
    """A German adjective with the ending "-e" ("digitale", "neue", "öffentliche"): a compound takes an adjective
    bare ("Digitalverwaltung"), so "#digitaleverwaltung" is two words. An adjective is told by its forms: the stem
    and its "-en", "-er" and "-es" are all words ("digital", "digitalen", ...); a noun's linking "-e-" lacks them
    ("hunde" + "futter": no "hunder")."""
    if len(part) < 4 or not part.endswith("e"):
        return False
    table, stem = zipf("de"), part[:-1]
    return all(w in table for w in (stem, stem + "en", stem + "er", stem + "es"))


@lru_cache(maxsize=4096)
def _best(low: str, lang: str, names: tuple[str, ...] = ()) -> tuple[float, list[str]] | None:
    """The split of ``low`` into 2..MAX_PARTS common words of ``lang`` (or ``names``) with the highest summed log
    frequency (fewer, commoner words win), with that sum; or None. French elides its articles and prepositions
    before a vowel: "offredemploi" is offre + d'emploi, so an elided word counts as the word it stands before."""
    table = zipf(lang)
    english = zipf("en") if lang != "en" else {}

    def freq(part: str) -> float:
        if part in names:
            return NAME_ZIPF
        if lang == "fr" and len(part) >= 5 and part[0] in _ELIDED and part[1] in _VOWELS:
            return max(_word_freq(part), _word_freq(part[1:]))
        return _word_freq(part)

    def _word_freq(part: str) -> float:
        f = table.get(part, 0.0)
        need = MIN_ZIPF if len(part) >= 4 else MIN_ZIPF_3 if len(part) == 3 else MIN_ZIPF_SHORT if len(part) == 2 else MIN_ZIPF_1
        if len(part) <= 3 and english.get(part, 0.0) > f - 1:
            return 0.0  # a short English word in another language's list is web text's English ("of" in French)
        return f if f >= need else 0.0

    n = len(low)
    # best[i] = (score, parts) for low[:i]; score sums (zipf - 9), a log10 probability per word
    best: list[tuple[float, list[str]] | None] = [None] * (n + 1)
    best[0] = (0.0, [])
    for i in range(1, n + 1):
        for j in range(max(0, i - 30), i):
            prev = best[j]
            if prev is None or len(prev[1]) >= MAX_PARTS:
                continue
            f = freq(low[j:i])
            if not f:
                continue
            score = prev[0] + f - 9
            cur = best[i]
            if cur is None or score > cur[0]:
                best[i] = (score, [*prev[1], low[j:i]])
    done = best[n]
    return done if done is not None and len(done[1]) >= 2 else None
