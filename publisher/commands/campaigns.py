"""campaign import | list | show | approve | cancel | export."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from publisher.commands import app, echo, echo_json, fmt_time

#: a file with at least this many rows shows a progress bar (on a terminal only)
PROGRESS_FROM = 200


@click.group()
def campaign() -> None:
    """Many posts from one file (YAML or CSV), checked all together and stored all together.

    \b
    Examples:
      publisher campaign import tnc26.yaml --dry-run
      publisher campaign import tnc26.yaml
      publisher campaign approve tnc26
      publisher campaign export tnc26 --format csv > tnc26.csv
    """


def _local(at: datetime, zone: Any) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


@campaign.command(name="import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check everything and show the schedule; store nothing.")
@click.option("--prune", is_flag=True, help="Cancel the campaign's posts whose rows are no longer in the file.")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def import_cmd(file: Path, dry_run: bool, prune: bool, as_json: bool) -> None:
    """Import FILE: every row is checked first; any problem stores nothing (exit 2, or 3 if only tone blocks).
    The same file again changes nothing; changed rows update what is not yet published."""
    from publisher.workflows import campaignfile, campaigns

    a = app()
    cf = campaignfile.read(file)
    try:
        plan = _with_progress(lambda tick: campaigns.plan(a.settings, a.store, cf, progress=tick), len(cf.rows), as_json)
    except campaigns.CampaignInvalid as e:
        if as_json:
            echo_json({"error": e.message, "issues": [i.to_dict() for i in e.issues]})
        else:
            for issue in e.issues:
                echo(f"  {issue}", err=True)
        raise
    if dry_run:
        _show_plan(a.settings, plan, as_json)
        return
    report = campaigns.apply(a.settings, a.store, plan, prune=prune)
    if as_json:
        echo_json({"campaign": report.name, "stored": report.stored, "counts": report.counts, "updated": report.updated,
                   "pruned": report.pruned, "untouched": report.untouched})
        return
    c = report.counts
    if not report.stored:
        echo(f"campaign {report.name}: no change ({c['unchanged']} rows unchanged)"
             + (f"; {c['removed']} stored rows are not in the file (--prune cancels them)" if c["removed"] else ""))
        for note in report.untouched:
            echo(f"  not touched: {note}")
        return
    echo(f"campaign {report.name}: {c['new']} new, {c['changed']} changed, {c['unchanged']} unchanged"
         + (f", {len(report.pruned)} pruned" if report.pruned else
            (f"; {c['removed']} stored rows not in the file (--prune cancels them)" if c["removed"] else "")))
    for note in report.untouched:
        echo(f"  not touched: {note}")
    pending = sum(1 for p in plan.rows for n in p.new.accounts if p.status == "new" and a.settings.account(n).approvers)
    if pending:
        echo(f"{pending} deliveries wait for approval: an approver runs `publisher campaign approve {report.name}`")


def _with_progress(work: Any, total: int, quiet: bool) -> Any:
    if quiet or total < PROGRESS_FROM or not sys.stderr.isatty():
        return work(None)
    from rich.console import Console
    from rich.progress import Progress

    # on stderr, the terminal the test above found: stdout carries the report (a pipe, a file, jq)
    with Progress(console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("checking rows", total=total)
        return work(lambda n: bar.advance(task, n))


def _show_plan(settings: Any, plan: Any, as_json: bool) -> None:
    rows = []
    for p in plan.rows:
        for name in p.new.accounts:
            due = p.due[name]
            runs = plan.runs_at.get((p.key, name), due)
            rows.append({"key": p.key, "status": p.status, "account": name, "due_at": due, "runs_at": runs,
                         "local": _local(runs, settings.account(name).zone), "not_after": p.until.get(name)})
    if as_json:
        echo_json({"campaign": plan.name, "dry_run": True, "counts": plan.counts(), "schedule": rows,
                   "removed": [r["idem_key"] for r in plan.removed]})
        return
    echo(f"campaign {plan.name} (dry run, nothing stored): " + ", ".join(f"{v} {k}" for k, v in plan.counts().items()))
    for r in sorted(rows, key=lambda r: (r["runs_at"], r["account"])):
        moved = "" if r["runs_at"] == r["due_at"] else f"  (due {fmt_time(r['due_at'])}, moved by cadence)"
        echo(f"  {fmt_time(r['runs_at'])}  {r['local']:22}  {r['account']:16} {r['key']} [{r['status']}]{moved}")


@campaign.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def list_cmd(as_json: bool) -> None:
    """The imported campaigns and their deliveries' states."""
    from publisher.workflows import campaigns

    rows = campaigns.listing(app().store)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        echo("no campaigns (import one with `publisher campaign import FILE`)")
    for r in rows:
        states = ", ".join(f"{n} {s}" for s, n in sorted(r["states"].items()))
        echo(f"{r['name']:24} updated {fmt_time(r['updated_at'])}  {states or 'no deliveries'}")


