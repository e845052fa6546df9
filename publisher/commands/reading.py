"""list, show, audit log|verify|export."""

from __future__ import annotations

import json
import sys

import click
from sqlalchemy import select

from publisher.commands import app, echo, echo_json, fmt_time
from publisher.errors import EXIT_ERROR
from publisher.models import State
from publisher.schema import deliveries, posts


@click.command(name="list")
@click.option("--state", "states", multiple=True, type=click.Choice([s.value for s in State]),
              help="Only deliveries in this state; repeat for several.")
@click.option("--since", default=None, metavar="WHEN", help="Due at or after: -1d, +2h, 2026-12-01, an ISO time.")
@click.option("--until", default=None, metavar="WHEN", help="Due before (a date: up to the end of that day).")
@click.option("--account", default=None)
@click.option("--ticket", default=None, help="Only the posts of this ticket's thread (INC-4711).")
@click.option("--thread", default=None, help="Only the posts of this thread key.")
@click.option("--campaign", default=None, help="Only the posts of this campaign.")
@click.option("--tz", "tz_name", default=None, metavar="ZONE", help="Zone for local times and dates (default: local).")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout (the total goes to stderr).")
@click.option("--ids", "ids_only", is_flag=True, help="Print only delivery ids, one a line.")
def list_cmd(states: tuple[str, ...], since: str | None, until: str | None, account: str | None, ticket: str | None,
             thread: str | None, campaign: str | None, tz_name: str | None, limit: int, as_json: bool,
             ids_only: bool) -> None:
    """List deliveries, most recent due time first, with the total and how many more the limit cut.

    \b
    Examples:
      publisher list --state scheduled --account noc --json
      publisher list --state failed --state held --since -1d --until +7d --ticket INC-4711
      publisher list --state held --ids | xargs -n1 publisher show
    """
    from datetime import UTC, datetime

    from sqlalchemy import ColumnElement, and_, func

    from publisher.ops.when import parse_when, viewer_zone

    tz = viewer_zone(tz_name)
    now = datetime.now(UTC)
    conds: list[ColumnElement[bool]] = []
    if states:
        conds.append(deliveries.c.state.in_(sorted(set(states))))
    if since:
        conds.append(deliveries.c.due_at >= parse_when(since, tz, now, what="--since"))
    if until:
        conds.append(deliveries.c.due_at < parse_when(until, tz, now, what="--until", end_of_day=True))
    if account is not None:
        app().settings.account(account)
        conds.append(deliveries.c.account == account)
    post_filter = False
    if ticket is not None:
        from publisher.workflows.tickets import thread_key

        conds.append(posts.c.thread_key == thread_key(ticket))
        post_filter = True
    if thread is not None:
        conds.append(posts.c.thread_key == thread)
        post_filter = True
    if campaign is not None:
        conds.append(posts.c.idem_scope == f"campaign:{campaign}")
        post_filter = True
    where = and_(True, *conds)
    # the posts table only when a filter needs it: counting 100k rows through a join costs seconds, without one ms
    source = deliveries.join(posts, posts.c.id == deliveries.c.post_id) if post_filter else deliveries
    q = (select(deliveries.c.id, deliveries.c.post_id, deliveries.c.account, deliveries.c.channel,
                deliveries.c.state, deliveries.c.due_at, deliveries.c.attempts, deliveries.c.remote_url,
                deliveries.c.payload, deliveries.c.last_error)
         .select_from(source).where(where).order_by(deliveries.c.due_at.desc(), deliveries.c.id).limit(limit))
    with app().store.read() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
        total = len(rows) if len(rows) < limit else \
            conn.execute(select(func.count()).select_from(source).where(where)).scalar_one()
        threads = dict(conn.execute(select(posts.c.id, posts.c.thread_key)
                                    .where(posts.c.id.in_({r["post_id"] for r in rows}))).all()) if rows else {}
    for r in rows:
        r["thread_key"] = threads.get(r["post_id"])
    more = total - len(rows)
    note = f"{len(rows)} of {total} deliveries; {more} more (raise --limit or narrow the filters)" if more else ""
    if ids_only:
        for r in rows:
            click.echo(r["id"])
        if note:
            click.echo(note, err=True)
        return
    if as_json:
        echo_json([{**{k: v for k, v in r.items() if k != "payload"}, "text": r["payload"]["text"],
                    "due_local": r["due_at"].astimezone(tz).isoformat()} for r in rows])
        if note:
            click.echo(note, err=True)
        return
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table("delivery", "post", "account", "state", f"due ({tz.key})", "due (UTC)", box=None)
    table.add_column("text", no_wrap=True, overflow="ellipsis", min_width=12)
    for col in table.columns[:6]:
        col.no_wrap = True
    for r in rows:
        text = " ".join(r["payload"]["text"].split())
        table.add_row(r["id"], r["post_id"], r["account"], r["state"], f"{r['due_at'].astimezone(tz):%Y-%m-%d %H:%M}",
                      fmt_time(r["due_at"]), Text(text if len(text) <= 50 else text[:49] + "…"))
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 220)  # piped: ids never cut
    if not rows:
        click.echo("no deliveries match")
        return
    console.print(table)
    click.echo(note or f"{total} {'delivery' if total == 1 else 'deliveries'}")


