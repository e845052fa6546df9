"""Accepting and managing posts: validate, render per channel, tone-check, store with audit, in one transaction.

The CLI is a thin shell over these functions; feed pollers and campaign imports call the same ones.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from publisher import audit, channels, rawsql, textinput, tone
from publisher.channels import media as media_mod
from publisher.errors import InputError, InvalidState, NotFound, NotPermitted, ToneBlocked
from publisher.models import CANCELLABLE, Content, Finding, Payload, PostKind, State
from publisher.settings import AccountConfig, Settings
from publisher.store import (
    Store,
    deliveries_of,
    get_delivery,
    get_post,
    lock_keys,
    new_id,
    transition,
    utcnow,
)
from publisher.workflows import approvals

if TYPE_CHECKING:
    from sqlalchemy import Connection
# the statements here run on the driver (publisher.rawsql): on SQLite the CLI's post and ticket commands store a
# post without importing SQLAlchemy (publisher.lightdb), through this same code


@dataclass
class NewPost:
    text: str
    accounts: list[str]
    at: datetime
    kind: PostKind = PostKind.NOTE
    #: account -> its own time, where it differs from ``at`` (``post --at next-slot`` on several accounts: each
    #: account's own next free slot; ``at`` is the earliest of them)
    due: dict[str, datetime] = field(default_factory=dict)
    link: str | None = None
    language: str | None = None
    not_after: datetime | None = None
    thread_key: str | None = None
    idempotency_key: str | None = None
    allow: dict[str, str] = field(default_factory=dict)  # rule id -> reason (audited override)
    variables: dict[str, Any] = field(default_factory=dict)
    #: account name or channel -> this post's own wording there (an account's variant wins over its channel's)
    variants: dict[str, str] = field(default_factory=dict)
    #: a workflow's rule for storing this post (a ticket's lifecycle, publisher.workflows.tickets), see ``Guard``
    guard: Guard | None = None
    #: images with alt text, in order (``publisher.channels.media.load`` read and cleaned them)
    media: list[media_mod.Attachment] = field(default_factory=list)
    #: hashtags this post must carry on top of the profile's (``post --require-hashtag``, a campaign's tag)
    require_hashtags: list[str] = field(default_factory=list)
    #: leave slow detections (lingua) that no blocking rule needs to the worker's pre-publish check (the CLI sets it)
    defer_slow_checks: bool = False
    #: filled by ``render_and_check``: the detections left to the worker (then no ``tone_key`` is stored)
    deferred: set[str] = field(default_factory=set)
    #: filled by ``render_and_check``: the fitted images and link-card thumbnails its payloads refer to (by sha256),
    #: which ``insert`` stores with the post whoever calls it (a feed, a campaign, an edit)
    fitted: dict[str, media_mod.Image] = field(default_factory=dict)


#: Called with a connection: raises to refuse the post, or returns the id of an existing post to answer with, or the
#: audit events (their post id filled in here) to store with the new post. It runs once read-only before the tone
#: check (to fail fast) and again in the write transaction, just before the insert, where its answer counts.
Guard = Callable[["Connection"], "str | list[audit.Event]"]


@dataclass
class Accepted:
    post_id: str
    existing: bool
    deliveries: list[dict[str, Any]]
    findings: list[Finding]


#: the post's variable that keeps its own required hashtags (``require_hashtags``), for re-checking an edit
REQUIRED_TAGS = "require_hashtags"


def payload_hash(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]


def _check_permitted(account: AccountConfig, actor: str) -> None:
    if account.posters is not None and actor not in account.posters:
        raise NotPermitted(f"{actor!r} may not post to account {account.name!r}",
                           hint=f"ask an admin to add you to accounts.{account.name}.posters in the config")


check_permitted = _check_permitted  # for workflows that check before they store (a feed's accounts at `feed add`)


def text_for(settings: Settings, new: NewPost, name: str) -> str:
    """The text ``name`` publishes: its own variant, else its channel's variant, else the post's text."""
    account = settings.account(name)
    return new.variants.get(name) or new.variants.get(account.channel) or new.text


def _check_variant_targets(settings: Settings, new: NewPost) -> None:
    targets = set(new.accounts) | {settings.account(n).channel for n in new.accounts}
    unknown = sorted(set(new.variants) - targets)
    if unknown:
        raise InputError(f"--variant names {', '.join(map(repr, unknown))}, which is neither an account of this post "
                         "nor the channel of one", hint=f"use one of: {', '.join(sorted(targets))}")


#: channels whose API publishes a link without a preview unless the post carries one: Bluesky (an
#: ``app.bsky.embed.external`` record) and LinkedIn (a Posts API ``content.article``). X, Mastodon and Facebook read
#: the page's OpenGraph themselves (Facebook from the ``link`` field the adapter sends).
CARD_CHANNELS = ("bluesky", "linkedin")


def _with_media(settings: Settings, new: NewPost, name: str, parts: list[Payload],
                images: dict[str, media_mod.Image]) -> list[Payload]:
    """The rendered parts with the post's images (fitted to the account's channel) on the first part, or, for a
    post with a link and no image on a channel that does not build its own preview (``CARD_CHANNELS``), the link's
    card. The fitted copies go into ``images`` (by sha256)."""
    account = settings.account(name)
    extra: dict[str, Any] = {}
    if new.media:
        refs, fitted = media_mod.for_channel(new.media, account.channel, name)
        images.update((i.sha256, i) for i in fitted)
        extra["media"] = refs
    elif new.link and account.channel in CARD_CHANNELS and account.options.get("link_cards", True):
        from publisher.channels import linkcard

        card = linkcard.build(new.link, allow_loopback=linkcard.is_loopback_url(account.base_url))
        if card is not None:
            if card.thumb is not None:
                images[card.thumb.sha256] = card.thumb
            extra["card"] = card.ref()
    if not extra:
        return parts
    first = parts[0]
    return [replace(first, extra={**first.extra, **extra}), *parts[1:]]


def _media_of(payload: Payload) -> list[dict[str, Any]] | None:
    found = payload.extra.get("media")
    return list(found) if found else None


def _overrides(new: NewPost, overrides: dict[str, Any] | None) -> dict[str, Any] | None:
    """The caller's rule overrides (a campaign's) with the post's own required hashtags added to theirs."""
    if not new.require_hashtags:
        return overrides
    merged = dict(overrides or {})
    rule = dict(merged.get("hashtags.required") or {})
    rule["tags"] = [*(rule.get("tags") or []), *(t for t in new.require_hashtags if t not in (rule.get("tags") or []))]
    merged["hashtags.required"] = rule
    return merged


