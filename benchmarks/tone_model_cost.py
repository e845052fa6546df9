"""CPU per post of the tone check with the multilingual model (``sentiment: {model: true}``) over a labelled set.

    PYTHONPATH=$PWD python benchmarks/tone_model_cost.py tests/data/tone_heldout24.yaml

Every post's channel variants are checked as the worker would (``tests.tone_labelled.findings_of`` with the model),
each text scored anew (both models' caches cleared), after one warm-up check that loads the engine. Process time, so
other load on the machine matters less than for wall time. A labelled set holds ~20 % hostile posts, far more than
real traffic, so the engine runs more often here than in a worker.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from publisher.rules import hostility_model, hostility_words  # noqa: E402
from tests.tone_labelled import findings_of, load  # noqa: E402


def main() -> None:
    posts, profiles = load(Path(sys.argv[1]), model=True)
    findings_of(posts[0], profiles, *next(iter(posts[0].variants.items())))  # warm-up: the engine loads
    samples = []
    for post in posts:
        for channel, text in post.variants.items():
            hostility_model.score.cache_clear()
            hostility_words.score.cache_clear()
            start = time.process_time()
            findings_of(post, profiles, channel, text)
            samples.append(time.process_time() - start)
    samples.sort()
    print(f"{len(samples)} texts: median {statistics.median(samples) * 1000:.2f} ms, "
          f"mean {statistics.mean(samples) * 1000:.1f} ms, p90 {samples[int(len(samples) * 0.9)] * 1000:.1f} ms, "
          f"total {sum(samples):.1f} s")


if __name__ == "__main__":
    main()
