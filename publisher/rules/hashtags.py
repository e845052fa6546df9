"""Hashtags: ``hashtags.max``, ``hashtags.required`` (a campaign's tags) and ``hashtags.camelcase``.

CamelCase matters for screen readers: "#BlackFriday" is read as two words, "#blackfriday" as noise. Telling whether
a lower-case tag is several words needs a dictionary, so the rule flags a tag whose CamelCase form is known: a
required tag, a tag in ``known``, or the same tag written in CamelCase elsewhere in the post or its variants.
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable

_CAMEL = re.compile(r"[a-z\u00e0-\u00ff][A-Z\u00c0-\u00de]|[A-Z\u00c0-\u00de]{2}[a-z]")
_TAG = re.compile(r"(?<![\w#&/])#(\w*[^\W\d_]\w*)")


def _strip(tags: list[str]) -> list[str]:
    return [t.lstrip("#") for t in tags if t.strip("# ")]


class MaxOptions(RuleOptions):
    max: int = Field(default=3, ge=0)


class RequiredOptions(RuleOptions):
    #: tags every post must carry, with or without '#'
    tags: list[str] = Field(default_factory=list)

    @field_validator("tags")
    @classmethod
    def _norm(cls, v: list[str]) -> list[str]:
        return _strip(v)


class CamelCaseOptions(RuleOptions):
    #: multi-word tags in their CamelCase form (#BlackFriday); lower-case uses of them are flagged
    known: list[str] = Field(default_factory=list)

    @field_validator("known")
    @classmethod
    def _norm(cls, v: list[str]) -> list[str]:
        return _strip(v)


def max_tags(doc: Doc, ctx: Ctx, opts: MaxOptions) -> list[Finding]:
    tags = doc.hashtags
    if len(tags) <= opts.max:
        return []
    start, end = tags[opts.max][0], tags[-1][1]
    return [ctx.finding(
        "hashtags.max", opts, f"{len(tags)} hashtags (at most {opts.max})", start, end,
        f"keep the {opts.max} that people actually follow; drop the quoted ones",
    )]


def required(doc: Doc, ctx: Ctx, opts: RequiredOptions) -> list[Finding]:
    if not opts.tags:
        return []
    present = {t.lower() for _, _, t in doc.hashtags}
    out = []
    for tag in opts.tags:
        if tag.lower() not in present:
            out.append(ctx.finding(
                "hashtags.required", opts, f"required hashtag #{tag} is missing", len(doc.text), len(doc.text),
                f"add #{tag} (this account's campaign tag)",
            ))
    return out


def camelcase(doc: Doc, ctx: Ctx, opts: CamelCaseOptions) -> list[Finding]:
    if not doc.hashtags:
        return []
    known = {t.lower(): t for t in opts.known if _CAMEL.search(t)}
    req = ctx.options.get("hashtags.required")
    if isinstance(req, RequiredOptions):
        known.update({t.lower(): t for t in req.tags if _CAMEL.search(t)})
    for text in (doc.text, *ctx.variants.values()):
        for m in _TAG.finditer(text):
            if _CAMEL.search(m.group(1)):
                known.setdefault(m.group(1).lower(), m.group(1))
    out = []
    for start, end, tag in doc.hashtags:
        camel = known.get(tag.lower())
        if camel and camel != tag and (tag.islower() or tag.isupper()):
            out.append(ctx.finding(
                "hashtags.camelcase", opts, f"#{tag} is several words; screen readers cannot tell", start, end,
                f"write #{camel}",
            ))
    return out


RULES: RuleTable = {
    "hashtags.max": (max_tags, MaxOptions),
    "hashtags.required": (required, RequiredOptions),
    "hashtags.camelcase": (camelcase, CamelCaseOptions),
}
