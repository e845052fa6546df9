"""``language``: the text is written in one of the account's declared languages.

Detection uses lingua (made for short texts), restricted to a small candidate set and built lazily, once per
process per set. Below ``min_letters`` letters of prose the rule says nothing: short texts are guessed, not known.
Norwegian is one family: ``no``, ``nb`` and ``nn`` accept each other.

A text is confirmed in a language the post may be in by the cheapest evidence that leaves no doubt, in turn: its
function words (``_quick``), then lingua's low-accuracy mode (trigram models only: ~0.05 s of CPU and ~20 MB to
load, against ~1.5-2 s and ~300-350 MB for the full models of the nine default candidates and the neighbours),
which confirms an expected language from ``ROUGH_SURE`` on. Every other text (doubtful, or in another language)
goes to lingua's full models, which give the verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from pydantic import Field

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable

#: the languages every account's text is weighed against: the account's own are added. A language outside them
#: cannot be named, and its confidence spreads over the others (Italian on a French account read as 0.70 Spanish,
#: Dutch on an English one as 0.51 Norwegian: both passed), so Italian, Dutch and Portuguese, the main languages of
#: Western Europe beside these, are in (lingua's models for nine candidates: ~2 s of CPU and ~350 MB in the worker)
DEFAULT_CANDIDATES = ("en", "nb", "nn", "de", "fr", "es", "it", "nl", "pt")
NAMES = {"en": "English", "no": "Norwegian", "de": "German", "fr": "French", "es": "Spanish", "sv": "Swedish",
         "da": "Danish", "nl": "Dutch", "fi": "Finnish", "it": "Italian", "pt": "Portuguese", "ca": "Catalan"}
#: the languages a writer of a family slips into, or a reader mistakes for it: a Swedish text on a Norwegian account,
#: Catalan declared as Spanish. They join the candidates of every account that declares the family
#: (``LanguageOptions.neighbours``), so the detector can name them instead of settling on the nearest declared one
NEIGHBOURS: dict[str, tuple[str, ...]] = {"no": ("sv", "da", "fi"), "es": ("ca", "pt"), "de": ("nl",)}
#: lingua's low-accuracy mode confirms an expected language from this confidence on (chosen on the development set's
#: texts and prefixes: at 0.99 it settles 378 of the 458 the function words leave open and never contradicts the full
#: models at the 0.5 any rule acts on; at 0.95, 6 contradictions; ``tests/test_tone_eval.py`` keeps it so)
ROUGH_SURE = 0.99
_SAMPLE = 160  # letters of prose fed to the detector; more does not change the verdict, it only costs time
#: distinctive function words (none is a common word in another of these languages)
_STOPWORDS: dict[str, frozenset[str]] = {
    "en": frozenset("the and we our is are with this will you your of have has been from that which would should "
                    "they their there what when about".split()),
    "no": frozenset("og ikke jeg vi det på til med som av har kan skal vil eller også hva hvor når etter før vår "
                    "våre dere ble blir være noe mye".split()),
    "de": frozenset("und der das ist nicht wir mit für auf eine den dem zu sich auch im sind wird werden unser "
                    "unsere bei oder aber noch nach über vom zum zur".split()),
    "fr": frozenset("le les des et est une nous vous pour avec dans sur pas qui du au aux ce cette sont notre nos "
                    "votre vos mais très été être avons".split()),
    "es": frozenset("el los las y es una con para por del al nuestra nuestro nuestros muy pero más está están son "
                    "hay también como hasta desde sin sobre este esta".split()),
    # the neighbours: words none of the five above uses as a function word
    "sv": frozenset("är och att inte jag från också mycket när hur vad detta dessa varit mig dig något några "
                    "våra sig nu efter".split()),
    "da": frozenset("af hvad nogle noget blev bliver vores jeres efter mig dig sig os jer hende nu lige endnu "
                    "uden mellem ud".split()),
    "ca": frozenset("amb els és molt aquesta aquest aquests nostra nostre dels més però perquè estem".split()),
    "pt": frozenset("não uma são você nós muito nossa nosso pela pelo pelos isso também até ao aos ele ela "
                    "eles elas".split()),
    "nl": frozenset("het een niet wij zijn ook naar voor maar onze deze dit wordt bij".split()),
    # Italian is a default candidate, not a neighbour: without words of its own, the letters it shares with French
    # (à, è) were the only evidence, and an Italian text was "clearly" French (none of "alle", "dal", "nei", "non",
    # "il": each is a word of another of these languages)
    "it": frozenset("di della delle degli dei nella sulla dalla alla che gli questo questa questi anche perché "
                    "ancora siamo sono abbiamo nostro nostra nostri è molto tutto".split()),
}


class LanguageOptions(RuleOptions):
    #: say nothing below this many letters of prose (unless the script settles it, see ``min_script_letters``)
    min_letters: int = Field(default=40, ge=1)
    #: letters in a script none of the account's languages uses that settle a mismatch on their own, however short
    min_script_letters: int = Field(default=4, ge=1)
    #: flag only when the confidence that the text is in none of the account's languages is at least this (0..1):
    #: their share together is at most 10 % by default. Not the likeliest other language's own confidence: the
    #: more candidates, the more the rest is shared out (English on a Spanish account: 0.76 English, 0.06 Dutch,
    #: 0.05 Norwegian, 0.01 Spanish). A text of names and addresses that lingua cannot place leaves the declared
    #: language 10-25 % (0.43 Norwegian, 0.21 Dutch, 0.14 English, on an English account): no finding
    min_confidence: float = Field(default=0.9, gt=0, le=1)
    #: languages the detector chooses between (ISO 639-1); the account's languages are always added
    candidates: list[str] = Field(default_factory=lambda: list(DEFAULT_CANDIDATES))
    #: add the neighbours of the account's languages to the candidates (``NEIGHBOURS``: Swedish, Danish
    #: and Finnish beside Norwegian, Catalan and Portuguese beside Spanish, Dutch beside German)
    neighbours: bool = True


def family(code: str) -> str:
    code = code.lower()
    return "no" if code in ("nb", "nn", "no") else code


def _lingua_codes(code: str) -> tuple[str, ...]:
    return ("nb", "nn") if family(code) == "no" else (code.lower(),)


@lru_cache(maxsize=8)
def detector(codes: tuple[str, ...]) -> Any:
    """A lingua detector for these ISO 639-1 codes (built once per process per set)."""
    return _build(codes, False)


@lru_cache(maxsize=8)
def rough_detector(codes: tuple[str, ...]) -> Any:
    """The same in lingua's low-accuracy mode (trigram models only)."""
    return _build(codes, True)


