"""The labelled tone set (tests/data/tone_labelled.yaml) and its evaluation: shared by the tests and the benchmark."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from publisher import tone
from publisher.models import PostKind
from publisher.settings import AccountConfig

PATH = Path(__file__).parent / "data" / "tone_labelled.yaml"


@dataclass
class Post:
    id: str
    account: AccountConfig
    kind: PostKind
    variants: dict[str, str]
    expect: set[str]


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


def load(path: Path = PATH) -> tuple[list[Post], dict[str, Any]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    accounts = {n: AccountConfig(name=n, **a) for n, a in data["accounts"].items()}
    posts = []
    for raw in data["posts"]:
        account = accounts[raw["account"]]
        variants = raw.get("variants") or {account.channel: raw["text"]}
        posts.append(Post(raw["id"], account, PostKind(raw["kind"]), dict(variants), set(raw["expect"])))
    return posts, data.get("profiles") or {}


def triggered(post: Post, profiles: dict[str, Any]) -> set[str]:
    rules: set[str] = set()
    for channel, text in post.variants.items():
        findings = tone.check(text, post.account, channel=channel, kind=post.kind, profiles=profiles,
                              variants=post.variants if len(post.variants) > 1 else None)
        rules.update(f.rule for f in findings)
    return rules


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
            out.update(rule for rule, opts in prof.options[kind].items() if opts.severity == "block")
    return out


def iter_texts(posts: list[Post]) -> Iterator[str]:
    for post in posts:
        yield from post.variants.values()
