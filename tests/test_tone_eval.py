"""The rules on the labelled set (tests/data/tone_labelled.yaml): blocking rules must be precise."""

from __future__ import annotations

import pytest

from publisher.rules.base import Doc
from publisher.rules.language import (
    DEFAULT_CANDIDATES,
    ROUGH_SURE,
    _quick,
    _sample,
    confidences,
    detect,
    rough_sure,
)
from tests.tone_labelled import PATH, blocked, blocking_rules, evaluate, load, should_block


def test_labelled_set_is_large_and_varied() -> None:
    posts, _ = load()
    assert len(posts) >= 200
    assert {p.kind.value for p in posts} == {"ticket", "blog", "vacancy", "campaign", "note"}
    assert sum(1 for p in posts if not p.expect) >= 80  # clean posts keep precision honest
    langs = {lang for p in posts for lang in p.account.languages}
    assert {"en", "nb", "de", "fr", "es"} <= langs


@pytest.mark.slow  # the whole labelled set
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


def _texts_and_prefixes() -> dict[str, set[str]]:
    """Every labelled text and its prefixes (6, 9, 12, ... words) -> the language families of the accounts that
    post it."""
    posts, _ = load()
    texts: dict[str, set[str]] = {}
    for post in posts:
        fams = {"no" if c in ("nb", "nn") else c for c in post.account.languages}
        for text in post.variants.values():
            words = text.split()
            for t in [text, *(" ".join(words[:k]) for k in range(6, len(words), 3))]:
                texts.setdefault(t, set()).update(fams)
    return texts


def test_language_shortcut_agrees_with_lingua_on_the_labelled_texts_and_their_prefixes() -> None:
    """Wherever the function-word/letter shortcut answers, it must not contradict a lingua verdict that a rule
    would act on (confidence >= 0.5: register and sentiment use the language from 0.5; the language rule needs
    0.9 outside the declared languages). Prefixes of every text (6, 9, 12, ... words) add short texts, where a wrong shortcut shows first."""
    candidates = tuple(sorted(DEFAULT_CANDIDATES))
    texts = _texts_and_prefixes()
    answered = 0
    disagreements = []
    for text in sorted(texts):
        doc = Doc(text)
        quick = _quick(doc, candidates)
        if quick is not None and doc.letter_count >= 40:
            answered += 1
            best, confidence = detect(Doc(text), candidates, 40)[0]
            if best != quick and confidence >= 0.5:
                disagreements.append((text, quick, best, confidence))
    # Where they disagree, lingua must be the one that is wrong: the shortcut names the language the account posts
    # in. The development set added for issue 15 has prefixes full of names ("NTNU UNINETT SIKT on the Trondheim")
    # that lingua reads as Norwegian; the function words say English. At most 1 % of the answers, each of that kind.
    assert len(disagreements) <= answered // 100, disagreements
    for text, quick, best, confidence in disagreements:
        assert quick in texts[text] and best not in texts[text], (text, quick, best, confidence)
    assert answered >= 500  # the shortcut must keep answering for most texts, or the speed goal is lost


def test_low_accuracy_shortcut_never_contradicts_the_full_models_on_the_labelled_texts_and_their_prefixes() -> None:
    """Where the function words leave a text open, lingua's low-accuracy mode (trigrams only: ~0.05 s to load
    against ~1.5-2 s for the full models) may confirm a language the account posts in, from ``ROUGH_SURE`` on. It must never confirm one
    where the full models would name another at a confidence any rule acts on (0.5), on the texts and their
    prefixes; and it must keep settling most of them, or lingua's full models load for every campaign."""
    codes = tuple(sorted(DEFAULT_CANDIDATES))
    texts = _texts_and_prefixes()
    open_, settled, contradicted = 0, 0, []
    for text, fams in sorted(texts.items()):
        doc = Doc(text)
        if doc.letter_count < 40 or _quick(doc, codes) in fams:
            continue
        open_ += 1
        sample = _sample(doc)
        sure = rough_sure(codes, sample)
        if sure is None or sure[0] not in fams:
            continue  # the full models decide, as before
        settled += 1
        best, confidence = confidences(codes, sample)[0]
        if best != sure[0] and confidence >= 0.5:
            contradicted.append((text, sure, best, confidence))
    assert not contradicted, (ROUGH_SURE, contradicted)
    assert open_ >= 400 and settled >= open_ * 3 // 4, (open_, settled)


def test_lingua_full_models_load_only_for_a_text_the_low_accuracy_mode_leaves_open() -> None:
    """A text in the account's language that the function words leave open is settled by the low-accuracy mode
    alone (the full models, ~170 MB, never load); a text in another language still goes to the full models, which
    give the verdict."""
    from publisher.rules import language

    codes = ("de", "en", "es", "fr", "nb", "nn")
    for cached in (language.detector, language.rough_detector, language.confidences, language.rough_sure):
        cached.cache_clear()
    english = Doc("Day 2: the keynote on network resilience starts at 9:00 in hall A. #TNC31")
    assert _quick(english, codes) is None  # the function words do not settle it
    (best, confidence), = detect(english, codes, 40, frozenset({"en"}))
    assert best == "en" and confidence >= ROUGH_SURE
    assert language.detector.cache_info().currsize == 0 and language.rough_detector.cache_info().currsize == 1
    german = Doc("Die Keynote zur Ausfallsicherheit beginnt um 9:00 in Halle A, danach Kaffee im Foyer.")
    ranked = detect(german, codes, 40, frozenset({"en"}))
    assert ranked[0][0] == "de" and len(ranked) > 1  # the full models' ranking, every candidate
    assert language.detector.cache_info().currsize == 1


@pytest.mark.slow  # a held-out set, three times
def test_sets_taken_together_count_as_each_set_does_and_check_the_goals(capsys: pytest.CaptureFixture[str]) -> None:
    """``tone_eval --together``: the rule counts and blocking figures of one set taken twice are its own, doubled
    (a set with wrong blocks, missed blocks and clean posts blocked: each count matters), and a language meets the
    goals only when all three hold."""
    from benchmarks import tone_eval

    path = PATH.parent / "tone_heldout28.yaml"
    alone = tone_eval.report(path)
    part, rules = tone_eval.together([path, path])
    capsys.readouterr()
    posts, profiles = load(path)
    once = evaluate(posts, profiles)
    assert {r: (s.tp, s.fp, s.fn) for r, s in rules.items()} == {r: (2 * s.tp, 2 * s.fp, 2 * s.fn) for r, s in once.items()}
    assert 0 < alone["clean_blocked"] and alone["precision"] < 1 and alone["recall"] < 1
    assert part["all"]["posts"] == 2 * len(posts)
    assert {key: part["all"][key] for key in alone} == pytest.approx(alone)
    verdicts = [(blocked(p, profiles), should_block(p, profiles), not p.expect) for p in posts]
    tp, fp, fn = (sum(1 for v in verdicts if v[:2] == pair) for pair in ((True, True), (True, False), (False, True)))
    clean = [got for got, _, is_clean in verdicts if is_clean]
    assert alone == pytest.approx({"precision": tp / (tp + fp), "recall": tp / (tp + fn),
                                   "clean_blocked": sum(clean) / len(clean)})
    for figures in part.values():
        met = (figures["precision"] >= 0.95 and figures["recall"] >= 0.90 and figures["clean_blocked"] <= 0.02)
        assert figures["met"] == float(met)
