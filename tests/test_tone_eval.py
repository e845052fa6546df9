"""The rules on the labelled set (tests/data/tone_labelled.yaml): blocking rules must be precise."""

from __future__ import annotations

from publisher.rules.base import Doc
from publisher.rules.language import _quick, detect
from tests.tone_labelled import blocking_rules, evaluate, load


def test_labelled_set_is_large_and_varied() -> None:
    posts, _ = load()
    assert len(posts) >= 200
    assert {p.kind.value for p in posts} == {"ticket", "blog", "vacancy", "campaign", "note"}
    assert sum(1 for p in posts if not p.expect) >= 80  # clean posts keep precision honest
    langs = {lang for p in posts for lang in p.account.languages}
    assert {"en", "nb", "de", "fr", "es"} <= langs


def test_every_blocking_rule_has_precision_of_at_least_95_percent() -> None:
    posts, profiles = load()
    scores = evaluate(posts, profiles)
    weak = {rule: (s.precision, s.fp_ids) for rule, s in scores.items()
            if rule in blocking_rules(profiles) and s.precision < 0.95}
    assert not weak


def test_every_rule_is_exercised_and_finds_most_of_its_cases() -> None:
    posts, profiles = load()
    scores = evaluate(posts, profiles)
    for rule, s in scores.items():
        assert s.tp >= 1, rule
        assert s.recall >= 0.8, (rule, s.fn_ids)


def test_language_shortcut_agrees_with_lingua_on_the_labelled_texts() -> None:
    posts, _ = load()
    candidates = ("de", "en", "es", "fr", "nb", "nn")
    for post in posts:
        for text in post.variants.values():
            doc = Doc(text)
            quick = _quick(doc, candidates)
            if quick is not None and doc.letter_count >= 40:
                assert detect(Doc(text), candidates, 40)[0][0] == quick, text
