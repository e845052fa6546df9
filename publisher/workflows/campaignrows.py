"""The rows and audit events a campaign's new posts become (``campaigns.apply``), built on every core for many.

Building them is most of an import's commit: every post and delivery as a row bound for the driver (its JSON
columns encoded), its content digest, its payload hash, its audit event rendered (canonical JSON, redacted). None
of it reads the store for a row without a thread key (its post, its deliveries and their ids are new), so those
rows are built before the transaction, in forked processes for a large file; only the rows of a thread (their
place in it comes from the store) are built inside the transaction, in order. The transaction then writes what
was built, and the audit chain is computed over the rendered events in their order (``audit.append_pending``):
the same rows and the same chain as building them one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from publisher import audit, rawsql, service
from publisher.models import Payload, State
from publisher.schema import deliveries, posts
from publisher.settings import Settings
from publisher.store import new_id
from publisher.workflows import approvals, forked

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from publisher.workflows.campaigns import Planned

#: id(rendered) -> (rendered, its tone keys): rows whose check was shared (``check_all``) share one ``rendered``
ToneKeys = dict[int, tuple[dict[str, list[Payload]], dict[tuple[str, int], str]]]
#: building at least this many rows uses every core (forked workers, Linux)
PARALLEL_FROM = 1000


@dataclass
class Built:
    """One new row of a campaign as it will be stored: its post and its deliveries as the driver's values (in
    ``columns`` order), and its events rendered for the chain."""

    post: tuple[Any, ...]
    deliveries: list[tuple[Any, ...]]
    events: list[audit.Pending]

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as its fields: a forked builder sends thousands back, and a dataclass's default pickling cost
        it a third of its time."""
        return Built, (self.post, self.deliveries, self.events)


def scope(name: str) -> str:
    """The idempotency scope of a campaign's posts (their row key is the idempotency key)."""
    return f"campaign:{name}"


def tone_keys(settings: Settings, p: Planned, memo: ToneKeys | None) -> dict[tuple[str, int], str]:
    """``service.tone_keys`` of the row's payloads, computed once per shared rendering (same kind, same payloads)."""
    hit = memo.get(id(p.rendered)) if memo is not None else None
    if hit is not None and hit[0] is p.rendered:
        return hit[1]
    keys = service.tone_keys(settings, p.new.kind, p.rendered)
    if memo is not None:
        memo[id(p.rendered)] = (p.rendered, keys)
    return keys


def new_rows(settings: Settings, p: Planned, now: datetime, last: dict[tuple[str, str], str], seq: int | None,
             memo: ToneKeys | None = None) -> tuple[dict[str, Any], list[dict[str, Any]], list[audit.Event]]:
    """The post, its deliveries and their events for a new row; ``seq`` is its place in its thread (None: none)."""
    new = p.new
    post_id = new_id("p")
    post: dict[str, Any] = dict(
        id=post_id, kind=new.kind.value, text=new.text, link=new.link, language=new.language, variables=new.variables,
        scheduled_at=new.at, not_after=new.not_after, thread_key=new.thread_key, thread_seq=seq,
        idem_scope=scope(new.variables["campaign"]["name"]), idem_key=new.idempotency_key, overrides=[],
        created_by=settings.actor, created_at=now)
    events = [audit.Event("post.accepted", post_id=post_id, details={
        audit.DIGEST_KEY: audit.post_digest(post), "accounts": sorted(p.rendered), "kind": new.kind.value,
        "scheduled_at": new.at.isoformat(), "not_after": new.not_after.isoformat() if new.not_after else None,
        "thread": new.thread_key, "thread_seq": seq, "idempotency_key": new.idempotency_key,
        "campaign": new.variables["campaign"].get("name"), "variants": sorted(new.variants),
        "findings": [f.to_dict() for f in p.findings if f.severity != "info"]})]
    # every copy waits if any of the row's accounts needs approval: none goes out before the others are approved
    first = approvals.first_state(settings, p.rendered)
    rows, evs = delivery_rows(settings, p, post_id, list(p.rendered), now, last, first, memo)
    return post, rows, events + evs