def render_and_check(settings: Settings, new: NewPost, images: dict[str, media_mod.Image] | None = None,
                     overrides: dict[str, Any] | None = None) -> tuple[dict[str, list[Payload]], list[Finding]]:
    """Render for every account (with its own wording, if given) and run the tone checks (with ``overrides``: one
    more layer of rule settings, e.g. a campaign's required hashtags, see ``tone.check``).

    Raises ToneBlocked when a finding blocks. The consistency rule compares every account's full text with every
    other account's, keyed by account: two accounts on one platform with different wording are two variants.
    The images each payload refers to (and link-card thumbnails) are collected into ``images`` for storing.
    """
    _check_variant_targets(settings, new)
    images = {} if images is None else images
    rendered: dict[str, list[Payload]] = {}
    for name in new.accounts:
        account = settings.account(name)
        content = Content(text=text_for(settings, new, name), kind=new.kind, link=new.link, language=new.language,
                          variables=new.variables)
        parts = channels.for_rendering(account, settings).render(content)
        rendered[name] = _with_media(settings, new, name, parts, images)
    variants = {n: " ".join(p.text for p in ps) for n, ps in rendered.items()}
    findings: list[Finding] = []
    for name, parts in rendered.items():
        account = settings.account(name)
        for part in parts:  # images ride on the first part only (``_with_media``)
            findings.extend(tone.check(part.text, account, channel=account.channel, kind=new.kind,
                                       profiles=settings.profiles, variants=variants, media=_media_of(part),
                                       lang=new.language, overrides=_overrides(new, overrides),
                                       defer=new.deferred if new.defer_slow_checks else None))
    unknown = set(new.allow) - {f.rule for f in findings}
    if unknown:
        raise InputError(f"--allow names rule(s) that did not trigger: {', '.join(sorted(unknown))}",
                         hint="only override a rule that blocks this post; `publisher check` lists the findings")
    blocked = tone.blocking(findings, new.allow)
    if blocked:
        raise ToneBlocked(f"{len(blocked)} blocking finding(s); nothing was stored", findings,
                          hint="fix the text, or override one rule with --allow RULE_ID --reason \"why\"")
    new.fitted.update(images)
    return rendered, findings