def _build(codes: tuple[str, ...], rough: bool) -> Any:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = []
    for code in codes:
        for c in _lingua_codes(code):
            try:
                languages.append(Language.from_iso_code_639_1(IsoCode639_1.from_str(c)))
            except ValueError:
                continue
    if len(set(languages)) < 2:
        languages.append(Language.ENGLISH if Language.ENGLISH not in languages else Language.GERMAN)
    builder = LanguageDetectorBuilder.from_languages(*set(languages))
    if rough:
        builder = builder.with_low_accuracy_mode()
    elif _PRELOAD:
        builder = builder.with_preloaded_language_models()
    return builder.build()


#: set in ``loaded_beside``'s helper: the full models load all at once, on every core (lingua loads them in
#: parallel: ~0.6 s instead of ~1.1 s, for ~30 MB more than the models a text needs), since the caller waits for them
_PRELOAD = False


def detect(doc: Doc, candidates: tuple[str, ...], min_letters: int, expected: frozenset[str] = frozenset(),
           defer: set[str] | None = None) -> list[tuple[str, float]]:
    """[(language family, confidence), ...] best first, or [] when the text is too short to tell.

    When function words clearly show one of the ``expected`` families, lingua is not asked. With ``defer`` (a set,
    on the CLI's enqueue path when no blocking rule needs the language) lingua is not asked either: the answer is
    [] (unknown), "language" is added to ``defer``, and the caller leaves the verdict to the worker's pre-publish
    check (building lingua's models costs ~1.1 s of CPU and ~170 MB on first use). Otherwise lingua's low-accuracy
    mode may confirm an expected family (``rough_sure``); only what it leaves open loads the full models."""
    key = ("language", candidates, min_letters, expected)
    if key in doc.cache:
        return doc.cache[key]  # type: ignore[no-any-return]
    result: list[tuple[str, float]] = []
    quick = _quick(doc, candidates) if expected else None
    if quick is not None and quick in expected and doc.letter_count >= min_letters:
        result = [(quick, 1.0)]
    elif doc.letter_count >= min_letters and defer is not None:
        defer.add("language")
        return []
    elif doc.letter_count >= min_letters:
        sample = _sample(doc)
        codes = tuple(sorted(set(candidates)))
        sure = rough_sure(codes, sample) if expected else None
        result = [sure] if sure is not None and sure[0] in expected else list(confidences(codes, sample))
    doc.cache[key] = result
    return result


