"""Work for a large campaign spread over every core: forked worker processes that inherit the caller's state.

The caller puts what the workers need in a module global before ``run`` and gives each task as something small
(an index range, a post): fork hands the rest over without pickling. ``gc.freeze()`` before forking keeps each
worker's garbage collector off the objects it inherited: walking them would write to (and so copy) every page of
the parent's ~200 MB. A worker that dies (killed, out of memory) fails the whole run with a clear error instead of
the wait forever that ``multiprocessing.Pool`` gives; nothing has been stored by then.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from publisher.errors import PublisherError

T = TypeVar("T")
R = TypeVar("R")


def cores() -> int:
    """Cores this process may use; 1 where forking is not how workers start (anything but Linux)."""
    if not sys.platform.startswith("linux"):
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def run(fn: Callable[[T], R], items: Iterable[T], what: str, chunksize: int = 1) -> Iterator[R]:
    """``fn`` over ``items`` in forked workers (one per core), results in order. ``what`` names the work for the
    error if a worker dies."""
    import gc
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    gc.freeze()
    try:
        with ProcessPoolExecutor(cores(), mp_context=multiprocessing.get_context("fork")) as pool:
            yield from pool.map(fn, items, chunksize=chunksize)
    except BrokenProcessPool as e:
        raise PublisherError(f"a process {what} stopped before it finished (killed, or out of memory); "
                             "nothing was stored", hint="run the import again; if it stops again, look at the "
                             "machine's memory (dmesg)") from e
    finally:
        gc.unfreeze()
