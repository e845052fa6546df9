"""A campaign checks each distinct post once (``campaigns.check_all``) and remembers lingua's answer per exact
sample (``language.confidences``): every row's verdict must be exactly what checking it alone gives."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from typing import Any

import pytest

from publisher import service
from publisher.models import PostKind
from publisher.rules import language
from publisher.workflows import campaigns
from tests.conftest import Env

ACCOUNTS: dict[str, Any] = {
    "en-x": {"channel": "x", "kind": "organisation", "timezone": "Europe/Oslo", "languages": ["en"]},
    "en-ma": {"channel": "mastodon", "kind": "organisation", "timezone": "Europe/Oslo", "languages": ["en"]},
    "no-dry": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo", "languages": ["nb"]},
    "person": {"channel": "bluesky", "kind": "personal", "timezone": "America/New_York"},
}
AT = datetime(2031, 6, 1, 9, 0, tzinfo=UTC)
TEXTS = [
    "Session {i}: measuring latency across Europe, with live notes from the room. #TNC31",
    "Thank you to speaker {i} for a great talk on open research infrastructure! #TNC31",
    "Day 2: the keynote on network resilience starts at 9:00 in hall A. #TNC31",
    "Velkommen til konferansen, vi gleder oss til å se dere i Oslo neste uke! #TNC31",
    "Wir freuen uns auf die Konferenz und auf viele Gespräche mit Ihnen in Oslo. #TNC31",
    "This keynote is shit #TNC31",
    "One week to go, without the campaign's tag",
    "A very long text that X will not take in one post. " * 6 + "#TNC31",
    "Contact jane.doe@example.org or call +47 912 34 567 for the booth. #TNC31",
    "WE ARE LIVE NOW!!! Join us in hall B!!! #TNC31",
]


def _posts() -> list[service.NewPost]:
    """A varied campaign: repeated and numbered texts, every account, variants, declared languages, links, kinds."""
    out = []
    names = list(ACCOUNTS)
    for i in range(120):
        text = TEXTS[i % len(TEXTS)].format(i=i % 7)
        accounts = [names[i % 4]] if i % 3 else [names[i % 4], names[(i + 1) % 4]]
        variants = {"x": f"Short for X, part {i % 2}. #TNC31"} if i % 7 == 3 and "en-x" in accounts else {}
        out.append(service.NewPost(
            text=text, accounts=accounts, at=AT, kind=PostKind.VACANCY if i % 11 == 0 else PostKind.CAMPAIGN,
            language=("de" if i % 13 == 0 else None), link=("https://example.org/tnc31" if i % 6 == 0 else None),
            variants=variants, idempotency_key=f"r{i}",
            variables={"campaign": {"key": f"r{i}", "sha": str(i), "row": {"text": text}, "index": i}}))
    return out


def _plain(verdict: tuple[str, Any, Any]) -> tuple[str, Any, Any]:
    kind, a, b = verdict
    if kind == "ok":
        return kind, {n: [p.to_dict() for p in ps] for n, ps in a.items()}, [f.to_dict() for f in b]
    if kind == "tone":
        return kind, a, [f.to_dict() for f in b]
    return kind, a, b


OVERRIDES = {"hashtags.required": {"tags": ["TNC31"], "severity": "block"}}


@pytest.mark.parametrize("forked", [False, True], ids=["one process", "forked checkers"])
def test_each_rows_verdict_is_what_checking_it_alone_gives(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                            forked: bool) -> None:
    env.write_config(ACCOUNTS)
    settings = env.settings()
    alone = [_plain(campaigns._check_one(settings, new, OVERRIDES)) for new in _posts()]
    if forked:  # the first 50 distinct posts here, the rest in forked processes
        monkeypatch.setattr(campaigns, "PARALLEL_FROM", 1)
    ticks: list[int] = []
    shared = [_plain(v) for v in campaigns.check_all(settings, _posts(), OVERRIDES, ticks.append)]
    assert sum(ticks) == len(alone)  # the progress bar counts every row, shared or not
    assert {v[0] for v in alone} == {"ok", "tone", "error"}  # the file is varied enough to tell verdicts apart
    for i, (a, b) in enumerate(zip(alone, shared, strict=True)):
        assert a == b, f"row {i}"


def test_a_key_that_leaves_out_an_input_gives_wrong_verdicts(env: Env) -> None:
    """The comparison above can fail: a key that ignores the accounts (or the variants, or the declared language)
    hands one row's verdict to another that would not get it."""
    env.write_config(ACCOUNTS)
    settings = env.settings()
    alone = [_plain(campaigns._check_one(settings, new, OVERRIDES)) for new in _posts()]
    for broken in (lambda n: n.text, lambda n: campaigns.check_key(dataclasses.replace(n, variants={})),
                   lambda n: campaigns.check_key(dataclasses.replace(n, language=None))):
        shared = [_plain(v) for v in campaigns.check_all(settings, _posts(), OVERRIDES, key=broken)]
        assert shared != alone