@lru_cache(maxsize=8192)
def confidences(codes: tuple[str, ...], sample: str) -> tuple[tuple[str, float], ...]:
    """lingua's ranking of ``sample`` among ``codes`` as (language family, confidence), best first.

    Remembered per exact (codes, sample): lingua is a pure function of them, and the sample holds only the text's
    words (letters; digits, links and hashtags never reach it), so texts that differ in a number, a link or a tag
    (a campaign's "Session 17: ..." and "Session 18: ...") share one detection (~0.5-6 ms each)."""
    if _REMOTE is not None:
        try:
            return _REMOTE(codes, sample)
        except (OSError, EOFError):
            pass  # the helper process is gone: detect here
    return _ranked(detector(codes).compute_language_confidence_values(sample))


def _sample(doc: Doc) -> str:
    """What the detectors read of ``doc``: its words only (no digits, links or tags), about ``_SAMPLE`` letters."""
    return " ".join(w for _, _, w in doc.words)[: _SAMPLE + 40]


def _ranked(found: Iterable[Any]) -> tuple[tuple[str, float], ...]:
    totals: dict[str, float] = {}
    for cv in found:
        fam = family(cv.language.iso_code_639_1.name)
        totals[fam] = totals.get(fam, 0.0) + cv.value
    return tuple(sorted(totals.items(), key=lambda kv: -kv[1]))


@lru_cache(maxsize=8192)
def rough_sure(codes: tuple[str, ...], sample: str) -> tuple[str, float] | None:
    """(family, confidence) when lingua's low-accuracy mode puts ``sample`` in one family with at least
    ``ROUGH_SURE``, else None. Cheap enough to run in every process (~0.05 ms a sample, after ~0.05 s to load)."""
    ranked = _ranked(rough_detector(codes).compute_language_confidence_values(sample))
    return ranked[0] if ranked and ranked[0][1] >= ROUGH_SURE else None


Answer = tuple[tuple[str, float], ...]
#: set by ``loaded_beside``: asks the helper process that holds lingua's models
_REMOTE: Callable[[tuple[str, ...], str], Answer] | None = None


@contextmanager
def loaded_beside(texts: Iterable[str], codes: Iterable[str], declared: Iterable[str] = ()) -> Iterator[None]:
    """While the body runs, ``confidences`` asks a forked helper process, which starts loading lingua's models for
    ``codes`` at once if one of ``texts`` may need them (otherwise on the first question): a text the function
    words and the low-accuracy mode do not place in one of the ``declared`` language families. Loading them takes
    seconds of CPU and holds the GIL throughout (a thread would not help): in a helper it runs beside the caller's
    own work on another core, and the caller's memory never holds the models. Processes the body forks (checkers)
    ask the same helper, in turn. Linux with at least two cores only; elsewhere, and if lingua is already loaded
    here, the body runs as it would without."""
    global _REMOTE
    import os
    import sys

    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if _REMOTE is not None or detector.cache_info().currsize or cores < 2 or not sys.platform.startswith("linux"):
        yield
        return
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    mine, theirs = ctx.Pipe()
    lock = ctx.Lock()
    helper = ctx.Process(target=_serve, args=(theirs, mine, texts, tuple(sorted(set(codes))),
                                              frozenset(family(c) for c in declared)), daemon=True)
    helper.start()
    theirs.close()

    def ask(codes: tuple[str, ...], sample: str) -> Answer:
        with lock:
            mine.send((codes, sample))
            answer: Answer = mine.recv()
            return answer

    _REMOTE = ask
    try:
        yield
    finally:
        _REMOTE = None
        mine.close()
        helper.kill()  # it keeps nothing: stopped at once, even while still loading models no one asked for
        helper.join()


def _serve(conn: Any, other: Any, texts: Iterable[str], codes: tuple[str, ...], declared: frozenset[str]) -> None:
    global _PRELOAD
    other.close()
    _PRELOAD = True
    if any(_may_need(t, codes, declared) for t in texts):
        confidences(codes, "load the models")
    while True:
        try:
            question = conn.recv()
        except EOFError:
            return
        conn.send(confidences(*question))


