"""Tone and policy checks: the hook the spine calls at enqueue and again just before publishing.

The contract (stable; the rule set behind it grows):

``check(text, account, *, channel, kind, profiles, variants=None, overrides=None) -> list[Finding]``
    All findings for one rendered text on one channel. Pure: no I/O, no network.
``blocking(findings, allowed) -> list[Finding]``
    The findings that refuse the post, after the per-post overrides (rule ids) in ``allowed``.
``load_profiles(raw) -> dict[str, Profile]``
    Validates the configuration's ``profiles:`` section; raises ConfigError naming the key and the fix.
``profile_for(account, profiles) -> Profile``
    The account's profile (named, or the built-in matching its kind) with its ``options.tone`` overrides.
``check_delivery(store, delivery, account, kind, settings) -> list[Finding]``
    The pre-publish check of one stored delivery: its exact payload, under the tone configuration as the config
    file says *now* (a long-running worker re-reads it when it changed), with the other accounts' payloads of the
    same post as variants (so the consistency rule runs before publishing too).
``unchanged_since_enqueue(store, delivery, account, kind, settings) -> bool``
    True when nothing the check depends on changed since the payload passed at enqueue (``tone_key``), so the
    pre-publish check can be skipped with the same result.

Rules live in ``publisher.rules`` (one module per family), profiles in ``publisher.tone_profiles``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from publisher.errors import ConfigError, NotPermitted
from publisher.models import Finding, PostKind
from publisher.ops import metrics
from publisher.rules import REGISTRY, Ctx, Doc
from publisher.settings import AccountConfig, Settings
from publisher.tone_profiles import BUILTIN, Profile, load_profiles, profile_for

__all__ = ["BUILTIN", "REGISTRY", "Profile", "blocking", "check", "check_delivery", "consistency_variants",
           "current_config", "tone_key", "unchanged_since_enqueue",
           "load_profiles", "profile_for", "rule_ids", "variants_of"]

log = logging.getLogger("publisher.tone")

SEVERITY_ORDER = {"block": 0, "warn": 1, "info": 2}
#: rules whose verdict depends on the detected language
_NEEDS_LANGUAGE = ("language", "sentiment", "register.first-person", "register.informal")


def check(
    text: str,
    account: AccountConfig,
    *,
    channel: str | None = None,
    kind: PostKind | str = PostKind.NOTE,
    profiles: Mapping[str, Any] | None = None,
    variants: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    media: Sequence[Mapping[str, Any]] | None = None,
    defer: set[str] | None = None,
    lang: str | None = None,
    model: bool = False,
) -> list[Finding]:
    """Return every finding for ``text`` as ``account`` would publish it on ``channel``.

    ``profiles`` is the configuration's ``profiles:`` mapping (or ``load_profiles``' result); ``variants`` maps
    account name (or channel) -> that account's full rendered text of the same post, the checked text's own
    included (for the consistency rule); ``overrides`` is one
    more layer of rule settings for this post only, e.g. ``{"hashtags.required": {"tags": ["Launch2026"]}}``;
    ``media`` the payload's image references (``extra["media"]``: sha256, alt, ...) for the media rules.
    ``defer`` (the CLI's enqueue path): a set; detections too slow for a cold process (lingua) are skipped and
    named in it, unless a rule that uses them blocks for this kind; the caller then leaves the verdict to the
    worker's pre-publish check (no ``tone_key``). ``lang``: the language the post declares (``--lang``); rules use
    it instead of detecting one, and the language rule checks the account posts in it. ``model``: profiles that ask
    for the hostility model (``sentiment.model``) get its verdict (55-110 ms of CPU a post); without it the rule leaves
    that to the worker, whose pre-publish check passes it (see ``_model_kinds``). Raises ConfigError for an
    invalid profile or override.
    """
    profile = profile_for(account, profiles)
    if overrides:
        profile = _with_overrides(profile, overrides)
    post_kind = PostKind(kind)
    options = profile.options[post_kind]
    if defer is not None and any(options[r].severity == "block" for r in _NEEDS_LANGUAGE):
        defer = None  # a blocking rule depends on the language: it must be known now
    ctx = Ctx(account=account, channel=channel or account.channel, kind=post_kind, variants=variants or {},
              options=options, media=tuple(media or ()), defer=defer, lang=lang or None, model=model)
    doc = Doc(text)
    findings: list[Finding] = []
    for _, fn, opts in profile.active[post_kind]:
        findings.extend(fn(doc, ctx, opts))
    metrics.findings(findings)
    return findings


_OVERRIDDEN: dict[tuple[int, str], tuple[Any, Any]] = {}


def _with_overrides(profile: Any, overrides: Mapping[str, Any]) -> Any:
    """``profile.with_rules(overrides)``, built once per profile and overrides (a campaign checks thousands of posts
    with the same required hashtags; building the profile cost more than checking a post)."""
    import json

    key = (id(profile), json.dumps(overrides, sort_keys=True, default=str))
    hit = _OVERRIDDEN.get(key)
    if hit is not None and hit[0] is profile:
        return hit[1]
    built = profile.with_rules(overrides, "overrides")
    if len(_OVERRIDDEN) > 256:
        _OVERRIDDEN.clear()
    _OVERRIDDEN[key] = (profile, built)
    return built


def blocking(findings: Iterable[Finding], allowed: Iterable[str] = ()) -> list[Finding]:
    allow = set(allowed)
    return [f for f in findings if f.severity == "block" and f.rule not in allow]


def rule_ids() -> list[str]:
    return list(REGISTRY)


# -- before publishing --

_FRESH: dict[Path, tuple[tuple[int, int], Settings]] = {}
_FRESH_LOCK = threading.Lock()


def current_config(settings: Settings, account: AccountConfig) -> tuple[Mapping[str, Any], AccountConfig]:
    """The tone profiles and ``account``'s settings as the configuration file says now.

    A worker loads its settings once, but profiles change while posts wait (a phrase is banned today for a post
    scheduled yesterday). The file is re-read when its modification time or size changed (one ``stat`` per
    delivery otherwise). A file that no longer loads, or whose profiles no longer validate, is logged and the
    last configuration that did is used, so a half-saved edit neither stops publishing nor loosens the rules
    below what was last valid.
    """
    path = settings.config_path
    if path is None:
        return settings.profiles, account
    from publisher.settings import file_stamp

    try:
        stamp = file_stamp(path)
    except OSError as e:
        log.warning("cannot read %s for the pre-publish tone check (%s); using the loaded configuration",
                    path, e.strerror)
        return _last_good(settings, path, account)
    with _FRESH_LOCK:
        hit = _FRESH.get(path)
        if hit is None and stamp == settings.config_stamp:
            # the file is as it was when these settings were read from it: no second parse (a 10,000-account file
            # took seconds, and every publishing thread of the process waited on this lock meanwhile)
            _FRESH[path] = (stamp, settings)
        elif hit is None or hit[0] != stamp:
            from publisher import settings as settings_mod

            try:
                fresh = settings_mod.load(settings.env)
                for acc in fresh.accounts.values():
                    profile_for(acc, fresh.profiles)  # validates the profiles each account uses
            except (ConfigError, NotPermitted) as e:
                log.warning("%s changed but does not load (%s); the pre-publish tone check keeps the last valid "
                            "configuration until it is fixed", path, e.message)
                _FRESH[path] = (stamp, hit[1] if hit else settings)
            else:
                _FRESH[path] = (stamp, fresh)
    return _last_good(settings, path, account)


def _last_good(settings: Settings, path: Path, account: AccountConfig) -> tuple[Mapping[str, Any], AccountConfig]:
    hit = _FRESH.get(path)
    fresh = hit[1] if hit else settings
    return fresh.profiles, fresh.accounts.get(account.name or "", account)


_NOT_SENT = frozenset({"cancelled", "expired"})


def variants_of(deliveries: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """account name -> the full text that account publishes (its parts joined), from a post's stored deliveries;
    cancelled and expired deliveries are left out (their text is never published)."""
    parts: dict[str, list[tuple[int, str]]] = {}
    for d in deliveries:
        if d["state"] in _NOT_SENT:
            continue
        parts.setdefault(d["account"], []).append((d["part"], d["payload"]["text"]))
    return {name: " ".join(t for _, t in sorted(ps)) for name, ps in parts.items()}


def _current_inputs(store: Any, delivery: Mapping[str, Any], account: AccountConfig, kind: PostKind | str,
                    settings: Settings, siblings: list[dict[str, Any]] | None
                    ) -> tuple[Mapping[str, Any], AccountConfig, PostKind, Mapping[str, str] | None]:
    profiles, account = current_config(settings, account)
    post_kind = PostKind(kind)
    variants = None
    if profile_for(account, profiles).severity("consistency", post_kind) == "block":
        if siblings is None:
            from publisher.store import deliveries_of

            with store.read() as conn:
                siblings = deliveries_of(conn, delivery["post_id"])
        variants = consistency_variants(account, profiles, post_kind, variants_of(siblings))
    return profiles, account, post_kind, variants


def consistency_variants(account: AccountConfig, profiles: Mapping[str, Any] | None, kind: PostKind,
                         found: Mapping[str, str]) -> Mapping[str, str] | None:
    """The variants the pre-publish check compares: every account's text, when the consistency rule blocks for this
    account and kind and the post goes to more than one account; else None."""
    if len(found) > 1 and profile_for(account, profiles).severity("consistency", kind) == "block":
        return found
    return None


def check_delivery(store: Any, delivery: Mapping[str, Any], account: AccountConfig, kind: PostKind | str,
                   settings: Settings, siblings: list[dict[str, Any]] | None = None) -> list[Finding]:
    """The findings for one stored delivery just before it is published (see ``current_config`` and
    ``variants_of``). The caller applies the post's audited ``--allow`` overrides with ``blocking``.

    The other accounts' payloads (``siblings``: the post's deliveries, when the caller already read them) are read
    (one indexed query) only when the consistency rule blocks for this account and kind: the pre-publish check acts
    on blocking findings only, so a warning needs no read.
    """
    profiles, account, post_kind, variants = _current_inputs(store, delivery, account, kind, settings, siblings)
    return check(delivery["payload"]["text"], account, channel=delivery["channel"], kind=post_kind,
                 profiles=profiles, variants=variants, media=payload_media(delivery["payload"]), model=True)


def unchanged_since_enqueue(store: Any, delivery: Mapping[str, Any], account: AccountConfig, kind: PostKind | str,
                            settings: Settings, siblings: list[dict[str, Any]] | None = None) -> bool:
    """True when the delivery's ``tone_key``, written at enqueue when its payload passed the checks, still matches
    every input of the check: the exact payload, the channel, the kind, the other accounts' texts, the account's
    tone configuration as the file says now, and the rule code (publisher's version and rule ids). The checks are
    pure functions of those, so they would find exactly what they found then: nothing the post's overrides do not
    allow. Any difference (a rule tightened in the file, a sibling cancelled, an edited payload) means a full check."""
    stored = delivery.get("tone_key")
    if not stored:
        return False
    profiles, account, post_kind, variants = _current_inputs(store, delivery, account, kind, settings, siblings)
    return bool(stored == tone_key(delivery["payload"]["text"], account, delivery["channel"], post_kind, profiles,
                                   variants, media=payload_media(delivery["payload"])))


def payload_media(payload: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """The image references of a stored payload (``extra["media"]``), or None."""
    found = (payload.get("extra") or {}).get("media")
    return list(found) if found else None


_DIGESTS: dict[tuple[int, int], tuple[AccountConfig, Any, str, frozenset[PostKind]]] = {}


def _model_kinds(account: AccountConfig, profiles: Mapping[str, Any] | None) -> frozenset[PostKind]:
    """The kinds for which the account's profile asks the hostility model (``sentiment: {model: true}``). The model
    runs only in checks that ask for it (the worker's, ``publisher check``), so a check anywhere else is incomplete
    for these kinds: ``tone_key`` gives no key, and the worker's pre-publish check runs in full."""
    try:
        profile = profile_for(account, profiles)
    except ConfigError:
        return frozenset()  # the check itself reports it
    return frozenset(kind for kind in PostKind for rule, _, opts in profile.active[kind]
                     if rule == "sentiment" and getattr(opts, "model", False)
                     and (getattr(opts, "hostility", None) or opts.severity) != "off")


def tone_key(text: str, account: AccountConfig, channel: str, kind: PostKind, profiles: Mapping[str, Any] | None,
             variants: Mapping[str, str] | None, media: Sequence[Mapping[str, Any]] | None = None) -> str:
    """A digest of everything ``check`` depends on. The library versions behind some rules (word lists, VADER,
    lingua) are not in it: reading them costs ~70 ms, too much for the CLI; upgrading them with posts queued
    keeps the enqueue-time verdict for those posts."""
    hit = _DIGESTS.get((id(account), id(profiles)))
    if hit is None or hit[0] is not account or hit[1] is not profiles:
        from publisher import __version__

        config = json.dumps([__version__, sorted(REGISTRY), account.model_dump(mode="json"), profiles or {}],
                            sort_keys=True, default=str)
        hit = (account, profiles, hashlib.sha256(config.encode()).hexdigest(), _model_kinds(account, profiles))
        if len(_DIGESTS) > 256:
            _DIGESTS.clear()
        _DIGESTS[(id(account), id(profiles))] = hit
    if kind in hit[3]:
        return ""  # the hostility model runs only in the worker: no check before it is complete (see _model_kinds)
    checked: list[Any] = [hit[2], channel, kind.value, text, dict(variants or {})]
    if media:  # the images and their alt text (media.alt); absent for a text-only post, so its key is unchanged
        checked.append([{"sha256": m.get("sha256"), "alt": m.get("alt", "")} for m in media])
    parts = json.dumps(checked, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(parts.encode()).hexdigest()
