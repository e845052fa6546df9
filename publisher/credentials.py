"""Resolve credential references and remember every resolved secret so logs and errors can redact it.

A reference is ``env:NAME`` (an environment variable) or ``file:/path/secrets.yaml#key`` (a YAML mapping in a file
that only its owner may read: mode 0600, checked like OpenSSH checks private keys).
"""

from __future__ import annotations

import stat
import threading
from pathlib import Path

from publisher.errors import ConfigError
from publisher.settings import AccountConfig

_lock = threading.Lock()
_known: set[str] = set()


def register_secret(value: str) -> None:
    """Remember a secret so ``redact`` removes it everywhere (tokens minted at run time too, e.g. Bluesky JWTs)."""
    if value and len(value) >= 4:
        with _lock:
            _known.add(value)


def known_secrets() -> frozenset[str]:
    with _lock:
        return frozenset(_known)


def redact(text: str) -> str:
    """Replace every known secret in ``text`` with ``***``."""
    if not text:
        return text
    for secret in sorted(known_secrets(), key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, "***")
    return text


def _from_file(spec: str, account: str, key_name: str) -> str:
    path_s, _, key = spec.rpartition("#")
    path = Path(path_s).expanduser()
    try:
        st = path.stat()
    except OSError:
        raise ConfigError(
            f"account {account!r}: secrets file {path} for {key_name!r} does not exist",
            hint="create it with mode 0600 (`install -m 600 /dev/null FILE`) and add the key",
        ) from None
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"account {account!r}: secrets file {path} is readable by others (mode {stat.S_IMODE(st.st_mode):o})",
            hint=f"run `chmod 600 {path}`",
        )
    from publisher import yamlfile

    data = yamlfile.read(path, what="secrets file", secret=True) or {}
    if not isinstance(data, dict) or key not in data:
        raise ConfigError(f"account {account!r}: key {key!r} is missing from {path}", hint="add it to the secrets file")
    value = data[key]
    if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip():
        raise ConfigError(f"account {account!r}: key {key!r} in {path} is empty or not a text value",
                          hint="put the secret after the key, quoted if needed: key: \"...\"")
    return str(value)


def resolve(account: AccountConfig, env: dict[str, str]) -> dict[str, str]:
    """Return the account's credentials as values. Raises ConfigError naming the reference, never the value."""
    out: dict[str, str] = {}
    for key_name, ref in account.credentials.items():
        kind, _, spec = ref.partition(":")
        if kind == "env":
            if spec not in env or not env[spec]:
                raise ConfigError(
                    f"account {account.name!r}: credential {key_name!r} refers to environment variable {spec}, which is not set",
                    hint=f"export {spec}=... in the worker's environment",
                )
            value = env[spec]
        else:
            value = _from_file(spec, account.name, key_name)
        register_secret(value)
        out[key_name] = value
    return out