def _may_need(text: str, codes: tuple[str, ...], declared: frozenset[str]) -> bool:
    """Whether the language rule may ask lingua's full models about ``text`` (a guess, to start loading early;
    never a verdict)."""
    doc = Doc(text)
    if doc.letter_count < 20 or _quick(doc, codes) in declared:
        return False
    sure = rough_sure(codes, _sample(doc))
    return sure is None or sure[0] not in declared


#: letters that occur in one candidate language's spelling and not in English: a word with one is evidence for it
_LETTERS: dict[str, frozenset[str]] = {
    "no": frozenset("æøå"),
    "de": frozenset("ßäöü"),
    "es": frozenset("ñ¿¡áíóú"),
    "fr": frozenset("çœèêàùûëïîôâ"),
    "pt": frozenset("ãõ"),
}
#: each family's neighbours and the families it neighbours (Danish beside Norwegian, Norwegian beside Danish)
_NEAR: dict[str, frozenset[str]] = {
    lang: frozenset(NEIGHBOURS.get(lang, ())) | {k for k, v in NEIGHBOURS.items() if lang in v}
    for lang in {*NEIGHBOURS, *(n for v in NEIGHBOURS.values() for n in v)}}
#: function word -> the languages it is a function word of
_WORD_LANGS: dict[str, tuple[str, ...]] = {}
for _lang, _words in _STOPWORDS.items():
    for _w in _words:
        _WORD_LANGS[_w] = (*_WORD_LANGS.get(_w, ()), _lang)


def _quick(doc: Doc, candidates: tuple[str, ...]) -> str | None:
    """A language family when the text leaves no doubt, else None (then lingua decides).

    Evidence for a language: its distinctive function words, and words spelled with its distinctive letters
    (ø, ß, ñ, ç, ...). No doubt: >= 4 pieces for one language and <= 1 for any other, or >= 2 for one language
    and none at all for any other. Only used to confirm a text is in an expected language; every doubtful case
    goes to lingua. ``tests/test_tone_eval.py`` checks it agrees with lingua on every labelled text and prefix.
    """
    families = _families(candidates)
    if not families:
        return None
    hits = dict.fromkeys(families, 0)
    for _, _, w in doc.words:
        low = w.lower()
        langs = _WORD_LANGS.get(low)
        if langs is not None:
            for lang in langs:
                if lang in hits:
                    hits[lang] += 1
        elif not low.isascii():
            for lang, letters in _LETTERS.items():
                if lang in hits and not letters.isdisjoint(low):
                    hits[lang] += 1
    ranked = sorted(hits.items(), key=lambda kv: -kv[1])
    best, n = ranked[0]
    second = ranked[1][1] if len(ranked) > 1 else 0
    if any(hits.get(near, 0) for near in _NEAR.get(best, ())):
        return None  # a neighbour's own word or letter: the words they share prove nothing, lingua tells them apart
    if (n >= 4 and second <= 1) or (n >= 2 and second == 0):
        return best
    return None


@lru_cache(maxsize=64)
def _families(candidates: tuple[str, ...]) -> tuple[str, ...]:
    """The families of ``candidates`` that have function words (``_STOPWORDS``), in a fixed order."""
    return tuple(sorted({family(c) for c in candidates} & set(_STOPWORDS)))


def candidates_for(ctx: Ctx, opts: LanguageOptions | None = None) -> tuple[str, ...]:
    base = tuple(opts.candidates) if opts is not None else DEFAULT_CANDIDATES
    return _candidates(base, tuple(ctx.account.languages), tuple(ctx.languages), opts is None or opts.neighbours)


@lru_cache(maxsize=256)
def _candidates(base: tuple[str, ...], account: tuple[str, ...], langs: tuple[str, ...],
                neighbours: bool) -> tuple[str, ...]:
    codes = {*base, *account, *langs}
    if neighbours:
        codes.update(n for c in (*account, *langs) for n in NEIGHBOURS.get(family(c), ()))
    return tuple(sorted(codes))


def _declared(ctx: Ctx) -> frozenset[str]:
    return frozenset(family(c) for c in ctx.languages)


