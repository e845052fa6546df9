"""``phrases.banned`` and ``phrases.required`` (for example a disclaimer on personal posts about work).

Phrases match case-insensitively on word boundaries. A required element may be conditional: ``when_any`` lists
phrases (the employer's name, its handle) whose presence makes the element required.
"""

from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable


class BannedOptions(RuleOptions):
    phrases: list[str] = Field(default_factory=list)
    #: what to say instead, phrase -> replacement (shown as the suggestion)
    instead: dict[str, str] = Field(default_factory=dict)


class Element(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    #: shown in the finding ("disclaimer")
    name: str
    #: any one of these phrases satisfies the element
    any_of: list[str] = Field(min_length=1)
    #: the element is required only when one of these phrases occurs; empty = always
    when_any: list[str] = Field(default_factory=list)


class RequiredOptions(RuleOptions):
    elements: list[Element] = Field(default_factory=list)


@lru_cache(maxsize=256)
def _phrase(p: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)" + r"\s+".join(re.escape(w) for w in p.split()) + r"(?!\w)", re.IGNORECASE)


#: a percent sign as people write it: "%", "100 %" (French and Norwegian typography), "percent", "per cent" ...
_PERCENT = r"\s*(?:%|\s(?:percent|per\s+cent|prosent|prozent|pour\s*cent|por\s+ciento))"
#: what may stand between two words of a phrase: spaces, a hyphen ("game-changer"), or nothing ("gamechanger")
_GAP = r"[\s\u00a0,\-\u2010\u2011]*"
#: between two words of a phrase of three words or more: a separator and at most one inserted word ("never ever")
_LONG_GAP = r"[\s\u00a0,\-]+(?:\w+[\s\u00a0,]+)?"
_ENDINGS = ("ed", "es", "s", "d", "e")


def _word(w: str) -> str:
    """One phrase word as a pattern: a number with "%" in any spelling, a longer word with its inflections
    ("guaranteed" -> guarantee, guarantees; "changer" -> changers; "happen" -> happens, happened)."""
    m = re.fullmatch(r"(\d+(?:[.,]\d+)?)\s*%", w)
    if m:
        return re.escape(m.group(1)) + _PERCENT
    if len(w) >= 5 and w.isalpha():
        stem = next((w[: -len(e)] for e in _ENDINGS if w.endswith(e) and len(w) - len(e) >= 4), w)
        return re.escape(stem) + r"\w{0,3}"
    return re.escape(w)


@lru_cache(maxsize=256)
def banned_pattern(p: str) -> re.Pattern[str]:
    """A banned phrase as people vary it: spacing, hyphens and "%" spelled out, inflected words, one word inserted
    in a long phrase ("will never ever happen again"), and the two words of a two-word phrase in either order
    ("uptime guaranteed"). Word boundaries at both ends."""
    words = re.sub(r"(\d)\s+%", r"\1%", p.strip()).split()
    body = [_word(w) for w in words]
    if len(words) >= 3:
        alt = _LONG_GAP.join(body)
    else:
        alt = _GAP.join(body)
        if len(words) == 2:
            alt = f"(?:{alt}|{body[1]}{_GAP}{body[0]})"
    return re.compile(r"(?<!\w)" + alt + r"(?!\w)", re.IGNORECASE)


def banned(doc: Doc, ctx: Ctx, opts: BannedOptions) -> list[Finding]:
    out = []
    low = doc.text.lower()
    for phrase in opts.phrases:
        words = phrase.split()
        if not any(w.lower().rstrip("%")[:4] in low for w in words[:2]):
            continue
        for m in banned_pattern(phrase).finditer(doc.text):
            instead = opts.instead.get(phrase)
            out.append(ctx.finding(
                "phrases.banned", opts, f"{m.group(0)!r} is on this profile's banned list", m.start(), m.end(),
                f"say {instead!r} instead" if instead else f"rephrase without {m.group(0)!r}",
            ))
    return sorted(out, key=lambda f: f.start)


def required(doc: Doc, ctx: Ctx, opts: RequiredOptions) -> list[Finding]:
    out = []
    for el in opts.elements:
        trigger = None
        if el.when_any:
            trigger = next((m for p in el.when_any if (m := _phrase(p).search(doc.text))), None)
            if trigger is None:
                continue
        if any(_phrase(p).search(doc.text) for p in el.any_of):
            continue
        start, end = (trigger.start(), trigger.end()) if trigger else (len(doc.text), len(doc.text))
        why = f" because it mentions {trigger.group(0)!r}" if trigger else ""
        out.append(ctx.finding(
            "phrases.required", opts, f"the {el.name} is missing{why}", start, end,
            f"add {el.any_of[0]!r}",
        ))
    return out


RULES: RuleTable = {
    "phrases.banned": (banned, BannedOptions),
    "phrases.required": (required, RequiredOptions),
}
