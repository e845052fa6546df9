"""Precision and recall of every tone rule on the labelled set (tests/data/tone_labelled.yaml).

    python benchmarks/tone_eval.py

A rule "triggers" on a post when any of the post's channel variants produces a finding of that rule, at any
severity. B marks rules that block for some post kind in the built-in profiles or the set's own profiles.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.tone_labelled import blocking_rules, evaluate, load  # noqa: E402


def main() -> None:
    posts, profiles = load()
    scores = evaluate(posts, profiles)
    blocking = blocking_rules(profiles)
    texts = sum(len(p.variants) for p in posts)
    print(f"{len(posts)} posts ({texts} channel variants), {sum(1 for p in posts if not p.expect)} clean\n")
    print(f"| {'rule':<22} | B | {'TP':>3} | {'FP':>3} | {'FN':>3} | precision | recall | false positives / misses")
    print(f"|{'-' * 24}|---|-----|-----|-----|-----------|--------|------")
    for rule, s in scores.items():
        notes = " ".join([*(f"+{i}" for i in s.fp_ids), *(f"-{i}" for i in s.fn_ids)])
        print(f"| {rule:<22} | {'B' if rule in blocking else ' '} | {s.tp:>3} | {s.fp:>3} | {s.fn:>3} | "
              f"{s.precision:>9.2f} | {s.recall:>6.2f} | {notes}")
    tp = sum(s.tp for s in scores.values())
    fp = sum(s.fp for s in scores.values())
    fn = sum(s.fn for s in scores.values())
    print(f"\nmicro-average: precision {tp / (tp + fp):.3f}, recall {tp / (tp + fn):.3f}")


if __name__ == "__main__":
    main()
