"""Tone profiles: the built-in ``organisation`` and ``personal`` profiles, custom profiles from the ``profiles:``
section of the configuration, per-account overrides (``options.tone``) and per-post overrides.

A profile maps rule ids to settings: ``severity`` (block | warn | info | off), the rule's thresholds, and ``kinds``,
per-post-kind exceptions that override any of them::

    profiles:
      noc:
        extends: organisation          # default: the built-in of the same name, else nothing (every rule off)
        rules:
          privacy.email: {allow: ["noc@example.no"]}
          exclamation: {max: 0, kinds: {campaign: {max: 1}}}
          sentiment: warn              # shorthand for {severity: warn}

Layers merge key by key, later wins: built-in -> extends chain -> profile -> account ``options.tone.rules`` -> the
post's overrides -> the post kind's exception. Lists are replaced, not appended. Everything is validated when
loaded; an error names the key and the fix.
"""

from __future__ import annotations

import difflib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from publisher.errors import ConfigError
from publisher.models import PostKind
from publisher.rules import REGISTRY, RuleFn, RuleOptions
from publisher.settings import AccountConfig

Raw = dict[str, Any]
_KINDS = [k.value for k in PostKind]

_CALM_TICKET = {"ticket": {"severity": "block", "max": 0}}

BUILTIN: dict[str, Raw] = {
    "organisation": {
        "description": "organisational accounts: speak as we, calm, no private data, strict links",
        "rules": {
            "length": {"severity": "block"},
            "profanity": {"severity": "block"},
            "privacy.email": {"severity": "block"},
            "privacy.phone": {"severity": "block"},
            "privacy.pattern": {"severity": "block"},
            "links.required": {"severity": "off", "kinds": {"blog": {"severity": "block"}}},
            "links.https": {"severity": "block"},
            "links.shortener": {"severity": "block"},
            "links.max": {"severity": "warn", "max": 2},
            "shouting": {"severity": "warn", "kinds": {"ticket": {"severity": "block"}}},
            "exclamation": {"severity": "warn", "max": 1, "kinds": _CALM_TICKET},
            "emoji": {"severity": "warn", "max_count": 3, "kinds": {"ticket": {"max_count": 1}}},
            "sentiment": {"severity": "warn", "min": -0.85, "hostility": "block", "kinds": {"ticket": {"min": None}}},
            "register.first-person": {"severity": "warn"},
            "register.informal": {"severity": "warn"},
            "language": {"severity": "warn"},
            "hashtags.max": {"severity": "warn", "max": 3},
            "hashtags.required": {"severity": "block"},
            "hashtags.camelcase": {"severity": "warn"},
            "phrases.banned": {"severity": "block",
                               "claims": ["guarantee", "full-availability", "never-again", "zero-risk",
                                          "market-superlative"]},
            "phrases.required": {"severity": "block"},
            "consistency": {"severity": "block"},
            "media.alt": {"severity": "block"},
        },
    },
    "personal": {
        "description": "personal accounts: the owner's voice; privacy and links still matter",
        "rules": {
            "length": {"severity": "block"},
            "profanity": {"severity": "warn"},
            "privacy.email": {"severity": "warn"},
            "privacy.phone": {"severity": "warn"},
            "privacy.pattern": {"severity": "block"},
            "links.required": {"severity": "off", "kinds": {"blog": {"severity": "block"}}},
            "links.https": {"severity": "warn"},
            "links.shortener": {"severity": "warn"},
            "links.max": {"severity": "info", "max": 4},
            "shouting": {"severity": "info", "kinds": {"ticket": {"severity": "block"}}},
            "exclamation": {"severity": "info", "max": 3, "kinds": _CALM_TICKET},
            "emoji": {"severity": "info", "max_count": 8, "max_ratio": 0.5},
            "sentiment": {"severity": "info", "min": -0.9, "hostility": "warn", "kinds": {"ticket": {"min": None}}},
            "register.first-person": {"severity": "off"},
            "register.informal": {"severity": "off"},
            "language": {"severity": "info"},
            "hashtags.max": {"severity": "info", "max": 5},
            "hashtags.required": {"severity": "warn"},
            "hashtags.camelcase": {"severity": "info"},
            "phrases.banned": {"severity": "block"},
            "phrases.required": {"severity": "warn"},
            "consistency": {"severity": "warn"},
            "media.alt": {"severity": "warn"},
        },
    },
}

Active = tuple[tuple[str, RuleFn, RuleOptions], ...]


@dataclass(frozen=True)
class Profile:
    """A validated profile: for every post kind, the active rules with their options."""

    name: str
    description: str
    #: rule id -> merged settings (without ``kinds``)
    settings: Mapping[str, Raw]
    #: rule id -> kind -> exception settings
    exceptions: Mapping[str, Mapping[str, Raw]]
    #: kind -> rule id -> options (every rule, including those that are off)
    options: Mapping[PostKind, Mapping[str, RuleOptions]]
    #: kind -> the rules that run
    active: Mapping[PostKind, Active]

    def with_rules(self, rules: Mapping[str, Any], where: str) -> Profile:
        """This profile with another layer of rule settings on top (account or post overrides)."""
        settings, exceptions = _merge(self.settings, self.exceptions, rules, where)
        return _build(self.name, self.description, settings, exceptions, where)

    def severity(self, rule: str, kind: PostKind = PostKind.NOTE) -> str:
        return self.options[kind][rule].severity


