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
@click.option("--state", type=click.Choice([s.value for s in State]), default=None)
@click.option("--account", default=None)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def list_cmd(state: str | None, account: str | None, limit: int, as_json: bool) -> None:
    """List deliveries, most recent due time first.

    \b
    Example:
      publisher list --state scheduled --account noc --json
    """
    q = (select(deliveries.c.id, deliveries.c.post_id, deliveries.c.account, deliveries.c.channel,
                deliveries.c.state, deliveries.c.due_at, deliveries.c.attempts, deliveries.c.remote_url,
                deliveries.c.payload, deliveries.c.last_error)
         .order_by(deliveries.c.due_at.desc(), deliveries.c.id).limit(limit))
    if state:
        q = q.where(deliveries.c.state == state)
    if account is not None:
        app().settings.account(account)
        q = q.where(deliveries.c.account == account)
    with app().store.read() as conn:
        rows = [dict(r) for r in conn.execute(q).mappings()]
    if as_json:
        echo_json([{**{k: v for k, v in r.items() if k != "payload"}, "text": r["payload"]["text"]} for r in rows])
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("delivery", "post", "account", "state", "due (UTC)", "text", box=None)
    for r in rows:
        text = r["payload"]["text"]
        table.add_row(r["id"], r["post_id"], r["account"], r["state"], fmt_time(r["due_at"]),
                      text if len(text) <= 50 else text[:49] + "…")
    Console().print(table) if rows else click.echo("no deliveries match")


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

    post, ds = service.resolve_ids(app().store, ident)
    with app().store.read() as conn:
        trail = list(audit.rows(conn, post_id=post.get("id"), delivery_ids=[d["id"] for d in ds]))
    for e in trail:
        e["details"] = json.loads(e["details"])
    if as_json:
        echo_json({"post": post, "deliveries": ds, "audit": trail})
        return
    click.echo(f"post {post['id']}  kind={post['kind']}  by={post['created_by']}  scheduled={fmt_time(post['scheduled_at'])}"
               + (f"  not_after={fmt_time(post['not_after'])}" if post["not_after"] else "")
               + (f"  thread={post['thread_key']}#{post['thread_seq']}" if post["thread_key"] else ""))
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