def delivery_rows(settings: Settings, p: Planned, post_id: str, accounts: list[str], now: datetime,
                  last: dict[tuple[str, str], str], first: State, memo: ToneKeys | None = None
                  ) -> tuple[list[dict[str, Any]], list[audit.Event]]:
    """The deliveries of the row's ``accounts``, all starting in ``first`` (the post's state, not the account's)."""
    keys = tone_keys(settings, p, memo)
    rows: list[dict[str, Any]] = []
    events: list[audit.Event] = []
    for name in accounts:
        parts = p.rendered[name]
        account = settings.account(name)
        prev = last.get((p.new.thread_key, name)) if p.new.thread_key else None
        for i, payload in enumerate(parts, 1):
            did = new_id("d")
            data = payload.to_dict()
            rows.append(dict(id=did, post_id=post_id, account=name, channel=account.channel, part=i, payload=data,
                             state=first.value, attempts=0, due_at=p.due[name], not_after=p.until.get(name),
                             prev_id=prev, updated_at=now, tone_key=keys[(name, i)],
                             thread_key=p.new.thread_key or (f"split:{post_id}:{name}" if len(parts) > 1 else None)))
            events.append(audit.Event(first.value, post_id=post_id, delivery_id=did, account=name, details={
                "to": first.value, "part": i, "parts": len(parts), "prev": prev,
                "payload_sha256": service.payload_hash(data), audit.DIGEST_KEY: audit.delivery_digest(rows[-1])}))
            prev = did
        if p.new.thread_key and prev:
            last[(p.new.thread_key, name)] = prev
    return rows, events


@lru_cache(maxsize=4)
def columns(table: Any) -> tuple[str, ...]:
    """The columns ``new_rows`` and ``delivery_rows`` fill, in the table's order (every other one has a default)."""
    return tuple(c.name for c in table.columns if c.name in _FILLED[table.name])


_FILLED = {"posts": {"id", "kind", "text", "link", "language", "variables", "scheduled_at", "not_after", "thread_key",
                     "thread_seq", "idem_scope", "idem_key", "overrides", "created_by", "created_at"},
           "deliveries": {"id", "post_id", "account", "channel", "part", "payload", "state", "attempts", "due_at",
                          "not_after", "prev_id", "updated_at", "tone_key", "thread_key"}}


def bind(d: rawsql.Dialect, table: Any, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Rows as the driver's values, in ``columns(table)`` order."""
    binders = d.binders(table)
    names = columns(table)
    if rows and rows[0].keys() != set(names):  # a key added to a row and not to _FILLED would not be stored
        raise AssertionError(f"{table.name} rows fill {sorted(rows[0])}, _FILLED names {sorted(names)}")
    cols = [(c, binders[c]) for c in names]
    return [tuple(f(r[c]) for c, f in cols) for r in rows]


def insert(conn: Connection, table: Any, values: list[tuple[Any, ...]]) -> None:
    """Many rows in few statements on the driver (``rawsql.insert_many``): SQLAlchemy's per-row type processing
    cost more than SQLite itself for a 10,000-row campaign."""
    if values:
        rawsql.insert_many(conn, table.name, columns(table), values)


def build(settings: Settings, d: rawsql.Dialect, p: Planned, now: datetime, last: dict[tuple[str, str], str],
          seq: int | None, memo: ToneKeys | None = None) -> Built:
    post, rows, events = new_rows(settings, p, now, last, seq, memo)
    return Built(bind(d, posts, [post])[0], bind(d, deliveries, rows),
                 [audit.pending(settings.actor, ev) for ev in events])


_JOB: tuple[Settings, rawsql.Dialect, list[Planned], datetime] | None = None


def _build_range(span: tuple[int, int]) -> list[Built]:
    assert _JOB is not None
    settings, d, rows, now = _JOB
    memo: ToneKeys = {}
    return [build(settings, d, p, now, {}, None, memo) for p in rows[span[0]:span[1]]]


def build_loose(settings: Settings, d: rawsql.Dialect, rows: list[Planned], now: datetime) -> list[Built]:
    """``build`` for rows without a thread key (nothing of theirs depends on the store), in order; across every
    core for many rows (``forked.run``: the workers inherit the rows; only the built values travel back)."""
    global _JOB
    assert all(not p.new.thread_key for p in rows)
    workers = forked.cores()
    if len(rows) < max(PARALLEL_FROM, 2) or workers < 2:
        memo: ToneKeys = {}
        return [build(settings, d, p, now, {}, None, memo) for p in rows]
    step = -(-len(rows) // (workers * 2))
    spans = [(i, min(i + step, len(rows))) for i in range(0, len(rows), step)]
    _JOB = (settings, d, rows, now)
    try:
        return [b for part in forked.run(_build_range, spans, "building the campaign's rows") for b in part]
    finally:
        _JOB = None
