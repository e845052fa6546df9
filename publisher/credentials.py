"""Resolve credential references and remember every resolved secret so logs and errors can redact it.

A reference is ``env:NAME`` (an environment variable) or ``file:/path/secrets.yaml#key`` (a YAML mapping in a file
that only its owner may read: mode 0600, checked like OpenSSH checks private keys).
"""

from __future__ import annotations

import re
import stat
import threading
from pathlib import Path

from publisher.errors import ConfigError
from publisher.settings import AccountConfig

_lock = threading.Lock()
_known: set[str] = set()
_longest_first: tuple[str, ...] = ()  # _known, longest first (a secret containing another is replaced whole)


def register_secret(value: str) -> None:
    """Remember a secret so ``redact`` removes it everywhere (tokens minted at run time too, e.g. Bluesky JWTs)."""
    global _longest_first
    if value and len(value) >= 4:
        with _lock:
            if value not in _known:
                _known.add(value)
                _longest_first = tuple(sorted(_known, key=len, reverse=True))


def known_secrets() -> frozenset[str]:
    with _lock:
        return frozenset(_known)


#: token-shaped values, redacted even when the secret was never resolved in this process (a platform or proxy that
#: echoes the request's Authorization header, an OAuth parameter, a JWT): (pattern, replacement)
_SEP = r"[\"'\\]*\s*[=:]\s*[\"'\\]*"
TOKEN_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(oauth_[a-z_]+|access_token|refresh_token|id_token|token_secret|client_secret|consumer_secret"
                r"|consumer_key|api_key|apikey|password|app_password|accessJwt|refreshJwt|page_token|bearer_token)"
                rf"({_SEP})[^&\s\"'\\,;}}]+"), r"\1\2***"),
    (re.compile(rf"(?i)\b(authorization{_SEP}\s*)((?:bearer|basic|digest|token|dpop|oauth)\s+)?+(?!oauth_)"
                r"[A-Za-z0-9._~+/=\-]+"), r"\1\2***"),
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=\-]{8,}"), r"\1***"),
    (re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}(?:\.[A-Za-z0-9_\-]*){0,2}"), "***"),
)
#: secrets carried in a URL (a private feed's address, a webhook): the password of its user-info and the values of
#: query parameters whose names say they are secret; the rest of the URL stays readable
URL_SHAPES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://[^/\s:@]+:)[^@\s/]+@"), r"\1***@"),
    (re.compile(r"(?i)([?&;](?:[a-z0-9_\-]*(?:token|secret|passw(?:or)?d|api_?key)|key|sig|signature|auth|pass|pwd)=)"
                r"[^&#\s\"'<>]+"), r"\1***"),
)
#: a text without any of these (lower-cased) cannot match ``TOKEN_SHAPES``: most texts (audit details of every state
#: change) are let through on a few substring tests instead of four regular expressions
_SHAPE_WORDS = ("oauth_", "token", "secret", "password", "jwt", "authorization", "bearer", "api_key", "apikey",
                "consumer_key", "eyj")


def redact(text: str) -> str:
    """Replace every known secret in ``text`` and every token-shaped value (``TOKEN_SHAPES``) with ``***``.

    The one redaction of publisher: errors (``ChannelError``), stored notes, audit details, logs and CLI output all
    pass through it."""
    if not text:
        return text
    for secret in _longest_first:
        if secret in text:
            text = text.replace(secret, "***")
    if "://" in text and ("@" in text or "=" in text):
        for pattern, repl in URL_SHAPES:
            text = pattern.sub(repl, text)
    lowered = text.lower()
    for word in _SHAPE_WORDS:
        if word in lowered:
            for pattern, repl in TOKEN_SHAPES:
                text = pattern.sub(repl, text)
            break
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
