"""The labelled tone set (tests/data/tone_labelled.yaml) and its evaluation: shared by the tests and the benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from publisher import tone
from publisher.models import PostKind
from publisher.settings import AccountConfig, OrganisationConfig, organisation_defaults

PATH = Path(__file__).parent / "data" / "tone_labelled.yaml"


@dataclass
class Post:
    id: str
    account: AccountConfig
    kind: PostKind
    variants: dict[str, str]
    expect: set[str]
    #: the language the post declares (``--lang``), if any
    lang: str | None = None
    #: per-post rule overrides (``--require-hashtag``)
    overrides: dict[str, Any] = field(default_factory=dict)
    #: must the post be refused? None: derived from ``expect`` and the profile (``should_block``)
    block: bool | None = None
    #: checked with the hostility model on (``sentiment: {model: true}`` over every profile, as the worker checks)
    model: bool = False


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    fp_ids: list[str] = field(default_factory=list)
    fn_ids: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


def load(path: Path = PATH, model: bool = False) -> tuple[list[Post], dict[str, Any]]:
    """The posts and profiles of a labelled set in this format (the development set by default; the held-out set
    uses the same format). ``model``: every post is checked as its profile with ``sentiment: {model: true}``
    would be, in the worker."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    org = OrganisationConfig.model_validate(data.get("organisation") or {})
    accounts = {}
    for name, raw_acc in data["accounts"].items():
        acc = AccountConfig(name=name, **raw_acc)
        accounts[name] = acc.model_copy(update=organisation_defaults(acc, org))
    posts = []
    for raw in data["posts"]:
        account = accounts[raw["account"]]
        variants = raw.get("variants") or {account.channel: raw["text"]}
        tags = raw.get("require_hashtags") or []
        overrides: dict[str, Any] = {"hashtags.required": {"tags": list(tags)}} if tags else {}
        if model:
            overrides["sentiment"] = {"model": True}
        posts.append(Post(str(raw["id"]), account, PostKind(raw["kind"]), dict(variants), set(raw.get("expect") or []),
                          raw.get("lang"), overrides, raw.get("block"), model))
    return posts, data.get("profiles") or {}


def triggered(post: Post, profiles: dict[str, Any]) -> set[str]:
    rules: set[str] = set()
    for channel, text in post.variants.items():
        rules.update(f.rule for f in findings_of(post, profiles, channel, text))
    return rules


def findings_of(post: Post, profiles: dict[str, Any], channel: str, text: str) -> list[Any]:
    return tone.check(text, post.account, channel=channel, kind=post.kind, profiles=profiles,
                      variants=post.variants if len(post.variants) > 1 else None,
                      overrides=post.overrides or None, lang=post.lang, model=post.model)


def blocked(post: Post, profiles: dict[str, Any]) -> bool:
    """Whether publisher refuses the post (a blocking finding on any channel variant)."""
    return any(tone.blocking(findings_of(post, profiles, ch, t)) for ch, t in post.variants.items())


def should_block(post: Post, profiles: dict[str, Any]) -> bool:
    """The label: ``block:`` when given, else whether one of the expected rules blocks for this account and kind
    (for ``sentiment``: its hostility severity, the part of the rule that blocks)."""
    if post.block is not None:
        return post.block
    prof = tone.profile_for(post.account, profiles)
    if post.overrides:
        prof = prof.with_rules(post.overrides, "overrides")
    opts = prof.options[post.kind]
    for rule in post.expect:
        o = opts.get(rule)
        if o is None:
            continue
        sev = (getattr(o, "hostility", None) or o.severity) if rule == "sentiment" else o.severity
        if sev == "block" and o.severity != "off":
            return True
    return False


def evaluate(posts: list[Post], profiles: dict[str, Any]) -> dict[str, Score]:
    # the set is text only: rules that judge a post's images (media.*, tests/media) cannot be exercised here
    scores: dict[str, Score] = {rule: Score() for rule in tone.rule_ids() if not rule.startswith("media.")}
    for post in posts:
        got = triggered(post, profiles)
        for rule in got | post.expect:
            s = scores.setdefault(rule, Score())
            if rule in got and rule in post.expect:
                s.tp += 1
            elif rule in got:
                s.fp += 1
                s.fp_ids.append(post.id)
            else:
                s.fn += 1
                s.fn_ids.append(post.id)
    return scores


def blocking_rules(profiles: dict[str, Any]) -> set[str]:
    """Rules that block for some post kind in the built-in profiles or the labelled set's own profiles."""
    out: set[str] = set()
    for prof in tone.load_profiles(profiles).values():
        for kind in PostKind:
            out.update(rule for rule, opts in prof.options[kind].items()
                       if opts.severity == "block" or getattr(opts, "hostility", None) == "block")
    return out


def iter_texts(posts: list[Post]) -> Iterator[str]:
    for post in posts:
        yield from post.variants.values()
