"""State-set mutants: the one kind of guard mutant mutmut 3 cannot make.

mutmut mutates inside functions only (module constants such as ``SKIPPABLE`` or ``STOPPING`` are never touched)
and never drops or adds one element of a list: ``in_([State.SCHEDULED.value, State.RETRY_WAIT.value])`` becomes
``in_(None)`` at most. Here every list, tuple or set of ``State`` members in the guard files loses each member in
turn (``--add``: also gains each state it lacks), and the same fast tests as ``[tool.mutmut]`` run against a copy of
the tree with that one change. A mutant is killed when the tests fail.

    python benchmarks/mutation_sets.py [--add | --add-at publisher/store.py:417 ...] [--only PLACE ...] [--jobs 2]

Prints one line per mutant, the survivors, and the score; exits 0.
"""

from __future__ import annotations

import argparse
import ast
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STATES = ["DRAFT", "PENDING_APPROVAL", "SCHEDULED", "QUEUED", "PUBLISHING", "PUBLISHED", "RETRY_WAIT", "UNKNOWN",
          "RECONCILING", "HELD", "FAILED", "CANCELLED", "EXPIRED"]


@dataclass(frozen=True)
class Mutant:
    path: str
    line: int
    original: str
    mutated: str
    start: int  # character offsets of the display in the file
    end: int

    @property
    def name(self) -> str:
        return " ".join(f"{self.path}:{self.line}: {self.original} -> {self.mutated}".split())


def _member(node: ast.expr) -> tuple[str, bool] | None:
    """``State.X`` -> ("X", False); ``State.X.value`` -> ("X", True); anything else None."""
    value = False
    if isinstance(node, ast.Attribute) and node.attr == "value":
        node, value = node.value, True
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "State":
        return node.attr, value
    return None


def _offset(lines: list[str], line: int, col: int) -> int:
    """The character offset of an ast position (its column counts UTF-8 bytes)."""
    return sum(len(s) for s in lines[:line - 1]) + len(lines[line - 1].encode()[:col].decode())


def mutants(path: str, add: bool) -> Iterator[Mutant]:
    text = (ROOT / path).read_text()
    lines = text.splitlines(keepends=True)
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, (ast.List, ast.Tuple, ast.Set)) or not node.elts:
            continue
        members = [_member(e) for e in node.elts]
        if any(m is None for m in members):
            continue
        names = [m[0] for m in members if m]
        as_value = any(m[1] for m in members if m)
        start = _offset(lines, node.lineno, node.col_offset)
        end = _offset(lines, node.end_lineno or node.lineno, node.end_col_offset or 0)
        original = text[start:end]
        opener, closer = {"List": "[]", "Tuple": "()", "Set": "{}"}[type(node).__name__]
        if original[0] != opener:  # a tuple without parentheses: not a state set
            continue

        def render(states: list[str], opener: str = opener, closer: str = closer, as_value: bool = as_value) -> str:
            items = [f"State.{s}.value" if as_value else f"State.{s}" for s in states]
            trail = "," if opener == "(" and len(items) == 1 else ""
            return opener + ", ".join(items) + trail + closer

        if len(names) > 1:
            for i in range(len(names)):
                yield Mutant(path, node.lineno, original, render(names[:i] + names[i + 1:]), start, end)
        if add:
            for s in STATES:
                if s not in names:
                    yield Mutant(path, node.lineno, original, render([*names, s]), start, end)


def run(m: Mutant, tests: list[str]) -> tuple[Mutant, bool, float]:
    """True if the tests fail (the mutant is killed)."""
    with tempfile.TemporaryDirectory(prefix="mutset-") as tmp:
        for part in ("publisher", "tests"):
            shutil.copytree(ROOT / part, Path(tmp) / part, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "pyproject.toml", tmp)
        target = Path(tmp) / m.path
        text = target.read_text()
        target.write_text(text[:m.start] + m.mutated + text[m.end:])
        started = time.monotonic()
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                              cwd=tmp, env={**_env(), "PYTHONPATH": tmp}, capture_output=True, text=True)
        return m, proc.returncode != 0, time.monotonic() - started


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("PUBLISHER_")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--add", action="store_true", help="also add each missing state to each set")
    parser.add_argument("--add-at", nargs="*", default=[], help="add missing states only to the sets at these places")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--list", action="store_true", help="only list the mutants")
    parser.add_argument("--only", nargs="*", default=[], help="only sets at these places (path:line)")
    parser.add_argument("--survivors-of", help="only the mutants an earlier run (its printed output) left alive")
    args = parser.parse_args()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    files, tests = config["only_mutate"], config["pytest_add_cli_args_test_selection"]
    todo = [m for f in files for m in mutants(f, args.add or bool(args.add_at))
            if (not args.only or f"{m.path}:{m.line}" in args.only)
            and (args.add or not args.add_at or m.mutated.count("State.") < m.original.count("State.")
                 or f"{m.path}:{m.line}" in args.add_at)]
    if args.survivors_of:
        alive = {line.split("s ", 1)[1].strip() for line in Path(args.survivors_of).read_text().splitlines()
                 if line.startswith("SURVIVED")}
        todo = [m for m in todo if m.name in alive]
    print(f"{len(todo)} state-set mutants in {', '.join(files)}; tests: {' '.join(tests)}", flush=True)
    if args.list:
        print("\n".join(m.name for m in todo))
        return
    started = time.monotonic()
    survived: list[Mutant] = []
    with ThreadPoolExecutor(args.jobs) as pool:
        for m, killed, took in pool.map(lambda m: run(m, tests), todo):
            print(f"{'killed  ' if killed else 'SURVIVED'} {took:5.1f}s {m.name}", flush=True)
            if not killed:
                survived.append(m)
    print(f"\nsurvived {len(survived)}:")
    for m in survived:
        print(f"  {m.name}")
    n = len(todo)
    print(f"\nkilled {n - len(survived)}/{n} ({100 * (n - len(survived)) / max(n, 1):.1f}%), "
          f"wall time {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