def tone_keys(settings: Settings, kind: PostKind, rendered: dict[str, list[Payload]]) -> dict[tuple[str, int], str]:
    """(account, part) -> the digest of what the tone check saw for that payload (see ``tone.tone_key``), with the
    variants the pre-publish check will compare it with."""
    texts = {n: " ".join(p.text for p in ps) for n, ps in rendered.items()}
    out = {}
    for name, parts in rendered.items():
        account = settings.account(name)
        variants = tone.consistency_variants(account, settings.profiles, kind, texts)
        for i, part in enumerate(parts, 1):
            out[(name, i)] = tone.tone_key(part.text, account, account.channel, kind, settings.profiles, variants,
                                           media=_media_of(part))
    return out


def _last_in_thread(conn: Any, thread_key: str, account: str) -> str | None:
    q = rawsql.dialect_of(conn).placeholder
    row = rawsql.fetch_one(conn, "SELECT deliveries.id FROM deliveries JOIN posts ON posts.id = deliveries.post_id "
                                 f"WHERE deliveries.thread_key = {q} AND deliveries.account = {q} "
                                 "ORDER BY posts.thread_seq DESC, deliveries.part DESC LIMIT 1", (thread_key, account))
    return str(row[0]) if row else None


def _existing(conn: Any, scope: str, key: str) -> dict[str, Any] | None:
    q = rawsql.dialect_of(conn).placeholder
    rows = rawsql.select_rows(conn, "posts", f"idem_scope = {q} AND idem_key = {q}", (scope, key), limit=1)
    return rows[0] if rows else None


def _next_thread_seq(conn: Any, thread_key: str) -> int:
    q = rawsql.dialect_of(conn).placeholder
    row = rawsql.fetch_one(conn, f"SELECT MAX(thread_seq) FROM posts WHERE thread_key = {q}", (thread_key,))
    return int(row[0] or 0) + 1 if row else 1


def accept(settings: Settings, store: Store, new: NewPost) -> Accepted:
    """Store a post and its deliveries (state ``scheduled``) with audit events, or return the existing one."""
    textinput.check_post(new)
    if not new.accounts:
        raise InputError("no account given", hint="add --account NAME (see `publisher accounts list`)")
    if new.not_after is not None and new.not_after <= max([new.at, *new.due.values()]):
        raise InputError("--not-after must be later than --at", hint="give a closing time after the publish time")
    for name in new.accounts:
        _check_permitted(settings.account(name), settings.actor)
    scope = ",".join(sorted(set(new.accounts)))
    if new.idempotency_key:
        with store.read() as conn:
            found = _existing(conn, scope, new.idempotency_key)
        if found:
            return _accepted_existing(store, found)
    if new.guard:
        with store.read() as conn:
            verdict = new.guard(conn)
        if isinstance(verdict, str):
            return _accepted_existing(store, {"id": verdict})
    images: dict[str, media_mod.Image] = {}
    rendered, findings = render_and_check(settings, new, images)
    for _attempt in range(5):
        try:
            return _insert(settings, store, new, rendered, findings, list(images.values()))
        except rawsql.integrity_errors():
            # a concurrent call stored the same idempotency key, or took the same thread position: look again
            if new.idempotency_key:
                with store.read() as conn:
                    found = _existing(conn, scope, new.idempotency_key)
                if found:
                    return _accepted_existing(store, found)
    raise InvalidState("could not store the post after 5 attempts (heavy contention on its thread)",
                       hint="run the command again")


def _accepted_existing(store: Store, post: dict[str, Any]) -> Accepted:
    with store.read() as conn:
        return Accepted(post_id=post["id"], existing=True, deliveries=deliveries_of(conn, post["id"]), findings=[])


