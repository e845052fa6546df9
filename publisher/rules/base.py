"""What every rule shares: the options base model, the analysed text (``Doc``) and the check context (``Ctx``).

A rule is a small function ``rule(doc, ctx, opts) -> list[Finding]``. ``Doc`` computes what several rules need
(URLs, e-mail addresses, hashtags, words, a masked copy of the text) once and only when a rule asks for it; offsets
are always Python string indices into the checked text, so a finding's span can be quoted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

from publisher.models import Finding, PostKind
from publisher.settings import AccountConfig

Severity = Literal["block", "warn", "info", "off"]

_URL = re.compile(r"\bhttps?://[^\s<>\"'\u00bb\u201d]+[^\s<>\"'.,;:!?)\]\u00bb\u201d]", re.IGNORECASE)
#: scheme-less links such as bit.ly/3xYz or www.example.com/jobs (only used to spot shorteners and plain www links)
_BARE_LINK = re.compile(
    r"(?<![\w@/.:-])(?:www\.)?(?:[a-z0-9-]+\.)+[a-z]{2,}(?:/[^\s<>\"']*[^\s<>\"'.,;:!?)\]])",
    re.IGNORECASE,
)
_EMAIL = re.compile(r"(?<![\w@.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b")
_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?")
_HASHTAG = re.compile(r"(?<![\w#&/])#(\w*[^\W\d_]\w*)")
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)*")
#: the same pattern for ASCII text, where \w, \W and \d mean the same in both modes (faster: no Unicode lookups)
_WORD_ASCII = re.compile(_WORD.pattern, re.ASCII)


class RuleOptions(BaseModel):
    """Options every rule has. Subclasses add thresholds; unknown keys are errors (typos must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    severity: Severity = "off"

    @field_validator("severity", mode="before")
    @classmethod
    def _yaml_off(cls, v: object) -> object:
        return "off" if v is False else v  # YAML reads a bare `off` as false


#: rule id -> (rule function, options model); every rule module exports one as RULES
RuleTable = dict[str, tuple[Callable[..., list[Finding]], type[RuleOptions]]]


@dataclass
class Ctx:
    """Who publishes where: the account, the channel, the post kind and the other channels' variants."""

    account: AccountConfig
    channel: str
    kind: PostKind
    variants: Mapping[str, str] = field(default_factory=dict)
    #: every active rule's options for this check (rules may read a sibling's, e.g. consistency reads required tags)
    options: Mapping[str, RuleOptions] = field(default_factory=dict)
    #: the payload's image references (sha256, alt, ...), empty for a text-only post (rules.media)
    media: tuple[Mapping[str, Any], ...] = ()
    #: None, or (on the CLI's enqueue path) the set the slow detections left to the worker are added to
    defer: set[str] | None = None
    #: the language the post declares (``--lang``): rules take it instead of detecting one
    lang: str | None = None
    #: the check may run slow models (``sentiment.model``): the worker's pre-publish check, ``publisher check``
    model: bool = False

    @property
    def languages(self) -> list[str]:
        """The languages this text may be in: the post's declared one, else the account's."""
        return [self.lang] if self.lang else list(self.account.languages)

    def finding(
        self,
        rule: str,
        opts: RuleOptions,
        message: str,
        start: int = 0,
        end: int = 0,
        suggestion: str = "",
        severity: str | None = None,
    ) -> Finding:
        return Finding(
            rule=rule,
            severity=severity or opts.severity,
            message=message,
            start=start,
            end=end,
            suggestion=suggestion,
            channel=self.channel,
        )


class Doc:
    """The checked text and what rules derive from it, each computed at most once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.cache: dict[Any, Any] = {}

    @cached_property
    def urls(self) -> list[tuple[int, int, str]]:
        if "://" not in self.text:
            return []
        return [(m.start(), m.end(), m.group(0)) for m in _URL.finditer(self.text)]

    @cached_property
    def bare_links(self) -> list[tuple[int, int, str]]:
        """Scheme-less links (``bit.ly/x``) that do not lie inside an http(s) URL."""
        if "/" not in self.text:
            return []
        taken = self.urls
        out = []
        for m in _BARE_LINK.finditer(self.text):
            if not any(s <= m.start() < e for s, e, _ in taken):
                out.append((m.start(), m.end(), m.group(0)))
        return out

    @cached_property
    def emails(self) -> list[tuple[int, int, str]]:
        if "@" not in self.text:
            return []
        return [(m.start(), m.end(), m.group(0)) for m in _EMAIL.finditer(self.text) if not self._in_url(m.start())]

    @cached_property
    def mentions(self) -> list[tuple[int, int, str]]:
        if "@" not in self.text:
            return []
        return [(m.start(), m.end(), m.group(0)) for m in _MENTION.finditer(self.text)]

    @cached_property
    def hashtags(self) -> list[tuple[int, int, str]]:
        """(start, end, tag without '#') for every hashtag outside URLs."""
        if "#" not in self.text:
            return []
        return [(m.start(), m.end(), m.group(1)) for m in _HASHTAG.finditer(self.text) if not self._in_url(m.start())]

    @cached_property
    def prose(self) -> str:
        """The text with URLs, links, e-mail addresses, mentions and hashtags blanked out (same length)."""
        spans = [*self.urls, *self.bare_links, *self.emails, *self.mentions, *self.hashtags]
        if not spans:
            return self.text
        chars = list(self.text)
        for start, end, _ in spans:
            chars[start:end] = " " * (end - start)
        return "".join(chars)

    @cached_property
    def words(self) -> list[tuple[int, int, str]]:
        """(start, end, word) for every run of letters in ``prose``."""
        prose = self.prose
        pattern = _WORD_ASCII if prose.isascii() else _WORD
        return [(m.start(), m.end(), m.group(0)) for m in pattern.finditer(prose)]

    @cached_property
    def lower_words(self) -> frozenset[str]:
        """Every word of ``words``, lower-cased (for exact "no word is one of ..." pre-filters)."""
        return frozenset([w.lower() for _, _, w in self.words])

    @cached_property
    def letter_count(self) -> int:
        return sum(e - s for s, e, _ in self.words)

    def _in_url(self, pos: int) -> bool:
        return any(s <= pos < e for s, e, _ in self.urls)


#: a quotation, someone else's words the post reports: straight double quotes, English and German curly quotes,
#: guillemets either way round and single guillemets, and single quotes (straight or curly) that open after a space
#: or a bracket and close before one or a punctuation mark, so an apostrophe ("don't", "customers'") neither opens
#: nor closes one ("The passenger wrote 'you left me standing in the rain'. We were wrong.")
_QUOTATION = re.compile(
    r'"[^"\n]{1,300}"|\u201c[^\u201d\n]{1,300}\u201d|\u201e[^\u201c\u201d\n]{1,300}[\u201c\u201d]'
    r"|\u00ab[^\u00bb\n]{1,300}\u00bb|\u00bb[^\u00ab\n]{1,300}\u00ab|\u2039[^\u203a\n]{1,300}\u203a"
    r"|(?<![^\s(\[:\u2014\u2013])'(?=[^\s'])(?:[^'\n]|(?<=\w)'(?=\w)){0,300}?(?<=[^\s'])'"
    r"(?![^\s.,;:!?)\]\u2014\u2013])"
    r"|(?<![^\s(\[:\u2014\u2013])\u2018(?=\S)(?:[^\u2019\n]|(?<=\w)\u2019(?=\w)){1,300}?\u2019(?!\w)"
)
_QUOTE_MARKS = "\"'\u201c\u201e\u00ab\u00bb\u2039\u2018"


@lru_cache(maxsize=256)
def quotations(text: str) -> tuple[tuple[int, int], ...]:
    """The (start, end) of every quotation in ``text`` (``_QUOTATION``). Remembered: the first-person check asks
    once a text, the hostility lexicon once for each word it finds."""
    if not any(q in text for q in _QUOTE_MARKS):
        return ()
    return tuple(m.span() for m in _QUOTATION.finditer(text))


def quote(text: str, start: int, end: int, width: int = 60) -> str:
    """The span as a short quotable string."""
    span = text[start:end]
    return span if len(span) <= width else span[: width - 1] + "\u2026"
