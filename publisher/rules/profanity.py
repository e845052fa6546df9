"""``profanity``: swear words and slurs, including leetspeak ("sh1t", "f.u.c.k", "a$$hole").

The word list and the leetspeak character map are better-profanity's (the most used word-list library on PyPI),
filtered by ``profanity_words.NOT_PROFANE`` and extended with Norwegian, German, French and Spanish words.
better-profanity's own matcher compares every word against every list entry in Python (about 35 ms for a
280-character post), so the matching here is a set lookup: each token is expanded into the spellings its leetspeak
characters could stand for (``$`` -> s, ``1`` -> i/l, ``@`` -> a/o, ...) and looked up; phrases and spaced-out
words ("f u c k") are joined and looked up the same way. Built once per process per word-list configuration.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from functools import lru_cache

from pydantic import Field

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable
from publisher.rules.profanity_words import EXTRA, INNOCENT_IN, NOT_PROFANE

# text character -> the letters it may stand for (better-profanity's CHARS_MAPPING, reversed; plus '!' and '+')
_LEET: dict[str, str] = {
    "@": "ao", "4": "a", "*": "aioue", "1": "il", "l": "li", "0": "o", "u": "uv", "v": "vu", "3": "e",
    "$": "s", "5": "s", "7": "t", "!": "i", "+": "t",
}
#: list letter -> letters that may stand for it in text (better-profanity: i -> l, u -> v, v -> u)
_LETTER_FORWARD = {"i": "il", "u": "uv", "v": "vu"}
_SYMBOLIC = re.compile(r"[@4*1035$7!+]")
_TOKEN = re.compile(r"[\w@$*!+]*\w[\w@$*!+]*|[@$][\w@$*!+]+")
_SPACED = re.compile(r"(?<![\w.*-])(?:\w[ .*_-]){2,}\w(?![\w.*-])")
#: the same patterns for ASCII text (\w means the same there in both modes), faster
_TOKEN_ASCII = re.compile(_TOKEN.pattern, re.ASCII)
_SPACED_ASCII = re.compile(_SPACED.pattern, re.ASCII)
_MAX_VARIANTS = 256
#: roots so strong that any word built on them is profanity ("shitshow", "clusterfuck"); not the list's job
_ROOTS = ("fuck", "shit", "cunt")
_ROOT_EXCEPTIONS = ("shitake", "shiitake")


#: inflectional endings per language family, longest first: a token that is a listed word plus one of these
#: (plural, case, definite form, gender, past tense) is that word inflected ("bastards", "drittsekken",
#: "verdammten", "connasses", "jodidas"). English endings always apply: the base list is English.
SUFFIXES: dict[str, tuple[str, ...]] = {
    "en": ("ings", "ing", "ers", "ed", "er", "es", "s", "y", "in"),
    "no": ("ene", "ane", "ete", "en", "et", "er", "ar", "te", "a", "e", "s"),
    "de": ("ern", "em", "en", "er", "es", "e", "n", "s"),
    "fr": ("es", "e", "s", "x"),
    "es": ("es", "s"),
}
#: ending swaps (Spanish and French gender and number): "jodida" -> "jodido", "pendejas" -> "pendejos"
SWAPS: dict[str, tuple[tuple[str, str], ...]] = {
    "es": (("as", "os"), ("a", "o"), ("as", "a"), ("os", "o")),
    "fr": (("ée", "é"), ("ées", "é"), ("és", "é"), ("se", "")),
}
#: stems so strong in a language that a compound built on them is profanity there ("Scheißfirma", "drittselskap")
LANG_ROOTS: dict[str, tuple[str, ...]] = {
    "de": ("scheiß", "scheiss", "arsch", "wichs"),
    "no": ("dritt", "jævl", "faen", "helvete", "hestkuk", "fitte"),
    "fr": ("merd", "putain", "encul"),
    "es": ("mierd", "joder", "gilipoll", "cabron", "cabrón"),
}
#: shortest stem an ending may be stripped to (shorter stems match too many ordinary words)
_MIN_STEM = 4


@lru_cache(maxsize=32)
def morphology(languages: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...], tuple[str, ...]]:
    """(endings, swaps, compound roots) for these language families (English endings always)."""
    fams = {"en", *("no" if c in ("nb", "nn", "no") else c.split("-")[0] for c in languages)}
    ends = sorted({e for f in fams for e in SUFFIXES.get(f, ())}, key=lambda e: (-len(e), e))
    swaps = tuple(sw for f in sorted(fams) for sw in SWAPS.get(f, ()))
    roots = tuple(r for f in sorted(fams) for r in LANG_ROOTS.get(f, ()))
    return tuple(ends), swaps, roots


@lru_cache(maxsize=32)
def heads(words: frozenset[str]) -> frozenset[str]:
    """The first ``_MIN_STEM`` letters of every word: a token whose start is not among them cannot be one of them
    inflected (an exact pre-filter that keeps the ending loop off almost every token)."""
    return frozenset(w[:_MIN_STEM] for w in words if len(w) >= _MIN_STEM - 1)


MorphParts = tuple[tuple[str, ...], tuple[tuple[str, str], ...], tuple[str, ...]]


def inflected(tok: str, words: frozenset[str], morph: MorphParts) -> bool:
    """True when ``tok`` is a listed word with an inflectional ending of a declared language, an ending swapped
    (gender, number), or a compound on a strong root of a declared language."""
    return bool(stems(tok, words, morph))


def stems(tok: str, words: frozenset[str], morph: MorphParts) -> tuple[str, ...]:
    """The listed words ``tok`` inflects (see ``inflected``); "" stands for a compound on a strong root."""
    ends, swaps, roots = morph
    if len(tok) <= _MIN_STEM:
        return ()
    rooted = ("",) if roots and tok.startswith(roots) and len(tok) > min(len(r) for r in roots) else ()
    if tok[:_MIN_STEM] not in heads(words):
        return rooted
    out = [tok[: -len(end)] for end in ends
           if tok.endswith(end) and len(tok) - len(end) >= _MIN_STEM and tok[: -len(end)] in words
           and not (end[0] == "s" and tok[-len(end) - 1] == "s")]  # "assess" is not "asses" + s
    out += [tok[: -len(old)] + new for old, new in swaps
            if tok.endswith(old) and len(tok) - len(old) >= _MIN_STEM - 1 and tok[: -len(old)] + new in words]
    return (*out, *rooted)


class ProfanityOptions(RuleOptions):
    #: extra words or phrases to treat as profanity (leetspeak variants are matched too)
    words: list[str] = Field(default_factory=list)
    #: words never to flag (e.g. a product name)
    allow: list[str] = Field(default_factory=list)


def _wordlist_text() -> str:
    """better-profanity's word list, read from its package directory without importing the package (its import
    builds a censor with every leetspeak variant: ~20 ms on the CLI's path for nothing)."""
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec("better_profanity")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("better-profanity is not installed (its word list is the profanity rule's base)")
    return (Path(spec.submodule_search_locations[0]) / "profanity_wordlist.txt").read_text(encoding="utf-8")


