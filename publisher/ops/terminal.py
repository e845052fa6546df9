"""The calendar in a terminal: one section per local day, rows grouped by account. Plain formatted lines (colour
through click.style, dropped when piped): a month of dense cells prints in milliseconds, where a rich Table of
a thousand rows took seconds."""

from __future__ import annotations

from collections.abc import Callable

import click

from publisher.ops.calendar import View, utc_z
from publisher.ops.marks import mark

_COLOURS = {"dim": "bright_black", "magenta": "magenta", "cyan": "cyan", "blue": "blue", "green": "green",
            "yellow": "yellow", "bold yellow": "yellow", "red": "red", "bold red": "red"}


def summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {mark(s)[1]}" for s, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _short(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render(view: View, echo: Callable[[str], None], *, width: int = 160, colour: bool = False) -> None:
    def style(text: str, st: str = "", bold: bool = False) -> str:
        return click.style(text, fg=_COLOURS.get(st), bold=bold or "bold" in st) if colour else text

    w = view.window
    head = f"Calendar {w.days[0]:%a %d %b %Y} – {w.days[-1]:%a %d %b %Y}, times in {w.tz.key}"
    echo(style(head + (f", account {view.account}" if view.account else ""), bold=True))
    echo(f"{view.total:,} deliveries" + (f": {summary(view.counts)}" if view.total else ""))
    names = [a for accounts in view.cells.values() for a in accounts] or ["account"]
    acc_w = max(7, *(len(a) for a in names))
    text_w = max(20, width - (5 + 7 + acc_w + 9 + 16 + 26 + 6))
    echo(style(f"{'time':<5}  {'UTC':<6} {'account':<{acc_w}} {'channel':<8} {'state':<15} {'text':<{text_w}} delivery",
               bold=True))
    for day in w.days:
        accounts = view.cells.get(day)
        echo("")
        echo(style(f"{day:%a %d %b}", bold=True) + ("" if accounts else style("  nothing due", "dim")))
        for name, cell in (accounts or {}).items():
            first = True
            for e in cell.entries:
                symbol, label, st = mark(e["state"])
                text = e["text"] if not e["thread_key"] else f"[{e['thread_key']}#{e['thread_seq']}] {e['text']}"
                echo(f"{e['due_at'].astimezone(w.tz):%H:%M}  {utc_z(e['due_at']):<6} "
                     f"{(name if first else ''):<{acc_w}} {e['channel']:<8} {style(f'{symbol} {label}'.ljust(15), st)} "
                     f"{_short(text, text_w):<{text_w}} {e['id']}")
                first = False
            if cell.more:
                what = "more" if cell.entries else "deliveries"
                echo(f"{'':<5}  {'':<6} {(name if first else ''):<{acc_w}} "
                     + style(f"… {cell.more:,} {what} ({summary(cell.rest())})", "dim"))
    echo("")
    if view.listed_states:
        echo(style(f"a dense window ({view.total:,} deliveries): listed are only those that need a look "
                   f"({', '.join(mark(s)[1] for s in view.listed_states)}), at most {view.per_cell} per day and "
                   "account; the rest are counted. Narrow with --account or --from/--to, or "
                   "`publisher list --since D --until D`", "dim"))
    elif view.cut:
        echo(style(f"at most {view.per_cell} deliveries per day and account are listed, the rest counted; "
                   "--per-cell N shows more, `publisher list --since D --until D --account A` lists them all", "dim"))