def _insert(settings: Settings, store: Store, new: NewPost, rendered: dict[str, list[Payload]],
            findings: list[Finding], images: list[media_mod.Image] | None = None) -> Accepted:
    with store.tx() as conn:
        return insert(conn, settings, new, rendered, findings, images)


def insert(conn: Connection, settings: Settings, new: NewPost, rendered: dict[str, list[Payload]],
           findings: list[Finding], images: list[media_mod.Image] | None = None) -> Accepted:
    """Store an already rendered and checked post (``render_and_check``) in the caller's write transaction
    (``Store.tx``), so a workflow can write its own rows in the same commit (a feed's seen entry)."""
    scope = ",".join(sorted(set(new.accounts)))
    now = utcnow()
    post_id = new_id("p")
    actor = settings.actor
    # read-then-insert by idempotency key and by thread (its next thread_seq, its last delivery per account)
    lock_keys(conn, *([f"idem:{scope}:{new.idempotency_key}"] if new.idempotency_key else []),
              *([f"thread:{new.thread_key}"] if new.thread_key else []))
    if new.idempotency_key:
        found = _existing(conn, scope, new.idempotency_key)
        if found:
            return Accepted(found["id"], True, deliveries_of(conn, found["id"]), [])
    verdict = new.guard(conn) if new.guard else []
    if isinstance(verdict, str):
        return Accepted(verdict, True, deliveries_of(conn, verdict), [])
    seq = None
    if new.thread_key:
        seq = _next_thread_seq(conn, new.thread_key)
    post = dict(
        id=post_id, kind=new.kind.value, text=new.text, link=new.link, language=new.language,
        variables={**new.variables, REQUIRED_TAGS: list(new.require_hashtags)} if new.require_hashtags else new.variables,
        scheduled_at=new.at, not_after=new.not_after, thread_key=new.thread_key,
        thread_seq=seq, idem_scope=scope if new.idempotency_key else None, idem_key=new.idempotency_key,
        overrides=[{"rule": r, "reason": why, "by": actor} for r, why in sorted(new.allow.items())],
        created_by=actor, created_at=now,
    )
    rawsql.insert_dicts(conn, "posts", [post])
    images = list(new.fitted.values()) if images is None else images
    stored = media_mod.save(conn, images, now)
    events = [audit.Event("post.accepted", post_id=post_id, details={audit.DIGEST_KEY: audit.post_digest(post),
        "accounts": sorted(rendered), "kind": new.kind.value, "scheduled_at": new.at.isoformat(),
        "not_after": new.not_after.isoformat() if new.not_after else None, "thread": new.thread_key,
        "thread_seq": seq, "idempotency_key": new.idempotency_key, "variants": sorted(new.variants),
        "findings": [f.to_dict() for f in findings if f.severity != "info"],
        **({"media": sorted(i.sha256 for i in images), "media_stored": stored} if images else {})})]
    events.extend(replace(e, post_id=post_id) for e in verdict)
    for rule, why in sorted(new.allow.items()):
        events.append(audit.Event("tone.override", post_id=post_id, details={"rule": rule, "reason": why, "by": actor}))
    rows = []
    keys = {} if new.deferred else tone_keys(settings, new.kind, rendered)  # deferred: the worker checks
    # two-person rule, if configured: if any account needs approval, every copy waits for it (none goes early)
    first = approvals.first_state(settings, rendered)
    waits_for = {"waits_for": approvals.needs_approval(settings, rendered)} if first == State.PENDING_APPROVAL else {}
    for name, parts in rendered.items():
        account = settings.account(name)
        prev = _last_in_thread(conn, new.thread_key, name) if new.thread_key else None
        for i, payload in enumerate(parts, 1):
            did = new_id("d")
            data = payload.to_dict()
            rows.append(dict(
                id=did, post_id=post_id, account=name, channel=account.channel, part=i, payload=data,
                state=first.value, attempts=0, due_at=new.due.get(name, new.at), not_after=new.not_after, prev_id=prev,
                thread_key=new.thread_key or (f"split:{post_id}:{name}" if len(parts) > 1 else None),
                updated_at=now, tone_key=keys.get((name, i)),
            ))
            events.append(audit.Event(first.value, post_id=post_id, delivery_id=did, account=name, details={
                "to": first.value, "part": i, "parts": len(parts), "prev": prev, "payload_sha256": payload_hash(data),
                **({"due_at": new.due[name].isoformat()} if name in new.due else {}),
                **waits_for, **({"tone_deferred": sorted(new.deferred)} if new.deferred else {}),
                audit.DIGEST_KEY: audit.delivery_digest(rows[-1])}))
            prev = did
    rawsql.insert_dicts(conn, "deliveries", rows)
    audit.append(conn, actor, events, at=now)
    return Accepted(post_id=post_id, existing=False, deliveries=rows, findings=findings)


