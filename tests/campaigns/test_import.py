"""`publisher campaign import`: a file stored all together, re-imports that change exactly what changed, export
that round-trips, approvals and cancel per campaign. The real CLI (in-process) on the real store."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from tests.campaigns.helpers import CAMPAIGN, cli, deliveries_by_key, dump, setup, write
from tests.conftest import Env
from tests.helpers import all_deliveries


@pytest.fixture
def camp(env: Env, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    setup(env, monkeypatch)
    return write(tmp_path / "tnc31.yaml", CAMPAIGN)


def test_import_stores_every_row_and_the_same_file_again_changes_nothing(env: Env, camp: Path, capsys, tmp_path) -> None:
    code, out, err = cli(capsys, "campaign", "import", str(camp))
    assert code == 0, err
    assert "7 new" in out and "jobs" not in err
    store = env.store()
    ds = deliveries_by_key(store)
    assert len(ds) == 12  # five rows on two accounts, one on conf-ma, one on jobs
    assert ds[("countdown-7", "conf-x", 1)]["due_at"].isoformat() == "2031-06-01T07:00:00+00:00"
    assert ds[("countdown-7", "conf-ma", 1)]["due_at"].isoformat() == "2031-06-01T13:00:00+00:00"  # 09:00 New York
    assert ds[("keynote", "conf-x", 1)]["payload"]["text"] == "Keynote now, hall A #TNC31"
    assert ds[("jobs-1", "jobs", 1)]["state"] == "pending_approval"
    assert ds[("agenda-2", "conf-x", 1)]["prev_id"] == ds[("agenda", "conf-x", 1)]["id"]  # the thread
    assert ds[("thanks", "conf-x", 1)]["not_after"].isoformat() == "2031-06-13T08:00:00+00:00"
    queued = ds[("queued", "conf-ma", 1)]["due_at"].astimezone(__import__("zoneinfo").ZoneInfo("America/New_York"))
    assert queued.strftime("%H:%M") in ("09:00", "12:30", "17:00")  # a slot
    before = dump(store)
    code, out, _ = cli(capsys, "campaign", "import", str(camp))
    assert code == 0 and "no change" in out
    assert dump(store) == before
    code, csv_text, _ = cli(capsys, "campaign", "export", "tnc31", "--format", "csv")
    assert code == 0 and csv_text.startswith("# name: tnc31")
    exported = tmp_path / "tnc31.csv"
    exported.write_text(csv_text)
    code, out, err = cli(capsys, "campaign", "import", str(exported))
    assert code == 0 and "no change" in out, out + err
    assert dump(store) == before
    assert cli(capsys, "audit", "verify")[0] == 0


def test_reimport_of_an_edited_file_moves_only_the_changed_rows(env: Env, camp: Path, capsys) -> None:
    assert cli(capsys, "campaign", "import", str(camp))[0] == 0
    code, out, err = cli(capsys, "campaign", "approve", "tnc31", actor="alice")
    assert code == 0 and "released" in out, err
    store = env.store()
    before = deliveries_by_key(store)
    edited = copy.deepcopy(CAMPAIGN)
    edited["rows"][0]["text"] = "Seven days to go! #TNC31"
    edited["rows"][3]["at"] = "event+0d 10:00"
    edited["rows"][6]["text"] = "Meet our whole team at the booth. #TNC31"
    write(camp, edited)
    code, out, err = cli(capsys, "campaign", "import", str(camp), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["counts"] == {"new": 0, "changed": 3, "unchanged": 4, "removed": 0}
    after = deliveries_by_key(store)
    changed = {k for k in before if before[k] != after[k]}
    assert changed == {("countdown-7", "conf-x", 1), ("countdown-7", "conf-ma", 1), ("keynote", "conf-x", 1),
                       ("keynote", "conf-ma", 1), ("jobs-1", "jobs", 1)}
    assert after[("countdown-7", "conf-x", 1)]["payload"]["text"] == "Seven days to go! #TNC31"
    assert after[("countdown-7", "conf-x", 1)]["id"] == before[("countdown-7", "conf-x", 1)]["id"]
    assert after[("keynote", "conf-x", 1)]["due_at"].isoformat() == "2031-06-08T08:00:00+00:00"
    assert before[("jobs-1", "jobs", 1)]["state"] == "scheduled"
    assert after[("jobs-1", "jobs", 1)]["state"] == "pending_approval"  # changed text: approved again
    assert cli(capsys, "audit", "verify")[0] == 0
    code, out, _ = cli(capsys, "campaign", "import", str(camp))
    assert "no change" in out


def test_removed_rows_are_cancelled_only_with_prune(env: Env, camp: Path, capsys) -> None:
    assert cli(capsys, "campaign", "import", str(camp))[0] == 0
    shorter = copy.deepcopy(CAMPAIGN)
    del shorter["rows"][4]  # thanks
    write(camp, shorter)
    store = env.store()
    before = dump(store)
    code, out, _ = cli(capsys, "campaign", "import", str(camp))
    assert code == 0 and "no change" in out and "1 stored rows are not in the file" in out
    assert dump(store) == before
    code, out, _ = cli(capsys, "campaign", "import", str(camp), "--prune")
    assert code == 0 and "1 pruned" in out
    ds = deliveries_by_key(store)
    assert {d["state"] for k, d in ds.items() if k[0] == "thanks"} == {"cancelled"}
    assert {d["state"] for k, d in ds.items() if k[0] != "thanks" and k[1] != "jobs"} == {"scheduled"}
    code, out, _ = cli(capsys, "campaign", "import", str(camp), "--prune")
    assert "no change" in out and "not in the file" not in out
    assert cli(capsys, "audit", "verify")[0] == 0


def test_dry_run_shows_the_schedule_after_cadence_and_stores_nothing(env: Env, camp: Path, capsys) -> None:
    store = env.store()
    before = dump(store)
    close = copy.deepcopy(CAMPAIGN)
    close["rows"].append({"key": "soon-after", "at": "event-7d 09:10", "accounts": ["conf-ma"], "text": "Hi #TNC31"})
    write(camp, close)
    code, out, err = cli(capsys, "campaign", "import", str(camp), "--dry-run", "--json")
    assert code == 0, err
    plan = json.loads(out)
    assert plan["dry_run"] and plan["counts"]["new"] == 8
    row = next(r for r in plan["schedule"] if r["key"] == "soon-after")
    assert row["due_at"] == "2031-06-01T13:10:00Z" and row["runs_at"] == "2031-06-01T13:30:00Z"  # min gap 30 min
    assert dump(store) == before


def test_campaign_list_show_cancel(env: Env, camp: Path, capsys) -> None:
    assert cli(capsys, "campaign", "import", str(camp))[0] == 0
    code, out, _ = cli(capsys, "campaign", "list")
    assert code == 0 and "tnc31" in out and "11 scheduled" in out
    code, out, _ = cli(capsys, "campaign", "show", "tnc31")
    assert code == 0 and "countdown-7" in out
    assert cli(capsys, "campaign", "show", "tnc13")[0] == 5
    code, out, _ = cli(capsys, "campaign", "cancel", "tnc31")
    assert code == 0 and "cancelled 12" in out
    assert {d["state"] for d in deliveries_by_key(env.store()).values()} == {"cancelled"}


def test_post_at_next_slot_takes_the_accounts_next_free_slot(env: Env, camp: Path, capsys) -> None:
    code, out, err = cli(capsys, "post", "--account", "conf-ma", "--at", "next-slot", "--json", "First #TNC31")
    assert code == 0, err
    first = json.loads(out)["deliveries"][0]["due_at"]
    code, out, _ = cli(capsys, "post", "--account", "conf-ma", "--at", "next-slot", "--json", "Second #TNC31")
    second = json.loads(out)["deliveries"][0]["due_at"]
    assert second > first
    code, _, err = cli(capsys, "post", "--account", "conf-x", "--at", "next-slot", "No slots here")
    assert code == 2 and "has no slots" in err


def test_next_slot_on_several_accounts_takes_each_accounts_own_slot(env: Env, camp: Path, capsys) -> None:
    """Buffer's queue is per account: a post to two accounts with slots in two zones goes to each one's next free
    slot, on its own clock, and the next such post to the slots after those."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from tests.campaigns.helpers import ACCOUNTS

    env.write_config({**ACCOUNTS, "conf-oslo": {"channel": "dryrun", "kind": "organisation",
                                                "timezone": "Europe/Oslo", "slots": ["08:15", "15:45"]}})
    code, out, err = cli(capsys, "post", "--account", "conf-ma", "--account", "conf-oslo", "--at", "next-slot",
                         "Doors open at 08:30 #TNC31")
    assert code == 0, err
    assert "conf-ma at " in out and "conf-oslo at " in out
    due = {d["account"]: d["due_at"] for d in all_deliveries(env.store())}
    assert due["conf-ma"].astimezone(ZoneInfo("America/New_York")).strftime("%H:%M") in ("09:00", "12:30", "17:00")
    assert due["conf-oslo"].astimezone(ZoneInfo("Europe/Oslo")).strftime("%H:%M") in ("08:15", "15:45")
    code, out, err = cli(capsys, "post", "--account", "conf-ma", "--account", "conf-oslo", "--at", "next-slot",
                         "--json", "Coffee in the foyer #TNC31")
    assert code == 0, err
    later = {d["account"]: datetime.fromisoformat(d["due_at"]) for d in json.loads(out)["deliveries"]}
    assert later["conf-ma"] > due["conf-ma"] and later["conf-oslo"] > due["conf-oslo"]
    assert cli(capsys, "audit", "verify")[0] == 0