@click.command()
@click.argument("ident")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def show(ident: str, as_json: bool) -> None:
    """Show a post or delivery: each delivery's exact payload, state, attempts, remote URL, and the audit trail.

    \b
    Example:
      publisher show p-1a2319248004f1c9e2b7a6d --json
    """
    from publisher import audit, service
    from publisher.workflows import approvals

    post, ds = service.resolve_ids(app().store, ident)
    with app().store.read() as conn:
        trail = list(audit.rows(conn, post_id=post.get("id"), delivery_ids=[d["id"] for d in ds]))
        decisions = approvals.status(app().settings, conn, post["id"], {d["account"] for d in ds}) if post else {}
    for e in trail:
        e["details"] = json.loads(e["details"])
    if as_json:
        echo_json({"post": post, "deliveries": ds, "approvals": decisions, "audit": trail})
        return
    click.echo(f"post {post['id']}  kind={post['kind']}  by={post['created_by']}  scheduled={fmt_time(post['scheduled_at'])}"
               + (f"  not_after={fmt_time(post['not_after'])}" if post["not_after"] else "")
               + (f"  thread={post['thread_key']}#{post['thread_seq']}" if post["thread_key"] else ""))
    if (post.get("variables") or {}).get("feed"):  # a blog announcement: the feed entry it announces
        echo(f"  feed: {post['variables']['feed']}  entry: {post['variables'].get('entry')}")
    if decisions:
        echo("  approvals: " + "; ".join(f"{a} {what}" for a, what in decisions.items()))
    for d in ds:
        click.echo(f"\n  delivery {d['id']}  {d['account']} ({d['channel']})  state={d['state']}  attempts={d['attempts']}"
                   f"  due={fmt_time(d['due_at'])}")
        click.echo(f"    payload: {json.dumps(d['payload'], ensure_ascii=False)}")
        if d["prev_id"]:
            click.echo(f"    replies to delivery: {d['prev_id']}")
        if d["remote_id"]:
            click.echo(f"    remote: {d['remote_id']}  {d['remote_url'] or ''}")
        if d["last_error"]:
            echo(f"    note: {d['last_error']}")
    click.echo("\n  audit:")
    for e in trail:
        click.echo(f"    #{e['seq']} {fmt_time(e['at'])} {e['actor']} {e['action']} {e['delivery_id'] or ''}")


@click.group()
def audit() -> None:
    """The tamper-evident audit log.

    \b
    Examples:
      publisher audit log --post p-1a2319248004f1c9e2b7a6d
      publisher audit verify
      publisher audit head            # record the printed SEQ:HASH outside the store
      publisher audit verify --expect-head SEQ:HASH
      publisher audit export --format jsonl > audit.jsonl
    """


@audit.command(name="log")
@click.option("--post", "post_id", default=None)
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000_000))
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def audit_log(post_id: str | None, limit: int, as_json: bool) -> None:
    """Print audit events (oldest first)."""
    from publisher import audit as audit_mod

    with app().store.read() as conn:
        ids = None
        if post_id:
            if conn.execute(select(posts.c.id).where(posts.c.id == post_id)).first() is None:
                from publisher.errors import NotFound

                raise NotFound(f"no post {post_id!r}", hint="`publisher list` shows post ids")
            ids = [r[0] for r in conn.execute(select(deliveries.c.id).where(deliveries.c.post_id == post_id))]
        events = []
        for e in audit_mod.rows(conn, post_id=post_id, delivery_ids=ids):
            events.append(e)
            if len(events) >= limit:
                break
    if as_json:
        echo_json([{**e, "details": json.loads(e["details"])} for e in events])
        return
    for e in events:
        click.echo(f"#{e['seq']} {fmt_time(e['at'])} {e['actor']:<20} {e['action']:<18} "
                   f"{e['post_id'] or '-'} {e['delivery_id'] or '-'} {e['details']}")