def text_language(doc: Doc, ctx: Ctx) -> str | None:
    """The language family of ``doc`` for rules that depend on it (sentiment, register), or None if unknown.

    Uses the language rule's settings when it is active; a text too short to detect is taken to be in the
    account's language when the account declares exactly one. A post that declares its language (``--lang``) is
    taken to be in it.
    """
    if ctx.lang:
        return family(ctx.lang)
    opts = ctx.options.get("language")
    lopts = opts if isinstance(opts, LanguageOptions) else LanguageOptions()
    ranked = detect(doc, candidates_for(ctx, lopts), lopts.min_letters, _declared(ctx), ctx.defer)
    if ranked and ranked[0][1] >= 0.5:
        return ranked[0][0]
    declared = {family(c) for c in ctx.account.languages}
    return declared.pop() if len(declared) == 1 else None


#: (first, last code point, script) for the scripts whose letters alone say a text is not in a Latin-script language
_SCRIPTS: tuple[tuple[int, int, str], ...] = (
    (0x0370, 0x03FF, "Greek"), (0x0400, 0x052F, "Cyrillic"), (0x0530, 0x058F, "Armenian"),
    (0x0590, 0x05FF, "Hebrew"), (0x0600, 0x06FF, "Arabic"), (0x0750, 0x077F, "Arabic"), (0x0900, 0x097F, "Devanagari"),
    (0x0980, 0x09FF, "Bengali"), (0x0E00, 0x0E7F, "Thai"), (0x10A0, 0x10FF, "Georgian"), (0x1100, 0x11FF, "Hangul"),
    (0x3040, 0x309F, "Japanese"), (0x30A0, 0x30FF, "Japanese"), (0x3400, 0x4DBF, "Han"), (0x4E00, 0x9FFF, "Han"),
    (0xAC00, 0xD7AF, "Hangul"), (0xF900, 0xFAFF, "Han"), (0xFF66, 0xFF9F, "Japanese"),
)
#: the script each declared language is written in (anything not listed: Latin)
LANGUAGE_SCRIPTS = {"ja": {"Japanese", "Han"}, "zh": {"Han"}, "ko": {"Hangul", "Han"}, "ru": {"Cyrillic"},
                    "uk": {"Cyrillic"}, "bg": {"Cyrillic"}, "sr": {"Cyrillic"}, "el": {"Greek"}, "ar": {"Arabic"},
                    "fa": {"Arabic"}, "ur": {"Arabic"}, "he": {"Hebrew"}, "hi": {"Devanagari"}, "th": {"Thai"},
                    "hy": {"Armenian"}, "ka": {"Georgian"}, "bn": {"Bengali"}}
_SCRIPT_LANG = {"Japanese": "Japanese", "Han": "Chinese or Japanese", "Hangul": "Korean", "Cyrillic": "Cyrillic",
                "Greek": "Greek", "Arabic": "Arabic", "Hebrew": "Hebrew", "Devanagari": "Hindi", "Thai": "Thai"}


def script_of(ch: str) -> str:
    """The script of one letter: Latin (or another script without its own entry) unless listed in ``_SCRIPTS``."""
    cp = ord(ch)
    if cp < 0x0370:
        return "Latin"
    for lo, hi, name in _SCRIPTS:
        if lo <= cp <= hi:
            return name
    return "Latin"


def scripts(doc: Doc) -> dict[str, int]:
    """Letters of the prose per script (Latin for ASCII text without a scan)."""
    if "scripts" in doc.cache:
        return doc.cache["scripts"]  # type: ignore[no-any-return]
    counts: dict[str, int] = {}
    if doc.prose.isascii():
        counts["Latin"] = doc.letter_count
    else:
        for _, _, w in doc.words:
            for ch in w:
                sc = script_of(ch)
                counts[sc] = counts.get(sc, 0) + 1
    doc.cache["scripts"] = counts
    return counts


def script_mismatch(doc: Doc, ctx: Ctx, min_script_letters: int) -> tuple[str, int] | None:
    """(script, its letters) when the letters are mostly in a script none of the account's languages is written in:
    then the script alone settles it, however short the text (Japanese on an English account)."""
    counts = scripts(doc)
    total = sum(counts.values())
    if total < min_script_letters or set(counts) == {"Latin"}:
        return None
    allowed = {"Latin"}
    for code in ctx.languages:
        allowed |= LANGUAGE_SCRIPTS.get(code.lower().split("-")[0], {"Latin"})
    foreign = sum(n for sc, n in counts.items() if sc not in allowed)
    if foreign * 2 <= total or foreign < min_script_letters:
        return None
    top = max((sc for sc in counts if sc not in allowed), key=lambda sc: counts[sc])
    return top, foreign


