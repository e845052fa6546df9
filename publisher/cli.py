"""The `publisher` command line: parse, call, render. Thin by design; its output and exit codes are its API.

Exit codes: 0 ok, 1 error, 2 bad input or usage, 3 blocked by tone/policy, 4 not permitted, 5 not found.
Subcommands are imported lazily so `publisher ticket update` never pays for SDKs, sentiment models or Dramatiq.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from publisher.errors import EXIT_ERROR, EXIT_USAGE, PublisherError

LAZY: dict[str, tuple[str, str]] = {
    "post": ("publisher.commands.posting", "post"),
    "ticket": ("publisher.commands.posting", "ticket"),
    "cancel": ("publisher.commands.posting", "cancel"),
    "approve": ("publisher.commands.posting", "approve"),
    "reject": ("publisher.commands.posting", "reject"),
    "retry": ("publisher.commands.posting", "retry"),
    "edit": ("publisher.commands.editing", "edit"),
    "list": ("publisher.commands.reading", "list_cmd"),
    "show": ("publisher.commands.reading", "show"),
    "audit": ("publisher.commands.reading", "audit"),
    "calendar": ("publisher.commands.ops", "calendar"),
    "status": ("publisher.commands.ops", "status"),
    "accounts": ("publisher.commands.admin", "accounts"),
    "config": ("publisher.commands.admin", "config"),
    "run": ("publisher.commands.running", "run"),
    "worker": ("publisher.commands.running", "worker"),
    "scheduler": ("publisher.commands.running", "scheduler"),
    "broker": ("publisher.commands.running", "broker_cmd"),
    "health": ("publisher.commands.health", "health"),
    "demo": ("publisher.commands.demo", "demo"),
    "sandbox": ("publisher.sandbox.cli", "sandbox"),
    "check": ("publisher.tone_cli", "check"),
    "feed": ("publisher.commands.feeds", "feed"),
    "vacancy": ("publisher.commands.vacancies", "vacancy"),
    "campaign": ("publisher.commands.campaigns", "campaign"),
}


#: one line per command for `publisher --help`, so the overview imports no command module (and no store, no
#: SQLAlchemy); `tests/test_tone_cli_batch.py` checks every LAZY command has a line here
SHORT_HELP: dict[str, str] = {
    "accounts": "Configured accounts.",
    "approve": "Approve posts waiting for approval (several ids at once).",
    "calendar": "What will be published: a week or month per day and account (terminal, --html, --ics).",
    "campaign": "Campaigns from YAML or CSV files: import, list, show, approve, reject, cancel, export.",
    "edit": "Change the text, time or one account's wording of a post not yet published.",
    "feed": "Blog feeds whose new entries are announced once each.",
    "health": "Is publisher working: broker, store, live workers and scheduler, lateness (exit 0 or 1).",
    "reject": "Reject posts waiting for approval, with a reason.",
    "status": "Counts by state, next due, oldest late, held and unknown with their reasons.",
    "vacancy": "Vacancies: posts and reminders that never go out after the closing date.",
    "audit": "The tamper-evident audit log.",
    "broker": "The embedded broker (a Valkey server in the data directory).",
    "cancel": "Cancel a post (all its deliveries) or one delivery.",
    "check": "Check a text against the tone rules (--rules lists them; --batch for files).",
    "config": "Configuration.",
    "demo": "Run the whole flow on a fresh machine.",
    "list": "List deliveries, most recent due time first.",
    "post": "Schedule a post for one or more accounts.",
    "retry": "Send a failed, held or unknown delivery again now.",
    "run": "Scheduler and worker threads in one process.",
    "sandbox": "A local emulator of the five publishing APIs.",
    "scheduler": "The scheduler/sweeper loop alone.",
    "show": "Show a post or delivery: payloads, states, attempts, audit trail.",
    "ticket": "Trouble-ticket updates, threaded under the ticket's first post.",
    "worker": "Dramatiq worker processes for the publish actors.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(LAZY)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SHORT_HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in LAZY:
            return None
        module_name, attr = LAZY[cmd_name]
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:
                return None
            raise
        cmd: click.Command = getattr(module, attr)
        return cmd


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="publisher")
def cli() -> None:
    """Schedule and publish posts to X, Facebook Pages, LinkedIn, Mastodon and Bluesky: nothing lost, nothing
    twice, threads in order, every action audited.

    \b
    Examples:
      publisher ticket open INC-4711 --account noc "Fibre cut Oslo-Stockholm, traffic rerouted"
      publisher post --account andrew --at +2h "New blog post: ..."
      publisher list --state scheduled
      publisher demo

    \b
    Exit codes: 0 ok, 1 error, 2 bad input, 3 blocked by policy, 4 not permitted, 5 not found.
    """


def _fail(message: str, code: int) -> None:
    from publisher.logs import scrub

    click.echo(f"error: {scrub(message)}", err=True)
    sys.exit(code)


def _check_argv(args: list[str]) -> None:
    """Arguments that were not valid UTF-8 arrive as lone surrogates; refuse them before any command runs."""
    from publisher.errors import InputError

    for i, arg in enumerate(args, 1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            raise InputError(f"argument {i} is not valid UTF-8 text", hint="pass text and ids as UTF-8") from None


def _stdin_as_utf8() -> None:
    """Read standard input as UTF-8 and keep undecodable bytes (as surrogates) for the text check to name."""
    try:
        sys.stdin.reconfigure(encoding="utf-8", errors="surrogateescape")  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        pass  # no stdin, or already read from


def _damaged_store() -> list[str]:
    """After an unexpected failure: what, if anything, in the configured store cannot be read."""
    try:
        from publisher import settings, storecheck

        return storecheck.problems(settings.load().database_url)
    except Exception:  # noqa: BLE001 - best effort; the caller reports the original failure
        return []


def main(argv: list[str] | None = None) -> Any:
    args = sys.argv[1:] if argv is None else list(argv)
    try:
        _check_argv(args)
        _stdin_as_utf8()
        return cli.main(args=args, prog_name="publisher", standalone_mode=False)
    except PublisherError as e:
        _fail(str(e), e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_USAGE if isinstance(e, click.UsageError | click.BadParameter) else e.exit_code)
    except click.exceptions.Abort:
        _fail("aborted", EXIT_ERROR)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    except Exception as e:  # noqa: BLE001 - no traceback reaches a user
        damaged = _damaged_store()
        if damaged:
            _fail("the store holds data publisher cannot read:\n  " + "\n  ".join(damaged) + "\n  -> restore the "
                  "database from a backup, or repair these rows/tables by hand; `publisher audit verify` checks the "
                  "audit chain afterwards", EXIT_ERROR)
        if isinstance(e, OSError):
            where = f": {e.filename}" if e.filename else ""
            _fail(f"{e.strerror or type(e).__name__}{where}\n  -> check the path, port or permissions named here",
                  EXIT_ERROR)
        _fail(f"unexpected {type(e).__name__}: {e}\n  -> this is a bug; rerun with PUBLISHER_LOG_LEVEL=DEBUG "
              "and report it with the output", EXIT_ERROR)


if __name__ == "__main__":
    main()