@lru_cache(maxsize=16)
def wordset(extra: tuple[str, ...] = (), allow: tuple[str, ...] = ()) -> frozenset[str]:
    """The lower-case words and phrases to flag (better-profanity's list, filtered and extended)."""
    words = set(_english())
    for extras in EXTRA.values():
        words.update(extras)
    words.update(w.lower() for w in extra)
    words -= {w.lower() for w in allow}
    # letter-for-letter disguises (i -> l, u <-> v) are added here once, so tokens made only of letters need
    # one set lookup; tokens with digits or symbols ($, @, 1, 0, ...) are expanded at check time
    for w in list(words):
        choices = [_LETTER_FORWARD.get(c, c) for c in w]
        if 1 < _product(choices) <= 64:
            words.update("".join(p) for p in itertools.product(*choices))
    return frozenset(words)


def _product(choices: list[str]) -> int:
    n = 1
    for c in choices:
        n *= len(c)
    return n


def _spellings(token: str) -> Iterable[str]:
    if not _SYMBOLIC.search(token):
        return (token,)
    choices = [_LEET.get(c, c) if not c.isalpha() else c for c in token]
    count = 1
    for c in choices:
        count *= len(c)
    if count == 1:
        return ("".join(choices),)
    if count > _MAX_VARIANTS:
        return (token,)
    return ("".join(p) for p in itertools.product(*choices))


#: a number ("455 customers", "error 5318008", "+8", "99.9%") is never leetspeak for a word
_NUMBER = re.compile(r"[\d.,:+%/-]+")


def _is_profane(token: str, words: frozenset[str]) -> bool:
    if token in words:
        return True
    if _NUMBER.fullmatch(token):
        return False
    for s in _spellings(token):
        if s in words or (len(s) > 4 and (s.startswith(_ROOTS) or s.endswith(_ROOTS))
                          and not s.startswith(_ROOT_EXCEPTIONS)):
            return True
    return False


@lru_cache(maxsize=16)
def _phrase_starts(words: frozenset[str]) -> frozenset[str]:
    return frozenset(w.split(" ", 1)[0] for w in words if " " in w)


