"""Who may configure permissions: the configuration file is honoured only if the caller cannot have written it.

The config names accounts, their posters and approvers, and the delegators who may name another actor. A user who
could write it (or replace it) could grant herself anything, so, in the manner of sudo and OpenSSH, it must be:

* owned by root or by the store's owner (the owner of the directory that holds the SQLite store, or of the data
  directory for another database), and
* writable by no one else (no group or other write bit), and
* in directories that are likewise owned by root or the store's owner and writable by no one else (a directory
  with the sticky bit, such as /tmp, may be world-writable: nobody else can replace a file in it).

A user who owns the store is trusted anyway (she can write the store directly; see docs/threat-model.md), so for
a personal installation her own file is fine; for a shared store it must be the administrator's.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from publisher.errors import ConfigError, NotPermitted

_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH
#: sqlite[+driver]:///relative/path or sqlite[+driver]:////absolute/path (query ignored)
_SQLITE_URL = re.compile(r"^sqlite(?:\+\w+)?:///([^?]+)")


def store_directory(home: Path, database_url: str | None) -> Path:
    """The directory whose owner owns the store: the SQLite file's directory, else the data directory."""
    url = database_url or f"sqlite:///{home / 'publisher.sqlite'}"
    m = _SQLITE_URL.match(url)
    if m:
        return Path(m.group(1)).expanduser().absolute().parent
    return home


def trusted_owners(store_dir: Path) -> set[int]:
    """Root and the owner of ``store_dir``; the caller herself if it does not exist yet (she creates it: her own)."""
    path = store_dir.expanduser().absolute()
    return {0, path.stat().st_uid if path.exists() else os.getuid()}


def _problem(path: Path, owners: set[int]) -> str | None:
    """Why ``path`` cannot be trusted, or None."""
    st = path.stat()
    kind = "directory" if stat.S_ISDIR(st.st_mode) else "file"
    if st.st_uid not in owners:
        return f"the {kind} {path} is owned by uid {st.st_uid}, neither root nor the store's owner"
    if st.st_mode & _WRITABLE_BY_OTHERS and not (kind == "directory" and st.st_mode & stat.S_ISVTX):
        return f"the {kind} {path} is writable by {'others' if st.st_mode & stat.S_IWOTH else 'its group'} " \
               f"(mode {stat.S_IMODE(st.st_mode):o})"
    return None


def checked(config_path: Path, home: Path, database_url: str | None) -> Path:
    """``config_path`` with symbolic links resolved (read that, not the link, which its owner could re-point), if
    it and every directory above it pass (module docstring); else NotPermitted (exit 4) naming the fix."""
    owners = trusted_owners(store_directory(home, database_url))
    real = Path(os.path.realpath(config_path.expanduser()))
    for item in (real, *real.parents):
        problem = _problem(item, owners)
        if problem:
            names = ", ".join(sorted(_name(uid) for uid in owners))
            raise NotPermitted(
                f"the configuration {config_path} grants permissions (accounts, posters, approvers, delegators), "
                f"but {problem}: anyone who can write it could grant themselves anything",
                hint=f"have {names} own it and its directories, writable only by the owner (`chown "
                     f"{_name(max(owners))} PATH; chmod go-w PATH`), or unset PUBLISHER_CONFIG; see docs/threat-model.md")
    return real


def _name(uid: int) -> str:
    try:
        import pwd

        return pwd.getpwuid(uid).pw_name
    except (ImportError, KeyError):  # pragma: no cover - non-POSIX or a uid without a name
        return str(uid)


# -- a store shared by several OS users --

SHARED_MODE = 0o660


def prepare_sqlite(path: Path) -> None:
    """Make the SQLite store at ``path`` usable by this user, or refuse clearly (exit 4) with the fix.

    A directory with the setgid bit is a shared store (docs/threat-model.md): its database and write lock are
    created group-writable (SQLite then gives the WAL and shared-memory files the database's mode), whatever the
    umask. Anywhere else, files are created as the umask says, and a store another user created is refused up
    front, not with SQLite's "attempt to write a readonly database" in the middle of a command.
    """
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    shared = bool(directory.stat().st_mode & stat.S_ISGID)
    if shared:
        for name in (path, Path(f"{path}.writelock")):
            try:
                fd = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, SHARED_MODE)
            except FileExistsError:
                continue
            try:
                os.fchmod(fd, SHARED_MODE)  # the umask must not take the group's write bit away
            finally:
                os.close(fd)
    for item in (directory, path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}.writelock")):
        if item.exists() and not os.access(item, os.R_OK | os.W_OK, effective_ids=os.access in os.supports_effective_ids):
            st = item.stat()
            if st.st_uid == os.geteuid():  # your own store that you cannot write: a setup problem, not someone else's
                raise ConfigError(f"the store {item} is yours but not writable (mode {stat.S_IMODE(st.st_mode):o})",
                                  hint=f"make it writable (`chmod u+w {item}`), or set PUBLISHER_HOME to a directory "
                                       "you can write")
            raise NotPermitted(
                f"the store {item} belongs to {_name(st.st_uid)} (mode {stat.S_IMODE(st.st_mode):o}) and you, "
                f"{_name(os.geteuid())}, cannot write it",
                hint=f"to share a store, give its directory to a group of its users with the setgid bit (`chgrp GROUP "
                     f"{directory} && chmod 2770 {directory} && chgrp GROUP {directory}/* && chmod 660 {directory}/*`), "
                     "or run publisher as the service user that owns it, or use your own PUBLISHER_HOME; "
                     "see docs/threat-model.md")
