"""Calm writing: ``shouting`` (capitals), ``exclamation`` (exclamation marks), ``emoji`` (emoji density).

Incident tickets use these with stricter per-kind settings in the built-in profiles: a ticket may report bad news,
but calmly.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import Field

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable, quote

#: all-caps words that are names, not shouting (extend per profile with ``acronyms``)
ACRONYMS = frozenset(
    """
    API APIS AS ASA AWS BGP CDN CEO CET CEST CFO CSS CTO CPU DDOS DNS DB EU FAQ GB GDPR GMT HR HTML HTTP HTTPS ID IP
    IPV IPV4 IPV6 IT KPI LAN LTE MB MFA NOC NASA NATO NAV OK OSLO PDF PR Q1 Q2 Q3 Q4 RAM SLA SMS SSD SSL SSO TCP TLS
    TV UDP UI UK UN UPS URL US USA UTC UX VPN WAN WIFI XML AI ML GPU ETA RFC IOT SAAS CRM ERP QA NB FYI MTU
    """.split()
)

_EXCL = re.compile(r"[!\u203c\u2757\u2755]+")
# one emoji as a reader sees it (Unicode TS #51): a flag (two regional indicators, tried first: each is a
# pictograph too), or a pictograph with its presentation selector, skin tone, keycap or tag characters; pictographs
# joined by ZERO WIDTH JOINER are one emoji (family, profession). Only the joiner joins: "⛴️🏔️🎒" are three emoji,
# though the first two carry a selector.
_PICTOGRAPH = "[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\u2300-\u23ff\u2190-\u21ff\u3297\u3299\u303d\u3030]"
_MODIFIERS = "[\ufe0f\U0001f3fb-\U0001f3ff\u20e3\U000e0020-\U000e007f]*"
_EMOJI = re.compile(
    f"(?:[\U0001f1e6-\U0001f1ff]{{2}}|{_PICTOGRAPH}{_MODIFIERS})(?:\u200d{_PICTOGRAPH}{_MODIFIERS})*"
)


class ShoutingOptions(RuleOptions):
    #: at least this many letters (outside acronyms) before the share of capitals means anything
    min_letters: int = Field(default=20, ge=1)
    #: share of capital letters above which the whole text is shouting
    max_ratio: float = Field(default=0.5, gt=0, le=1)
    #: this many consecutive all-caps words (outside acronyms) are shouting even in a calm text
    max_caps_words: int = Field(default=3, ge=2)
    acronyms: list[str] = Field(default_factory=list)


class ExclamationOptions(RuleOptions):
    #: exclamation marks allowed in one post
    max: int = Field(default=1, ge=0)


class EmojiOptions(RuleOptions):
    max_count: int = Field(default=3, ge=0)
    #: emoji per word above which the post reads as decoration
    max_ratio: float = Field(default=0.25, gt=0)


_ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))


def _count_upper(text: str) -> int:
    """``sum(map(str.isupper, text))``; for ASCII text (where only A-Z are upper case) by deleting A-Z in C."""
    if text.isascii():
        raw = text.encode("ascii")
        return len(raw) - len(raw.translate(None, _ASCII_UPPER))
    return sum(map(str.isupper, text))


#: short words every sentence needs (with the language rule's function words): capitals on one of these are
#: emphasis, never a name
_SHORT_FUNCTION = frozenset(
    "a an i in on at to for of it is be we us all are not no now and or but if so do up out off our my me you "
    "på i og er vi en et de da du ja nei im am um zu ist es le la les un une et ne pas el la lo y en es no"
    " only just still again last left more most very one two three four five ten day days hour hours week today"
    " tonight free new now off sale down dead back"
    .split()
)
#: an all-caps word of at most this many letters that is no function word and not written in lower case elsewhere
#: in the text is taken for a name (RIPE, NCC, NORID, NANOG, NIX): organisations and registries, not emphasis
NAME_MAX = 5


def _function_words() -> frozenset[str]:
    from publisher.rules.language import _STOPWORDS

    return frozenset().union(*_STOPWORDS.values()) | _SHORT_FUNCTION


_FUNCTION: frozenset[str] = frozenset()


def name_like(doc: Doc, acronyms: frozenset[str]) -> frozenset[str]:
    """The all-caps words of ``doc`` that read as names or acronyms, learnt from the text itself: listed acronyms,
    words with digits (IPV6, 5G), and short capitalised words that are no function word and do not occur in lower
    or title case elsewhere in the text (where they would be ordinary words written loud)."""
    key = ("names", acronyms)
    if key in doc.cache:
        return doc.cache[key]  # type: ignore[no-any-return]
    global _FUNCTION
    if not _FUNCTION:
        _FUNCTION = _function_words()
    written_low = {w.lower() for _, _, w in doc.words if not w.isupper()}
    out = set()
    for _, _, w in doc.words:
        if not w.isupper():
            continue
        low = w.lower()
        if w in acronyms or (len(w) <= NAME_MAX and low not in _FUNCTION and low not in written_low):
            out.add(w)
    result = frozenset(out)
    doc.cache[key] = result
    return result


def _caps_words(doc: Doc, acronyms: frozenset[str]) -> list[tuple[int, int, str]]:
    return [w for w in doc.words if len(w[2]) >= 2 and w[2].isupper() and w[2] not in acronyms]


def shouting(doc: Doc, ctx: Ctx, opts: ShoutingOptions) -> list[Finding]:
    acronyms = ACRONYMS | {a.upper() for a in opts.acronyms} if opts.acronyms else ACRONYMS
    caps = _caps_words(doc, acronyms)
    if not caps:
        return []  # also when no letters are left outside acronyms
    if len(caps) < opts.max_caps_words and _calm(doc, acronyms, opts.max_ratio):
        return []  # exact: too few capitalised words for a run, too few capitals for a loud text
    names = name_like(doc, acronyms)
    rest = [w for w in doc.words if w[2] not in names and len(w[2]) > 1]
    if not rest or all(w[2].isupper() for w in rest):
        names = acronyms  # the whole text is in capitals: its short words are shouted too, not names
    words = [w for w in doc.words if w[2] not in names]
    caps = [w for w in caps if w[2] not in names]
    if not caps:
        return []
    joined = "".join([w for _, _, w in words])
    letters = len(joined)
    upper = _count_upper(joined)
    text = doc.text
    if letters >= opts.min_letters and upper / letters > opts.max_ratio:
        start, end = words[0][0], words[-1][1]
        return [ctx.finding(
            "shouting", opts, f"{upper * 100 // letters}% of the letters are capitals", start, end,
            "write it in sentence case: " + repr(quote(text[start:end].capitalize(), 0, 200)),
        )]
    caps = _caps_words(doc, acronyms)  # runs: names count again; a run is shouting only if it reads loud
    if len(caps) < opts.max_caps_words:
        return []  # a run is made of capitalised words only
    words = [w for w in doc.words if w[2] not in acronyms]
    written_low = {w.lower() for _, _, w in doc.words if not w.isupper()}
    # runs of consecutive all-caps words
    out: list[Finding] = []
    run: list[tuple[int, int, str]] = []
    for w in [*words, (len(text), len(text), "")]:
        if w[2] and w in caps and (not run or not text[run[-1][1]:w[0]].strip(" ,-:")):
            run.append(w)
            continue
        if len(run) >= opts.max_caps_words and _loud(run, written_low, text):
            start, end = run[0][0], run[-1][1]
            out.append(ctx.finding(
                "shouting", opts, f"{len(run)} words in capitals: {quote(text, start, end)!r}", start, end,
                f"write {quote(text, start, end)!r} in lower case; use words, not capitals, for emphasis",
            ))
        run = [w] if w[2] and w in caps else []
    return out


def _calm(doc: Doc, acronyms: frozenset[str], max_ratio: float) -> bool:
    """True when the share of capitals stays at most ``max_ratio`` whichever words are taken for names (``names``
    below are all-caps words or acronyms): taking them out can only lower the capitals, and takes out no more
    letters than all such words hold. Saves learning the names (``name_like``) for a calm text with a ticket id
    or a name in capitals ("INC-4711"). A hair of margin keeps float rounding on the safe side."""
    words = [w for _, _, w in doc.words]
    letters = doc.letter_count - sum([len(w) for w in words if w.isupper() or w in acronyms])
    return letters > 0 and _count_upper("".join(words)) < 0.999 * max_ratio * letters


def _loud(run: list[tuple[int, int, str]], written_low: set[str], text: str) -> bool:
    """A run of capitals is emphasis when it holds a sentence's glue (a function word), a word the text also writes
    in lower case, or two long words; a run of short names ("RIPE NCC NORID NIX", "DE-CIX, AMS-IX") holds none of
    these: a piece of a hyphenated capital name is no function word ("DE" of "DE-CIX" is not the French "de")."""
    if any((w.lower() in _FUNCTION and not _hyphenated(s, e, text)) or w.lower() in written_low
           for s, e, w in run):
        return True
    if sum(1 for _, _, w in run if len(w) >= 7) >= 2:
        return True
    return any(w.lower() in _vocabulary() for _, _, w in run)


def _hyphenated(start: int, end: int, text: str) -> bool:
    """The word at ``text[start:end]`` is joined by a hyphen to a letter or digit before or after it."""
    after = text[end:end + 2]
    before = text[max(0, start - 2):start]
    return (len(after) == 2 and after[0] == "-" and after[1].isalnum()) or \
        (len(before) == 2 and before[1] == "-" and before[0].isalnum())


@lru_cache(maxsize=1)
def _vocabulary() -> frozenset[str]:
    """Ordinary words, not names: VADER's English lexicon and the profanity list (loaded only for a run of
    capitals that nothing else settled)."""
    from publisher.rules.profanity import wordset
    from publisher.rules.sentiment import analyser

    return frozenset(analyser().lexicon) | wordset()


def exclamation(doc: Doc, ctx: Ctx, opts: ExclamationOptions) -> list[Finding]:
    text = doc.text
    if "!" not in text and "\u203c" not in text and "\u2757" not in text:
        return []
    prose = doc.prose
    marks = [m for m in _EXCL.finditer(prose)]
    count = sum(len(m.group(0)) for m in marks)
    if count <= opts.max and all(len(m.group(0)) == 1 for m in marks):
        return []  # within the allowance; a run ("!!") is a finding whatever the allowance
    out = []
    allowed = opts.max
    for m in marks:
        n = len(m.group(0))
        if n == 1 and allowed > 0:
            allowed -= 1
            continue
        if n > 1:
            msg, tip = f"{n} exclamation marks in a row", "use at most one, or a full stop"
        elif opts.max == 0:
            msg, tip = "no exclamation marks in this kind of post; keep it calm and factual", "end with a full stop"
        else:
            msg, tip = f"more than {opts.max} exclamation mark(s)", "end this sentence with a full stop"
        out.append(ctx.finding("exclamation", opts, msg, m.start(), m.end(), tip))
    return out


def emoji(doc: Doc, ctx: Ctx, opts: EmojiOptions) -> list[Finding]:
    text = doc.text
    if text.isascii():
        return []
    found = [(m.start(), m.end()) for m in _EMOJI.finditer(text)]
    if not found:
        return []
    words = max(1, len(doc.words))
    count = len(found)
    if count <= opts.max_count and count / words <= opts.max_ratio:
        return []
    start, end = found[opts.max_count][0] if count > opts.max_count else found[0][0], found[-1][1]
    reason = f"{count} emoji (at most {opts.max_count})" if count > opts.max_count else \
        f"{count} emoji for {words} words"
    return [ctx.finding(
        "emoji", opts, reason, start, end,
        f"keep at most {opts.max_count} emoji that add meaning; screen readers read every one aloud",
    )]


RULES: RuleTable = {
    "shouting": (shouting, ShoutingOptions),
    "exclamation": (exclamation, ExclamationOptions),
    "emoji": (emoji, EmojiOptions),
}