def _innocent_for(languages: Iterable[str]) -> frozenset[str]:
    out: set[str] = set()
    for lang in languages:
        out |= INNOCENT_IN.get("no" if lang in ("nb", "nn", "no") else lang, frozenset())
    return frozenset(out)


def _innocent_here(word: str, doc: Doc, ctx: Ctx) -> bool:
    """An English list word (or an inflection of one) that is an ordinary word in the language the post is written
    in ("slut" is an end in Norwegian, "ass" its "altså"): innocent there, but not in an English post on the same
    account ("they kicked ass"). When the post's language is unknown, any language it may be in counts."""
    innocent = _innocent_for(ctx.languages)
    if not innocent:
        return False
    entries = {word, *_english_entries(word, ctx)}
    if not entries & innocent:
        return False
    from publisher.rules.language import text_language

    lang = text_language(doc, ctx)
    return bool(entries & (_innocent_for((lang,)) if lang else innocent))


Morph = tuple[tuple[frozenset[str], MorphParts, str], ...]


def _family(code: str) -> str:
    return "no" if code in ("nb", "nn", "no") else code.split("-")[0]


@lru_cache(maxsize=32)
def per_language(words: frozenset[str], languages: tuple[str, ...]) -> Morph:
    """(words, that language's morphology, the family) per family: a word is inflected with its own language's
    endings only, so the Norwegian "dritt" plus the German ending "-en" is not profanity ("zum dritten Mal").
    English endings apply to the base list (and every language's own endings to it too: it is the shared list)."""
    fams = sorted({"en", *(_family(c) for c in languages)})
    out = []
    for fam in fams:
        foreign = frozenset(w for g, ws in EXTRA.items() if g != fam for w in ws)
        own = words - foreign
        morph = (SUFFIXES.get(fam, ()), SWAPS.get(fam, ()), LANG_ROOTS.get(fam, ()))
        out.append((own, (tuple(sorted(morph[0], key=lambda e: (-len(e), e))), morph[1], morph[2]), fam))
    return tuple(out)


def _inflected(tok: str, morph: Morph) -> bool:
    return any((found := stems(tok, words, m)) and not _another_word(tok, found, fam) for words, m, fam in morph)


#: a token at least this much more frequent (Zipf) than every listed word it seems to inflect is another word
ANOTHER_WORD_ZIPF = 1.0


def _another_word(tok: str, found: tuple[str, ...], fam: str) -> bool:
    """True when ``tok`` only looks like an inflection: by wordfreq (English and the family's language) it is a
    word far more common than the listed word it would inflect ("spaces" is not "spac" + es, "testen" is not
    "teste" + n), so the ending made another word. A compound on a strong root ("" in ``found``) is never so."""
    if "" in found:
        return False
    from publisher.rules.wordsplit import frequency

    langs = ("en",) if fam == "en" else ("en", fam)

    def freq(word: str) -> float:
        return max(frequency(word, lang) for lang in langs)

    common = freq(tok)
    return all(common >= freq(s) + ANOTHER_WORD_ZIPF for s in found)


def _plain(tokens: set[str], words: frozenset[str], starts: frozenset[str], morph: Morph | None = None) -> bool:
    """True when no token can be profane or start a phrase: each is a word of letters that is not in the list and
    not built on a root, or ASCII digits not in the list (``_is_profane`` is False for a number). Exact pre-filter
    for the token loop of ``find``. Tokens found so are remembered per list and morphology (``_clean``): the next
    post's common words are not looked at again."""
    clean = _clean(words, starts, morph)
    tokens = tokens - clean
    if not tokens.isdisjoint(words) or not tokens.isdisjoint(starts):
        return False
    for tok in tokens:
        if tok.isalpha():
            if len(tok) > 4 and (tok.startswith(_ROOTS) or tok.endswith(_ROOTS)) \
                    and not tok.startswith(_ROOT_EXCEPTIONS):
                return False
            if morph is not None and _inflected(tok, morph):
                return False
        elif not (tok.isascii() and tok.isdigit()):
            return False
    if len(clean) + len(tokens) > _CLEAN_MAX:
        clean.clear()
    clean |= tokens
    return True


#: at most this many clean tokens are remembered per list and morphology (then forgotten, and learnt again)
_CLEAN_MAX = 50_000


@lru_cache(maxsize=32)
def _clean(words: frozenset[str], starts: frozenset[str], morph: Morph | None) -> set[str]:
    """The tokens ``_plain`` has found clean for this list, phrase starts and morphology (a set it fills)."""
    return set()