@audit.command(name="head")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def audit_head(as_json: bool) -> None:
    """Seal the log and print the newest seal as SEQ:HASH, for a witness outside the store.

    The log is several hash chains (streams); a seal commits every stream's newest event into one chain of seals.
    A chain cannot see its own tail being cut, nor a log edited and rehashed from the edit on. Record this line
    somewhere the store's writers cannot change (a log, a ticket, another machine), and later run
    `publisher audit verify --expect-head SEQ:HASH`: it proves every event sealed then is still there, unchanged.

    \b
    Example:
      publisher audit head | logger -t publisher-audit-head
    """
    from publisher import audit as audit_mod

    with app().store.tx() as conn:
        seq, digest = audit_mod.seal(conn)
    if as_json:
        echo_json({"seq": seq, "hash": digest, "head": f"{seq}:{digest}"})
    else:
        click.echo(f"{seq}:{digest}")


@audit.command(name="seal")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def audit_seal(as_json: bool) -> None:
    """Commit every audit stream's newest event into the chain of seals now (the scheduler does it every few
    seconds) and print the newest seal as SEQ:HASH. Nothing is written if no stream moved since the last seal.

    \b
    Example:
      publisher audit seal
    """
    from publisher import audit as audit_mod

    with app().store.tx() as conn:
        before = audit_mod.head(conn)
        seq, digest = audit_mod.seal(conn)
    if as_json:
        echo_json({"seq": seq, "hash": digest, "head": f"{seq}:{digest}", "new": (seq, digest) != before})
    else:
        click.echo(f"{seq}:{digest}")


def _parse_heads(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[tuple[int, str]]:
    from publisher import audit as audit_mod

    try:
        return [audit_mod.parse_head(v) for v in values]
    except ValueError as e:
        raise click.BadParameter(f"{e}; `publisher audit head` prints one") from None


@audit.command(name="verify")
@click.option("--expect-head", "expect", multiple=True, callback=_parse_heads, metavar="SEQ:HASH",
              help="A head printed earlier by `audit head`: fail unless seal SEQ still has HASH and every event it "
                   "sealed is still there. Repeatable.")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def audit_verify(expect: list[tuple[int, str]], as_json: bool) -> None:
    """Recompute the hash chain, check every post and delivery against it (its newest event exists, its content
    matches the audited digest), given --expect-head that the witnessed head is still in the chain, and with
    PUBLISHER_AUDIT_KEY_FILE set every seal. Exit 1 and name what is wrong otherwise. docs/audit.md says what
    each check detects.

    \b
    Example:
      publisher audit verify --expect-head 1842:3f5a...e9
    """
    from publisher import audit as audit_mod

    key = audit_mod.audit_key()
    with app().store.read() as conn:
        v = audit_mod.verify(conn, expect, key)
    mode = "+".join(v.modes) or "chain"
    if as_json:
        echo_json({"ok": v.ok, "checked": v.checked, "first_bad_seq": v.first_bad_seq, "reason": v.reason,
                   "mode": mode, "head": f"{v.head[0]}:{v.head[1]}", "problems": v.problems, "rows": v.rows,
                   "unanchored": v.unanchored, "undigested": v.undigested, "seals": v.seals})
    elif v.ok:
        click.echo(f"audit log intact: {v.checked} events, hash chain verified; {v.rows} posts and deliveries match "
                   f"their newest events and content digests (mode: {mode})")
        if v.unanchored or v.undigested:
            click.echo(f"note: {v.unanchored} rows predate audit_seq and {v.undigested} rows predate content digests: "
                       "those parts of them were not checked")
        if v.seals and key is None:
            click.echo(f"note: {v.seals} seal events not checked: no key ({audit_mod.KEY_FILE_ENV} is not set)")
        if not expect:
            click.echo(f"note: without --expect-head a cut tail or a rehashed log can pass; witness the head "
                       f"`publisher audit head` prints (the newest seal now: {v.head[0]}:{v.head[1]})")
    elif v.first_bad_seq is not None:
        click.echo(f"audit log BROKEN at event {v.first_bad_seq}: {v.reason} ({v.checked} events before it verified)", err=True)
    else:
        click.echo(f"audit log BROKEN (mode: {mode}): {len(v.problems)} problem(s)", err=True)
        for p in v.problems[:50]:
            click.echo(f"  {p}", err=True)
        if len(v.problems) > 50:
            click.echo(f"  ... and {len(v.problems) - 50} more (--json lists all)", err=True)
    if not v.ok:
        sys.exit(EXIT_ERROR)


@audit.command(name="export")
@click.option("--format", "fmt", type=click.Choice(["jsonl"]), default="jsonl", show_default=True)
def audit_export(fmt: str) -> None:
    """Write every event as JSON lines to stdout."""
    from publisher import audit as audit_mod

    with app().store.read() as conn:
        for line in audit_mod.export_jsonl(conn):
            click.echo(line)
