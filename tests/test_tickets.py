"""A ticket's lifecycle (publisher.workflows.tickets): through the workflow function on the real store, through
the real CLI for exit codes and messages, and two real processes resolving one ticket at once."""

from __future__ import annotations

import json
import multiprocessing
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from publisher import audit, service
from publisher import settings as settings_mod
from publisher.errors import EXIT_NOT_FOUND, EXIT_USAGE, NotFound
from publisher.schema import posts
from publisher.settings import Settings
from publisher.store import Store, get_post, utcnow
from publisher.workflows import tickets
from publisher.workflows.tickets import Lifecycle, LifecycleError
from tests.conftest import Env

TEMPLATE = {"open": "{t}: {x}", "update": "{t} update: {x}", "resolve": "{t} resolved: {x}"}


@dataclass
class Desk:
    """The workflow function on the test's real store, as the CLI calls it."""

    settings: Settings
    store: Store

    def step(self, action: str, text: str, ticket: str = "INC-1", accounts: tuple[str, ...] = ("noc",),
             key: str | None = None, **lifecycle: Any) -> tuple[service.Accepted, Lifecycle]:
        life = Lifecycle(ticket, action, **lifecycle)
        new = service.NewPost(text=TEMPLATE[action].format(t=ticket, x=text), accounts=list(accounts), at=utcnow(),
                              idempotency_key=key)
        return tickets.accept(self.settings, self.store, new, life), life

    def thread(self, ticket: str = "INC-1") -> list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = conn.execute(select(posts).where(posts.c.thread_key == f"ticket:{ticket}")
                                .order_by(posts.c.thread_seq)).mappings()
            return [dict(r) for r in rows]

    def ticket_events(self) -> list[tuple[str, str | None, str | None]]:
        with self.store.read() as conn:
            return [(e["action"], e["post_id"], e["account"]) for e in audit.rows(conn)
                    if e["action"].startswith("ticket.")]