# -- managing posts --


def resolve_ids(store: Store, ident: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A post id or a delivery id -> (post, its deliveries or the one delivery)."""
    with store.read() as conn:
        post = get_post(conn, ident)
        if post:
            return post, deliveries_of(conn, ident)
        d = get_delivery(conn, ident)
        if d:
            return get_post(conn, d["post_id"]) or {}, [d]
    raise NotFound(f"no post or delivery with id {ident!r}", hint="`publisher list` shows ids")


def _move_all(settings: Settings, store: Store, ident: str, from_states: list[State], to: State, action: str,
              values: dict[str, Any], verb: str, allowed: str) -> list[str]:
    """Move every delivery of ``ident`` (post or delivery id) that is in ``from_states``; audited per delivery.
    Checks first that the actor may ``verb`` every one of them (``may_change``): all or nothing."""
    post, ds = resolve_ids(store, ident)
    for d in ds:
        may_change(settings, post, d, verb)
    moved, refused = [], []
    with store.tx() as conn:
        for d in ds:
            current = get_delivery(conn, d["id"]) or d
            if transition(conn, settings.actor, current, from_states, to, action, values=values,
                          details={"by": settings.actor}):
                moved.append(d["id"])
            else:
                refused.append(f"{d['id']} is {current['state']}")
    if not moved:
        done = {"cancel": "cancelled", "retry": "retried"}.get(verb, f"{verb}ed")
        raise InvalidState(f"nothing to {verb}: {', '.join(refused)}", hint=f"only {allowed} deliveries can be {done}")
    return moved


def may_change(settings: Settings, post: dict[str, Any], d: dict[str, Any], verb: str) -> None:
    """Raise NotPermitted (exit 4) unless the actor may ``verb`` delivery ``d`` of ``post``. Every command that
    changes a post calls this (through ``_move_all``) before it changes anything; a new one (an edit) must too:

    * approve, reject: decided in ``publisher.workflows.approvals`` (an approver who did not write the post);
    * cancel: the post's author, a poster of the account (anyone, if it lists no posters) or an approver
      (rejecting it);
    * retry, and any other change that may publish: a poster of the account, as for a new post (the author too
      only while still a poster).
    """
    who = settings.actor
    account = settings.accounts.get(d["account"])
    if verb == "cancel" and (who == post.get("created_by")
                             or (account is not None and who in (account.approvers or []))):
        return
    if account is None:
        raise NotPermitted(f"{who!r} may not {verb} delivery {d['id']}: its account {d['account']!r} is no longer "
                           "configured", hint="only the post's author may cancel it now")
    if account.posters is None or who in account.posters:
        return
    others = "the post's author, a poster or an approver" if verb == "cancel" else "a poster"
    raise NotPermitted(f"{who!r} may not {verb} posts to account {account.name!r}",
                       hint=f"ask {others} of the account (accounts.{account.name}.posters in the config)")


def cancel(settings: Settings, store: Store, ident: str) -> list[str]:
    return _move_all(settings, store, ident, list(CANCELLABLE), State.CANCELLED, "cancelled", {}, "cancel",
                     "scheduled, queued, waiting, held, failed or unknown")


RETRYABLE = (State.FAILED, State.UNKNOWN, State.HELD, State.RETRY_WAIT)


def retry(settings: Settings, store: Store, ident: str) -> list[str]:
    """Send failed, unknown (after a human checked the platform), held or waiting deliveries again, now."""
    return _move_all(settings, store, ident, list(RETRYABLE), State.SCHEDULED, "retry",
                     {"due_at": utcnow(), "last_error": None}, "retry", "failed, unknown, held or retry_wait")
