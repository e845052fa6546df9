"""The rule families. Each module exports ``RULES = {rule_id: (function, options model)}``.

A rule is ``function(doc, ctx, opts) -> list[Finding]``; ``opts`` is its validated options model (severity plus
thresholds). Importing this package imports no heavy library: rules import theirs (VADER, lingua, phonenumbers,
better-profanity, twitter-text) on first use, and rules that are off never run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from publisher.models import Finding
from publisher.rules import (
    consistency,
    hashtags,
    language,
    length,
    links,
    media,
    phrases,
    privacy,
    profanity,
    register,
    sentiment,
    style,
)
from publisher.rules.base import Ctx, Doc, RuleOptions, RuleTable

RuleFn = Callable[[Doc, Ctx, Any], list[Finding]]

#: rule id -> (function, options model), in the order findings are reported
REGISTRY: RuleTable = {
    **length.RULES,
    **profanity.RULES,
    **privacy.RULES,
    **links.RULES,
    **style.RULES,
    **sentiment.RULES,
    **register.RULES,
    **language.RULES,
    **hashtags.RULES,
    **phrases.RULES,
    **consistency.RULES,
    **media.RULES,
}

__all__ = ["REGISTRY", "Ctx", "Doc", "RuleOptions", "RuleFn", "RuleTable"]
