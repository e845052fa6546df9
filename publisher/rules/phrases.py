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


def banned(doc: Doc, ctx: Ctx, opts: BannedOptions) -> list[Finding]:
    out = []
    low = doc.text.lower()
    for phrase in opts.phrases:
        if phrase.split()[0].lower() not in low:
            continue
        for m in _phrase(phrase).finditer(doc.text):
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
