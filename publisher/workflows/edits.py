"""Edit and reschedule a post, or one delivery, before it is published: new text (for the post, or one account's
own wording), a new time, or both. Re-rendered and re-checked (length: exit 2, tone: exit 3, nothing changed),
audited, and safe against a worker claiming the same delivery at the same moment.

The race: the worker claims with ``queued -> publishing``, conditional on ``queued``, after it read the payload.
An edit therefore never leaves a delivery ``queued`` with a new payload (the worker would send the text it read
before): every edited delivery moves, in one conditional UPDATE on "still in an editable state", to ``scheduled``
(or back to ``pending_approval``, see below). Exactly one of the two updates applies: if the edit's does, the
worker's claim finds the row no longer ``queued`` and sends nothing (its message is a no-op; the scheduler queues
the delivery again at its time); if the claim's does, the edit leaves that delivery unchanged and reports it as
already being published. The state is read inside the write transaction, so the audit says where it came from.

The new text is checked as the post was: with the hashtags it must carry (``post --require-hashtag``, kept in the
post's variables, and its campaign's required hashtags, read from the campaign's stored header).

A new text on a post whose accounts need approval sends every copy not yet published back to approval (the
approvals given were for the old text); a new time alone keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update

from publisher import audit, service
from publisher.errors import InputError, InvalidState, NotFound
from publisher.models import PostKind, State
from publisher.schema import posts
from publisher.settings import Settings
from publisher.store import Store, Transition, deliveries_of, get_delivery, get_post, transitions, utcnow
from publisher.workflows import approvals, campaigns
from publisher.workflows.approvals import needs_approval
from publisher.workflows.campaignfile import canonical

#: states an edit may change: nothing of these is at a platform
EDITABLE = (State.DRAFT, State.PENDING_APPROVAL, State.SCHEDULED, State.QUEUED, State.RETRY_WAIT, State.HELD)


@dataclass
class Edit:
    text: str | None = None  # the post's text (post id) or the account's own wording (delivery id)
    at: datetime | None = None
    variants: dict[str, str] = field(default_factory=dict)  # account -> its own wording


@dataclass
class Edited:
    post_id: str
    changed: list[str] = field(default_factory=list)  # delivery ids
    refused: dict[str, str] = field(default_factory=dict)  # delivery id -> its state (already being published...)
    to_approval: bool = False


def _resolve(store: Store, ident: str) -> tuple[dict[str, Any], list[dict[str, Any]], str | None]:
    with store.read() as conn:
        post = get_post(conn, ident)
        if post:
            return post, deliveries_of(conn, ident), None
        d = get_delivery(conn, ident)
        if d:
            return get_post(conn, d["post_id"]) or {}, [d], d["id"]
    raise NotFound(f"no post or delivery with id {ident!r}", hint="`publisher list` shows ids")


def zones_of(settings: Settings, store: Store, ident: str) -> list[ZoneInfo]:
    """The zones of ``ident``'s accounts, its first account's first: a local time given for it is read in that one
    (and echoed in the others); NotFound for an unknown id."""
    _post, ds, _one = _resolve(store, ident)
    accounts = [settings.accounts.get(a) for a in dict.fromkeys(d["account"] for d in ds)]
    return [a.zone for a in accounts if a is not None] or [ZoneInfo("UTC")]


def edit(settings: Settings, store: Store, ident: str, change: Edit) -> Edited:
    if change.text is None and change.at is None and not change.variants:
        raise InputError("nothing to change", hint="give --text, --at or --variant ACCOUNT=TEXT")
    post, ds, one = _resolve(store, ident)
    for d in ds:
        service.may_change(settings, post, d, "edit")
    accounts = sorted({d["account"] for d in ds})
    unknown = sorted(set(change.variants) - set(accounts))
    if unknown:
        raise InputError(f"--variant names {', '.join(map(repr, unknown))}, which is not an account of {ident}",
                         hint=f"use one of: {', '.join(accounts)}")
    not_after = post.get("not_after")
    if change.at is not None and not_after is not None and change.at >= not_after:
        raise InputError(f"the new time is not before the post's closing time ({not_after:%Y-%m-%d %H:%M} UTC)",
                         hint="pick an earlier time; nothing is published after the closing time")
    # the new wording of each account whose text changes, rendered and checked before anything is written
    texts: dict[str, str] = {a: t for a, t in change.variants.items()}
    if change.text is not None:
        for a in accounts:
            texts.setdefault(a, change.text)  # an account's own --variant wins over --text
    payloads: dict[str, list[dict[str, Any]]] = {}
    fitted: list[Any] = []
    keys: dict[tuple[str, int], str] = {}
    if texts:
        edited = service.NewPost(
            text=change.text or next(iter(texts.values())), accounts=sorted(texts), at=change.at or post["scheduled_at"],
            kind=PostKind(post["kind"]), link=post.get("link"), language=post.get("language"),
            variables=post.get("variables") or {}, variants=texts,
            require_hashtags=list((post.get("variables") or {}).get(service.REQUIRED_TAGS) or []))
        rendered, _findings = service.render_and_check(settings, edited,
                                                       overrides=campaigns.stored_tag_overrides(store, post))
        fitted = list(edited.fitted.values())
        keys = service.tone_keys(settings, PostKind(post["kind"]), rendered)
        siblings = deliveries_of_post(store, post["id"])
        for a, parts in rendered.items():
            whole = [d for d in siblings if d["account"] == a]
            if len(parts) != len(whole):
                raise InputError(f"the new text for {a} is {len(parts)} part(s) where the post has {len(whole)}",
                                 hint="keep the length within one part, or cancel the post and post it again")
            if one is not None and len(whole) > 1:
                raise InputError(f"{ident} is one part of a split post on {a}: edit the post, not the part",
                                 hint=f"`publisher edit {post['id']} --variant {a}=TEXT`")
            payloads[a] = [p.to_dict() for p in parts]
            kept = (whole[0]["payload"].get("extra") or {}).get("media") if whole else None
            if kept and not (payloads[a][0].get("extra") or {}).get("media"):  # an edit keeps the post's images
                payloads[a][0] = {**payloads[a][0], "extra": {**(payloads[a][0].get("extra") or {}), "media": kept}}
                payloads[a][0]["extra"].pop("card", None)
    text_changed = bool(texts)
    back_to_approval = text_changed and bool(needs_approval(settings, accounts))
    who = settings.actor
    out = Edited(post["id"], to_approval=back_to_approval)
    with store.tx() as conn:
        if texts and fitted:
            from publisher.channels import media as media_mod

            media_mod.save(conn, fitted, utcnow())
        current = [get_delivery(conn, d["id"]) or d for d in ds]  # read under the write lock: the state is exact
        moves, targets = [], []
        for d in current:
            if State(d["state"]) not in EDITABLE:
                out.refused[d["id"]] = d["state"]
                continue
            values: dict[str, Any] = {"last_error": None}
            details: dict[str, Any] = {"by": who, "changed": []}
            row = dict(d)
            if d["account"] in payloads:
                payload = payloads[d["account"]][(d["part"] or 1) - 1]
                values["payload"], row["payload"] = payload, payload
                values["tone_key"] = keys[(d["account"], d["part"] or 1)]
                details["changed"].append("text")
                details["payload_sha256"] = service.payload_hash(payload)
                details[audit.DIGEST_KEY] = audit.delivery_digest(row)
            if change.at is not None:
                values["due_at"] = change.at
                details["changed"].append("at")
                details["due_at"] = change.at.isoformat()
                details["was_due_at"] = d["due_at"].isoformat()
            to = State.PENDING_APPROVAL if back_to_approval else (
                State.PENDING_APPROVAL if d["state"] == State.PENDING_APPROVAL.value else State.SCHEDULED)
            moves.append(Transition(d, list(EDITABLE), to, "edited", values=values, details=details))
            targets.append(d)
        moved = transitions(conn, who, moves)
        for d, ok in zip(targets, moved, strict=True):
            if ok:
                out.changed.append(d["id"])
            else:  # cannot happen inside the write lock, but the answer must stay exact
                out.refused[d["id"]] = "changed meanwhile"
        if not out.changed:
            raise InvalidState(_refusal(ident, out.refused), hint="`publisher show ID` shows the states; a delivery "
                               "being published cannot be changed: cancel or edit what is still waiting")
        events: list[audit.Event] = []
        post_values: dict[str, Any] = {}
        if change.text is not None and one is None:
            post_values["text"] = change.text
        if change.at is not None and one is None:
            post_values["scheduled_at"] = change.at
        campaign_variables = _campaign_row(post, change, ds[0]["account"] if one is not None else None)
        if campaign_variables is not None:
            post_values["variables"] = campaign_variables
        if post_values:
            conn.execute(update(posts).where(posts.c.id == post["id"]).values(**post_values))
            new_post = {**post, **post_values}
            events.append(audit.Event("post.edited", post_id=post["id"], details={
                "by": who, "changed": sorted(post_values), audit.DIGEST_KEY: audit.post_digest(new_post),
                **({"scheduled_at": change.at.isoformat()} if change.at else {})}))
        if back_to_approval:
            events.extend(approvals.reset(conn, post["id"], who, "the text was edited"))
        audit.append(conn, who, events, at=utcnow())
    return out


def _campaign_row(post: dict[str, Any], change: Edit, account: str | None) -> dict[str, Any] | None:
    """A campaign post's variables with its row as edited (``campaign export`` writes what is stored, edits
    included), or None for any other post. The row's digest is cleared: re-importing the file as it was before the
    edit is a change again (the file's text comes back, reported), not "no change" over an edit."""
    campaign = (post.get("variables") or {}).get("campaign")
    if not campaign:
        return None
    row = dict(campaign.get("row") or {})
    variants = dict(row.get("variants") or {})
    variants.update(change.variants)
    if change.text is not None and account is None:
        row["text"] = change.text
    elif change.text is not None:
        variants[account] = change.text  # one delivery's wording: that account's own variant
    row["variants"] = variants
    if change.at is not None and account is None:
        row["at"] = change.at.isoformat()
    return {**post["variables"], "campaign": {**campaign, "row": canonical(row), "sha": None}}


def deliveries_of_post(store: Store, post_id: str) -> list[dict[str, Any]]:
    with store.read() as conn:
        return deliveries_of(conn, post_id)


def _refusal(ident: str, refused: dict[str, str]) -> str:
    busy = [f"{i} is {s}" for i, s in refused.items()]
    return f"nothing of {ident} was changed: " + (", ".join(busy) if busy else "nothing is waiting")