def test_the_key_leaves_out_only_the_campaigns_bookkeeping() -> None:
    a, b = _posts()[1], _posts()[1]
    b.variables["campaign"] = {"key": "other", "sha": "x", "row": {}, "index": 99}
    b.idempotency_key = "other"
    assert campaigns.check_key(a) == campaigns.check_key(b)
    for change in ({"text": a.text + "!"}, {"accounts": ["person"]}, {"variants": {"x": "hi"}}, {"language": "de"},
                   {"link": "https://example.org/"}, {"kind": PostKind.VACANCY}, {"allow": {"profanity": "quote"}},
                   {"require_hashtags": ["X"]}, {"variables": {**a.variables, "image": "a.png"}}):
        c = _posts()[1]
        for k, v in change.items():
            setattr(c, k, v)
        assert campaigns.check_key(c) != campaigns.check_key(a), change


@pytest.mark.parametrize("sample", ["Thank you to speaker for a great talk on open research infrastructure",
                                    "Velkommen til konferansen vi gleder oss", "Wir freuen uns auf die Konferenz"])
def test_lingua_is_asked_once_per_sample_and_answers_as_uncached(sample: str) -> None:
    codes = tuple(sorted(language.DEFAULT_CANDIDATES))
    first = language.confidences(codes, sample)
    hits = language.confidences.cache_info().hits
    assert language.confidences(codes, sample) == first
    assert language.confidences.cache_info().hits == hits + 1
    # lingua itself varies in the last bit from call to call (its sums are not ordered): the answer is the same
    # ranking with the same confidences to 1e-12, which is what every threshold and message reads
    again = language.confidences.__wrapped__(codes, sample)
    assert [lang for lang, _ in first] == [lang for lang, _ in again]
    assert [c for _, c in first] == pytest.approx([c for _, c in again], abs=1e-12)