def test_a_scheduler_claim_between_check_and_store_wins_and_is_reported(env: Env, camp: Path, capsys) -> None:
    """The re-import's update is conditional on the delivery's state: the scheduler's claim, made after the
    import checked the file and before it stored, keeps its delivery (queued, unchanged); the rest is stored."""
    from datetime import timedelta

    from publisher.store import claim_due
    from publisher.workflows import campaignfile, campaigns

    assert cli(capsys, "campaign", "import", str(camp))[0] == 0
    edited = copy.deepcopy(CAMPAIGN)
    edited["rows"][0]["text"] = "Seven days to go! #TNC31"
    edited["rows"][1]["text"] = "The full agenda is out. #TNC31"
    write(camp, edited)
    settings, store = env.settings(), env.store()
    plan = campaigns.plan(settings, store, campaignfile.read(camp))
    first = deliveries_by_key(store)[("countdown-7", "conf-x", 1)]
    with store.tx() as conn:  # the scheduler claims the first row's X delivery (as if it were due now)
        claimed = claim_due(conn, "scheduler:test", first["due_at"], timedelta(seconds=1), 20)
    assert first["id"] in {c["id"] for c in claimed}
    report = campaigns.apply(settings, store, plan)
    assert any(first["id"] in note and "claimed meanwhile" in note for note in report.untouched), report.untouched
    after = deliveries_by_key(store)
    assert after[("countdown-7", "conf-x", 1)]["state"] == "queued"
    assert after[("countdown-7", "conf-x", 1)]["payload"] == first["payload"]  # the claim won: not rewritten
    assert after[("countdown-7", "conf-ma", 1)]["payload"]["text"] == "Seven days to go! #TNC31"
    assert after[("agenda", "conf-x", 1)]["payload"]["text"] == "The full agenda is out. #TNC31"
    assert cli(capsys, "audit", "verify")[0] == 0