@pytest.fixture
def desk(env: Env) -> Desk:
    env.write_config({"noc": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"},
                      "noc-x": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo"}})
    return Desk(env.settings(), env.store())


# -- unknown tickets --


def test_update_or_resolve_of_a_ticket_never_opened_is_not_found_and_stores_nothing(desk: Desk) -> None:
    for action in ("update", "resolve"):
        with pytest.raises(NotFound, match="ticket INC-1 was never opened on noc") as refused:
            desk.step(action, "Crew on site")
        assert refused.value.exit_code == EXIT_NOT_FOUND and "--open-if-missing" in str(refused.value)
    assert desk.thread() == [] and desk.ticket_events() == []


def test_an_unknown_ticket_is_named_before_the_tone_check_runs(desk: Desk) -> None:
    with pytest.raises(NotFound):
        desk.step("update", "Fixed!")  # a ticket's exclamation mark blocks, but the missing ticket is said first


def test_open_if_missing_lets_an_update_open_the_ticket_and_later_updates_need_no_flag(desk: Desk) -> None:
    first, _ = desk.step("update", "Crew on site", open_if_missing=True)
    later, _ = desk.step("update", "Splicing, 60% done")
    assert not first.existing and not later.existing
    assert desk.ticket_events() == [("ticket.opened", first.post_id, "noc"), ("ticket.updated", first.post_id, "noc"),
                                    ("ticket.updated", later.post_id, "noc")]


def test_open_if_missing_lets_a_resolve_open_and_resolve_at_once(desk: Desk) -> None:
    done, _ = desk.step("resolve", "Fixed before anyone noticed", open_if_missing=True)
    assert [e[0] for e in desk.ticket_events()] == ["ticket.opened", "ticket.resolved"]
    with pytest.raises(LifecycleError, match=f"was resolved on noc: {done.post_id}"):
        desk.step("update", "One more thing")


def test_a_ticket_is_known_per_account(desk: Desk) -> None:
    """Opened on noc only: an update for noc and noc-x names noc-x; with --open-if-missing it opens noc-x only."""
    desk.step("open", "Fibre cut")
    with pytest.raises(NotFound, match="never opened on noc-x;"):
        desk.step("update", "Crew on site", accounts=("noc", "noc-x"))
    both, _ = desk.step("update", "Crew on site", accounts=("noc", "noc-x"), open_if_missing=True)
    assert [e for e in desk.ticket_events() if e[1] == both.post_id] == [
        ("ticket.updated", both.post_id, "noc"), ("ticket.opened", both.post_id, "noc-x"),
        ("ticket.updated", both.post_id, "noc-x")]


# -- open --


def test_the_same_open_again_answers_with_the_first_and_a_different_open_is_refused(desk: Desk) -> None:
    first, _ = desk.step("open", "Fibre cut")
    again, life = desk.step("open", "Fibre  cut ")
    assert again.existing and again.post_id == first.post_id and life.reason == "the same open of INC-1"
    with pytest.raises(LifecycleError, match=f"already open on noc: {first.post_id}") as refused:
        desk.step("open", "Fibre cut, second thoughts")
    assert refused.value.exit_code == EXIT_USAGE
    assert len(desk.thread()) == 1


# -- resolve --


def test_a_second_resolve_is_refused_naming_the_first_and_the_same_resolve_again_answers_with_it(desk: Desk) -> None:
    desk.step("open", "Fibre cut")
    first, _ = desk.step("resolve", "Repaired 13:41 CET")
    when = get_post_time(desk, first.post_id)
    with pytest.raises(LifecycleError) as refused:
        desk.step("resolve", "Repaired 13:45 CET, sorry")
    assert refused.value.exit_code == EXIT_USAGE
    assert f"already resolved on noc: {first.post_id} at {when}" in refused.value.message
    again, life = desk.step("resolve", "Repaired 13:41 CET")
    assert again.existing and again.post_id == first.post_id and life.reason == "the same resolve of INC-1"
    assert len(desk.thread()) == 2


def get_post_time(desk: Desk, post_id: str) -> str:
    with desk.store.read() as conn:
        post = get_post(conn, post_id)
    assert post is not None
    return str(post["created_at"].strftime("%Y-%m-%d %H:%M:%SZ"))


# -- update after resolve --


def test_an_update_after_resolve_needs_reopen_which_is_audited_and_allows_a_new_resolve(desk: Desk) -> None:
    desk.step("open", "Fibre cut")
    resolved, _ = desk.step("resolve", "Repaired")
    with pytest.raises(LifecycleError, match=f"(?s)was resolved on noc: {resolved.post_id}.*--reopen"):
        desk.step("update", "Link flapping again")
    reopened, _ = desk.step("update", "Link flapping again", reopen=True)
    assert desk.ticket_events()[-2:] == [("ticket.reopened", reopened.post_id, "noc"),
                                         ("ticket.updated", reopened.post_id, "noc")]
    with desk.store.read() as conn:
        event = [e for e in audit.rows(conn, post_id=reopened.post_id) if e["action"] == "ticket.reopened"][0]
    assert json.loads(event["details"]) == {"ticket": "INC-1", "resolved_by": resolved.post_id}
    # the same text as the first resolve is a new resolve now, not a repeat of the old one
    second, _ = desk.step("resolve", "Repaired")
    assert not second.existing and second.post_id != resolved.post_id


def test_reopen_on_an_open_ticket_is_a_plain_update(desk: Desk) -> None:
    desk.step("open", "Fibre cut")
    update, _ = desk.step("update", "Crew on site", reopen=True)
    assert [e[0] for e in desk.ticket_events() if e[1] == update.post_id] == ["ticket.updated"]


# -- repeated updates --


def test_a_repeated_update_within_the_window_answers_with_the_first_and_at_the_window_edge_is_new(desk: Desk) -> None:
    desk.step("open", "Fibre cut")
    first, _ = desk.step("update", "Crew on site")
    made = desk.thread()[-1]["created_at"]
    window = timedelta(minutes=10)
    just_inside, life = desk.step("update", " Crew on  site", now=lambda: made + window - timedelta(microseconds=1))
    assert just_inside.existing and just_inside.post_id == first.post_id
    assert life.reason == "the same update of INC-1 less than 10 min ago"
    at_edge, _ = desk.step("update", "Crew on site", now=lambda: made + window)
    assert not at_edge.existing
    assert [p["id"] for p in desk.thread()][1:] == [first.post_id, at_edge.post_id]


def test_a_repeated_update_after_resolve_still_answers_with_the_first(desk: Desk) -> None:
    """A script retrying an update that went through before someone resolved the ticket."""
    desk.step("open", "Fibre cut")
    first, _ = desk.step("update", "Crew on site")
    desk.step("resolve", "Repaired")
    again, _ = desk.step("update", "Crew on site")
    assert again.existing and again.post_id == first.post_id


def test_repeats_are_judged_by_accounts_text_and_window_setting(desk: Desk) -> None:
    desk.step("open", "Fibre cut", accounts=("noc", "noc-x"))
    first, _ = desk.step("update", "Crew on site", accounts=("noc", "noc-x"))
    other_accounts, _ = desk.step("update", "Crew on site", accounts=("noc",))
    other_text, _ = desk.step("update", "Crew on site now", accounts=("noc", "noc-x"))
    window_off, _ = desk.step("update", "Crew on site", accounts=("noc", "noc-x"), repeat_window=None)
    assert not any(a.existing for a in (other_accounts, other_text, window_off))
    assert len({first.post_id, other_accounts.post_id, other_text.post_id, window_off.post_id}) == 4


def test_updates_with_their_own_key_are_never_merged_by_text(desk: Desk) -> None:
    """The source names its updates (--update-id): two of them with the same words are two updates."""
    desk.step("open", "Fibre cut")
    three, _ = desk.step("update", "Still investigating", key="ticket:INC-1:update:3")
    four, _ = desk.step("update", "Still investigating", key="ticket:INC-1:update:4")
    assert not four.existing and four.post_id != three.post_id


# -- race safety --


class _Racing(Lifecycle):
    """Lets ``other`` store its step right after this step's early, read-only check has passed."""

    other: Any = None
    competing: str = ""

    def __call__(self, conn: Any) -> Any:
        verdict = super().__call__(conn)
        if not self.competing:
            self.competing = self.other()
        return verdict


def test_a_resolve_racing_another_is_refused_in_the_write_transaction(desk: Desk) -> None:
    desk.step("open", "Fibre cut")
    racing = _Racing("INC-1", "resolve")
    racing.other = lambda: desk.step("resolve", "Repaired by the other script")[0].post_id
    new = service.NewPost(text="INC-1 resolved: Repaired", accounts=["noc"], at=utcnow())
    with pytest.raises(LifecycleError) as refused:
        tickets.accept(desk.settings, desk.store, new, racing)
    assert f"already resolved on noc: {racing.competing}" in refused.value.message
    assert [p["text"] for p in desk.thread()] == ["INC-1: Fibre cut", "INC-1 resolved: Repaired by the other script"]


def test_an_update_racing_the_same_update_answers_with_it_from_the_write_transaction(desk: Desk) -> None:
    desk.step("open", "Fibre cut")
    racing = _Racing("INC-1", "update")
    racing.other = lambda: desk.step("update", "Crew on site")[0].post_id
    new = service.NewPost(text="INC-1 update: Crew on site", accounts=["noc"], at=utcnow())
    answer = tickets.accept(desk.settings, desk.store, new, racing)
    assert answer.existing and answer.post_id == racing.competing
    assert len(desk.thread()) == 2


def _resolve_many(environ: dict[str, str], barrier: Any, text: str, count: int, out: Any) -> None:
    """In its own process: resolve INC-0..INC-<count-1> with ``text``, each at once with the other process."""
    settings = settings_mod.load(environ)
    store = Store(settings.database_url)
    results = []
    for n in range(count):
        barrier.wait(timeout=60)
        new = service.NewPost(text=f"INC-{n} resolved: {text}", accounts=["noc"], at=utcnow())
        try:
            results.append(tickets.accept(settings, store, new, Lifecycle(f"INC-{n}", "resolve")).post_id)
        except LifecycleError:
            results.append("refused")
    out.put(results)


@pytest.mark.slow
def test_two_processes_resolving_one_ticket_at_once_exactly_one_wins(env: Env, desk: Desk) -> None:
    count = 5
    for n in range(count):
        desk.step("open", "Fibre cut", ticket=f"INC-{n}")
    ctx = multiprocessing.get_context("spawn")
    barrier, out = ctx.Barrier(2), ctx.Queue()
    procs = [ctx.Process(target=_resolve_many, args=(env.env, barrier, text, count, out))
             for text in ("Repaired by A", "Repaired by B")]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    for n in range(count):
        outcomes = sorted(r[n] for r in results)
        assert outcomes[1] == "refused" and outcomes[0].startswith("p-"), outcomes
        assert len([p for p in desk.thread(f"INC-{n}") if "resolved" in p["text"]]) == 1


# -- the CLI --


@pytest.mark.slow
def test_cli_exit_codes_and_messages_of_the_lifecycle(env: Env) -> None:
    unknown = env.cli("ticket", "update", "INC-5", "--account", "noc", "Crew on site")
    assert unknown.returncode == 5 and "never opened on noc" in unknown.stderr, unknown.stderr
    assert env.cli("ticket", "open", "INC-5", "--account", "noc", "Fibre cut").returncode == 0
    first = env.cli("ticket", "update", "INC-5", "--account", "noc", "Crew on site", "--json")
    retried = env.cli("ticket", "update", "INC-5", "--account", "noc", "Crew on site")
    post_id = json.loads(first.stdout)["post_id"]
    assert retried.returncode == 0, retried.stderr
    assert f"already accepted as {post_id} (the same update of INC-5 less than 10 min ago)" in retried.stdout
    resolved = env.cli("ticket", "resolve", "INC-5", "--account", "noc", "Repaired", "--json")
    resolve_id = json.loads(resolved.stdout)["post_id"]
    second = env.cli("ticket", "resolve", "INC-5", "--account", "noc", "Repaired at last")
    assert second.returncode == 2 and f"already resolved on noc: {resolve_id} at " in second.stderr, second.stderr
    late = env.cli("ticket", "update", "INC-5", "--account", "noc", "--reopen", "Link flapping again")
    assert late.returncode == 0, late.stderr