def _explain(e: ValidationError, where: str) -> ConfigError:
    first = e.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    key = f"{where}.{loc}" if loc else where
    extra = ""
    if first["type"] == "extra_forbidden":
        extra = " (not an option of this rule; see `publisher check --help` for the options)"
    return ConfigError(f"{key}: {msg}{extra}", hint="fix this key; `publisher config check` validates the whole file")


def _normalise(rule: str, value: Any, where: str) -> Raw:
    if value is None:
        return {}
    if value is False:  # YAML reads a bare `off` as false
        return {"severity": "off"}
    if value is True:
        raise ConfigError(f"{where}: YAML read this as true; write a severity",
                          hint="use block, warn, info or off (a bare on/yes means true in YAML)")
    if isinstance(value, str):
        return {"severity": value}
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: expected a mapping of options or a severity, got {type(value).__name__}",
                          hint="write e.g. `shouting: {severity: block, max_ratio: 0.5}` or `shouting: warn`")
    return dict(value)


def _merge(settings: Mapping[str, Raw], exceptions: Mapping[str, Mapping[str, Raw]], rules: Mapping[str, Any],
           where: str) -> tuple[dict[str, Raw], dict[str, dict[str, Raw]]]:
    if not isinstance(rules, Mapping):
        raise ConfigError(f"{where}: expected a mapping of rule id -> settings",
                          hint="write e.g. `rules: {exclamation: {max: 0}}`")
    out_s = {k: dict(v) for k, v in settings.items()}
    out_e = {k: {kk: dict(vv) for kk, vv in v.items()} for k, v in exceptions.items()}
    for rule, value in rules.items():
        key = f"{where}.{rule}"
        if rule not in REGISTRY:
            close = difflib.get_close_matches(str(rule), REGISTRY, n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"known rules: {', '.join(REGISTRY)}"
            raise ConfigError(f"{key}: unknown tone rule {rule!r}", hint=hint)
        raw = _normalise(rule, value, key)
        kinds = raw.pop("kinds", None) or {}
        if not isinstance(kinds, Mapping):
            raise ConfigError(f"{key}.kinds: expected a mapping of post kind -> settings",
                              hint="write e.g. `kinds: {ticket: {severity: block}}`")
        out_s.setdefault(rule, {}).update(raw)
        for kind, exc in kinds.items():
            if kind not in _KINDS:
                raise ConfigError(f"{key}.kinds.{kind}: unknown post kind {kind!r}",
                                  hint=f"use one of {', '.join(_KINDS)}")
            out_e.setdefault(rule, {}).setdefault(kind, {}).update(_normalise(rule, exc, f"{key}.kinds.{kind}"))
    return out_s, out_e


def _build(name: str, description: str, settings: Mapping[str, Raw], exceptions: Mapping[str, Mapping[str, Raw]],
           where: str) -> Profile:
    options: dict[PostKind, dict[str, RuleOptions]] = {}
    active: dict[PostKind, Active] = {}
    base: dict[str, RuleOptions] = {}
    for rule, (_, model) in REGISTRY.items():
        try:
            base[rule] = model.model_validate(settings.get(rule, {}))
        except ValidationError as e:
            raise _explain(e, f"{where}.{rule}") from None
    for kind in PostKind:
        per_kind = dict(base)
        for rule, by_kind in exceptions.items():
            if kind.value in by_kind:
                merged = {**settings.get(rule, {}), **by_kind[kind.value]}
                try:
                    per_kind[rule] = REGISTRY[rule][1].model_validate(merged)
                except ValidationError as e:
                    raise _explain(e, f"{where}.{rule}.kinds.{kind.value}") from None
        options[kind] = per_kind
        active[kind] = tuple((r, REGISTRY[r][0], o) for r, o in per_kind.items() if o.severity != "off")
    return Profile(name, description, settings, exceptions, options, active)


def _from_layers(name: str, layers: list[tuple[Mapping[str, Any], str]], description: str) -> Profile:
    settings: dict[str, Raw] = {}
    exceptions: dict[str, dict[str, Raw]] = {}
    for rules, where in layers:
        settings, exceptions = _merge(settings, exceptions, rules, where)
    return _build(name, description, settings, exceptions, layers[-1][1] if layers else f"profiles.{name}")


def _raw_profile(name: str, raw: Any) -> Raw:
    where = f"profiles.{name}"
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping with 'rules:' (and optionally 'extends:')",
                          hint="see config/publisher.example.yaml for a tone profile")
    unknown = set(raw) - {"extends", "description", "rules"}
    if unknown:
        raise ConfigError(f"{where}.{sorted(unknown)[0]}: unknown key",
                          hint="a profile has 'extends', 'description' and 'rules'; rules go under 'rules:'")
    if raw.get("extends") is not None and not isinstance(raw.get("extends"), str):
        raise ConfigError(f"{where}.extends: expected a profile name", hint="for example `extends: organisation`")
    return dict(raw)


