"""Register: ``register.first-person`` (organisational accounts speak as "we") and ``register.informal`` (slang).

First-person words are language-specific ("mes" is French "my" but Spanish "month", "min" is Norwegian "my" but also
"minutes"), so only the words of the text's language are used (the detected language, or the account's languages
when the text is too short to detect). Quoted speech is skipped: a quote from a customer may say "I".
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import Field

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable, quotations
from publisher.rules.language import family, text_language

FIRST_PERSON: dict[str, frozenset[str]] = {
    "en": frozenset({"i", "me", "my", "mine", "myself", "i'm", "i've", "i'll", "i'd", "i\u2019m", "i\u2019ve",
                     "i\u2019ll", "i\u2019d"}),
    "no": frozenset({"jeg", "meg", "min", "mitt", "mine", "eg", "mi"}),
    "de": frozenset({"ich", "mich", "mir", "mein", "meine", "meinen", "meinem", "meiner", "meines"}),
    "fr": frozenset({"je", "moi", "mon", "ma", "mes", "me"}),
    # Spanish drops the subject pronoun ("Estoy en el stand 12"): the first-person forms of its commonest irregular
    # verbs say "I" as plainly (regular ones end in -o like many nouns and are left alone)
    "es": frozenset({"yo", "me", "mi", "mis", "conmigo", "m\u00edo", "m\u00eda",
                     "estoy", "soy", "voy", "tengo", "puedo", "quiero"}),
}
_FR_ELIDED = re.compile(r"^[jm]['\u2019]", re.IGNORECASE)
#: "Phase I", "World War I": a Roman numeral, not a pronoun
_ROMAN_BEFORE = frozenset({"phase", "part", "chapter", "level", "tier", "type", "class", "war", "stage", "step",
                           "act", "vol", "volume", "section", "fase", "del", "teil", "grad"})

INFORMAL = frozenset(
    """
    gonna wanna gotta kinda sorta lol lmao lmfao rofl omg btw imo imho tbh idk thx pls plz yeah yep nope dude dudes
    guys y'all ain't digg diggt dritbra drittkult geil krass chillig mdr ptdr ouf ouais kiffe kiffer mola guay jaja
    jajaja porfa finde xd
    """.split()
)


class FirstPersonOptions(RuleOptions):
    #: words to accept even so (e.g. a product called "My Page": list "my")
    allow: list[str] = Field(default_factory=list)


class InformalOptions(RuleOptions):
    #: extra informal words or phrases for this profile
    words: list[str] = Field(default_factory=list)
    #: built-in informal words to accept
    allow: list[str] = Field(default_factory=list)


def _mid_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip()
    return bool(before) and before[-1] not in ".!?:\n\"\u201c("


def _pronouns(doc: Doc, ctx: Ctx) -> frozenset[str]:
    lang = text_language(doc, ctx)
    langs = {lang} if lang else {family(c) for c in ctx.account.languages}
    out: frozenset[str] = frozenset()
    for code in langs:
        out |= FIRST_PERSON.get(code, frozenset())
    return out


#: every word that is a first-person pronoun in some language: a text without one needs no language detection
_ANY_PRONOUN = frozenset().union(*FIRST_PERSON.values())


def _may_speak_as_one(doc: Doc) -> bool:
    """False only when no word of ``doc`` is a first-person word in any language (exact pre-filter)."""
    low = doc.lower_words
    if not _ANY_PRONOUN.isdisjoint(low):
        return True
    return any(_FR_ELIDED.match(w) for w in low if "'" in w or "\u2019" in w)


#: possessives of languages that write common nouns in lower case (not German, not English: "My" has its own
#: test): capitalised, and before a capitalised word, they begin a name ("Min Side", "Mon Compte", "Mi Cuenta")
_TITLE_POSSESSIVES = frozenset({"min", "mitt", "mine", "mi", "mis", "mon", "ma", "mes"})


def _name_follows(text: str, words: list[tuple[int, int, str]], i: int) -> bool:
    """Whether the word after ``words[i]``, with nothing but space between, is capitalised."""
    if i + 1 >= len(words):
        return False
    start, _, word = words[i + 1]
    return word[:1].isupper() and not text[words[i][1]:start].strip()


#: the two words after a German possessive, up to any punctuation
_NEXT_TWO = re.compile(r"\s+([^\W\d_][\w-]*)(?:\s+([^\W\d_][\w-]*))?")


def _before_noun(text: str, end: int) -> bool:
    """Whether a German "mein..." ending at ``end`` is a possessive: German capitalises nouns, and a possessive
    comes before its noun, with at most one adjective between ("meine neue Rolle", "meiner Meinung nach"). The verb
    "meinen" (to think, to mean) is followed by punctuation or a lower-case word ("wie manche meinen, ...", "die
    meinen das ernst"). A number may stand first ("meine 10 Jahre")."""
    if re.match(r"\s+\d", text[end:end + 3]):
        return True  # "meine 10 Jahre bei ..."
    m = _NEXT_TWO.match(text, end)
    return m is not None and any(w and w[0].isupper() for w in m.groups())


def first_person(doc: Doc, ctx: Ctx, opts: FirstPersonOptions) -> list[Finding]:
    if not _may_speak_as_one(doc):
        return []
    pronouns = _pronouns(doc, ctx) - {a.lower() for a in opts.allow}
    if not pronouns:
        return []
    text = doc.text
    quoted = quotations(text)
    out = []
    words = doc.words
    for i, (start, end, word) in enumerate(words):
        low = word.lower()
        if low not in pronouns and not ("je" in pronouns and _FR_ELIDED.match(word)):
            continue
        if low == "i" and word != "I":
            continue
        if word == "I" and (text[end:end + 1] in ("/", ".") or (i and words[i - 1][2].lower() in _ROMAN_BEFORE)):
            continue
        if word == "My" and i + 1 < len(words) and words[i + 1][2][:1].isupper() and _mid_sentence(text, start):
            continue  # "log in to My Page": a product name
        if word[:1].isupper() and low in _TITLE_POSSESSIVES and _name_follows(text, words, i):
            continue  # "Min Side er utilgjengelig", "Mon Compte", "Mi Cuenta": a product name
        if low == "min" and re.search(r"\d\s*$", text[max(0, start - 4):start]):
            continue  # "15 min" is minutes
        if low.startswith("mein") and not _before_noun(text, end):
            continue  # "wie manche meinen," is the verb (to think); the possessive comes before a noun
        if any(s <= start < e for s, e in quoted):
            continue
        out.append(ctx.finding(
            "register.first-person", opts, f"{word!r} speaks as one person; an organisational account speaks as we",
            start, end, "rewrite with we/us/our (or the team's name)",
        ))
    return out


@lru_cache(maxsize=32)
def _informal_words(extra: tuple[str, ...], allow: tuple[str, ...]) -> frozenset[str]:
    return (INFORMAL | {w.lower() for w in extra}) - {a.lower() for a in allow}


def informal(doc: Doc, ctx: Ctx, opts: InformalOptions) -> list[Finding]:
    words = _informal_words(tuple(opts.words), tuple(opts.allow))
    out = []
    if not words.isdisjoint(doc.lower_words):  # exact pre-filter: most texts have no informal word
        for start, end, word in doc.words:
            if word.lower() in words:
                out.append(ctx.finding("register.informal", opts, f"informal: {word!r}", start, end,
                                       f"use a plain, neutral word instead of {word!r}"))
    phrases = [phrase for phrase in opts.words if " " in phrase]
    low = doc.prose.lower() if phrases else ""
    for phrase in phrases:
        for m in re.finditer(r"(?<!\w)" + re.escape(phrase.lower()) + r"(?!\w)", low):
            out.append(ctx.finding("register.informal", opts, f"informal: {doc.text[m.start():m.end()]!r}",
                                   m.start(), m.end(), "use plain, neutral words"))
    return out


RULES: RuleTable = {
    "register.first-person": (first_person, FirstPersonOptions),
    "register.informal": (informal, InformalOptions),
}