def test_a_helper_process_answers_for_lingua_as_lingua_does_here(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """``language.loaded_beside``: lingua's models load in a forked helper while the caller plans; the answers the
    caller and its own forked checkers get from it are lingua's, and the caller never builds a detector."""
    env.write_config(ACCOUNTS)
    settings = env.settings()
    samples = ["Thank you to speaker for a great talk on open research infrastructure",
               "Velkommen til konferansen vi gleder oss", "Wir freuen uns auf die Konferenz"]
    codes = tuple(sorted(language.DEFAULT_CANDIDATES))
    here = [language.confidences.__wrapped__(codes, s) for s in samples]
    alone = [_plain(campaigns._check_one(settings, new, OVERRIDES)) for new in _posts()]
    language.detector.cache_clear()
    language.confidences.cache_clear()
    monkeypatch.setattr(campaigns, "PARALLEL_FROM", 1)  # forked checkers ask the helper too
    with language.loaded_beside(samples, codes):
        assert language._REMOTE is not None
        there = [language.confidences(codes, s) for s in samples]
        shared = [_plain(v) for v in campaigns.check_all(settings, _posts(), OVERRIDES)]
        assert language.detector.cache_info().currsize == 0  # no model was loaded in this process
    assert language._REMOTE is None
    language.confidences.cache_clear()
    for a, b in zip(here, there, strict=True):
        assert [lang for lang, _ in a] == [lang for lang, _ in b]
        assert [c for _, c in a] == pytest.approx([c for _, c in b], abs=1e-12)
    for i, (a2, b2) in enumerate(zip(alone, shared, strict=True)):
        assert a2 == b2, f"row {i}"


def test_forked_checkers_start_while_the_rows_are_still_being_planned(env: Env, monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path) -> None:
    """``campaigns._plan`` hands each row's post to ``check_all`` as it plans it: a forked checker must be checking
    while the rest are still planned. The posts here come from a generator that, after 200 distinct posts, waits
    until a forked checker has checked one: if ``check_all`` read every post before checking, it would wait in
    vain. The verdicts must still be what checking each post alone gives."""
    import functools
    import os
    import time

    env.write_config(ACCOUNTS)
    settings = env.settings()
    posts = [dataclasses.replace(p, text=f"{p.text} Hall {i}.") for i, p in enumerate(_posts() * 3)]  # 360 distinct
    alone = [_plain(campaigns._check_one(settings, new, OVERRIDES)) for new in posts]
    started = tmp_path / "started"
    real = campaigns._check_forked

    @functools.wraps(real)  # same module and name: the pool pickles it by reference and finds this wrapper
    def spy(new: service.NewPost) -> tuple[str, Any, Any]:
        started.write_text(str(os.getpid()))
        return real(new)

    monkeypatch.setattr(campaigns, "_check_forked", spy)

    def planned() -> Any:
        for i, new in enumerate(posts):
            if i == 200:
                deadline = time.monotonic() + 60
                while not started.exists():
                    assert time.monotonic() < deadline, "no forked checker started while posts were still coming"
                    time.sleep(0.01)
            yield new

    shared = [_plain(v) for v in campaigns.check_all(settings, planned(), OVERRIDES, many=True)]
    assert int(started.read_text()) != os.getpid()
    for i, (a, b) in enumerate(zip(alone, shared, strict=True)):
        assert a == b, f"row {i}"


def test_the_helper_loads_the_full_models_early_only_for_a_text_the_cheap_checks_leave_open() -> None:
    """``language._may_need``, the helper's guess whether to start loading lingua's full models before anyone asks:
    not for a text the low-accuracy mode places in a declared language, yes for one in another language."""
    codes = tuple(sorted(language.DEFAULT_CANDIDATES))
    english = "Day 2: the keynote on network resilience starts at 9:00 in hall A. #TNC31"
    german = "Die Keynote zur Ausfallsicherheit beginnt um 9:00 in Halle A, danach Kaffee im Foyer."
    assert not language._may_need(english, codes, frozenset({"en"}))
    assert language._may_need(english, codes, frozenset({"no"}))
    assert language._may_need(german, codes, frozenset({"en"}))
    assert not language._may_need(german, codes, frozenset({"en", "de"}))


def test_preloaded_full_models_answer_as_the_lazily_loaded_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    """``loaded_beside``'s helper loads every model at once (``_PRELOAD``); its answers must be those of the models
    a process loads lazily."""
    codes = tuple(sorted(language.DEFAULT_CANDIDATES))
    samples = ["Outage on mobile data in Tromsø since Next update INC", "Wir freuen uns auf die Konferenz in Oslo",
               "Velkommen til konferansen vi gleder oss", "Merci à tous les intervenants de cette belle journée"]
    lazy = [language.confidences.__wrapped__(codes, s) for s in samples]
    language.detector.cache_clear()
    monkeypatch.setattr(language, "_PRELOAD", True)
    try:
        preloaded = [language.confidences.__wrapped__(codes, s) for s in samples]
    finally:
        language.detector.cache_clear()
    for a, b in zip(lazy, preloaded, strict=True):
        assert [lang for lang, _ in a] == [lang for lang, _ in b]
        assert [c for _, c in a] == pytest.approx([c for _, c in b], abs=1e-12)
