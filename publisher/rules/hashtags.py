"""Hashtags: ``hashtags.max``, ``hashtags.required`` (a campaign's tags) and ``hashtags.camelcase``.

CamelCase matters for screen readers: "#BlackFriday" is read as two words, "#blackfriday" as noise. The rule flags
a lower-case tag whose CamelCase form is known (a required tag, a tag in ``known``, or the same tag written in
CamelCase elsewhere in the post or its variants), and one that word frequencies show to be several common words of
English or of a language the account declares ("#ruralbroadband", "#digitaltnorge": ``wordsplit``; a tag that is
itself a word, or a compound of a language that writes compounds as one word, is left alone).
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from publisher.models import Finding
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable
from publisher.rules.privacy import account_domains

#: the fewest letters a tag in capitals needs to be split into words: #NOC, #GDPR, #NORDUNET are acronyms
#: ("nordunet" reads as "nord un et" with French declared)
_MIN_CAPS = 10
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
    #: also flag a lower-case tag that word frequencies split into common words ("#ruralbroadband")
    split: bool = True
    #: lower-case tags never to flag (a brand written in lower case)
    allow: list[str] = Field(default_factory=list)

    @field_validator("known", "allow")
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
    allowed = {t.lower() for t in opts.allow}
    out = []
    for start, end, tag in doc.hashtags:
        low = tag.lower()
        camel = known.get(low)
        # a tag in capitals is split too from ``_MIN_CAPS`` letters on (#PRETNUMERIQUE); shorter ones are acronyms
        if camel is None and opts.split and (tag.islower() or (tag.isupper() and len(tag) >= _MIN_CAPS)) \
                and low not in allowed:
            names = own_names(account_domains(doc, ctx))
            if ctx.defer is not None and opts.severity != "block" and _defer(low, tuple(ctx.languages), names):
                ctx.defer.add("hashtags.camelcase")  # the CLI's enqueue path: the worker's check tells
                continue
            camel = _split_camel(low, tuple(ctx.languages), names)
        if camel and camel != tag and (tag.islower() or tag.isupper()):
            out.append(ctx.finding(
                "hashtags.camelcase", opts, f"#{tag} is several words; screen readers cannot tell", start, end,
                f"write #{camel}",
            ))
    return out


def own_names(domains: list[str]) -> tuple[str, ...]:
    """The organisation's own names, from its domains' labels below the top level: brattliconf.eu and
    status.brattli.no give "brattliconf", "status" and "brattli" (a hashtag may run them together with words).
    An account without ``own_domains`` (a personal one) has the domains its post links to, as privacy.email does."""
    return tuple(sorted({label for d in domains for label in d.lower().split(".")[:-1] if len(label) >= 4}))


def _defer(tag: str, languages: tuple[str, ...], names: tuple[str, ...]) -> bool:
    """Whether telling needs the large word lists, too slow and big for a cold process (the NOC's CLI path)."""
    from publisher.rules import wordsplit

    return wordsplit.candidate(tag, languages, names) is not None


def _split_camel(tag: str, languages: tuple[str, ...], names: tuple[str, ...] = ()) -> str | None:
    """The CamelCase form of a lower-case tag that runs common words together, else None."""
    from publisher.rules import wordsplit

    parts = wordsplit.split(tag, languages, names)
    if parts is None:
        return None
    # the folded tag's letters, each with the tag's own letters it came from ("ß" folds to "ss": two letters)
    spans = [(k, k + 1) for k, c in enumerate(tag) for _ in wordsplit.fold(c)]
    cuts = [sum(len(p) for p in parts[:k]) for k in range(1, len(parts))]
    if len(spans) != len(wordsplit.fold(tag)) or any(spans[c - 1] == spans[c] for c in cuts):
        return "".join(p.capitalize() for p in parts)  # the parts do not map onto the tag's letters
    out, i = [], 0
    for p in parts:
        start, end = spans[i][0], spans[i + len(p) - 1][1]
        out.append(tag[start:end].capitalize())
        i += len(p)
    return "".join(out)


RULES: RuleTable = {
    "hashtags.max": (max_tags, MaxOptions),
    "hashtags.required": (required, RequiredOptions),
    "hashtags.camelcase": (camelcase, CamelCaseOptions),
}
