"""Access: only listed posters post or change posts, nobody approves their own post, an actor cannot be forged with
a configuration file of one's own, and a store several OS users share works (or is refused with the fix).

Tests run as root; another OS user is played by ``nobody``: a file it owns, or this process with its effective ids.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from publisher import service, trust
from publisher.errors import NotPermitted
from publisher.schema import deliveries
from publisher.store import Store, utcnow
from tests.conftest import DRYRUN, Env
from tests.helpers import states

NOBODY = pwd.getpwnam("nobody")
COMMS = {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo",
         "posters": ["kari", "ola"], "approvers": ["kari", "ola", "siri"]}


def _as(env: Env, user: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI as ``user``, named by the test's OS user, a configured delegator (a web front end, say)."""
    env.env["PUBLISHER_ACTOR"] = user
    return env.cli(*args)


def _post(env: Env, user: str = "kari") -> str:
    r = _as(env, user, "post", "--account", "comms", "--json", "Our conference opens on Monday at 09:00")
    assert r.returncode == 0, r.stderr
    return str(json.loads(r.stdout)["post_id"])


# -- who may change a post --


def test_a_user_not_listed_cannot_cancel_or_retry_another_users_post(env: Env) -> None:
    env.write_config({**DRYRUN, "comms": {**COMMS, "approvers": None}})
    post_id = _post(env)
    for verb in ("cancel", "retry"):
        r = _as(env, "mallory", verb, post_id)
        assert r.returncode == 4, r.stderr
        assert f"'mallory' may not {verb}" in r.stderr and "posters" in r.stderr
    assert states(env.store()) == {"scheduled": 1}
    r = _as(env, "ola", "cancel", post_id)  # another listed poster may
    assert r.returncode == 0, r.stderr
    assert states(env.store()) == {"cancelled": 1}


def test_a_listed_poster_may_retry_and_is_then_told_only_what_state_allows(env: Env) -> None:
    env.write_config({**DRYRUN, "comms": {**COMMS, "approvers": None}})
    post_id = _post(env)
    r = _as(env, "ola", "retry", post_id)
    assert r.returncode == 1 and "nothing to retry" in r.stderr  # permitted; the delivery is simply not failed


def test_the_author_may_cancel_after_losing_posting_rights_but_not_retry(env: Env) -> None:
    env.write_config({**DRYRUN, "comms": {**COMMS, "approvers": None}})
    post_id = _post(env, "kari")
    env.write_config({**DRYRUN, "comms": {**COMMS, "approvers": None, "posters": ["ola"]}})
    assert _as(env, "kari", "retry", post_id).returncode == 4
    r = _as(env, "kari", "cancel", post_id)
    assert r.returncode == 0, r.stderr


def test_an_approver_may_reject_a_post_by_cancelling_it_but_never_approve_her_own(env: Env) -> None:
    env.write_config({**DRYRUN, "comms": COMMS})
    post_id = _post(env, "kari")
    r = _as(env, "kari", "approve", post_id)
    assert r.returncode == 4 and "two-person rule" in r.stderr
    r = _as(env, "mallory", "approve", post_id)
    assert r.returncode == 4 and "may not approve" in r.stderr
    assert states(env.store()) == {"pending_approval": 1}
    r = _as(env, "siri", "cancel", post_id)  # siri approves, does not post: she may still reject
    assert r.returncode == 0, r.stderr
    events = json.loads(_as(env, "siri", "audit", "log", "--post", post_id, "--json").stdout)
    assert ("cancelled", "siri") in [(e["action"], e["actor"]) for e in events]


def test_naming_an_actor_without_being_a_delegator_is_not_permitted(env: Env) -> None:
    env.write_config(DRYRUN, delegators=[])
    r = _as(env, "bob", "post", "--account", "noc", "Planned maintenance tonight 22:00-23:00")
    assert r.returncode == 4, r.stderr
    assert "may not act for others" in r.stderr and "Traceback" not in r.stderr
    env.env.pop("PUBLISHER_ACTOR")
    assert states(env.store()) == {}


# -- who may configure permissions --


def _granting_config(path: Path, user: str) -> None:
    """A config that makes ``user`` a delegator and every approver: what a user would write to approve alone."""
    path.write_text(yaml.safe_dump({"accounts": {**DRYRUN, "comms": {**COMMS, "approvers": [user, "bob"]}},
                                    "delegators": [user]}))


@pytest.mark.parametrize("mode", [0o664, 0o646], ids=["group-writable", "world-writable"])
def test_a_config_file_others_can_write_is_refused(env: Env, mode: int) -> None:
    env.write_config({**DRYRUN, "comms": COMMS})
    config = env.home / "config.yaml"
    config.chmod(mode)
    r = _as(env, "ola", "list")
    assert r.returncode == 4, r.stderr
    assert str(config) in r.stderr and "writable by" in r.stderr and "chmod go-w" in r.stderr


def test_a_config_file_in_a_directory_others_can_write_is_refused(env: Env, tmp_path: Path) -> None:
    shared = tmp_path / "drop"
    shared.mkdir()
    shared.chmod(0o777)  # no sticky bit: anyone could replace the file
    _granting_config(shared / "config.yaml", "root")
    env.env["PUBLISHER_CONFIG"] = str(shared / "config.yaml")
    r = env.cli("list")
    assert r.returncode == 4 and f"the directory {shared} is writable by others" in r.stderr, r.stderr


