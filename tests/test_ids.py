"""Ids sort by creation time (index locality for bursts) and stay unique."""

from __future__ import annotations

import time

from publisher.store import new_id


def test_ids_made_later_sort_later_and_never_repeat() -> None:
    first = [new_id("d") for _ in range(50_000)]
    time.sleep(0.002)
    later = new_id("d")
    assert len(set(first)) == len(first)
    assert all(later > i for i in first)
    assert all(len(i) == 25 and i.startswith("d-") for i in (*first, later))
    stamps = [int(i[2:13], 16) for i in first]
    assert stamps == sorted(stamps)
    assert abs(stamps[-1] - time.time_ns() // 1_000_000) < 60_000