def test_a_row_that_changes_its_accounts_adds_and_cancels_deliveries(env: Env, camp: Path, capsys) -> None:
    assert cli(capsys, "campaign", "import", str(camp))[0] == 0
    store = env.store()
    before = deliveries_by_key(store)
    edited = copy.deepcopy(CAMPAIGN)
    edited["rows"][0]["accounts"] = ["conf-x", "jobs"]  # conf-ma out, jobs in
    write(camp, edited)
    code, out, err = cli(capsys, "campaign", "import", str(camp))
    assert code == 0 and "1 changed" in out, err
    after = deliveries_by_key(store)
    assert after[("countdown-7", "conf-ma", 1)]["state"] == "cancelled"
    assert after[("countdown-7", "jobs", 1)]["state"] == "pending_approval"
    assert after[("countdown-7", "jobs", 1)]["due_at"].isoformat() == "2031-06-01T07:00:00+00:00"
    for k in ("id", "payload", "due_at"):  # re-checked with its new siblings, else as it was
        assert after[("countdown-7", "conf-x", 1)][k] == before[("countdown-7", "conf-x", 1)][k]
    # jobs needs approval: the post's other copy waits with it (none goes out before the post is approved)
    assert before[("countdown-7", "conf-x", 1)]["state"] == "scheduled"
    assert after[("countdown-7", "conf-x", 1)]["state"] == "pending_approval"
    assert cli(capsys, "audit", "verify")[0] == 0
    assert "no change" in cli(capsys, "campaign", "import", str(camp))[1]


