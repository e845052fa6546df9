"""The sandbox HTTP server: a real threaded server on loopback, one path prefix per platform, a control API.

Control API (JSON):
  GET  /_sandbox/posts[?platform=x]   every accepted post, in order
  POST /_sandbox/faults               {"platform": "x" | "*", "latency_ms": 50, "burst_429": 3, ...}
  GET  /_sandbox/faults
  POST /_sandbox/reset                forget posts, faults, rate windows and counters
  GET  /_sandbox/stats                {"requests": N, "429": N, "x:201": N, "x:429": N, ...}: every answer sent,
                                      by platform and status (429s counted whatever produced them; status 0 =
                                      connection dropped after accepting)
  GET  /_sandbox/health
"""

from __future__ import annotations

import importlib
import io
import json
import logging
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from publisher.sandbox.core import Platform, Request, Response, Sandbox

log = logging.getLogger("publisher.sandbox")

#: prefix -> "module:Class"; modules that do not exist yet are skipped
PLATFORMS: dict[str, str] = {
    "x": "publisher.sandbox.x:XPlatform",
    "facebook": "publisher.sandbox.facebook:FacebookPlatform",
    "linkedin": "publisher.sandbox.linkedin:LinkedInPlatform",
    "mastodon": "publisher.sandbox.mastodon:MastodonPlatform",
    "bluesky": "publisher.sandbox.bluesky:BlueskyPlatform",
}


def load_platforms(sandbox: Sandbox) -> dict[str, Platform]:
    out: dict[str, Platform] = {}
    for prefix, ref in PLATFORMS.items():
        module_name, _, cls_name = ref.partition(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:
                continue
            raise
        out[prefix] = getattr(module, cls_name)(sandbox)
    return out


class _Handler(BaseHTTPRequestHandler):
    server: SandboxServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # else Nagle + delayed ACK add ~40 ms to every response

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        log.debug("sandbox %s", format % args)

    def _dispatch(self) -> None:
        parts = urlsplit(self.path)
        segments = parts.path.split("/", 2)
        prefix = segments[1] if len(segments) > 1 else ""
        rest = "/" + segments[2] if len(segments) > 2 else "/"
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        req = Request(self.command, rest, parse_qs(parts.query, keep_blank_values=True),
                      {k.lower(): v for k, v in self.headers.items()}, body)
        sandbox = self.server.sandbox
        with sandbox.lock:
            sandbox.counters["requests"] += 1
        if prefix == "_sandbox":
            resp = self.server.control(req)
        elif prefix in self.server.platforms:
            faults = sandbox.faults_for(prefix)
            star = sandbox.faults_for("*")
            delay = faults.latency_ms + star.latency_ms
            if delay:
                time.sleep(delay / 1000)
            try:
                resp = self.server.platforms[prefix].respond(req, prefix)
            except Exception:  # a bug in an emulator must look like a platform 500, not kill the thread
                log.exception("sandbox %s crashed on %s %s", prefix, req.method, req.path)
                resp = Response(500, {"error": "sandbox internal error"})
        else:
            resp = Response(404, {"error": f"no platform at /{prefix}; use one of {sorted(self.server.platforms)}"})
        if prefix in self.server.platforms:
            sandbox.count_answer(prefix, 0 if resp.drop else resp.status)
        self._send(resp)

    def _send(self, resp: Response) -> None:
        if resp.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        payload = resp.encoded()
        # status line, headers and body in one write (one segment for a small answer): end_headers() would send the
        # headers and then the body as a second segment
        sock, head = self.wfile, io.BytesIO()
        self.wfile = head
        try:
            self.send_response(resp.status)
            headers = {k.lower(): v for k, v in resp.headers.items()}
            if "content-type" not in headers and isinstance(resp.body, dict | list):
                self.send_header("content-type", "application/json; charset=utf-8")
            for k, v in resp.headers.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
        finally:
            self.wfile = sock
        sock.write(head.getvalue() + payload if self.command != "HEAD" else head.getvalue())

    do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _dispatch


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up (a worker killed mid-request, a client timeout) is ordinary here: no traceback."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, host: str = "127.0.0.1", port: int = 0, sandbox: Sandbox | None = None) -> None:
        self.sandbox = sandbox or Sandbox()
        self.platforms = load_platforms(self.sandbox)
        super().__init__((host, port), _Handler)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host_s = host.decode() if isinstance(host, bytes) else str(host)
        return f"http://{host_s}:{port}"

    def base_url(self, platform: str) -> str:
        return f"{self.url}/{platform}"

    def control(self, req: Request) -> Response:
        sb = self.sandbox
        if req.path == "/posts" and req.method == "GET":
            platform: str | None = (req.query.get("platform") or [""])[0] or None
            return Response(200, {"posts": sb.posts(platform)})
        if req.path == "/faults" and req.method == "GET":
            return Response(200, {k: v.to_dict() for k, v in sb.faults.items()})
        if req.path == "/faults" and req.method == "POST":
            data = req.json() or {}
            platform = data.pop("platform", "*")
            try:
                f = sb.set_faults(platform, **data)
            except (TypeError, ValueError) as e:
                return Response(400, {"error": str(e)})
            return Response(200, {platform: f.to_dict()})
        if req.path == "/reset" and req.method == "POST":
            sb.reset()
            return Response(200, {"ok": True})
        if req.path == "/stats" and req.method == "GET":
            with sb.lock:
                return Response(200, dict(sb.counters))
        if req.path == "/health":
            return Response(200, {"ok": True, "platforms": sorted(self.platforms), "counters": dict(sb.counters)})
        return Response(404, {"error": "unknown control endpoint; see publisher/sandbox/server.py"})

    def start(self) -> SandboxServer:
        """Serve in a background thread (tests, the demo)."""
        self._thread = threading.Thread(target=self.serve_forever, name="sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=2, ensure_ascii=False)
