"""``sentiment``: the VADER compound score stays within bounds.

VADER is an English model (in German "die" is an article, for VADER a strong negative), so the rule only speaks
about English text. The analyser is built once per process, on first use. Per-kind exceptions live in the profile:
the built-in profiles turn the lower bound off for incident tickets, which may report bad news.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from pydantic import Field, model_validator

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable, Severity, quotations, quote
from publisher.rules.language import text_language

_CRITICISE = "criticise the problem, not the people: say what is wrong and what you need"


class SentimentOptions(RuleOptions):
    #: insults aimed at someone, in English and every language the account declares (``publisher.rules.hostility``);
    #: the severity of those findings (None: the rule's severity; off: not looked for). Independent of ``min``:
    #: tickets turn the VADER bound off, never this.
    hostility: Severity | None = None
    #: ask a linear model over the post's words about hostility the lexicon does not know (contempt, sarcasm; every
    #: language the labelled sets hold): a few hundredths of a millisecond a post (``publisher.rules.hostility_words``)
    words: bool = True
    #: instead of the word model alone, average its probability with a small multilingual model's: 55-110 ms of
    #: CPU a post it scores (only posts the word model lets reach the threshold: about one in five), run only by
    #: the worker's pre-publish check and ``publisher check``
    #: (``publisher.rules.hostility_model``; needs ``pip install 'publisher[model]'``)
    model: bool = False
    #: lowest acceptable compound score (-1..1); None = no lower bound
    min: float | None = Field(default=-0.5, ge=-1, le=1)
    #: highest acceptable compound score; None = no upper bound (set e.g. 0.95 to catch hype)
    max: float | None = Field(default=None, ge=-1, le=1)

    @model_validator(mode="after")
    def _ordered(self) -> SentimentOptions:
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError("min must be lower than max")
        return self


@lru_cache(maxsize=1)
def analyser() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


@lru_cache(maxsize=1)
def _negative_triggers() -> frozenset[str]:
    """Every token that can make a VADER sum negative: negative lexicon entries, negations, dampening boosters,
    and the idioms that turn a positive word negative ("yeah right", "kiss of death", "least")."""
    from vaderSentiment import vaderSentiment as v

    words = {w for w, val in analyser().lexicon.items() if val < 0}
    words |= {w.lower() for w in v.NEGATE} | {w for w, scale in v.BOOSTER_DICT.items() if scale < 0}
    return frozenset(words | {"least", "yeah", "kiss"})


def could_be_negative(doc: Doc) -> bool:
    """False only when VADER's compound score is provably >= 0 (then VADER need not run for a lower bound)."""
    text = doc.prose
    if not text.isascii():
        emojis = analyser().emojis
        if any(c in emojis for c in text if ord(c) > 127):
            return True
    low = text.lower()
    if "n't" in low or "n\u2019t" in low:
        return True
    triggers = _negative_triggers()
    return not triggers.isdisjoint(low.split()) or not triggers.isdisjoint(doc.lower_words)


def polarity(text: str) -> float:
    """VADER's compound score for ``text``, exactly as ``polarity_scores`` computes it (``publisher.rules.vader``:
    the same steps with each word lower-cased once; ``tests/test_tone_rules.py`` checks equality)."""
    from publisher.rules import vader

    return vader.compound(analyser(), text)


def compound(doc: Doc) -> float:
    if "sentiment" not in doc.cache:
        doc.cache["sentiment"] = polarity(doc.prose)
    return float(doc.cache["sentiment"])


def _charged_words(doc: Doc, sign: int) -> list[tuple[int, int, str]]:
    lexicon = analyser().lexicon
    return [w for w in doc.words if sign * lexicon.get(w[2].lower(), 0.0) > 0]


