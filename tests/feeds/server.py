"""A loopback feed server for the tests and the benchmark: stdlib http.server in a thread, with ETag and
Last-Modified (304 on a match), gzip when asked, redirects, any status, and a 50 MB streamed body."""

from __future__ import annotations

import gzip
import hashlib
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data" / "feeds"
LAST_MODIFIED = "Wed, 02 Dec 2026 08:00:00 GMT"


@dataclass
class Route:
    body: bytes = b""
    content_type: str = "application/rss+xml; charset=utf-8"
    status: int = 200
    location: str | None = None
    stream_bytes: int = 0  # a body of this many bytes, streamed without Content-Length (the size cap test)


@dataclass
class FeedServer:
    routes: dict[str, Route] = field(default_factory=dict)
    hits: Counter[str] = field(default_factory=Counter)
    not_modified: Counter[str] = field(default_factory=Counter)
    gzipped: Counter[str] = field(default_factory=Counter)
    connections: int = 0  # TCP connections accepted (a client reusing its connections keeps this low)
    _server: Any = None

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def set(self, path: str, body: bytes | str = b"", **kw: Any) -> str:
        self.routes[path] = Route(body=body.encode() if isinstance(body, str) else body, **kw)
        return self.url(path)

    def file(self, path: str, name: str, **kw: Any) -> str:
        ctype = "application/feed+json" if name.endswith(".json") else (
            "text/html; charset=utf-8" if name.endswith(".html") else "application/rss+xml; charset=utf-8")
        return self.set(path, (DATA / name).read_bytes(), content_type=kw.pop("content_type", ctype), **kw)

    def start(self) -> FeedServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def setup(self) -> None:  # once per connection
                outer.connections += 1
                super().setup()

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                path = self.path
                outer.hits[path] += 1
                route = outer.routes.get(path)
                if route is None:
                    self._send(404, b"not found", "text/plain")
                    return
                if route.location:
                    self.send_response(route.status)
                    self.send_header("Location", route.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if route.stream_bytes:
                    self.send_response(200)
                    self.send_header("Content-Type", route.content_type)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    chunk = b"<!-- " + b"x" * 65_000 + b" -->\n"
                    sent = 0
                    try:
                        while sent < route.stream_bytes:
                            self.wfile.write(chunk)
                            sent += len(chunk)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                    self.close_connection = True
                    return
                if route.status != 200:
                    self._send(route.status, b"error", "text/plain")
                    return
                etag = '"' + hashlib.sha256(route.body).hexdigest()[:16] + '"'
                if self.headers.get("If-None-Match") == etag:
                    outer.not_modified[path] += 1
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = route.body
                extra = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
                if "gzip" in self.headers.get("Accept-Encoding", ""):
                    body = gzip.compress(body, 1)
                    extra["Content-Encoding"] = "gzip"
                    outer.gzipped[path] += 1
                self._send(200, body, route.content_type, extra)

            def _send(self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

        ThreadingHTTPServer.daemon_threads = True
        ThreadingHTTPServer.request_queue_size = 256
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def rss(title: str, items: list[dict[str, str]]) -> str:
    """A WordPress-shaped RSS 2.0 document (newest first, as generators write them)."""
    parts = [f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">'
             f"<channel><title>{title}</title><link>https://blog.example.org/</link>"
             "<generator>https://wordpress.org/?v=6.4.2</generator>"]
    for it in items:
        parts.append("<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in it.items()) + "</item>")
    parts.append("</channel></rss>")
    return "".join(parts)


def item(n: int, day: int = 1, **kw: str) -> dict[str, str]:
    out = {"title": f"Post number {n}", "link": f"https://blog.example.org/{n}/", "guid": f"https://blog.example.org/?p={n}",
           "pubDate": f"{['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'][(day + 6) % 7]}, {day:02d} Nov 2026 10:{n % 60:02d}:00 +0000",
           "description": f"Summary of post {n}.", "category": "news"}
    out.update(kw)
    return out
