"""feed add|list|show|pause|resume|remove|poll: blogs whose new entries are announced once each."""

from __future__ import annotations

from typing import Any

import click

from publisher.commands import app, echo, echo_json, fmt_time
from publisher.errors import InputError


@click.group(name="feed")
def feed() -> None:
    """Announce a blog's new entries (RSS, Atom, JSON Feed) on your accounts, each exactly once.

    \b
    Examples:
      publisher feed add andrews-blog https://andrew.example.org/index.xml --account andrew-bsky \\
          --account andrew-masto --template "New post: {{ title }} {{ link }} {{ tags | hashtags }}"
      publisher feed poll andrews-blog --dry-run
      publisher feed show andrews-blog

    \b
    Template fields: title, link, summary, author, tags, published.
    Filters: hashtags (tags -> #CamelCase), fit (shortens the summary to the channel's limit, never the link).
    The first poll only marks the entries present as seen, unless --backfill N announces the newest N.
    """


def _synced() -> Any:
    from publisher.workflows import feeds

    a = app()
    feeds.sync_config(a.settings, a.store)
    return feeds


def _template_for(items: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in items:
        target, sep, text = item.partition("=")
        if not sep or not target.strip() or not text.strip():
            raise InputError(f"--template-for {item[:80]!r} is not CHANNEL=TEMPLATE",
                             hint='e.g. --template-for x="{{ title }} {{ link }}" (an account name works too)')
        out[target.strip()] = text
    return out


@feed.command(name="add")
@click.argument("name")
@click.argument("url")
@click.option("--account", "accounts", multiple=True, required=True, help="Announce on this account (repeatable).")
@click.option("--template", required=True, help='Jinja2 text, e.g. "New post: {{ title }} {{ link }}".')
@click.option("--template-for", "template_for", multiple=True, metavar="CHANNEL=TEMPLATE",
              help="Another template for one channel or account (repeatable).")
@click.option("--interval", default=900, show_default=True, type=click.IntRange(1, 7 * 86400), help="Seconds between polls.")
@click.option("--backfill", default=0, show_default=True, type=click.IntRange(0, 1000),
              help="On the first poll, announce the newest N entries (0: only mark them seen).")
@click.option("--max-per-poll", default=3, show_default=True, type=click.IntRange(1, 1000),
              help="Announce at most this many at once; the rest follow at --spacing, oldest first.")
@click.option("--spacing", default=600, show_default=True, type=click.IntRange(0, 7 * 86400),
              help="Seconds between announcements beyond --max-per-poll.")
@click.option("--no-check", "no_check", is_flag=True,
              help="Store the URL without fetching it (a feed only the scheduler's network reaches).")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def add(name: str, url: str, accounts: tuple[str, ...], template: str, template_for: tuple[str, ...], interval: int,
        backfill: int, max_per_poll: int, spacing: int, no_check: bool, as_json: bool) -> None:
    """Add a feed. Its template is checked now (syntax, fields), and URL is fetched once and read as a feed: a bad
    template, an unreachable URL, a 404 or 410, or a page that is not a feed exits 2 and nothing is stored.

    If URL is a blog's HTML page, the feed it announces (its <link rel="alternate">) is found and stored."""
    feeds = _synced()
    a = app()
    spec = feeds.FeedSpec(name=name, url=url, accounts=list(dict.fromkeys(accounts)), template=template,
                          templates=_template_for(template_for), interval=interval, max_per_poll=max_per_poll,
                          spacing=spacing, backfill=backfill)
    feeds.check_spec(a.settings, spec)  # template, accounts and scheme before any network
    note = None
    if not no_check:
        from publisher.feeds.probe import probe

        probed = probe(url)
        spec.url, note = probed.url, probed.note
    row = feeds.add(a.settings, a.store, spec)
    if note and not as_json:
        echo(note)
    if as_json:
        echo_json(_public(row))
        return
    first = f"the newest {backfill} announced" if backfill else "entries present now are marked seen, not announced"
    echo(f"feed {name} added: {spec.url} -> {', '.join(spec.accounts)}; first poll at the next scheduler cycle "
         f"({first}); `publisher feed poll {name} --dry-run` shows what it would announce")


def _public(row: dict[str, Any], counts: dict[str, int] | None = None) -> dict[str, Any]:
    out = {k: row[k] for k in ("name", "url", "accounts", "template", "templates", "state", "disabled_reason",
                               "source", "last_success", "last_error", "last_error_at", "next_poll", "failures")}
    out.update(interval=row["interval_seconds"], max_per_poll=row["max_per_poll"], spacing=row["spacing_seconds"],
               first_poll_pending=row["backfill"] is not None)
    if counts is not None:
        out["entries"] = counts
    return out


@feed.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def list_cmd(as_json: bool) -> None:
    """Every feed: state, URL, accounts, last success, next poll."""
    feeds = _synced()
    with app().store.read() as conn:
        rows = feeds.all_feeds(conn)
        counts = feeds.entry_counts(conn)
    if as_json:
        echo_json([_public(r, counts.get(r["name"], {})) for r in rows])
        return
    if not rows:
        click.echo("no feeds; add one with `publisher feed add NAME URL --account A --template T`")
        return
    for r in rows:
        c = counts.get(r["name"], {})
        err = "  ERROR" if r["last_error"] and r["failures"] else ""
        echo(f"{r['name']:20} {r['state']:8} {r['url']}  -> {','.join(r['accounts'])}  announced={c.get('announced', 0)}"
             f"  last_success={fmt_time(r['last_success'])}  next={fmt_time(r['next_poll'])}{err}")


@feed.command(name="show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def show(name: str, as_json: bool) -> None:
    """One feed: definition, last success, last error, next poll, entry counts."""
    feeds = _synced()
    with app().store.read() as conn:
        row = feeds.require(conn, name)
        counts = feeds.entry_counts(conn, name).get(name, {})
    if as_json:
        echo_json(_public(row, counts))
        return
    echo(f"feed {row['name']}  ({row['state']}{': ' + row['disabled_reason'] if row['disabled_reason'] else ''})")
    echo(f"  url:          {row['url']}")
    echo(f"  accounts:     {', '.join(row['accounts'])}")
    echo(f"  template:     {row['template']}")
    for target, tpl in sorted((row["templates"] or {}).items()):
        echo(f"  template for {target}: {tpl}")
    click.echo(f"  cadence:      every {row['interval_seconds']} s, at most {row['max_per_poll']} at once, then one "
               f"every {row['spacing_seconds']} s")
    click.echo(f"  last success: {fmt_time(row['last_success'])}")
    echo(f"  last error:   {fmt_time(row['last_error_at'])} {row['last_error'] or ''}".rstrip()
         + (f" (failures in a row: {row['failures']})" if row["failures"] else ""))
    click.echo(f"  next poll:    {fmt_time(row['next_poll'])}" + ("  (first poll pending)" if row["backfill"] is not None else ""))
    click.echo(f"  entries:      {counts.get('announced', 0)} announced, {counts.get('seeded', 0)} seen at the start, "
               f"{counts.get('refused', 0)} refused")


def _set(name: str, state: str) -> None:
    feeds = _synced()
    a = app()
    row = feeds.set_state(a.settings, a.store, name, state)
    click.echo(f"feed {name} is {row['state']}")


@feed.command(name="pause")
@click.argument("name")
def pause(name: str) -> None:
    """Stop polling a feed (its seen entries are kept)."""
    _set(name, "paused")


@feed.command(name="resume")
@click.argument("name")
def resume(name: str) -> None:
    """Poll a paused or disabled feed again, now."""
    _set(name, "active")


@feed.command(name="remove")
@click.argument("name")
def remove(name: str) -> None:
    """Remove a feed and its seen entries (announcements already made stay)."""
    feeds = _synced()
    a = app()
    n = feeds.remove(a.settings, a.store, name)
    click.echo(f"feed {name} removed ({n} seen entries forgotten)")


@feed.command(name="poll")
@click.argument("name", required=False)
@click.option("--dry-run", is_flag=True, help="Print what would be announced, as rendered per account; store nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def poll(name: str | None, dry_run: bool, as_json: bool) -> None:
    """Poll one feed (or every active one) now, instead of waiting for the scheduler."""
    feeds = _synced()
    a = app()
    with a.store.read() as conn:
        rows = [feeds.require(conn, name)] if name else [r for r in feeds.all_feeds(conn) if r["state"] == "active"]
    results = [feeds.poll_feed(a.settings, a.store, r, dry_run=dry_run) for r in rows]
    if as_json:
        echo_json([{"feed": r.feed, "status": r.status, "error": r.error, "seeded": r.seeded, "bozo": r.bozo,
                    "dry_run": dry_run, "announcements": [
                        {"entry": x.entry.identity, "link": x.entry.link, "at": x.at, "texts": x.texts,
                         "post_id": x.post_id, "problem": x.problem, "image_url": x.entry.image_url}
                        for x in r.announced]} for r in results])
    else:
        for r in results:
            _print_result(r, dry_run)
    if any(r.status in ("error", "disabled") for r in results):
        from publisher.errors import EXIT_ERROR

        raise SystemExit(EXIT_ERROR)


def _print_result(r: Any, dry_run: bool) -> None:
    verb = "would announce" if dry_run else "announced"
    if r.error:
        echo(f"{r.feed}: {r.status}: {r.error}", err=True)
        return
    seeded = f"; {r.seeded} present entries {'would be ' if dry_run else ''}marked seen" if r.seeded else ""
    click.echo(f"{r.feed}: {r.status}, {verb} {len(r.announced)}{seeded}"
               + (f" (malformed feed, read anyway: {r.bozo[:120]})" if r.bozo else ""))
    for x in r.announced:
        where = f"post {x.post_id}" if x.post_id else ("not announced: " + x.problem if x.problem else "")
        echo(f"  - {x.entry.title[:80]!r} at {fmt_time(x.at)} {where}".rstrip())
        for account, text in x.texts.items():
            echo(f"      [{account}] {text}")
