"""Speed of the tone checks (a benchmark, not a timed test).

    python benchmarks/tone_speed.py [--posts N] [--rounds R] [--model]

1. all rules of the built-in organisation profile on 280-character posts (distinct texts: no result caching can
   help), median per post after a warm-up; per-rule medians for the same posts;
2. the naive baselines: twitter-text ``parse_tweet`` per post and its import time, VADER per post;
3. the import cost of ``publisher.tone`` and a check whose profile needs no heavy rule, in a fresh subprocess;
4. with ``--model``: the same organisation profile with ``sentiment: {model: true}`` as the worker checks it (the
   multilingual hostility model on 100 posts it has not seen, once each), CPU time beside wall time, and
   the model's first load in a fresh subprocess.
"""

from __future__ import annotations

import argparse
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SENTENCES = [
    "We are investigating degraded DNS resolution for customers in Bergen since 14:05.",
    "Engineers are on site and a faulty power supply is being replaced.",
    "Next update at 15:00. Payments and TV are not affected.",
    "Latency to Stockholm is up to 40 ms because of a fibre cut in Sweden.",
    "Traffic is being rerouted and most customers should see normal speeds again.",
    "Our status page has the details: https://status.fjordnett.no/incidents/4711",
    "Planned maintenance on the core network tonight from 23:00 to 01:00.",
    "Customers may see two short interruptions of up to 5 minutes.",
    "Thank you for your patience while we work on this.",
    "Business customers can follow the case in the portal.",
]


def posts(n: int, seed: int = 7, length: int = 280) -> list[str]:
    """n distinct NOC-style posts of whole words, each at most ``length`` characters (a few fewer, not to cut a word)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        words = []
        while len(" ".join(words)) < 300:
            words.extend(rnd.choice(SENTENCES).split())
        suffix = f" INC-{4700 + i}"
        head = " ".join(words)[: length - len(suffix) + 1].rsplit(" ", 1)[0]  # whole words only
        out.append(head + suffix)
    return out


def median_ms(fn, items: list, rounds: int) -> float:  # type: ignore[no-untyped-def]
    from publisher.rules import hostility_model, hostility_words

    for item in items[:50]:
        fn(item)  # warm-up: detectors built, models loaded, caches filled
    samples = []
    for _ in range(rounds):
        for item in items:
            # the models remember their score per text; a worker sees each text once, so every round scores anew
            hostility_words.score.cache_clear()
            hostility_model.score.cache_clear()
            t = time.perf_counter()
            fn(item)
            samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1000


def fresh(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--model", action="store_true", help="also measure sentiment.model (55-110 ms a post)")
    args = ap.parse_args()

    from publisher import tone
    from publisher.models import PostKind
    from publisher.rules import Ctx, Doc
    from publisher.settings import AccountConfig

    texts = posts(args.posts)
    lengths = [len(t) for t in texts]
    print(f"{len(texts)} distinct posts, {min(lengths)}-{max(lengths)} characters, {args.rounds} rounds")
    rows: list[tuple[str, float]] = []
    for channel in ("mastodon", "x"):
        acc = AccountConfig(name="noc", channel=channel, kind="organisation", timezone="Europe/Oslo",
                            languages=["en", "nb"])
        rows.append((f"all rules, organisation profile, note, {channel}",
                     median_ms(lambda t, a=acc: tone.check(t, a, kind=PostKind.NOTE), texts, args.rounds)))
    acc = AccountConfig(name="noc", channel="mastodon", kind="organisation", timezone="Europe/Oslo",
                        languages=["en", "nb"])
    rows.append(("all rules, organisation profile, ticket, mastodon",
                 median_ms(lambda t: tone.check(t, acc, kind=PostKind.TICKET), texts, args.rounds)))
    from tests.tone_labelled import load

    labelled, lprofiles = load()
    cases = [(text, post, ch) for post in labelled for ch, text in post.variants.items()]
    rows.append((f"labelled set as published ({len(cases)} texts, 5 languages, own profiles)", median_ms(
        lambda c: tone.check(c[0], c[1].account, channel=c[2], kind=c[1].kind, profiles=lprofiles), cases,
        args.rounds)))
    prof = tone.profile_for(acc)
    for rule, fn, opts in prof.active[PostKind.NOTE]:
        def one(t: str, fn=fn, opts=opts) -> None:  # type: ignore[no-untyped-def]
            fn(Doc(t), Ctx(acc, "mastodon", PostKind.NOTE, {}, prof.options[PostKind.NOTE]), opts)
        rows.append((f"  rule {rule}", median_ms(one, texts, args.rounds)))

    import twitter_text
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    rows.append(("baseline: twitter_text.parse_tweet", median_ms(twitter_text.parse_tweet, texts, args.rounds)))
    rows.append(("baseline: VADER polarity_scores", median_ms(vader.polarity_scores, texts, args.rounds)))
    if args.model:
        model = {"sentiment": {"model": True}}
        some = texts[50:150]  # not the first 50, which the warm-up of the rows above already checked

        def checked(t: str) -> None:
            tone.check(t, acc, kind=PostKind.NOTE, overrides=model, model=True)

        checked(texts[0])  # loads the model; every text below is new to it (it remembers texts it scored)
        walls, cpus = [], []
        for t in some:
            w, c = time.perf_counter(), time.process_time()
            checked(t)
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
        rows.append(("all rules + sentiment.model (worker), note, mastodon: wall", statistics.median(walls) * 1000))
        rows.append(("  the same: CPU", statistics.median(cpus) * 1000))

    width = max(len(r[0]) for r in rows)
    print(f"\n{'measurement':<{width}}  median ms/post")
    for name, ms in rows:
        print(f"{name:<{width}}  {ms:8.3f}")

    t0 = "import time; t=time.perf_counter(); "
    imports = [
        ("import twitter_text", fresh(t0 + "import twitter_text; print(time.perf_counter()-t)")),
        ("import vaderSentiment + build analyser", fresh(
            t0 + "from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer as S; S(); "
            "print(time.perf_counter()-t)")),
        ("import publisher.settings (already on the CLI path)", fresh(
            t0 + "import publisher.settings; print(time.perf_counter()-t)")),
        ("import publisher.tone", fresh(
            "import publisher.settings, time; t=time.perf_counter(); import publisher.tone; "
            "print(time.perf_counter()-t)")),
        ("import publisher.tone + first check, light profile (no heavy rule)", fresh(
            "import publisher.settings, time, sys; t=time.perf_counter(); from publisher import tone; "
            "from publisher.settings import AccountConfig as A; "
            "a=A(name='x', channel='linkedin', kind='personal', options={'tone': {'rules': {"
            "'sentiment': 'off', 'language': 'off', 'privacy.phone': 'off', 'profanity': 'off', "
            "'register.first-person': 'off', 'register.informal': 'off'}}}); "
            "tone.check('Short calm note https://example.org', a); "
            "heavy=[m for m in ('twitter_text','vaderSentiment','lingua','phonenumbers','better_profanity') "
            "if m in sys.modules]; assert not heavy, heavy; print(time.perf_counter()-t)")),
    ]
    if args.model:
        imports.append(("sentiment.model: load the model + first post", fresh(
            "import time; from publisher.rules import hostility_model as h; t=time.perf_counter(); "
            "h.score('A first post to load the model.'); print(time.perf_counter()-t)")))
    print(f"\n{'import (fresh subprocess)':<{width}}  seconds")
    for name, s in imports:
        print(f"{name:<{width}}  {s:8.3f}")


if __name__ == "__main__":
    main()