def short_evidence(doc: Doc, candidates: tuple[str, ...], declared: frozenset[str]) -> str | None:
    """The language of a text too short for the detector, when its own words leave no doubt: at least two pieces
    of evidence (``_quick``'s distinctive function words and letters) for one undeclared language and none for any
    other candidate ("Wir sind morgen nicht erreichbar." on an English account). Else None: short texts are
    not guessed."""
    hits = dict.fromkeys(_families(candidates), 0)
    for _, _, w in doc.words:
        low = w.lower()
        for lang in _WORD_LANGS.get(low, ()):
            if lang in hits:
                hits[lang] += 1
        if low not in _WORD_LANGS and not low.isascii():
            for lang, letters in _LETTERS.items():
                if lang in hits and not letters.isdisjoint(low):
                    hits[lang] += 1
    found = [lang for lang, n in hits.items() if n]
    if len(found) != 1 or found[0] in declared or hits[found[0]] < 2:
        return None
    return found[0]


def _short(doc: Doc, ctx: Ctx, opts: LanguageOptions) -> list[Finding]:
    declared = _declared(ctx)
    best = short_evidence(doc, candidates_for(ctx, opts), declared) if doc.words else None
    if best is None:
        return []
    name = NAMES.get(best, best)
    wanted = ", ".join(sorted(NAMES.get(d, d) for d in declared))
    return [ctx.finding(
        "language", opts, f"the text is short, but its words are {name}; account {ctx.account.name!r} posts in "
        f"{wanted}", doc.words[0][0], doc.words[-1][1],
        f"write it in {wanted}, or add {best!r} to accounts.{ctx.account.name}.languages if the account posts in {name}",
    )]


def language(doc: Doc, ctx: Ctx, opts: LanguageOptions) -> list[Finding]:
    account_langs = {family(c) for c in ctx.account.languages}
    if ctx.lang and family(ctx.lang) not in account_langs:
        wanted = ", ".join(sorted(NAMES.get(d, d) for d in account_langs))
        return [ctx.finding(
            "language", opts, f"the post is declared as {NAMES.get(family(ctx.lang), ctx.lang)}; account "
            f"{ctx.account.name!r} posts in {wanted}", 0, len(doc.text),
            f"post it in {wanted}, or add {ctx.lang!r} to accounts.{ctx.account.name}.languages",
        )]
    if doc.letter_count < opts.min_letters or not doc.prose.isascii():
        mismatch = script_mismatch(doc, ctx, opts.min_script_letters)
        if mismatch is not None:
            sc, n = mismatch
            wanted = ", ".join(sorted(NAMES.get(d, d) for d in _declared(ctx)))
            return [ctx.finding(
                "language", opts, f"the text is written in {_SCRIPT_LANG.get(sc, sc)} script ({n} letters); "
                f"account {ctx.account.name!r} posts in {wanted}", doc.words[0][0], doc.words[-1][1],
                f"write it in {wanted}, or add the language to accounts.{ctx.account.name}.languages",
            )]
    if doc.letter_count < opts.min_letters:
        return _short(doc, ctx, opts)
    ranked = detect(doc, candidates_for(ctx, opts), opts.min_letters, _declared(ctx), ctx.defer)
    if not ranked:
        return []
    best, conf = ranked[0]
    declared = set(_declared(ctx))
    elsewhere = 1.0 - sum(c for lang, c in ranked if lang in declared)  # see ``min_confidence``
    if best in declared or elsewhere < opts.min_confidence:
        return []
    name = NAMES.get(best, best)
    wanted = ", ".join(sorted(NAMES.get(d, d) for d in declared))
    start, end = doc.words[0][0], doc.words[-1][1]
    return [ctx.finding(
        "language", opts, f"the text reads as {name} ({conf:.0%}); account {ctx.account.name!r} posts in {wanted}",
        start, end,
        f"write it in {wanted}, or add {best!r} to accounts.{ctx.account.name}.languages if the account posts in {name}",
    )]


RULES: RuleTable = {"language": (language, LanguageOptions)}