def _png(path: Path) -> Path:
    from PIL import Image

    Image.new("RGB", (1600, 900), (30, 90, 160)).save(path, "PNG")
    return path


def test_a_rows_image_is_read_from_beside_the_file_fitted_and_stored(env: Env, camp: Path, capsys,
                                                                      tmp_path: Path) -> None:
    _png(tmp_path / "stage.png")
    data = copy.deepcopy(CAMPAIGN)
    data["rows"][0].update(image="stage.png", alt="The stage of hall A before the opening")
    data["rows"][1].update(image="stage.png", alt="The stage of hall A")  # one file, read once, stored once
    write(camp, data)
    code, out, err = cli(capsys, "campaign", "import", str(camp))
    assert code == 0, err
    store = env.store()
    ds = deliveries_by_key(store)
    for account in ("conf-x", "conf-ma"):
        [ref] = ds[("countdown-7", account, 1)]["payload"]["extra"]["media"]
        assert ref["alt"] == "The stage of hall A before the opening"
        from publisher.channels import media

        with store.read() as conn:
            stored = media.load_stored(conn, ref["sha256"])
        assert stored is not None and stored.sha256 == ref["sha256"]  # a worker on any machine finds the bytes
    assert "media" not in ds[("keynote", "conf-x", 1)]["payload"].get("extra", {})
    assert cli(capsys, "audit", "verify")[0] == 0


def test_a_missing_image_or_alt_without_image_fails_the_import_and_stores_nothing(env: Env, camp: Path, capsys) -> None:
    before = dump(env.store())
    data = copy.deepcopy(CAMPAIGN)
    data["rows"][0]["image"] = "nowhere.png"
    data["rows"][2]["alt"] = "alt text of no image"
    write(camp, data)
    code, _, err = cli(capsys, "campaign", "import", str(camp))
    assert code == 2, err
    assert "rows[0].image" in err and "nowhere.png" in err and "rows[2].alt" in err
    assert dump(env.store()) == before