def load_profiles(raw: Mapping[str, Any] | None) -> dict[str, Profile]:
    """Validate the ``profiles:`` section and return every profile by name (the built-ins included).

    Raises ConfigError naming the bad key and the fix.
    """
    raw = raw or {}
    if not isinstance(raw, Mapping):
        raise ConfigError("profiles: expected a mapping of profile name -> profile",
                          hint="write e.g. `profiles: {noc: {extends: organisation, rules: {...}}}`")
    custom = {str(n): _raw_profile(str(n), p) for n, p in raw.items()}

    def chain(name: str, seen: tuple[str, ...]) -> list[tuple[Mapping[str, Any], str]]:
        if name in seen:
            raise ConfigError(f"profiles.{name}.extends: profiles extend each other in a circle "
                              f"({' -> '.join([*seen, name])})", hint="make one of them extend a built-in profile")
        if name not in custom:
            if name in BUILTIN:
                return [(BUILTIN[name]["rules"], f"builtin.{name}.rules")]
            raise ConfigError(f"profiles.{seen[-1]}.extends: no profile named {name!r}",
                              hint=f"use one of: {', '.join(sorted({*BUILTIN, *custom}))}")
        prof = custom[name]
        parent = prof.get("extends") or (name if name in BUILTIN else None)
        layers = []
        if parent == name:
            layers = [(BUILTIN[name]["rules"], f"builtin.{name}.rules")]
        elif parent:
            layers = chain(parent, (*seen, name))
        return [*layers, (prof.get("rules") or {}, f"profiles.{name}.rules")]

    out = {name: _builtin(name) for name in BUILTIN}
    for name, prof in custom.items():
        desc = str(prof.get("description") or "")
        out[name] = _from_layers(name, chain(name, ()), desc)
    return out


_BUILTIN_CACHE: dict[str, Profile] = {}


def _builtin(name: str) -> Profile:
    if name not in _BUILTIN_CACHE:
        spec = BUILTIN[name]
        _BUILTIN_CACHE[name] = _from_layers(name, [(spec["rules"], f"builtin.{name}.rules")], spec["description"])
    return _BUILTIN_CACHE[name]


# -- per-process caches keyed by object identity (settings are loaded once and not mutated) --

_LOADED: OrderedDict[int, tuple[Any, dict[str, Profile]]] = OrderedDict()
_ACCOUNT: OrderedDict[tuple[int, int], tuple[Any, Any, Profile]] = OrderedDict()
_MAX = 64


def loaded(profiles: Mapping[str, Any] | None) -> dict[str, Profile]:
    """``profiles`` validated (cached per mapping object); accepts the output of ``load_profiles`` too."""
    if not profiles:
        return {name: _builtin(name) for name in BUILTIN}
    if all(isinstance(v, Profile) for v in profiles.values()):
        return {**{n: _builtin(n) for n in BUILTIN}, **dict(profiles)}
    hit = _LOADED.get(id(profiles))
    if hit is not None and hit[0] is profiles:
        return hit[1]
    result = load_profiles(profiles)
    _LOADED[id(profiles)] = (profiles, result)
    while len(_LOADED) > _MAX:
        _LOADED.popitem(last=False)
    return result


def profile_for(account: AccountConfig, profiles: Mapping[str, Any] | None = None) -> Profile:
    """The profile ``account`` publishes under: its named profile (default: the one matching its kind) with the
    account's ``options.tone`` overrides on top."""
    key = (id(profiles), id(account))
    hit = _ACCOUNT.get(key)
    if hit is not None and hit[0] is profiles and hit[1] is account:
        return hit[2]
    available = loaded(profiles)
    name = account.profile_name
    if name not in available:
        raise ConfigError(
            f"accounts.{account.name or '?'}.profile: no tone profile named {name!r}",
            hint=f"define it under profiles: or use one of: {', '.join(sorted(available))}",
        )
    prof = available[name]
    tone = account.options.get("tone") if isinstance(account.options, Mapping) else None
    if tone:
        where = f"accounts.{account.name or '?'}.options.tone"
        if not isinstance(tone, Mapping) or set(tone) - {"rules"}:
            raise ConfigError(f"{where}: expected `rules:` only",
                              hint="write e.g. `options: {tone: {rules: {privacy.email: {allow: [...]}}}}`")
        prof = prof.with_rules(tone.get("rules") or {}, f"{where}.rules")
    _ACCOUNT[key] = (profiles, account, prof)
    while len(_ACCOUNT) > _MAX:
        _ACCOUNT.popitem(last=False)
    return prof
