"""The calendar in a terminal (rich): one section per local day, rows grouped by account."""

from __future__ import annotations

from typing import Any

from publisher.ops.calendar import View, utc_z
from publisher.ops.marks import mark


def summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {mark(s)[1]}" for s, n in sorted(counts.items(), key=lambda kv: -kv[1]))


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def render(view: View, console: Any) -> None:
    from rich.table import Table
    from rich.text import Text

    w = view.window
    last = w.days[-1]
    head = f"[bold]Calendar[/] {w.days[0]:%a %d %b %Y} – {last:%a %d %b %Y}, times in {w.tz.key}"
    if view.account:
        head += f", account {view.account}"
    console.print(head)
    console.print(f"{view.total:,} deliveries" + (f": {summary(view.counts)}" if view.total else ""))
    table = Table(box=None, show_header=True, pad_edge=False, header_style="bold")
    for col in ("time", "UTC", "account", "channel", "state", "text", "delivery"):
        if col == "text":
            table.add_column(col, no_wrap=True, overflow="ellipsis", min_width=12, ratio=1)
        else:
            table.add_column(col, no_wrap=True)
    for day in w.days:
        accounts = view.cells.get(day)
        table.add_row(Text(f"{day:%a %d %b}", style="bold underline"), "", "", "", "",
                      Text("" if accounts else "nothing due", style="dim"), "")
        for name, cell in (accounts or {}).items():
            first = True
            for e in cell.entries:
                symbol, label, style = mark(e["state"])
                text = _short(e["text"])
                if e["thread_key"]:
                    text = f"[{e['thread_key']}#{e['thread_seq']}] {text}"
                table.add_row(f"{e['due_at'].astimezone(w.tz):%H:%M}", utc_z(e["due_at"]), name if first else "",
                              e["channel"], Text(f"{symbol} {label}", style=style), Text(text), e["id"])
                first = False
            if cell.more:
                rest = dict(cell.counts)
                for e in cell.entries:
                    rest[e["state"]] -= 1
                rest = {s: n for s, n in rest.items() if n}
                table.add_row("", "", name if first else "", "", "",
                              Text(f"… {cell.more:,} more ({summary(rest)})", style="italic"), "")
    console.print(table)
    if view.cut:
        console.print(f"[dim]at most {view.per_cell} deliveries per day and account are listed, the rest counted; "
                      "--per-cell N shows more, `publisher list --since D --until D --account A` lists them all[/]")