def hostile(doc: Doc, ctx: Ctx, opts: SentimentOptions) -> list[Finding]:
    severity = opts.hostility or opts.severity
    if severity == "off":
        return []
    from publisher.rules import hostility

    found = [h for h in hostility.find(doc.prose, ctx.languages, doc.lower_words) if not _quoted(doc.prose, h[0], h[1])]
    if not found:
        if opts.model:
            return _by_model(doc, ctx, opts, severity)
        return _by_words(doc, ctx, opts, severity) if opts.words else []
    start, end = found[0][0], found[-1][1]
    listed = ", ".join(repr(q) for _, _, q in found[:3])
    return [ctx.finding("sentiment", opts, f"hostile: {listed}", start, end, _CRITICISE, severity=severity)]


def _quoted(text: str, start: int, end: int) -> bool:
    """The span lies inside a quotation (``base.quotations``): someone else's words the post reports ('A customer
    called our night shift "useless idiots". That was unfair.'), not the writer's own."""
    return any(s < start and end < e for s, e in quotations(text))


def _by_words(doc: Doc, ctx: Ctx, opts: SentimentOptions, severity: Severity) -> list[Finding]:
    from publisher.rules import hostility_words

    if len(doc.words) < hostility_words.MIN_WORDS:
        return []
    p = hostility_words.score(doc.text)
    if p < hostility_words.threshold(ctx.account.kind):
        return []
    return [_whole_text(doc, ctx, opts, severity, f"hostile (the word model: {p:.0%})")]


def _by_model(doc: Doc, ctx: Ctx, opts: SentimentOptions, severity: Severity) -> list[Finding]:
    """The mean of the multilingual model's and the word model's probabilities (better than either alone when
    each organisation's set is held out in turn: ``benchmarks/hostility_model.py``)."""
    from publisher.rules import hostility_model, hostility_words

    if not ctx.model:
        if ctx.defer is not None:
            ctx.defer.add("sentiment.model")
        return []  # left to the worker's check (tone.tone_key stores no key for such a profile)
    hostility_model.engine_class()  # a missing dependency is told by every check that asks for the model
    if len(doc.words) < hostility_words.MIN_WORDS:
        return []
    words = hostility_words.score(doc.text)
    if not hostility_model.reachable(words, ctx.account.kind):
        return []  # exact: the mean could not reach the threshold whatever the model said
    p = (hostility_model.score(doc.text) + words) / 2
    if p < hostility_model.threshold(ctx.account.kind):
        return []
    return [_whole_text(doc, ctx, opts, severity, f"hostile (the multilingual and the word model: {p:.0%})")]


def _whole_text(doc: Doc, ctx: Ctx, opts: SentimentOptions, severity: Severity, message: str) -> Finding:
    """A model's finding: it judges the post as a whole, so it points at all of its words."""
    return ctx.finding("sentiment", opts, message, doc.words[0][0], doc.words[-1][1], _CRITICISE, severity=severity)


def sentiment(doc: Doc, ctx: Ctx, opts: SentimentOptions) -> list[Finding]:
    found = hostile(doc, ctx, opts)
    if found:
        return found
    if opts.min is None and opts.max is None:
        return []
    if opts.max is None and not could_be_negative(doc):
        return []  # exact shortcut: without a negative token the compound score cannot be below 0
    if text_language(doc, ctx) != "en":
        return []  # asked second: detecting the language (lingua) costs more than looking for negative tokens
    score = compound(doc)
    if opts.min is not None and score < opts.min:
        words = _charged_words(doc, -1) or doc.words
        start, end = words[0][0], words[-1][1]
        listed = ", ".join(repr(w) for _, _, w in words[:5])
        return [ctx.finding(
            "sentiment", opts, f"reads as negative (VADER compound {score:.2f}, lowest allowed {opts.min:.2f})",
            start, end, f"state the facts without the charged words ({listed}): what happened, impact, next step",
        )]
    if opts.max is not None and score > opts.max:
        words = _charged_words(doc, 1) or doc.words
        start, end = words[0][0], words[-1][1]
        return [ctx.finding(
            "sentiment", opts, f"reads as hype (VADER compound {score:.2f}, highest allowed {opts.max:.2f})",
            start, end, f"tone down {quote(doc.text, start, end)!r}: fewer superlatives, more specifics",
        )]
    return []


RULES: RuleTable = {"sentiment": (sentiment, SentimentOptions)}