def find(text: str, words: frozenset[str], languages: tuple[str, ...] | None = ("en",)) -> list[tuple[int, int]]:
    """Spans of profane words and phrases in ``text``; inflected forms in ``languages`` too (None: exact only)."""
    morph = per_language(words, tuple(languages)) if languages is not None else None
    low = text.lower()
    hits: list[tuple[int, int]] = []
    starts = _phrase_starts(words)
    ascii_text = low.isascii()
    token_rx, spaced_rx = (_TOKEN_ASCII, _SPACED_ASCII) if ascii_text else (_TOKEN, _SPACED)
    plain = _plain(set(token_rx.findall(low)), words, starts, morph)
    tokens = [] if plain else [(m.start(), m.end(), m.group(0)) for m in token_rx.finditer(low)]
    clean = _clean(words, starts, morph) if tokens else set()
    for i, (start, end, tok) in enumerate(tokens):
        if tok in clean:
            continue
        if tok.isalpha():  # most tokens: no leetspeak to expand (the same test as _is_profane, without the calls)
            profane = tok in words or (len(tok) > 4 and (tok.startswith(_ROOTS) or tok.endswith(_ROOTS))
                                       and not tok.startswith(_ROOT_EXCEPTIONS)) \
                or (morph is not None and _inflected(tok, morph))
        else:
            core = tok.strip("!+*") or tok
            profane = _is_profane(tok, words) or (core != tok and _is_profane(core, words)) \
                or (morph is not None and core.isalpha() and _inflected(core, morph))
        if profane:
            hits.append((start, end))
            continue
        # two- and three-word phrases ("bull shit", "fils de pute", "fy faen")
        if tok not in starts:
            if len(clean) < _CLEAN_MAX:
                clean.add(tok)  # neither profane nor a phrase's start, whatever surrounds it
            continue
        for n in (2, 3):
            if i + n <= len(tokens):
                phrase = " ".join(t for _, _, t in tokens[i:i + n])
                if phrase in words:
                    hits.append((start, tokens[i + n - 1][1]))
                    break
    for m in spaced_rx.finditer(low):  # "f u c k", "s.h.i.t"
        joined = re.sub(r"[ .*_-]", "", m.group(0))
        if _is_profane(joined, words) and not any(s <= m.start() < e for s, e in hits):
            hits.append((m.start(), m.end()))
    return sorted(hits)


def profanity(doc: Doc, ctx: Ctx, opts: ProfanityOptions) -> list[Finding]:
    words = wordset(tuple(opts.words), tuple(opts.allow))
    # URLs and e-mail addresses are not prose; hashtags and mentions are checked too (#fuckmondays)
    text = doc.text
    if doc.urls or doc.emails:
        chars = list(text)
        for s, e, _ in [*doc.urls, *doc.emails]:
            chars[s:e] = " " * (e - s)
        text = "".join(chars)
    out = []
    for start, end in find(text, words, tuple(ctx.languages)):
        word = doc.text[start:end]
        if _innocent_here(word.lower(), doc, ctx) or _word_of_the_post_language(word.lower(), doc, ctx):
            continue
        out.append(ctx.finding(
            "profanity", opts, f"profanity: {word!r}", start, end,
            f"remove {word!r} or say it without swearing",
        ))
    return out


@lru_cache(maxsize=1)
def _english() -> frozenset[str]:
    """better-profanity's (English) list as publisher uses it, without the other languages' words."""
    return frozenset(w.strip().lower() for w in _wordlist_text().splitlines() if w.strip()) - NOT_PROFANE


def _english_entries(word: str, ctx: Ctx) -> set[str]:
    """The English list's entries ``word`` is, or is only an inflection of ("testes" of "teste"); empty when it
    is (an inflection of) another list's word too."""
    if word in _english():
        return {word}
    found = {s for words, m, _ in per_language(_english(), tuple(ctx.languages)) for s in stems(word, words, m)}
    return found if found and found <= _english() else set()


def _word_of_the_post_language(word: str, doc: Doc, ctx: Ctx) -> bool:
    """An entry of the English list (or an inflection of one) in a post written in another language, where by
    wordfreq the word is more common than in English: a word of that language ("en retard" is late in French,
    "testes" is tested in Norwegian), not the English swear word. Never a word a language's own list adds, nor an
    inflection of one ("merde", "putos"), and never in an English post or one of unknown language."""
    entries = _english_entries(word, ctx)
    if not entries or any(w in extras for w in (word, *entries) for extras in EXTRA.values()):
        return False
    from publisher.rules.language import text_language
    from publisher.rules.wordsplit import frequency, zipf

    lang = text_language(doc, ctx)
    if lang is None or lang == "en" or not zipf(lang):
        return False
    return frequency(word, lang) > frequency(word, "en")


RULES: RuleTable = {"profanity": (profanity, ProfanityOptions)}
