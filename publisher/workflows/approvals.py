"""Two-person approval, per post and account: a post waits until every one of its accounts that has `approvers:`
approved it, and no copy goes out before (not even to an account that needs no approval).

- A post with at least one account that needs approval is stored with EVERY delivery in ``pending_approval``
  (``first_state``); the accounts that need it are named in the audit event.
- ``approve`` records an ``approved`` decision for (post, account) in the ``approvals`` table; once every account
  of the post that needs approval has one, all the post's ``pending_approval`` deliveries move to ``scheduled`` in
  the same transaction. Approving again is not an error (``already``).
- ``reject`` (with a reason) cancels every delivery of the post still waiting for approval, recording the reason.
- Only a listed approver of the account may decide, never the post's author (two-person rule): exit 4.

Write transactions are serialised (``Store.tx``), so two approvers of two accounts approving at once release the
post exactly once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from publisher import audit
from publisher.errors import InputError, InvalidState, NotFound, NotPermitted
from publisher.models import State
from publisher.settings import Settings
from publisher.store import (
    Store,
    Transition,
    deliveries_of_posts,
    get_deliveries,
    get_posts,
    lock_keys,
    new_id,
    transitions,
    utcnow,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection

APPROVED = "approved"
REJECTED = "rejected"


@dataclass
class Outcome:
    """What one ``approve`` or ``reject`` call did, per post."""

    decided: list[tuple[str, str]] = field(default_factory=list)  # (post id, account) newly approved / rejected
    already: list[tuple[str, str]] = field(default_factory=list)  # (post id, account) decided the same way before
    moved: list[str] = field(default_factory=list)  # delivery ids released (approve) or cancelled (reject)
    waiting: dict[str, list[str]] = field(default_factory=dict)  # post id -> accounts still to approve it


def needs_approval(settings: Settings, accounts: Iterable[str]) -> list[str]:
    """The accounts (of these) that have approvers, sorted."""
    return sorted({a for a in accounts if a in settings.accounts and settings.accounts[a].approvers})


def first_state(settings: Settings, accounts: Iterable[str]) -> State:
    """The state every delivery of a new post to ``accounts`` starts in: all wait if any account needs approval."""
    return State.PENDING_APPROVAL if needs_approval(settings, accounts) else State.SCHEDULED


_CHUNK = 5000  # ids per IN (...) query: far below SQLite's limit of bound parameters


def _table() -> Any:
    from publisher.schema import approvals  # SQLAlchemy: not loaded by the CLI's post and ticket commands

    return approvals


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(values), _CHUNK):
        yield values[i:i + _CHUNK]


def _resolve_all(conn: Connection, ids: Sequence[str]) -> list[tuple[str, dict[str, Any], list[dict[str, Any]],
                                                                     str | None]]:
    """Post or delivery ids -> (id, post, all its deliveries, the delivery's account if a delivery id was given),
    in a few queries however many ids (``campaign approve`` passes a campaign's posts). NotFound names the first
    unknown id."""
    wanted = list(dict.fromkeys(ids))
    found: dict[str, dict[str, Any]] = {}
    for chunk in _chunks(wanted):
        found.update(get_posts(conn, chunk))
    by_delivery: dict[str, dict[str, Any]] = {}
    for chunk in _chunks([i for i in wanted if i not in found]):
        by_delivery.update(get_deliveries(conn, chunk))
    missing = [i for i in wanted if i not in found and i not in by_delivery]
    if missing:
        raise NotFound(f"no post or delivery with id {missing[0]!r}"
                       + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""),
                       hint="`publisher list --state pending_approval` shows ids; nothing was changed")
    extra = list({d["post_id"] for d in by_delivery.values()} - set(found))
    for chunk in _chunks(extra):
        found.update(get_posts(conn, chunk))
    post_ids = list({*(i for i in wanted if i in found), *(d["post_id"] for d in by_delivery.values())})
    ds: dict[str, list[dict[str, Any]]] = {}
    for chunk in _chunks(post_ids):
        ds.update(deliveries_of_posts(conn, chunk))
    out = []
    for i in wanted:
        if i in by_delivery:
            d = by_delivery[i]
            out.append((i, found.get(d["post_id"]) or {"id": d["post_id"]}, ds.get(d["post_id"], []), d["account"]))
        else:
            out.append((i, found[i], ds.get(i, []), None))
    return out


def _decided_locked(conn: Connection, post_ids: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """The decisions on these posts, read under a key lock per post (PostgreSQL): two approvers deciding on one post
    at once see each other's decision, so the last one releases it, exactly once."""
    lock_keys(conn, *(f"approval:{p}" for p in post_ids))
    return _decisions(conn, list(dict.fromkeys(post_ids)))


def after_change(settings: Settings, conn: Connection, post_id: str, accounts: Iterable[str], content_changed: bool,
                 actor: str, why: str) -> tuple[State, list[audit.Event]]:
    """The state the not yet published copies of a changed post go to, and the events of what changed here. A new
    content makes every decision on the post void (approvers approved the old text): they are deleted and it waits
    again. Otherwise the decisions stand, and it waits only while an account needing approval has none (an account
    added to the post that needs approval, say)."""
    events: list[audit.Event] = []
    decided = _decided_locked(conn, [post_id])[post_id]
    if content_changed and decided:
        events = reset(conn, post_id, actor, why)
        decided = {}
    waiting = [a for a in needs_approval(settings, accounts) if (decided.get(a) or {}).get("decision") != APPROVED]
    return (State.PENDING_APPROVAL if waiting else State.SCHEDULED), events


def reset(conn: Connection, post_id: str, actor: str, why: str) -> list[audit.Event]:
    """Delete every decision on the post (its text changed: they were for the old one); the ``approval.reset``
    event to audit, if there was any."""
    from sqlalchemy import delete

    if not conn.execute(delete(_table()).where(_table().c.post_id == post_id)).rowcount:
        return []
    return [audit.Event("approval.reset", post_id=post_id, details={"by": actor, "reason": why})]


def _decisions(conn: Connection, post_ids: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    """post id -> account -> its decision row."""
    from sqlalchemy import select

    table = _table()
    out: dict[str, dict[str, dict[str, Any]]] = {p: {} for p in post_ids}
    for chunk in _chunks(post_ids):
        for r in conn.execute(select(table).where(table.c.post_id.in_(chunk))).mappings():
            out[r["post_id"]][r["account"]] = dict(r)
    return out


def _check_approver(settings: Settings, actor: str, post: dict[str, Any], account: str, verb: str) -> None:
    approvers = settings.account(account).approvers or []
    if actor not in approvers:
        raise NotPermitted(f"{actor!r} may not {verb} posts to account {account!r}",
                           hint=f"ask one of {', '.join(approvers) or 'the approvers'} (accounts.{account}.approvers)")
    if verb == "approve" and actor == post.get("created_by"):
        others = ", ".join(a for a in approvers if a != actor) or "none is configured"
        raise NotPermitted(f"{actor!r} wrote post {post['id']} and cannot also approve it (two-person rule)",
                           hint=f"ask another approver of {account}: {others}")


def _targets(settings: Settings, actor: str, post: dict[str, Any], ds: list[dict[str, Any]], account: str | None,
             verb: str) -> list[str]:
    """The accounts of ``post`` this call decides for: the delivery's account, or, for a post id, every account
    needing approval that ``actor`` approves (at least one, else NotPermitted naming the first)."""
    required = needs_approval(settings, {d["account"] for d in ds})
    if account is not None and account in required:
        _check_approver(settings, actor, post, account, verb)
        return [account]
    if account is not None and verb == "approve":
        return []  # needs no approval of its own: it goes with the others (reported as waiting)
    mine = [a for a in required if actor in (settings.account(a).approvers or [])]
    if not required:
        return []
    if not mine:
        _check_approver(settings, actor, post, required[0], verb)  # raises, naming the approvers
    for a in mine:
        _check_approver(settings, actor, post, a, verb)
    return mine


def approve(settings: Settings, store: Store, ids: Sequence[str], actor: str | None = None) -> Outcome:
    """Approve posts (or one account's deliveries, by delivery id) for ``actor`` (default: the settings' actor).
    Everything is checked before anything is written: all ids or none. One transaction, a few statements."""
    who = actor or settings.actor
    out = Outcome()
    with store.tx() as conn:
        plan = [(ident, post, ds, _targets(settings, who, post, ds, account, "approve"))
                for ident, post, ds, account in _resolve_all(conn, ids)]
        decided = _decided_locked(conn, [post["id"] for _, post, _, _ in plan])
        rows: list[dict[str, Any]] = []
        events: list[audit.Event] = []
        moves: list[Transition] = []
        released: set[str] = set()
        at = utcnow()
        for ident, post, ds, targets in plan:
            mine = decided[post["id"]]
            pending = [d for d in ds if d["state"] == State.PENDING_APPROVAL.value]
            for a in targets:
                prior = mine.get(a)
                if prior is not None and prior["decision"] == APPROVED:
                    if (post["id"], a) not in out.decided:
                        out.already.append((post["id"], a))
                    continue
                if prior is not None:
                    raise InvalidState(f"post {post['id']} was rejected on {a} by {prior['actor']}: "
                                       f"{prior['reason']}", hint="post it again if it should go out")
                if not any(d["account"] == a for d in pending):
                    states = ", ".join(sorted({d["state"] for d in ds if d["account"] == a}))
                    raise InvalidState(f"nothing to approve: {ident} on {a} is {states}",
                                       hint="only deliveries waiting for approval (pending_approval) can be approved")
                rows.append(dict(id=new_id("ap"), post_id=post["id"], account=a, actor=who, decision=APPROVED,
                                 reason=None, at=at))
                mine[a] = {"decision": APPROVED, "actor": who}
                events.append(audit.Event("approval.granted", post_id=post["id"], account=a, details={"by": who}))
                out.decided.append((post["id"], a))
            if not targets and not pending:
                raise InvalidState(f"nothing to approve: no delivery of {ident} waits for approval",
                                   hint="`publisher show ID` shows its state")
            required = needs_approval(settings, {d["account"] for d in ds})
            if not required:  # its accounts' approvers were removed from the config since: a poster releases it
                from publisher import service

                for d in pending:
                    service.may_change(dataclasses.replace(settings, actor=who), post, d, "release")
            missing = [a for a in required if (mine.get(a) or {}).get("decision") != APPROVED]
            if missing:
                out.waiting[post["id"]] = missing
                continue
            if post["id"] in released:
                continue
            released.add(post["id"])
            out.waiting.pop(post["id"], None)
            approved_by = {a: mine[a]["actor"] for a in required}
            moves.extend(Transition(d, [State.PENDING_APPROVAL], State.SCHEDULED, "approved",
                                    details={"by": who, "approved_by": approved_by}) for d in pending)
        if rows:
            conn.execute(_table().insert(), rows)
        audit.append(conn, who, events, at=at)
        out.moved.extend(m.delivery["id"] for m, ok in zip(moves, transitions(conn, who, moves), strict=True) if ok)
    return out


def reject(settings: Settings, store: Store, ids: Sequence[str], actor: str | None, reason: str) -> Outcome:
    """Reject posts (a delivery id rejects its whole post): every delivery still waiting for approval is cancelled,
    with the reason recorded and audited. Only an approver of one of the post's accounts needing approval may."""
    who = actor or settings.actor
    why = (reason or "").strip()
    if not why:
        raise InputError("a rejection needs a reason", hint='add --reason "why", e.g. --reason "wrong date"')
    out = Outcome()
    with store.tx() as conn:
        plan = []
        for ident, post, ds, account in _resolve_all(conn, ids):
            targets = _targets(settings, who, post, ds, account, "reject")
            if not targets:
                raise InvalidState(f"nothing to reject: post {post['id']} needs no approval",
                                   hint=f"`publisher cancel {ident}` cancels it")
            plan.append((ident, post, ds, targets))
        decided = _decided_locked(conn, [post["id"] for _, post, _, _ in plan])
        rows: list[dict[str, Any]] = []
        events: list[audit.Event] = []
        moves: list[Transition] = []
        done: set[str] = set()
        at = utcnow()
        for ident, post, ds, targets in plan:
            if post["id"] in done:
                continue
            done.add(post["id"])
            mine = decided[post["id"]]
            pending = [d for d in ds if d["state"] == State.PENDING_APPROVAL.value]
            if not pending:
                if any((mine.get(a) or {}).get("decision") == REJECTED for a in targets):
                    out.already.extend((post["id"], a) for a in targets)
                    continue
                raise InvalidState(f"nothing to reject: no delivery of {ident} waits for approval",
                                   hint=f"`publisher cancel {ident}` cancels what is not yet published")
            for a in (a for a in targets if a not in mine):
                rows.append(dict(id=new_id("ap"), post_id=post["id"], account=a, actor=who, decision=REJECTED,
                                 reason=why, at=at))
                events.append(audit.Event("approval.rejected", post_id=post["id"], account=a,
                                          details={"by": who, "reason": why}))
                out.decided.append((post["id"], a))
            moves.extend(Transition(d, [State.PENDING_APPROVAL], State.CANCELLED, "rejected",
                                    values={"last_error": f"rejected by {who}: {why}"},
                                    details={"by": who, "reason": why}) for d in pending)
        if rows:
            conn.execute(_table().insert(), rows)
        audit.append(conn, who, events, at=at)
        out.moved.extend(m.delivery["id"] for m, ok in zip(moves, transitions(conn, who, moves), strict=True) if ok)
    return out


def status(settings: Settings, conn: Connection, post_id: str, accounts: Iterable[str]) -> dict[str, str]:
    """For ``publisher show``: each account of the post that needs approval -> who approved or rejected it, or
    "waiting"."""
    decided = _decisions(conn, [post_id])[post_id]
    out = {}
    for a in sorted(set(needs_approval(settings, accounts)) | set(decided)):
        r = decided.get(a)
        out[a] = ("waiting" if r is None else f"{r['decision']} by {r['actor']}"
                  + (f": {r['reason']}" if r.get("reason") else ""))
    return out
