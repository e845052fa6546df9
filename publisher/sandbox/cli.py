"""`publisher sandbox`: serve the five platform emulators on loopback; `publisher sandbox posts` lists what they got."""

from __future__ import annotations

import json
import sys
import urllib.request

import click


@click.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.pass_context
def sandbox(ctx: click.Context, host: str, port: int) -> None:
    """A local emulator of the X, Facebook, LinkedIn, Mastodon and Bluesky publishing APIs.

    Point an account at it with base_url: http://HOST:PORT/<x|facebook|linkedin|mastodon|bluesky>.

    \b
    Examples:
      publisher sandbox --port 8765
      publisher sandbox posts --json
      curl -X POST localhost:8765/_sandbox/faults -d '{"platform":"x","burst_429":3}'
    """
    ctx.ensure_object(dict)
    ctx.obj = ctx.obj if isinstance(ctx.obj, dict) else {}
    ctx.obj["sandbox_url"] = f"http://{host}:{port}"
    if ctx.invoked_subcommand is not None:
        return
    if host not in ("127.0.0.1", "localhost", "::1"):
        from publisher.errors import InputError

        raise InputError(f"the sandbox only listens on loopback, not {host}", hint="use --host 127.0.0.1")
    from publisher import logs
    from publisher.sandbox.server import SandboxServer

    logs.setup("INFO")
    server = SandboxServer(host, port)
    click.echo(f"sandbox serving {', '.join(sorted(server.platforms))} at {server.url} (Ctrl-C stops)", err=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@sandbox.command()
@click.option("--platform", default=None, help="Only this platform's posts.")
@click.option("--json", "as_json", is_flag=True, help="Print only JSON on stdout.")
@click.pass_context
def posts(ctx: click.Context, platform: str | None, as_json: bool) -> None:
    """List every post the running sandbox accepted, in order."""
    url = ctx.obj["sandbox_url"] + "/_sandbox/posts" + (f"?platform={platform}" if platform else "")
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 - loopback only
            data = json.loads(resp.read())["posts"]
    except OSError as e:
        from publisher.errors import PublisherError

        raise PublisherError(f"no sandbox answers at {ctx.obj['sandbox_url']} ({e})",
                             hint="start it with `publisher sandbox` or pass the same --port") from None
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2))
        return
    if not data:
        click.echo("no posts yet")
    for p in data:
        reply = f" (reply to {p['in_reply_to']})" if p.get("in_reply_to") else ""
        click.echo(f"#{p['seq']} {p['platform']:<9} {p['account']:<16} {p['remote_id']}{reply}: {p['text']}")
    sys.stdout.flush()