def test_images_of_rows_checked_in_forked_checkers_are_stored_too(env: Env, camp: Path, capsys, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from publisher.channels import media
    from publisher.workflows import campaigns

    monkeypatch.setattr(campaigns, "PARALLEL_FROM", 2)  # the 10,000-row path on a small file: rows beyond the
    from PIL import Image  # first 50 are checked in forked processes, whose fitted copies stay there

    for i in range(80):  # an image of its own per row: a copy fitted for an earlier row cannot stand in
        Image.new("RGB", (400, 300), (i, 255 - i, 90)).save(tmp_path / f"s{i}.png", "PNG")
    rows = [{"key": f"s{i}", "at": f"event+0d {9 + i // 60:02d}:{i % 60:02d}", "image": f"s{i}.png",
             "alt": f"Session {i} on the main stage", "text": f"Session {i} starts now on the main stage. #TNC31"}
            for i in range(80)]
    write(camp, {**{k: v for k, v in CAMPAIGN.items() if k != "rows"}, "rows": rows})
    code, out, err = cli(capsys, "campaign", "import", str(camp))
    assert code == 0, err
    store = env.store()
    refs = {ref["sha256"] for d in deliveries_by_key(store).values() for ref in d["payload"]["extra"]["media"]}
    assert len(deliveries_by_key(store)) == 160 and len(refs) >= 80
    with store.read() as conn:
        assert all(media.load_stored(conn, sha) is not None for sha in refs)


def test_an_edit_of_a_campaign_post_is_checked_with_the_campaigns_hashtags(env: Env, camp: Path, capsys) -> None:
    """The campaign's `hashtags:` hold for its posts after the import too: `publisher edit` of one of them without
    the tag is refused (exit 3, nothing changed), on an organisation account and a personal-profile one alike."""
    assert cli(capsys, "campaign", "import", str(camp))[0] == 0
    store = env.store()
    before = deliveries_by_key(store)
    post_id = before[("countdown-7", "conf-x", 1)]["post_id"]
    code, out, err = cli(capsys, "edit", post_id, "--text", "One week to go!")
    assert code == 3 and "TNC31" in out + err, (code, out, err)
    assert deliveries_by_key(store) == before
    code, out, err = cli(capsys, "edit", post_id, "--text", "Only one week to go! #TNC31")
    assert code == 0, err
    assert deliveries_by_key(store)[("countdown-7", "conf-x", 1)]["payload"]["text"] == "Only one week to go! #TNC31"


def test_rows_built_in_forked_workers_are_stored_and_audited_as_built_one_by_one(
        env: Env, camp: Path, capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large file's rows without a thread key are built (rows bound, digests, audit events rendered) in forked
    workers before the transaction (``campaignrows.build_loose``); threads are built inside it. Stored, every row
    must match its audit event's digest (``audit verify``), the events must come in the file's order (each post's
    acceptance before its deliveries'), and threads must stay chained."""
    import functools
    import os

    from sqlalchemy import select

    from publisher.schema import audit_events
    from publisher.workflows import campaignrows

    pids = tmp_path / "pids"
    real = campaignrows._build_range

    @functools.wraps(real)  # same module and name: the pool pickles it by reference and finds this wrapper
    def spy(span: tuple[int, int]) -> list[campaignrows.Built]:
        with pids.open("a") as f:
            f.write(f"{os.getpid()}\n")
        return real(span)

    monkeypatch.setattr(campaignrows, "_build_range", spy)
    monkeypatch.setattr(campaignrows, "PARALLEL_FROM", 2)
    rows = [*CAMPAIGN["rows"], *({"key": f"s{i}", "at": f"event+0d {9 + i // 60:02d}:{i % 60:02d}",
                                  "text": f"Session {i} starts now on the main stage. #TNC31"} for i in range(40))]
    write(camp, {**CAMPAIGN, "rows": rows})
    code, out, err = cli(capsys, "campaign", "import", str(camp))
    assert code == 0, err
    workers = {int(p) for p in pids.read_text().split()}
    assert workers and os.getpid() not in workers  # built elsewhere, not here
    assert cli(capsys, "audit", "verify")[0] == 0
    store = env.store()
    ds = deliveries_by_key(store)
    assert len(ds) == 12 + 80
    assert ds[("agenda-2", "conf-x", 1)]["prev_id"] == ds[("agenda", "conf-x", 1)]["id"]
    assert ds[("agenda-2", "conf-ma", 1)]["prev_id"] == ds[("agenda", "conf-ma", 1)]["id"]
    key_of = {d["post_id"]: k for (k, _a, _p), d in ds.items()}
    with store.read() as conn:
        events = conn.execute(select(audit_events.c.action, audit_events.c.post_id, audit_events.c.delivery_id)
                              .order_by(audit_events.c.seq)).all()
    assert events[0].action == "campaign.imported"
    expected: list[tuple[str, str]] = []  # the file's order: a post's acceptance, then each of its deliveries
    for row in rows:
        expected.append(("post.accepted", row["key"]))
        for account in row.get("accounts", CAMPAIGN["accounts"]):
            state = "pending_approval" if account == "jobs" else "scheduled"
            expected.extend((state, row["key"]) for k in ds if k[0] == row["key"] and k[1] == account)
    assert [(e.action, key_of[e.post_id]) for e in events[1:]] == expected
    ids = {e.delivery_id for e in events[1:] if e.delivery_id}
    assert ids == {d["id"] for d in ds.values()}


def test_a_worker_killed_while_building_fails_the_import_clearly_and_stores_nothing(
        env: Env, camp: Path, capsys, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A forked worker that dies (SIGKILL: the kernel's OOM killer, an operator) must not leave the import waiting
    forever, as ``multiprocessing.Pool`` would: the import stops with exit 1 and a clear message, and nothing is
    stored."""
    import functools
    import os
    import signal

    from publisher.workflows import campaignrows

    real = campaignrows._build_range

    @functools.wraps(real)  # same module and name: the pool pickles it by reference and finds this wrapper
    def dies(span: tuple[int, int]) -> list[campaignrows.Built]:
        if span[0] > 0:
            os.kill(os.getpid(), signal.SIGKILL)
        return real(span)

    monkeypatch.setattr(campaignrows, "_build_range", dies)
    monkeypatch.setattr(campaignrows, "PARALLEL_FROM", 2)
    rows = [{"key": f"s{i}", "at": f"event+0d {9 + i // 60:02d}:{i % 60:02d}",
             "text": f"Session {i} starts now on the main stage. #TNC31"} for i in range(40)]
    write(camp, {**CAMPAIGN, "rows": rows})
    cli(capsys, "campaign", "list")  # the store exists, empty of campaigns
    before = dump(env.store())
    code, out, err = cli(capsys, "campaign", "import", str(camp))
    assert code == 1, out + err
    assert "stopped before it finished" in err and "nothing was stored" in err
    assert dump(env.store()) == before


@pytest.mark.parametrize("parallel", [False, True], ids=["one process", "forked checkers"])
def test_the_progress_bar_counts_every_row_once(env: Env, camp: Path, capsys, monkeypatch: pytest.MonkeyPatch,
                                               parallel: bool) -> None:
    """``campaigns.plan`` reports progress per row: a row checked, a row sharing another's check, a row written
    exactly as stored, all count once; the bar ends at the file's row count."""
    from publisher.workflows import campaignfile, campaigns

    assert cli(capsys, "campaign", "import", str(camp))[0] == 0
    edited = copy.deepcopy(CAMPAIGN)
    edited["rows"][0]["text"] = "Seven days to go! #TNC31"  # changed: checked again; the others are as stored
    edited["rows"].extend({"key": f"extra-{i}", "at": "event+0d 12:00", "text": "Coffee in the foyer. #TNC31"}
                          for i in range(60))  # new rows, one text: one check shared by all
    write(camp, edited)
    if parallel:
        monkeypatch.setattr(campaigns, "PARALLEL_FROM", 2)
    ticks: list[int] = []
    plan = campaigns.plan(env.settings(), env.store(), campaignfile.read(camp), progress=ticks.append)
    assert plan.counts()["new"] == 60 and plan.counts()["changed"] == 1
    assert sum(ticks) == len(edited["rows"])


def test_an_edited_campaign_post_is_exported_as_edited_and_the_old_file_brings_its_text_back(
        env: Env, camp: Path, capsys, tmp_path: Path) -> None:
    assert cli(capsys, "campaign", "import", str(camp))[0] == 0
    store = env.store()
    post_id = deliveries_by_key(store)[("countdown-7", "conf-x", 1)]["post_id"]
    code, out, err = cli(capsys, "edit", post_id, "--text", "Six days to go! #TNC31")
    assert code == 0, err
    code, csv_text, _ = cli(capsys, "campaign", "export", "tnc31", "--format", "csv")
    assert code == 0 and "Six days to go! #TNC31" in csv_text and "One week to go!" not in csv_text
    exported = tmp_path / "edited.csv"
    exported.write_text(csv_text)
    assert cli(capsys, "campaign", "import", str(exported))[0] == 0
    assert "no change" in cli(capsys, "campaign", "import", str(exported))[1]
    assert deliveries_by_key(store)[("countdown-7", "conf-x", 1)]["payload"]["text"] == "Six days to go! #TNC31"
    code, out, err = cli(capsys, "campaign", "import", str(camp))  # the file as it was before the edit
    assert code == 0 and "1 changed" in out, out + err
    assert deliveries_by_key(store)[("countdown-7", "conf-x", 1)]["payload"]["text"] == "One week to go! #TNC31"
    assert cli(capsys, "audit", "verify")[0] == 0


def test_a_rows_kind_link_and_language_are_stored_and_checked_as_such(env: Env, camp: Path, capsys) -> None:
    """A blog row's kind, link and declared language are stored on the post and the link is in what is published;
    without its link the row is refused (links.required blocks a blog without one), nothing stored."""
    data = copy.deepcopy(CAMPAIGN)
    data["rows"].append({"key": "blog-1", "at": "event-2d 12:00", "kind": "blog", "accounts": ["conf-x"],
                         "link": "https://tnc31.example.org/blog/why-we-meet", "lang": "de",
                         "text": "Warum wir uns treffen: ein Rückblick auf zehn Jahre Konferenz. #TNC31"})
    write(camp, data)
    code, out, err = cli(capsys, "campaign", "import", str(camp))
    assert code == 0, err
    d = deliveries_by_key(env.store())[("blog-1", "conf-x", 1)]
    from publisher.store import get_post

    with env.store().read() as conn:
        post = get_post(conn, d["post_id"])
    assert post is not None
    assert (post["kind"], post["link"], post["language"]) == ("blog", "https://tnc31.example.org/blog/why-we-meet", "de")
    # published with it: in the text or as the payload's link, as the channel takes it
    assert "https://tnc31.example.org/blog/why-we-meet" in d["payload"]["text"] + str(d["payload"].get("link"))
    data["rows"][-1].pop("link")
    write(camp, data)
    code, _, err = cli(capsys, "campaign", "import", str(camp))
    assert code == 3 and "rows[7]" in err and "links.required" in err, err  # a blog without a link: tone blocks