def test_a_config_file_owned_by_another_user_is_refused(env: Env) -> None:
    env.write_config({**DRYRUN, "comms": COMMS})
    os.chown(env.home / "config.yaml", NOBODY.pw_uid, -1)
    r = _as(env, "ola", "list")
    assert r.returncode == 4, r.stderr
    assert f"owned by uid {NOBODY.pw_uid}" in r.stderr and "root" in r.stderr


@pytest.fixture
def shared_home() -> Iterator[Path]:
    """A data directory outside the test's private tmp, so that ``nobody`` can reach it."""
    path = Path(tempfile.mkdtemp(prefix="publisher-access-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@contextmanager
def as_nobody() -> Iterator[None]:
    """Act as the OS user ``nobody`` in this process (effective ids: what SQLite and file access go by)."""
    groups = os.getgroups()
    os.setgroups([])
    os.setegid(NOBODY.pw_gid)
    os.seteuid(NOBODY.pw_uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)
        os.setgroups(groups)


def test_a_user_cannot_approve_her_own_post_with_a_config_file_of_her_own(env: Env) -> None:
    # Given a post by `nobody` to an account only bob approves, in a store that is root's
    env.write_config({**DRYRUN, "comms": {**COMMS, "posters": ["nobody"], "approvers": ["bob"]}})
    post_id = _post(env, "nobody")
    # and her own config file, in her own directory, that makes her a delegator and an approver
    mine = env.home.parent / "mine"
    mine.mkdir()
    _granting_config(mine / "config.yaml", "root")  # the OS user running these tests plays her
    (mine / "config.yaml").chmod(0o600)
    for path in (mine, mine / "config.yaml"):
        os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    # When she approves her post as "bob" with that file
    env.env["PUBLISHER_CONFIG"] = str(mine / "config.yaml")
    r = _as(env, "bob", "approve", post_id)
    # Then she is refused, naming the fix, and the post still waits for bob
    assert r.returncode == 4, r.stderr
    assert "grants permissions" in r.stderr and "neither root nor the store's owner" in r.stderr
    env.env.pop("PUBLISHER_CONFIG")
    assert states(env.store()) == {"pending_approval": 1}


@pytest.mark.parametrize("scheme", ["sqlite", "sqlite+pysqlite"])
def test_the_store_owner_is_found_whatever_form_the_database_url_takes(tmp_path: Path, scheme: str) -> None:
    # Given her own data directory and config file, and root's store
    mine = tmp_path / "mine"
    mine.mkdir()
    config = mine / "config.yaml"
    _granting_config(config, "nobody")
    for path in (mine, config):
        os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    (tmp_path / "store").mkdir()
    # Then her file grants nothing in root's store, however she spells its URL
    with pytest.raises(NotPermitted):
        trust.checked(config, mine, f"{scheme}:///{tmp_path / 'store' / 'publisher.sqlite'}")
    # and is hers to use with a store of her own
    assert trust.checked(config, mine, None) == config


# -- a store shared by several OS users --


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _store_files(data: Path) -> list[Path]:
    return [p for p in data.iterdir() if p.name.startswith("publisher.sqlite")]


def test_a_store_in_a_setgid_directory_is_shared_by_its_group(env: Env, shared_home: Path) -> None:
    # Given a data directory for the group of its users, with the setgid bit (docs/threat-model.md)
    data = shared_home / "data"
    data.mkdir()
    os.chown(data, 0, NOBODY.pw_gid)
    data.chmod(0o2770)
    config = shared_home / "config.yaml"  # the administrator's, outside the group-writable directory
    config.write_text(yaml.safe_dump({"accounts": DRYRUN, "delegators": ["root"]}))
    env.env.update(PUBLISHER_HOME=str(data), PUBLISHER_CONFIG=str(config))
    env.env.pop("PUBLISHER_DATABASE_URL", None)  # this is about the SQLite store
    old = os.umask(0o022)
    try:
        # When one user posts (creating the store), and another user lists and posts
        assert env.cli("post", "--account", "noc", "First maintenance note").returncode == 0
        assert {_mode(p) for p in _store_files(data)} == {0o660}
        with as_nobody():
            store = Store(env.settings().database_url)
            with store.read() as conn:
                assert len(conn.execute(select(deliveries.c.id)).all()) == 1
            service.accept(env.settings(), store, service.NewPost("A note from another user", ["andrew"], utcnow()))
            created = {p.name: (_mode(p), p.stat().st_gid) for p in _store_files(data)}  # WAL and shm are hers
            store.dispose()
    finally:
        os.umask(old)
    # Then every file of the store is the group's and writable by it, whoever created it, whatever the umask
    assert {"publisher.sqlite", "publisher.sqlite.writelock", "publisher.sqlite-wal"} <= set(created)
    assert set(created.values()) == {(0o660, NOBODY.pw_gid)}, created
    assert env.cli("post", "--account", "noc", "Second maintenance note").returncode == 0
    assert sum(states(env.store()).values()) == 3


def test_a_store_another_user_cannot_write_is_refused_with_the_fix(env: Env, shared_home: Path) -> None:
    config = shared_home / "config.yaml"
    config.write_text(yaml.safe_dump({"accounts": DRYRUN}))
    env.env.update(PUBLISHER_HOME=str(shared_home), PUBLISHER_CONFIG=str(config))
    env.env.pop("PUBLISHER_DATABASE_URL", None)  # this is about the SQLite store
    env.env.pop("PUBLISHER_ACTOR", None)
    assert env.cli("post", "--account", "noc", "Maintenance note").returncode == 0
    with as_nobody(), pytest.raises(NotPermitted) as info:
        Store(env.settings().database_url)
    assert "cannot write it" in str(info.value) and "chmod 2770" in str(info.value)