@campaign.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def show(name: str, as_json: bool) -> None:
    """A campaign's rows with their deliveries."""
    from publisher.workflows import campaigns

    row, found, by_post = campaigns.get(app().store, name)
    if as_json:
        echo_json({"campaign": row, "posts": [{"key": p["idem_key"], "post_id": p["id"], "deliveries": [
            {k: d[k] for k in ("id", "account", "part", "state", "due_at")} for d in by_post[p["id"]]]} for p in found]})
        return
    echo(f"campaign {row['name']} (source sha256 {row['source_sha256'][:12]}, updated {fmt_time(row['updated_at'])})")
    for p in found:
        echo(f"  {p['idem_key']}  {p['id']}  {p['text'][:60]!r}")
        for d in by_post[p["id"]]:
            echo(f"      {d['id']}  {d['account']:16} {d['state']:16} {fmt_time(d['due_at'])}")


def _waiting(store: Any, name: str) -> list[str]:
    """The campaign's posts with a delivery waiting for approval (says so when there is none)."""
    from publisher.workflows import campaigns

    _, found, by_post = campaigns.get(store, name)
    waiting = [p["id"] for p in found if any(d["state"] == "pending_approval" for d in by_post.get(p["id"], []))]
    if not waiting:
        echo(f"campaign {name}: nothing waits for approval")
    return waiting


@campaign.command()
@click.argument("name")
def approve(name: str) -> None:
    """Approve every post of the campaign waiting for approval, in one transaction (as `publisher approve ID...`:
    only an approver who did not write a post, approving twice is not an error)."""
    from publisher.workflows import approvals

    a = app()
    waiting = _waiting(a.store, name)
    if not waiting:
        return
    out = approvals.approve(a.settings, a.store, waiting)
    echo(f"approved {len(out.decided)} post-account pair(s) of campaign {name}; released {len(out.moved)} "
         f"deliveries" + (f"; {len(out.already)} already approved" if out.already else "")
         + (f"; {len(out.waiting)} post(s) still wait for another account's approver" if out.waiting else ""))


@campaign.command()
@click.argument("name")
@click.option("--reason", required=True, help="Why (recorded and audited).")
def reject(name: str, reason: str) -> None:
    """Reject every post of the campaign waiting for approval: cancelled, with the reason audited."""
    from publisher.workflows import approvals

    a = app()
    waiting = _waiting(a.store, name)
    if not waiting:
        return
    out = approvals.reject(a.settings, a.store, waiting, None, reason)
    echo(f"rejected {len(out.decided)} post-account pair(s) of campaign {name}; cancelled {len(out.moved)} deliveries")


@campaign.command()
@click.argument("name")
def cancel(name: str) -> None:
    """Cancel every delivery of the campaign not yet published."""
    from publisher import service
    from publisher.workflows import campaigns

    a = app()
    moved, notes = campaigns.each_post(a.settings, a.store, name, service.cancel)
    echo(f"cancelled {len(moved)} deliveries of campaign {name}" + (f" ({len(notes)} posts had nothing to cancel)"
                                                                    if notes else ""))


@campaign.command()
@click.argument("name")
@click.option("--format", "fmt", type=click.Choice(["csv"]), default="csv", show_default=True)
def export(name: str, fmt: str) -> None:
    """Write the campaign as a CSV file on stdout: importing it again changes nothing."""
    from publisher.workflows import campaignfile, campaigns

    header, rows = campaigns.export_rows(app().store, name)
    click.echo(campaignfile.write_csv(header, rows), nl=False)


