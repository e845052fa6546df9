"""The calendar as one self-contained HTML page: no network fetch, inline CSS with a print stylesheet, a heading
per day and a real table (caption, th scope) per day; state is a symbol and a word, colour only repeats it."""

from __future__ import annotations

from datetime import UTC, datetime

from publisher.ops.calendar import View, utc_z
from publisher.ops.marks import mark
from publisher.ops.terminal import summary

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>
body { font: 15px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #111; background: #fff; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.15rem; margin: 1.5rem 0 .4rem; border-bottom: 2px solid #444; }
table { border-collapse: collapse; width: 100%; margin-bottom: .5rem; }
caption { text-align: left; font-weight: 600; padding: .2rem 0; }
th, td { text-align: left; vertical-align: top; padding: .25rem .5rem; border-bottom: 1px solid #ccc; }
thead th { background: #eee; }
td.id, td.utc { font-family: ui-monospace, monospace; font-size: .85em; }
td.id { word-break: break-all; } td.utc { white-space: nowrap; }
.state { white-space: nowrap; font-weight: 600; }
.state-published { color: #17612b; } .state-failed, .state-unknown, .state-reconciling { color: #a4161a; }
.state-held, .state-retry_wait { color: #7a4b00; } .state-pending_approval { color: #6a1b9a; }
.state-cancelled, .state-expired, .state-draft { color: #555; }
.more { font-style: italic; }
.legend { display: flex; flex-wrap: wrap; gap: .3rem 1.2rem; padding: 0; list-style: none; }
@media print {
  body { margin: 0; font-size: 10pt; color: #000; }
  .state { color: #000 !important; }
  thead th { background: none; border-bottom: 2px solid #000; }
  section { break-inside: avoid-page; }
  tr { break-inside: avoid; }
}
</style>
</head>
<body>
<header>
<h1>{{ title }}</h1>
<p>{{ days_label }}. Times in {{ zone }} (UTC beside them). {{ total_label }}</p>
<p>Generated {{ generated }} UTC by publisher.</p>
<h2 id="legend">Legend</h2>
<ul class="legend">{% for symbol, label, state in legend %}<li><span class="state state-{{ state }}">{{ symbol }} {{ label }}</span></li>{% endfor %}</ul>
{% if dense %}<p>A dense window: listed are only the deliveries that need a look ({{ dense }}), at most {{ per_cell }} per day and account; the rest are counted.</p>
{% elif cut %}<p>At most {{ per_cell }} deliveries per day and account are listed; the rest are counted.</p>{% endif %}
</header>
<main>
{% for day in days %}
<section aria-labelledby="d{{ loop.index }}">
<h2 id="d{{ loop.index }}">{{ day.label }}</h2>
{% if day.rows %}
<table>
<caption>Deliveries due {{ day.label }} ({{ zone }})</caption>
<thead><tr><th scope="col">Time ({{ zone }})</th><th scope="col">UTC</th><th scope="col">Account</th><th scope="col">Channel</th><th scope="col">State</th><th scope="col">Text</th><th scope="col">Delivery</th></tr></thead>
<tbody>
{% for r in day.rows %}{% if r.get('more') %}
<tr class="more"><th scope="row">{{ r.account }}</th><td colspan="6">… {{ r.more }}</td></tr>
{% else %}
<tr><th scope="row">{{ r.time }}</th><td class="utc">{{ r.utc }}</td><td>{{ r.account }}</td><td>{{ r.channel }}</td><td><span class="state state-{{ r.state }}">{{ r.symbol }} {{ r.label }}</span></td><td>{{ r.text }}</td><td class="id">{{ r.id }}</td></tr>
{% endif %}{% endfor %}
</tbody>
</table>
{% else %}
<p>Nothing due.</p>
{% endif %}
</section>
{% endfor %}
</main>
</body>
</html>
"""


def render(view: View) -> str:
    import jinja2

    from publisher.credentials import redact
    from publisher.ops.marks import MARKS

    w = view.window
    days = []
    for day in w.days:
        rows: list[dict[str, object]] = []
        for name, cell in view.cells.get(day, {}).items():
            for e in cell.entries:
                symbol, label, _ = mark(e["state"])
                text = e["text"] if not e["thread_key"] else f"[{e['thread_key']}#{e['thread_seq']}] {e['text']}"
                rows.append({"time": f"{e['due_at'].astimezone(w.tz):%H:%M}", "utc": utc_z(e["due_at"]),
                             "account": name, "channel": e["channel"], "state": e["state"], "symbol": symbol,
                             "label": label, "text": redact(text), "id": e["id"]})
            if cell.more:
                what = "more" if cell.entries else "deliveries"
                rows.append({"account": name, "more": f"{cell.more:,} {what} ({summary(cell.rest())})"})
        days.append({"label": f"{day:%A %d %B %Y}", "rows": rows})
    title = "Publishing calendar" + (f": {view.account}" if view.account else "")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    return env.from_string(TEMPLATE).render(
        title=title, zone=w.tz.key, days=days, per_cell=view.per_cell, cut=view.cut,
        dense=", ".join(mark(s)[1] for s in view.listed_states) if view.listed_states else "",
        days_label=f"{w.days[0]:%A %d %B %Y} to {w.days[-1]:%A %d %B %Y}",
        total_label=f"{view.total:,} deliveries" + (f": {summary(view.counts)}." if view.total else "."),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        legend=[(s, label, state) for state, (s, label, _) in MARKS.items()])
