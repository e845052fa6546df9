"""Polling over real loopback HTTP into the real store: conditional GET, seeding, backfill, pace, edits,
redirects, errors, and exactly one announcement per entry."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from publisher import audit
from publisher.errors import InputError, NotFound, NotPermitted
from publisher.schema import audit_events, feed_entries, feeds, posts
from publisher.settings import Settings
from publisher.store import Store, utcnow
from publisher.workflows import feeds as wf
from publisher.workflows.templates import TemplateError
from tests.conftest import DRYRUN, Env
from tests.feeds.server import DATA, FeedServer, item, rss

ACCOUNTS = {**DRYRUN,
            "andrew-bsky": {"channel": "bluesky", "kind": "personal",
                            "credentials": {"identifier": "env:BSKY_ID", "app_password": "env:BSKY_PW"}},
            "andrew-x": {"channel": "x", "kind": "personal", "credentials": {"bearer_token": "env:X_TOKEN"}}}


@pytest.fixture
def setup(env: Env) -> tuple[Settings, Store]:
    env.write_config(ACCOUNTS)
    return env.settings(), env.store()


def _add(settings: Settings, store: Store, url: str, name: str = "blog", **kw: Any) -> dict[str, Any]:
    spec = wf.FeedSpec(name=name, url=url, accounts=kw.pop("accounts", ["andrew"]),
                       template=kw.pop("template", "New post: {{ title }} {{ link }} {{ tags | hashtags }}"), **kw)
    wf.add(settings, store, spec)
    return _row(store, name)


def _row(store: Store, name: str = "blog") -> dict[str, Any]:
    with store.read() as conn:
        return wf.require(conn, name)


def _poll(settings: Settings, store: Store, name: str = "blog") -> wf.PollResult:
    return wf.poll_feed(settings, store, _row(store, name))


def _posts(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        return [dict(r) for r in conn.execute(select(posts).order_by(posts.c.scheduled_at, posts.c.id)).mappings()]


def _entries(store: Store, feed: str = "blog") -> dict[str, str]:
    with store.read() as conn:
        return {r.identity: r.status for r in conn.execute(select(feed_entries).where(feed_entries.c.feed == feed))}


def _actions(store: Store) -> list[str]:
    with store.read() as conn:
        return [a for a, in conn.execute(select(audit_events.c.action).order_by(audit_events.c.seq))]


def test_first_poll_seeds_then_304_then_a_new_entry_is_announced_once(setup: tuple[Settings, Store], feeds_http: FeedServer) -> None:
    settings, store = setup
    url = feeds_http.set("/feed/", rss("Blog", [item(2, 2), item(1, 1)]))
    _add(settings, store, url)
    first = _poll(settings, store)
    assert (first.status, first.seeded, _posts(store)) == ("seeded", 2, [])
    assert set(_entries(store).values()) == {"seeded"} and feeds_http.gzipped["/feed/"] == 1
    assert _poll(settings, store).status == "not_modified" and feeds_http.not_modified["/feed/"] == 1
    feeds_http.set("/feed/", rss("Blog", [item(3, 3, category="machine learning"), item(2, 2), item(1, 1)]))
    third = _poll(settings, store)
    assert third.status == "new" and len(third.announced) == 1
    [post] = _posts(store)
    assert post["kind"] == "blog" and post["text"] == "New post: Post number 3 https://blog.example.org/3/ #MachineLearning"
    assert post["variables"]["feed"] == "blog" and post["variables"]["entry"] == "https://blog.example.org/?p=3"
    assert post["idem_key"].startswith("feed:blog:")
    assert _entries(store)["https://blog.example.org/?p=3"] == "announced"
    assert _poll(settings, store).status == "not_modified"
    feeds_http.set("/feed/", rss("Blog", [item(3, 3, title="Post number 3 (edited)", description="changed"), item(2, 2)]))
    assert _poll(settings, store).status == "unchanged" and len(_posts(store)) == 1  # an edit is not news
    row = _row(store)
    assert row["last_success"] is not None and row["failures"] == 0 and row["backfill"] is None
    assert "feed.entry_announced" in _actions(store)


def test_backfill_announces_the_newest_n_oldest_first(setup: tuple[Settings, Store], feeds_http: FeedServer) -> None:
    settings, store = setup
    url = feeds_http.set("/feed/", rss("Blog", [item(n, n) for n in (5, 4, 3, 2, 1)]))
    _add(settings, store, url, backfill=2)
    r = _poll(settings, store)
    assert r.seeded == 3 and [a.entry.title for a in r.announced] == ["Post number 4", "Post number 5"]
    assert [p["text"].split(" https")[0] for p in _posts(store)] == ["New post: Post number 4", "New post: Post number 5"]


def test_many_new_entries_go_out_max_per_poll_at_once_then_at_spacing(setup: tuple[Settings, Store], feeds_http: FeedServer) -> None:
    settings, store = setup
    url = feeds_http.set("/feed/", rss("Blog", [item(1, 1)]))
    _add(settings, store, url, max_per_poll=2, spacing=600)
    _poll(settings, store)
    feeds_http.set("/feed/", rss("Blog", [item(n, n) for n in (6, 5, 4, 3, 2, 1)]))  # a migrated blog: 5 at once
    before = utcnow()
    _poll(settings, store)
    ps = _posts(store)
    assert [p["variables"]["entry"][-1] for p in ps] == ["2", "3", "4", "5", "6"]  # oldest first
    offsets = [round((p["scheduled_at"] - before).total_seconds() / 60) for p in ps]
    assert offsets == [0, 0, 10, 20, 30]


def test_vanished_and_reappearing_entries_are_not_announced_again(setup: tuple[Settings, Store], feeds_http: FeedServer) -> None:
    settings, store = setup
    url = feeds_http.set("/feed/", rss("Blog", [item(1, 1)]))
    _add(settings, store, url)
    _poll(settings, store)
    feeds_http.set("/feed/", rss("Blog", [item(2, 2), item(1, 1)]))
    _poll(settings, store)
    feeds_http.set("/feed/", rss("Blog", [item(1, 1)]))  # 2 vanished (unpublished)
    _poll(settings, store)
    feeds_http.set("/feed/", rss("Blog", [item(1, 1), item(2, 2)]))  # and came back, reordered
    _poll(settings, store)
    assert len(_posts(store)) == 1


def test_future_dated_entry_waits_for_its_date_and_undated_goes_now(setup: tuple[Settings, Store], feeds_http: FeedServer) -> None:
    settings, store = setup
    url = feeds_http.set("/feed/", rss("Blog", [item(1, 1)]))
    _add(settings, store, url)
    _poll(settings, store)
    undated = {"title": "No date", "link": "https://blog.example.org/nodate/", "description": "x"}
    future = item(9, 1, pubDate="Fri, 01 Jan 2038 09:00:00 +0000")
    feeds_http.set("/feed/", rss("Blog", [future, undated, item(1, 1)]))
    now = utcnow()
    _poll(settings, store)
    by_link = {p["link"]: p["scheduled_at"] for p in _posts(store)}
    assert by_link["https://blog.example.org/9/"].year == 2038
    assert abs(by_link["https://blog.example.org/nodate/"] - now) < timedelta(seconds=30)


def test_permanent_redirect_moves_the_stored_url_and_is_audited(setup: tuple[Settings, Store], feeds_http: FeedServer) -> None:
    settings, store = setup
    new_url = feeds_http.set("/new/feed.xml", rss("Blog", [item(1, 1)]))
    feeds_http.set("/tmp", status=302, location="/old")
    old = feeds_http.set("/old", status=301, location="/new/feed.xml")
    _add(settings, store, feeds_http.url("/tmp"), name="temp")
    _add(settings, store, old)
    _poll(settings, store, "temp")
    _poll(settings, store)
    assert _row(store, "temp")["url"] == feeds_http.url("/tmp")  # a temporary hop keeps the URL
    assert _row(store)["url"] == new_url
    assert _actions(store).count("feed.redirected") == 1


@pytest.mark.parametrize(("route", "kind"), [
    ({"status": 404}, "HTTP 404"), ({"status": 500}, "HTTP 500"),
    ({"stream_bytes": 50 * 1024 * 1024}, "more than 5,242,880 bytes"),
    ({"body": "<html><head><link rel='alternate' type='application/atom+xml' href='/atom.xml'></head></html>",
      "content_type": "text/html"}, "/atom.xml"),
    ({"body": (DATA / "billion_laughs.xml").read_text()}, "<!ENTITY>"),
])
def test_errors_are_kept_visible_backed_off_audited_and_store_nothing(setup: tuple[Settings, Store], feeds_http: FeedServer,
                                                                      route: dict[str, Any], kind: str) -> None:
    settings, store = setup
    url = feeds_http.set("/feed/", **route)
    _add(settings, store, url)
    r = _poll(settings, store)
    assert r.status == "error" and kind in (r.error or "")
    row = _row(store)
    assert row["state"] == "active" and row["failures"] == 1 and kind in row["last_error"]
    assert row["next_poll"] - row["last_error_at"] == timedelta(seconds=1800)  # interval x 2
    assert _entries(store) == {} and _posts(store) == []
    assert "feed.poll_failed" in _actions(store)


def test_unreachable_and_gone(setup: tuple[Settings, Store], feeds_http: FeedServer) -> None:
    settings, store = setup
    _add(settings, store, "http://127.0.0.1:9/feed", name="down")
    assert "cannot reach" in (_poll(settings, store, "down").error or "")
    _add(settings, store, feeds_http.set("/gone", status=410))
    assert _poll(settings, store).status == "disabled"
    row = _row(store)
    assert row["state"] == "disabled" and "410 Gone" in row["disabled_reason"]
    assert "feed.disabled" in _actions(store)
    claimed = wf.claim_due(store, "me", utcnow() + timedelta(days=30), timedelta(seconds=5))
    assert [r["name"] for r in claimed] == ["down"]  # a disabled feed is never polled again
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(feeds).where(feeds.c.state == "active")).scalar() == 1


@pytest.mark.parametrize(("kw", "message"), [
    ({"url": "file:///etc/passwd"}, "not an http(s) URL"),
    ({"url": "ftp://example.org/feed"}, "not an http(s) URL"),
    ({"template": "New: {{ title }"}, "syntax error"),
    ({"template": "New: {{ titel }} {{ link }}"}, "unknown field(s): titel"),
    ({"template": "{{ title | shout }}"}, "No filter named 'shout'"),
    ({"templates": {"facebook": "{{ title }}"}}, "neither an account of this feed nor the channel"),
    ({"name": "Bad Name"}, "feed name"),
])
def test_bad_definitions_are_refused_and_change_nothing(setup: tuple[Settings, Store], kw: dict[str, Any], message: str) -> None:
    settings, store = setup
    spec = {"name": "blog", "url": "https://example.org/feed", "accounts": ["andrew"], "template": "{{ title }} {{ link }}", **kw}
    with pytest.raises((InputError, TemplateError)) as e:
        wf.add(settings, store, wf.FeedSpec(**spec))
    assert message in str(e.value) and e.value.exit_code == 2
    with store.read() as conn:
        assert wf.all_feeds(conn) == [] and audit.head(conn)[0] == 0
    with pytest.raises(NotFound):
        wf.add(settings, store, wf.FeedSpec(**{**spec, **{"template": "{{ title }}", "url": "https://e.org/f",
                                                          "name": "x", "templates": {}}, "accounts": ["nobody"]}))


def test_fit_shortens_the_summary_per_channel_never_the_link(setup: tuple[Settings, Store], feeds_http: FeedServer) -> None:
    settings, store = setup
    long = "word " * 200
    url = feeds_http.set("/feed/", rss("Blog", [item(1, 1)]))
    _add(settings, store, url, accounts=["andrew-bsky", "andrew-x", "andrew"],
         template="{{ title }}: {{ summary | fit }} {{ link }}", templates={"x": "{{ title | upper }} {{ link }}"})
    _poll(settings, store)
    feeds_http.set("/feed/", rss("Blog", [item(2, 2, description=long), item(1, 1)]))
    r = _poll(settings, store)
    texts = r.announced[0].texts
    assert texts["andrew-x"] == "POST NUMBER 2 https://blog.example.org/2/"
    bsky = texts["andrew-bsky"]
    assert bsky.endswith("… https://blog.example.org/2/") and 250 < len(bsky) <= 300
    assert texts["andrew"] == f"Post number 2: {' '.join(long.split())} https://blog.example.org/2/"  # 5000 fits


def test_two_schedulers_polling_together_announce_each_entry_once(setup: tuple[Settings, Store], feeds_http: FeedServer) -> None:
    settings, store = setup
    for i in range(12):
        _add(settings, store, feeds_http.set(f"/f{i}", rss("Blog", [item(1, 1)])), name=f"f{i}", interval=1)
        wf.poll_feed(settings, store, _row(store, f"f{i}"))
        feeds_http.set(f"/f{i}", rss("Blog", [item(3, 3), item(2, 2), item(1, 1)]))
    with store.tx() as conn:
        conn.execute(feeds.update().values(next_poll=utcnow() - timedelta(seconds=1)))
    results: dict[str, list[wf.PollResult]] = {}
    barrier = threading.Barrier(2)

    def scheduler(owner: str) -> None:
        barrier.wait()
        results[owner] = wf.poll_due(settings, Store(settings.database_url, migrate=False), owner, threads=4)

    threads = [threading.Thread(target=scheduler, args=(o,)) for o in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    polled = [r.feed for rs in results.values() for r in rs]
    assert sorted(polled) == sorted(f"f{i}" for i in range(12))  # each feed by one of them
    ps = _posts(store)
    assert len(ps) == 24 and len({(p["variables"]["feed"], p["variables"]["entry"]) for p in ps}) == 24


def test_racing_polls_of_one_feed_still_announce_once(setup: tuple[Settings, Store], feeds_http: FeedServer) -> None:
    """Two polls of the same feed without a lease (a manual `feed poll` beside the scheduler): the entry row is
    checked inside the transaction that stores the post, so one of them finds it taken."""
    settings, store = setup
    url = feeds_http.set("/feed/", rss("Blog", [item(1, 1)]))
    _add(settings, store, url)
    _poll(settings, store)
    feeds_http.set("/feed/", rss("Blog", [item(n, n) for n in (5, 4, 3, 2, 1)]))
    row = _row(store)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def one() -> None:
        barrier.wait()
        try:
            wf.poll_feed(settings, Store(settings.database_url, migrate=False), dict(row))
        except Exception as e:  # noqa: BLE001 - collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == [] and len(_posts(store)) == 4
    with store.read() as conn:
        assert audit.verify(conn).ok


def test_dry_run_stores_nothing(setup: tuple[Settings, Store], feeds_http: FeedServer) -> None:
    settings, store = setup
    url = feeds_http.set("/feed/", rss("Blog", [item(2, 2), item(1, 1)]))
    _add(settings, store, url, backfill=1)
    with store.read() as conn:
        head = audit.head(conn)
    r = wf.poll_feed(settings, store, _row(store), dry_run=True)
    assert [a.texts["andrew"] for a in r.announced] == ["New post: Post number 2 https://blog.example.org/2/ #News"]
    assert r.seeded == 1 and _entries(store) == {} and _posts(store) == []
    with store.read() as conn:
        assert audit.head(conn) == head
    assert _row(store)["backfill"] == 1


def test_an_entry_the_tone_checks_block_is_recorded_refused_with_the_reason_and_not_retried(
        setup: tuple[Settings, Store], feeds_http: FeedServer) -> None:
    settings, store = setup
    url = feeds_http.set("/feed/", rss("Blog", [item(1, 1)]))
    _add(settings, store, url, accounts=["noc"])
    _poll(settings, store)
    feeds_http.set("/feed/", rss("Blog", [item(2, 2, title="This fucking outage is BULLSHIT"), item(1, 1)]))
    r = _poll(settings, store)
    assert r.announced[0].post_id is None and r.announced[0].problem
    assert _entries(store)["https://blog.example.org/?p=2"] == "refused" and _posts(store) == []
    assert "feed.entry_refused" in _actions(store)
    feeds_http.set("/feed/", rss("Blog", [item(3, 3), item(2, 2, title="This fucking outage is BULLSHIT"), item(1, 1)]))
    assert _poll(settings, store).status == "new"
    assert _actions(store).count("feed.entry_refused") == 1 and len(_posts(store)) == 1


def test_only_a_poster_of_every_account_may_add_a_feed(env: Env) -> None:
    env.write_config({**ACCOUNTS, "guarded": {"channel": "dryrun", "kind": "organisation", "posters": ["someone-else"]}})
    settings, store = env.settings(), env.store()
    with pytest.raises(NotPermitted):
        wf.add(settings, store, wf.FeedSpec(name="blog", url="https://e.org/f", accounts=["andrew", "guarded"],
                                            template="{{ title }}"))
    with store.read() as conn:
        assert wf.all_feeds(conn) == []


def _png() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (120, 80), (20, 90, 160)).save(buf, "PNG")
    return buf.getvalue()


def test_an_entry_image_with_alt_text_is_attached_and_one_without_is_not(setup: tuple[Settings, Store],
                                                                       feeds_http: FeedServer) -> None:
    """A feed entry's image goes out with the announcement, described by the blog's own ``<img alt>``; an image
    the blog gave no description is left out (and the post says why), never posted without alt text."""
    settings, store = setup
    pic = feeds_http.set("/pic.png", _png(), content_type="image/png")
    described = f'&lt;p&gt;Splicing.&lt;/p&gt;&lt;img src="{pic}" alt="A technician splicing fibre"&gt;'
    bare = f'&lt;p&gt;Racks.&lt;/p&gt;&lt;img src="{pic}"&gt;'
    url = feeds_http.set("/feed/", rss("Blog", [item(2, 2, description=bare), item(1, 1, description=described)]))
    _add(settings, store, url, backfill=2)
    assert len(_poll(settings, store).announced) == 2
    first, second = _posts(store)
    with store.read() as conn:
        from publisher.schema import deliveries, media

        payloads = {r.post_id: r.payload for r in conn.execute(select(deliveries.c.post_id, deliveries.c.payload))}
        stored = conn.execute(select(func.count()).select_from(media)).scalar()
    [ref] = payloads[first["id"]]["extra"]["media"]
    assert ref["alt"] == "A technician splicing fibre" and (ref["width"], ref["height"]) == (120, 80)
    assert stored == 1  # the bytes are in the store, for whichever worker publishes it
    assert "media" not in (payloads[second["id"]].get("extra") or {})
    assert second["variables"]["image_not_attached"] == "the entry gives its image no alt text"


def test_a_cycle_of_unchanged_feeds_reuses_connections_and_commits_once(setup: tuple[Settings, Store], feeds_http: FeedServer,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A cycle of 304s: the fetch threads keep their connections open from feed to feed and cycle to cycle, and the
    successes (next poll, lease released) are written in one transaction for the batch, not one per feed."""
    settings, store = setup
    for i in range(10):
        _add(settings, store, feeds_http.set(f"/f{i}", rss("Blog", [item(1, 1)])), name=f"f{i}", interval=60)
    assert {r.status for r in wf.poll_due(settings, store, "me", threads=2)} == {"seeded"}
    commits = []
    real_tx = store.tx
    monkeypatch.setattr(store, "tx", lambda: (commits.append(1), real_tx())[1])
    before = utcnow()
    with store.tx() as conn:
        conn.execute(feeds.update().values(next_poll=before))
    commits.clear()
    assert {r.status for r in wf.poll_due(settings, store, "me", threads=2)} == {"not_modified"}
    assert sum(feeds_http.not_modified.values()) == 10
    assert len(commits) == 2  # the claim, and the batch's successes
    assert feeds_http.connections <= 2  # 20 requests over the two fetch threads' kept-alive connections
    with store.read() as conn:
        rows = wf.all_feeds(conn)
    assert all(r["last_success"] >= before and r["lease_owner"] is None and r["etag"]
               and r["next_poll"] > before + timedelta(seconds=50) for r in rows)


def test_batched_successes_skip_a_feed_whose_lease_was_lost(setup: tuple[Settings, Store], feeds_http: FeedServer) -> None:
    """A batch's successes are written only where this scheduler still holds the lease (another took it over)."""
    settings, store = setup
    _add(settings, store, feeds_http.set("/feed/", rss("Blog", [item(1, 1)])))
    wf.claim_due(store, "other", utcnow(), timedelta(seconds=60))
    later = utcnow() + timedelta(hours=1)
    wf._record(store, "me", [wf._Success("blog", {"next_poll": later, "lease_owner": None, "lease_until": None})])
    assert _row(store)["lease_owner"] == "other"
    wf._record(store, "other", [wf._Success("blog", {"next_poll": later, "lease_owner": None, "lease_until": None})])
    row = _row(store)
    assert row["lease_owner"] is None and row["next_poll"] == later
