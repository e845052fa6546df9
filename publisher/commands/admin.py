"""accounts list|verify, config check."""

from __future__ import annotations

import sys

import click

from publisher.commands import app, echo, echo_json
from publisher.errors import EXIT_ERROR, ChannelError, ConfigError


@click.group()
def accounts() -> None:
    """Configured accounts.

    \b
    Examples:
      publisher accounts list
      publisher accounts verify noc
    """


@accounts.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def accounts_list(as_json: bool) -> None:
    """List accounts (credentials are shown as references, never values)."""
    s = app().settings
    rows = [{"name": a.name, "channel": a.channel, "kind": str(a.kind), "timezone": a.timezone,
             "profile": a.profile_name, "base_url": a.base_url, "credentials": a.credentials} for a in s.accounts.values()]
    if as_json:
        echo_json(rows)
        return
    for r in rows:
        click.echo(f"{r['name']:<16} {r['channel']:<9} {r['kind']:<13} {r['timezone']:<16} profile={r['profile']}"
                   + (f" base_url={r['base_url']}" if r["base_url"] else ""))


@accounts.command(name="verify")
@click.argument("names", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def accounts_verify(names: tuple[str, ...], as_json: bool) -> None:
    """Call each account's cheapest identity endpoint: ok / auth expired / permission missing. Releases deliveries
    held for expired credentials on accounts that pass."""
    from publisher import channels
    from publisher.errors import AuthExpired
    from publisher.models import State
    from publisher.schema import deliveries
    from publisher.store import hold_reasons, transition

    s = app().settings
    selected = [s.account(n) for n in names] if names else list(s.accounts.values())
    results, failed = [], False
    for account in selected:
        try:
            identity = channels.for_publishing(account, s).verify()
            status, detail = "ok", identity
        except AuthExpired as e:
            status, detail, failed = "auth expired", e.message, True
        except (ChannelError, ConfigError) as e:
            status, detail, failed = ("permission missing" if "permission" in e.message.lower() else "error"), e.message, True
        released = 0
        if status == "ok":
            with app().store.tx() as conn:
                held = conn.execute(deliveries.select().where(deliveries.c.account == account.name,
                                                              deliveries.c.state == State.HELD.value)).mappings().all()
                why = hold_reasons(conn, [d["id"] for d in held])
                for d in held:
                    if why.get(d["id"]) == "credentials" and transition(
                            conn, s.actor, dict(d), [State.HELD], State.SCHEDULED, "released",
                            values={"last_error": None}, details={"by": "accounts verify"}):
                        released += 1
        results.append({"account": account.name, "status": status, "detail": detail, "released": released})
    if as_json:
        echo_json(results)
    else:
        for r in results:
            extra = f"; released {r['released']} held deliveries" if r["released"] else ""
            echo(f"{r['account']:<16} {r['status']:<18} {r['detail']}{extra}")
    if failed:
        sys.exit(EXIT_ERROR)


@click.group()
def config() -> None:
    """Configuration.

    \b
    Example:
      PUBLISHER_CONFIG=config/publisher.example.yaml publisher config check
    """


@config.command(name="check")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
def config_check(as_json: bool) -> None:
    """Validate the configuration and report every problem at once, each with its line and column: unknown keys
    (with a did-you-mean, inside options: too), values, credential references, channel rules, tone profiles.
    Exit 2 when there are problems.

    \b
    Example:
      publisher config check --json
    """
    import os

    from publisher import configcheck
    from publisher.errors import EXIT_USAGE

    where, accounts, problems = configcheck.check(dict(os.environ))
    if as_json:
        echo_json({"config": where, "accounts": accounts, "ok": not problems,
                   "problems": configcheck.as_json(problems)})
    elif problems:
        click.echo(f"{where}: {len(problems)} problem(s)", err=True)
        for p in problems:
            echo(f"  {p.render(where)}", err=True)
    else:
        click.echo(f"{where}: ok ({accounts} accounts)")
    if problems:
        sys.exit(EXIT_USAGE)
