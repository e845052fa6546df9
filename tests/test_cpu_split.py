"""benchmarks/cpu_split.py counts perf samples by kind of process and by library, inside a burst's window only.

Its figures decide what RESULTS-scale.md says about the embedded path's SQLite against the PostgreSQL server, so
the counting is checked here on perf script lines in the form perf 6 prints them (``-F pid,time,ip,dso``)."""

from __future__ import annotations

from benchmarks.cpu_split import split

LINES = """\
    0   100.000100:  ffffffff82239e48 ([kernel.kallsyms])
  700   100.000200:      7fb9f518195a (/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0)
  700   100.000300:      7fb9f518195b (/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6)
  700   100.000400:  ffffffff82239e48 ([kernel.kallsyms])
  701   100.000500:      55d1a0c0ffee (/usr/lib/postgresql/15/bin/postgres)
  701   100.000600:      7fb9f518195a (/usr/lib/x86_64-linux-gnu/libc.so.6)
  702   100.000700:      7f0000000001 (/venv/lib/python3.11/site-packages/psycopg_binary/_psycopg.cpython-311.so)
  999   100.000800:      7f0000000002 (/usr/bin/something)
  700    99.000000:      7fb9f518195a (/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6)
  700   101.500000:      7fb9f518195a (/usr/lib/x86_64-linux-gnu/libsqlite3.so.0.8.6)
  700   100.000900:      7fb9f518195a ([unknown])
"""


def test_samples_are_counted_by_kind_and_place_inside_the_window_only() -> None:
    window = {"start": 100.0, "end": 101.0, "kinds": {"700": "workers", "701": "database server", "702": "workers"}}
    counts = split(window, LINES.splitlines())
    assert counts == {("workers", "Python"): 1, ("workers", "SQLite"): 1, ("workers", "kernel"): 1,
                      ("database server", "server"): 1, ("database server", "libc"): 1, ("workers", "psycopg"): 1,
                      ("other", "other"): 1, ("workers", "other"): 1}
