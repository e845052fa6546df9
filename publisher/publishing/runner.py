"""The runner: claim -> call -> record, for the deliveries of one broker message.

Every step re-reads the store and changes state with a conditional update, so duplicate or late messages are
no-ops. What to do with a delivery is decided in ``decide`` (the parts that need only the row and the clock) and
here (tone, rate budget, cadence); what an adapter's answer means is looked up in ``outcomes``, the one table that
reconciling (``reconcile``) uses too.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from publisher import channels, rawsql, tone
from publisher.channels.base import Channel
from publisher.errors import AuthExpired, ConfigError, NotFound, OutcomeUnknown, RateLimited
from publisher.models import PostKind, Receipt, State
from publisher.ops import metrics
from publisher.policy import GAP_WAIT, Cadence
from publisher.publishing import decide
from publisher.publishing.decide import delivery_ref
from publisher.publishing.outcomes import GIVE_UP, Label, due_at, for_publish, message
from publisher.publishing.reconcile import Reconciling
from publisher.schema import deliveries
from publisher.settings import Settings
from publisher.store import (
    Prepared,
    Store,
    Transition,
    apply,
    get_deliveries,
    get_posts,
    new_id,
    prepare,
    set_message_ids,
    transitions,
    utcnow,
    with_siblings,
)

log = logging.getLogger("publisher.publishing")

#: where a call that succeeded after its lease was lost may find its delivery: every state in which no other attempt
#: is in flight. The post exists, so it is recorded; another attempt's ``publishing`` is not touched (logged)
LATE_FROM = (State.UNKNOWN, State.RECONCILING, State.RETRY_WAIT, State.QUEUED, State.SCHEDULED, State.HELD,
             State.FAILED, State.CANCELLED, State.EXPIRED)
#: a batch claims this many deliveries at a time, right before their calls: a worker killed mid-batch leaves at
#: most this many ``publishing`` (to be reconciled, which costs a platform lookup each) and the rest ``queued``
CLAIM_CHUNK = 25
#: sender(channel, delivery_ids, delay_ms) -> broker message id: one message carries one or more delivery ids
Sender = Callable[[str, list[str], int], str | None]


@dataclass
class _Go:
    """A delivery cleared to be published: claimed, then sent, then recorded."""

    d: dict[str, Any]
    parent: Receipt | None
    adapter: Channel
    post: dict[str, Any]
    attempt_id: str = ""
    attempt: int = 0
    outcome: str = ""
    result: Transition | None = None
    receipt: Receipt | None = None
    seconds: float = 0.0  # how long the platform call took
    #: when the platform call that published it returned: the delivery's ``published_at``. The outcome is
    #: recorded later, with the rest of its chunk (up to ``CLAIM_CHUNK`` calls later)
    done_at: datetime | None = None
    slot: str = ""  # the budget slot taken for it (``Budget.acquire``), given back if its platform call is not made
    called: bool = False  # its platform call was started (the slot is spent)


class Publisher(Reconciling):
    """Runs deliveries through the state machine. Thread-safe; one per worker process.

    ``handle_many`` takes the delivery ids of one broker message and does, for all of them together, what
    ``DESIGN.md`` describes for one: one read; a decision each (duplicate, expired, early, waiting for the thread
    predecessor, held, rate budget, cadence); then, ``CLAIM_CHUNK`` cleared deliveries at a time: a claim
    (``publishing``, with a lease; the first also records the decisions) and the platform calls one after another,
    each only while its lease has at least half its time left. The transaction that records a chunk's outcomes
    (and wakes waiting thread successors) also claims the next chunk: one commit per chunk.
    """

    def __init__(self, settings: Settings, store: Store, sender: Sender | None = None, budget: Any = None,
                 cadence: Cadence | None = None) -> None:
        self.settings = settings
        self.store = store
        self.sender = sender
        self.budget = budget
        self.cadence = cadence or Cadence(getattr(budget, "client", None))
        self.actor = f"worker:{settings.actor}"
        self._adapters: dict[str, Channel] = {}
        self._lock = threading.Lock()
        self._crash_at = settings.env.get("PUBLISHER_CRASH_AT", "")

    # -- helpers --

    def _crash_point(self, name: str) -> None:
        if self._crash_at == name:
            os.kill(os.getpid(), signal.SIGKILL)

    def adapter(self, account_name: str) -> Channel:
        with self._lock:
            if account_name not in self._adapters:
                account = self.settings.account(account_name)
                self._adapters[account_name] = channels.for_publishing(account, self.settings, store=self.store)
            return self._adapters[account_name]

    def forget_adapter(self, account_name: str) -> None:
        with self._lock:
            self._adapters.pop(account_name, None)


    def _move(self, d: dict[str, Any], frm: list[State], to: State, action: str, *, values: dict[str, Any] | None = None,
              details: dict[str, Any] | None = None, attempt_id: str | None = None) -> bool:
        move = Transition(d, frm, to, action, values, details, attempt_id)
        return self.store.grouped(lambda conn: transitions(conn, self.actor, [move])[0])

    # -- entry points --

    def handle(self, delivery_id: str) -> str:
        return self.handle_many([delivery_id])[delivery_id]

    def handle_many(self, delivery_ids: list[str]) -> dict[str, str]:
        """Run each delivery of one broker message through the state machine; the outcome of each, by id."""
        now = utcnow()
        ids = list(dict.fromkeys(delivery_ids))
        with self.store.read() as conn:  # one read for everything the decisions need
            rows, family = with_siblings(conn, ids)
            ready = {i: d for i, d in rows.items() if decide.ready(d, now)}
            post_ids = list({d["post_id"] for d in ready.values()})
            posts, siblings = get_posts(conn, post_ids), {p: family[p] for p in post_ids}
            parents = {i: decide.parent(conn, d) for i, d in ready.items()}
        outcomes: dict[str, str] = {}
        moves: list[tuple[str, Transition]] = []
        cleared: list[_Go] = []
        unknown: list[dict[str, Any]] = []
        # per account, for accounts without a posts-per-window budget: looked up for the whole message at once
        blocked = self._blocked(ready)
        early: list[dict[str, Any]] = []
        for i in ids:
            d = rows.get(i)
            if d is None:
                outcomes[i] = Label.MISSING
            elif State(d["state"]) == State.UNKNOWN:
                unknown.append(d)
            elif State(d["state"]) != State.QUEUED:
                outcomes[i] = Label.DUPLICATE
            else:
                post = posts.get(d["post_id"]) or {}
                decided = self._decide(d, now, i in ready, post, siblings.get(d["post_id"], []), parents.get(i))
                if isinstance(decided, _Go):
                    cleared.append(decided)  # by everything but the budget and the cadence, asked below
                elif isinstance(decided, tuple):
                    moves.append(decided)
                else:
                    outcomes[i] = decided
                    if decided == Label.EARLY:
                        early.append(d)
        cleared = self._clear(cleared, now, blocked, moves)
        self._send_each(early, now)  # came before their time: no call, a message again for the exact time
        self._spread(moves)
        # Pipelined: the transaction that records chunk k's outcomes also claims chunk k+1, so each claim is still
        # durable right before its own calls, at one commit per chunk instead of two.
        chunks = [cleared[i:i + CLAIM_CHUNK] for i in range(0, len(cleared), CLAIM_CHUNK)]
        done: list[_Go] = []
        try:
            claimed = self._step([], moves, chunks[0] if chunks else [], outcomes)
            for k in range(len(chunks)):
                if claimed:
                    self._crash_point("after_claim_commit")
                    self._send_all(claimed)
                nxt = chunks[k + 1] if k + 1 < len(chunks) else []
                done.extend(claimed)
                claimed = self._step(claimed, [], nxt, outcomes)
        finally:
            self._refund_unsent(cleared)
        for d in unknown:
            outcomes[d["id"]] = self.reconcile(d)
        for g in done:
            if g.outcome == Label.UNKNOWN_RECONCILE:
                outcomes[g.d["id"]] = self.reconcile({**g.d, "state": State.UNKNOWN.value})
        for i, label in outcomes.items():
            metrics.delivery(rows[i]["channel"] if i in rows else "-", label)
        return outcomes

    def _refund_unsent(self, cleared: list[_Go]) -> None:
        """Give back the budget slot of every cleared delivery whose platform call was never made: its claim was
        lost to another message's (a message sent twice), it went back unsent past half its lease, it expired, or
        the platform limited its account earlier in the batch. A slot spent without a call shrinks what the account
        may post in the window: the chaos run's duplicate messages spent X's 100 per 15 minutes on 60 posts and
        left the last ones waiting a quarter of an hour."""
        if self.budget is None:
            return
        try:
            self.budget.refund_many([(g.d["account"], g.slot) for g in cleared if g.slot and not g.called])
        except Exception as e:  # noqa: BLE001 - best effort: a slot not given back errs towards posting less
            log.warning("could not give back unused budget slots: %s", type(e).__name__)

    def _spread(self, moves: list[tuple[str, Transition]]) -> None:
        """Deliveries of one account told in the same message to wait for its minimum gap wait for successive slots
        (the gap's end, a gap later, ...), not all for the first: otherwise each but one comes back, finds the gap
        taken again and waits again (the top-of-the-hour burst, five posts per account, went round four times).
        Only when each retries changes: Redis still decides, at each retry, whether it goes."""
        last: dict[str, datetime] = {}
        for _, m in moves:
            if m.action != "policy_wait" or (m.details or {}).get("rule") != "min_gap" or not m.values:
                continue
            account = m.delivery["account"]
            until = m.values["due_at"]
            if account in last:
                gap = timedelta(seconds=self.settings.account(account).policy.min_gap_seconds)
                until = max(until, last[account] + gap)
            last[account] = until
            m.values["due_at"] = until
            if m.details is not None:
                m.details["retry_at"] = until.isoformat()

    def _decide(self, d: dict[str, Any], now: datetime, ready: bool, post: dict[str, Any],
                siblings: list[dict[str, Any]], parent: tuple[Receipt | None, dict[str, Any] | None] | None
                ) -> Label | tuple[Label, Transition] | _Go:
        """What to do with one queued delivery: an outcome with nothing to record, an outcome with the transition
        that records it, or the delivery cleared for its platform call by all but the budget and the cadence."""
        receipt, blocker = parent or (None, None)
        settled = decide.decide(d, now, ready, blocker)
        if settled is not None:
            return settled
        try:
            self.settings.account(d["account"])
            adapter = self.adapter(d["account"])
        except (ConfigError, NotFound) as e:  # the account was removed or broken since it was accepted
            return Label.HELD, Transition(d, [State.QUEUED], State.HELD, "held", values={"last_error": e.message},
                                      details={"reason": e.message})
        try:
            held = self._tone_recheck(d, post, siblings)
        except ConfigError as e:  # a profile asks for what this worker cannot run (sentiment.model not installed)
            return Label.HELD, Transition(d, [State.QUEUED], State.HELD, "held",
                                          values={"last_error": f"tone check cannot run: {e.message}"},
                                          details={"reason": "tone", "error": e.message, "hint": e.hint})
        if held:
            return Label.HELD, held
        return _Go(d, receipt, adapter, post)

    def _clear(self, candidates: list[_Go], now: datetime, blocked: dict[str, datetime | None],
               moves: list[tuple[str, Transition]]) -> list[_Go]:
        """The platform budget, then the cadence, for the deliveries cleared by everything else; those that must
        wait get their transition in ``moves``, the rest are returned, in order. The cadence comes after the
        budget, so a cadence slot is never spent on a post the budget stops, and a budget slot taken for a post the
        cadence stops is given back. The cadence is asked for many posts in one round trip: in rounds, the k-th
        post of each account in round k, so each post of an account is settled (budget, cadence, refund) before
        the next one of the same account takes a budget slot, exactly as when they were asked one by one."""
        rounds: list[list[_Go]] = []
        seen: dict[str, int] = {}
        for g in candidates:
            k = seen.get(g.d["account"], 0)
            seen[g.d["account"]] = k + 1
            if k == len(rounds):
                rounds.append([])
            rounds[k].append(g)
        going: set[int] = set()
        for batch in rounds:
            asking: list[_Go] = []
            for g in batch:
                # unique per message: the same delivery in two messages takes two slots, each given back alone
                g.slot = f"{g.d['id']}:{g.d.get('attempts') or 0}:{now.timestamp()}:{uuid.uuid4().hex[:8]}"
                retry_at, took = self._budget_wait(g.adapter, g.d["account"], blocked, g.slot)
                if not took:
                    g.slot = ""
                if retry_at is not None:
                    moves.append((Label.BUDGET, Transition(
                        g.d, [State.QUEUED], State.RETRY_WAIT, "rate_budget", values={"due_at": retry_at},
                        details={"retry_at": retry_at.isoformat(), "source": "shared budget"})))
                else:
                    asking.append(g)
            waits = self._policy_waits([(g.d, str(g.post.get("kind", "note"))) for g in asking], now)
            for g, wait in zip(asking, waits, strict=True):
                if wait is None:
                    going.add(id(g))
                    continue
                if g.slot and self.budget is not None:  # nothing was sent: the budget slot is given back
                    self.budget.refund(g.d["account"], g.slot)
                moves.append((Label.POLICY, wait))
        return [g for g in candidates if id(g) in going]

    def _blocked(self, ready: dict[str, dict[str, Any]]) -> dict[str, datetime | None]:
        """When the platform said each account of this message's due deliveries may post again (a 429,
        remaining 0), in one round trip; consulted only for accounts without a posts-per-window budget."""
        if self.budget is None:
            return {}
        accounts = list(dict.fromkeys(d["account"] for d in ready.values() if d["state"] == State.QUEUED.value))
        return self.budget.blocked_many(accounts)  # type: ignore[no-any-return]

    def _budget_wait(self, adapter: Channel, account: str, blocked: dict[str, datetime | None],
                     slot: str | None = None) -> tuple[datetime | None, bool]:
        """(None to go, or when the account's shared budget frees a slot; whether a slot was taken). An account
        with no posts-per-window budget takes no slot and is only ever blocked by what the platform said (a 429,
        remaining 0): looked up once per message (``_blocked``)."""
        if self.budget is None:
            return None, False
        rate = (tuple(adapter.account.options["rate_limit"]) if "rate_limit" in adapter.account.options
                else adapter.default_rate)
        if rate is not None:
            until = self.budget.acquire(account, rate, member=slot)
            return until, until is None
        if account not in blocked:
            blocked[account] = self.budget.blocked_until(account)
        return blocked[account], False

    def _policy_waits(self, asks: list[tuple[dict[str, Any], str]], now: datetime) -> list[Transition | None]:
        """The accounts' cadence (quiet hours, minimum gap, maximum per day) for (delivery, kind) pairs, in order, in
        one round trip (at most one per account in ``_clear``): None to go, or retry_wait until it says. The
        continuation parts of a split post belong to its first part: they follow it, never a gap behind. A post
        coming back at a slot the minimum gap promised it (its ``last_error`` says so) waits at most for the gap's
        end."""
        asking = [k for k, (d, _) in enumerate(asks) if (d.get("part") or 1) == 1]
        waits = self.cadence.wait_many(
            [(self.settings.account(asks[k][0]["account"]), asks[k][1],
              str(asks[k][0].get("last_error") or "").startswith(GAP_WAIT), asks[k][0]["id"]) for k in asking], now)
        out: list[Transition | None] = [None] * len(asks)
        for k, wait in zip(asking, waits, strict=True):
            if wait is not None:
                out[k] = Transition(asks[k][0], [State.QUEUED], State.RETRY_WAIT, "policy_wait",
                                    values={"due_at": wait.until, "last_error": wait.reason},
                                    details={"rule": wait.rule, "retry_at": wait.until.isoformat()})
        return out

    def _policy_wait(self, d: dict[str, Any], kind: str, now: datetime) -> Transition | None:
        return self._policy_waits([(d, kind)], now)[0]

    def _tone_recheck(self, d: dict[str, Any], post: dict[str, Any], siblings: list[dict[str, Any]]) -> Transition | None:
        account = self.settings.account(d["account"])
        kind = PostKind(post.get("kind", "note"))
        if tone.unchanged_since_enqueue(self.store, d, account, kind, self.settings, siblings=siblings):
            return None  # this exact payload passed these exact rules at enqueue: the same check finds the same
        findings = tone.check_delivery(self.store, d, account, kind, self.settings, siblings=siblings)
        allowed = [o["rule"] for o in post.get("overrides") or []]
        blocked = tone.blocking(findings, allowed)
        if not blocked:
            if findings and not d.get("tone_key"):  # a check the CLI left to the worker (lingua): say what it found
                log.info("pre-publish tone check of %s (deferred at enqueue): %s", d["id"],
                         "; ".join(f"{f.severity} {f.rule}: {f.message}" for f in findings))
            return None
        reason = "tone check now blocks: " + "; ".join(f"{f.rule}: {f.message}" for f in blocked)
        return Transition(d, [State.QUEUED], State.HELD, "held", values={"last_error": reason},
                          details={"reason": "tone", "findings": [f.to_dict() for f in blocked]})

    # -- claim, call, record --

    def _claims(self, cleared: list[_Go]) -> list[Transition]:
        """``publishing`` with a lease and a new attempt id for each cleared delivery."""
        now = utcnow()
        lease = now + timedelta(seconds=self.settings.scheduler.lease_seconds)
        claims = []
        for g in cleared:
            g.attempt_id, g.attempt = new_id("a"), g.d["attempts"] + 1
            first = g.d.get("first_attempt_at") or now
            g.d = {**g.d, "first_attempt_at": first, "attempt_at": now}
            claims.append(Transition(g.d, [State.QUEUED], State.PUBLISHING, "publishing",
                                     values={"attempts": g.attempt, "attempt_id": g.attempt_id, "lease_until": lease,
                                             "first_attempt_at": first, "attempt_at": now},
                                     details={"attempt": g.attempt, "attempt_id": g.attempt_id,
                                              "reply_to": g.parent.remote_id if g.parent else None}))
        return claims

    def _step(self, sent: list[_Go], moves: list[tuple[str, Transition]], cleared: list[_Go],
              outcomes: dict[str, str]) -> list[_Go]:
        """One transaction: the outcomes of the ``sent`` calls (and the wake-up of thread successors waiting on the
        published ones), the decided ``moves``, and the claim of the next ``cleared`` deliveries. Returns the
        cleared deliveries this worker won."""
        claims = self._claims(cleared)
        if not sent and not moves and not claims:
            return []
        at = utcnow()
        sqlite = self.store.is_sqlite  # statements and audit events are made ready before the write lock
        results = prepare(self.actor, [self._result(g, at) for g in sent], sqlite)
        claiming = prepare(self.actor, [*(m for _, m in moves), *claims], sqlite)

        def work(conn: Any) -> tuple[list[bool], list[dict[str, Any]], list[bool]]:
            moved, woken = self._record(conn, sent, results, at) if sent else ([], [])
            return moved, woken, apply(conn, claiming)

        moved, woken, done = self.store.grouped(work)
        if sent:
            self._recorded(sent, moved, woken, outcomes)
            report_attempts(sent, moved, at)
        for label, m in moves:
            outcomes[m.delivery["id"]] = label
        won = []
        for g, ok in zip(cleared, done[len(moves):], strict=True):
            if ok:
                g.d = {**g.d, "state": State.PUBLISHING.value, "attempts": g.attempt}
                won.append(g)
            else:
                outcomes[g.d["id"]] = Label.LOST_CLAIM
        return won

    def _send_all(self, claimed: list[_Go]) -> None:
        """The platform calls, in order. A call starts only while its lease has half its time left: past that, the
        rest go back to ``queued`` unsent (and are sent again as messages), so a lease never expires on a delivery
        that was not sent yet and the sweeper can never make an unsent delivery ``unknown`` under a live call."""
        deadline = time.monotonic() + self.settings.scheduler.lease_seconds / 2
        limited: dict[str, datetime] = {}  # accounts the platform rate-limited during this batch: no more calls
        for g in claimed:
            if time.monotonic() > deadline:
                g.outcome = Label.RELEASED
                g.result = Transition(g.d, [State.PUBLISHING], State.QUEUED, "released", attempt_id=g.attempt_id,
                                      values={"attempts": g.attempt - 1, "lease_until": None, "enqueued_at": utcnow()},
                                      details={"reason": "batch ran past half the lease before this call"})
            elif g.d.get("not_after") and utcnow() > g.d["not_after"]:
                # its closing time passed while earlier calls of this batch ran: never published after it
                g.outcome = Label.EXPIRED
                g.result = Transition(g.d, [State.PUBLISHING], State.EXPIRED, "expired", attempt_id=g.attempt_id,
                                      values={"attempts": g.attempt - 1, "lease_until": None},
                                      details={"not_after": g.d["not_after"].isoformat(),
                                               "reason": "closing time passed before its call"})
            elif g.d["account"] in limited:
                retry_at = limited[g.d["account"]]
                g.outcome = Label.BUDGET
                g.result = Transition(g.d, [State.PUBLISHING], State.RETRY_WAIT, "rate_budget", attempt_id=g.attempt_id,
                                      values={"attempts": g.attempt - 1, "lease_until": None, "due_at": retry_at},
                                      details={"retry_at": retry_at.isoformat(), "source": "rate limited earlier in this batch"})
            else:
                self._call(g)
                if g.outcome == Label.RATE_LIMITED and g.result is not None and g.result.values:
                    limited[g.d["account"]] = g.result.values["due_at"]

    def _call(self, g: _Go) -> None:
        """Publish one claimed delivery and decide the transition that records the outcome (``outcomes.PUBLISH``)."""
        d, attempt, attempt_id, adapter = g.d, g.attempt, g.attempt_id, g.adapter
        if (d.get("part") or 1) == 1:  # as _policy_waits: a split post's continuation parts follow their first part
            taken = self.cadence.calling(self.settings.account(d["account"]), str(g.post.get("kind", "note")), d["id"])
            if taken is not None:  # its reservation ran out before this call and another post took the gap
                g.outcome = Label.POLICY
                g.result = Transition(d, [State.PUBLISHING], State.RETRY_WAIT, "policy_wait", attempt_id=attempt_id,
                                      values={"attempts": attempt - 1, "lease_until": None, "due_at": taken.until,
                                              "last_error": taken.reason},
                                      details={"rule": taken.rule, "retry_at": taken.until.isoformat(),
                                               "reason": "another post of the account took the gap before this call"})
                return
        started = time.monotonic()
        g.called = True
        try:
            g.receipt = adapter.publish(delivery_ref(d, g.post, g.parent, attempt), g.parent)
        except Exception as e:  # noqa: BLE001 - every exception is classified by the outcome table
            out = for_publish(e, attempt)
            now = utcnow()
            text = message(e)
            details: dict[str, Any] = {"error": text}
            values: dict[str, Any] = {"last_error": text}
            due = due_at(out, e, now, attempt, self.settings.scheduler.reconcile_every_seconds)
            if due is not None:
                values["due_at"] = due
                details["retry_at"] = due.isoformat()
            if isinstance(e, RateLimited):
                self._feed_budget(adapter, d["account"], e.retry_at)
            elif isinstance(e, AuthExpired):
                self.forget_adapter(d["account"])  # the renewed token (secrets file) is read when it is released
                values["last_error"] = f"{text} - run `publisher accounts verify {d['account']}` after renewing the token"
            elif isinstance(e, OutcomeUnknown) and e.existing:
                values["receipt"] = {"hint": e.existing.to_dict()}
            if out is GIVE_UP:
                values["last_error"] = f"gave up after {attempt} attempts: {text}"
            if out.state == State.FAILED:
                details["class"] = "transient" if out is GIVE_UP else "permanent"
            if out.label == Label.UNKNOWN:
                log.warning("unclassified error publishing %s: %s", d["id"], type(e).__name__)
            g.outcome = out.label
            g.result = Transition(d, [State.PUBLISHING], out.state, out.action, values, details, attempt_id)
            g.seconds = time.monotonic() - started
        else:
            g.seconds = time.monotonic() - started
            g.done_at = utcnow()
            self._crash_point("after_api_success_before_db")
            self._feed_budget(adapter, d["account"], None)
            g.outcome = Label.PUBLISHED

    def _record(self, conn: Any, claimed: list[_Go], results: Prepared,
                at: datetime) -> tuple[list[bool], list[dict[str, Any]]]:
        """Every call's outcome, and the wake-up of thread successors waiting on the published ones."""
        moved = apply(conn, results)
        # a published delivery whose lease was lost (the sweeper made it unknown, a reconcile may even have found
        # nothing yet and sent it back to wait): the post exists, so record it, from the state the row is in now
        late = [i for i, (g, ok) in enumerate(zip(claimed, moved, strict=True)) if g.receipt is not None and not ok]
        if late:
            now = get_deliveries(conn, [claimed[i].d["id"] for i in late])
            found = [(i, now[claimed[i].d["id"]]["state"]) for i in late if claimed[i].d["id"] in now]
            found = [(i, state) for i, state in found if State(state) in LATE_FROM]
            again = transitions(conn, self.actor, [self._result(claimed[i], at, late=State(state)) for i, state in found])
            for (i, _state), ok in zip(found, again, strict=True):
                moved[i] = ok
        # only a delivery of a thread (thread_key set) is ever another's predecessor (prev_id): the others skip
        # the look-up, a round trip per batch
        published = [g.d["id"] for g, ok in zip(claimed, moved, strict=True)
                     if ok and g.receipt is not None and g.d.get("thread_key")]
        return moved, self._wake_successors(conn, published)

    def _recorded(self, claimed: list[_Go], moved: list[bool], woken: list[dict[str, Any]],
                  outcomes: dict[str, str]) -> None:
        """After the commit: outcomes, messages for woken successors and for deliveries released unsent."""
        for g, ok in zip(claimed, moved, strict=True):
            if g.receipt is not None and not ok:
                log.error("delivery %s published as %s but its state changed meanwhile", g.d["id"], g.receipt.remote_id)
                g.outcome = Label.ORPHAN
            outcomes[g.d["id"]] = g.outcome
        self._send_each(woken)
        released = [g.d["id"] for g, ok in zip(claimed, moved, strict=True) if ok and g.outcome == Label.RELEASED]
        if released and self.sender:
            mid = self.sender(claimed[0].d["channel"], released, 0)
            if mid:
                with self.store.tx() as conn:
                    set_message_ids(conn, dict.fromkeys(released, mid))

    @staticmethod
    def _result(g: _Go, at: datetime, late: State | None = None) -> Transition:
        if g.receipt is None:
            assert g.result is not None  # every call that did not publish decided its transition
            return g.result
        r = g.receipt
        values = {"remote_id": r.remote_id, "remote_url": r.url, "receipt": r.to_dict(), "published_at": g.done_at or at,
                  "last_error": None, "lease_until": None}
        details: dict[str, Any] = {"remote_id": r.remote_id, "url": r.url}
        if late is not None:  # conditional on the state just read, so the audit event says where it came from
            return Transition({**g.d, "state": late.value}, [late], State.PUBLISHED, "published", values,
                              {**details, "late": True})
        return Transition(g.d, [State.PUBLISHING], State.PUBLISHED, "published", values, details, g.attempt_id)

    def _feed_budget(self, adapter: Channel, account: str, retry_at: datetime | None) -> None:
        if self.budget is None:
            return
        rate = adapter.last_rate
        if retry_at is not None:
            self.budget.block_until(account, retry_at)
        elif rate and rate.remaining == 0 and rate.reset_at:
            self.budget.block_until(account, rate.reset_at)

    def _wake_successors(self, conn: Any, delivery_ids: list[str]) -> list[dict[str, Any]]:
        """Thread successors waiting on these deliveries can go now: queue them without waiting for a tick."""
        if self.sender is None or not delivery_ids:
            return []
        now = utcnow()
        rows = [r for r in rawsql.select_where_in(conn, deliveries, "prev_id", delivery_ids)
                if r["state"] == State.SCHEDULED.value and r["due_at"] <= now]
        moved = transitions(conn, self.actor, [Transition(r, [State.SCHEDULED], State.QUEUED, "queued",
                                                          values={"enqueued_at": now}, details={"woken_by": r["prev_id"]})
                                               for r in rows])
        return [r for r, ok in zip(rows, moved, strict=True) if ok]

    def _send_each(self, rows: list[dict[str, Any]], now: datetime | None = None) -> None:
        """A message for each of these queued deliveries, delayed to its due time (none for those already due:
        woken thread successors), and its id recorded, so the sweeper looks for that message and not for one
        already consumed."""
        if not rows or self.sender is None:
            return
        now = now or utcnow()
        ids = {}
        for r in rows:
            mid = self.sender(r["channel"], [r["id"]], max(0, int((r["due_at"] - now).total_seconds() * 1000)))
            if mid:
                ids[r["id"]] = mid
        if ids:
            with self.store.tx() as conn:
                set_message_ids(conn, ids)


def report_attempts(sent: list[_Go], moved: list[bool], at: datetime) -> None:
    """One log line and the metrics for each platform call, once its outcome is committed: delivery, account,
    channel, attempt, the state it went to, remote id, latency of the call (``PUBLISHER_LOG_FORMAT=json`` gives
    these as JSON fields). A delivery released unsent made no call and is not reported."""
    for g, ok in zip(sent, moved, strict=True):
        if g.outcome in (Label.RELEASED, Label.BUDGET, Label.POLICY) and g.receipt is None:
            continue
        d = g.d
        state = State.PUBLISHED if g.receipt is not None else (g.result.to if g.result else State.UNKNOWN)
        lateness = ((g.done_at or at) - d["due_at"]).total_seconds() if g.receipt is not None and d.get("due_at") else None
        fields = {"delivery": d["id"], "account": d["account"], "channel": d["channel"], "attempt": g.attempt,
                  "state": state.value if ok else f"{state.value} (not recorded: {g.outcome})",
                  "outcome": str(g.outcome), "remote_id": g.receipt.remote_id if g.receipt else None,
                  "latency_ms": round(g.seconds * 1000)}
        error = (g.result.values or {}).get("last_error") if g.receipt is None and g.result else None
        if error:
            fields["error"] = error
        log.log(logging.WARNING if state == State.FAILED else logging.INFO,
                "publish %s", " ".join(f"{k}={v}" for k, v in fields.items() if v is not None),
                extra={"fields": fields})
        metrics.attempt(d["channel"], state.value, g.attempt, g.seconds, lateness, g.outcome == Label.RATE_LIMITED)
