"""Configuration: loaded and validated once, then passed around. The only reader of environment variables.

Sources, later wins: embedded defaults -> ``$PUBLISHER_HOME/config.yaml`` (or ``PUBLISHER_CONFIG``) -> environment.
Credentials are references only (``env:NAME`` or ``file:/path/secrets.yaml#key``), resolved by
``publisher.credentials`` in the worker that needs them.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from publisher import trust
from publisher.errors import ConfigError, NotFound, NotPermitted
from publisher.models import CHANNELS, AccountKind, PostKind

_HHMM = re.compile(r"([01]\d|2[0-3]):[0-5]\d")
_REF = re.compile(r"^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+#[A-Za-z0-9_.\-]+)$")


class PolicyConfig(BaseModel):
    """An account's cadence, enforced before publishing (publisher/policy.py)."""

    model_config = ConfigDict(extra="forbid")
    quiet_hours: tuple[str, str] | None = None  # ("22:00", "07:00") in the account's zone; may span midnight
    max_per_day: int | None = Field(default=None, ge=1)  # per local calendar day of the account
    min_gap_seconds: int = Field(default=0, ge=0)
    exempt_kinds: list[str] = Field(default_factory=lambda: ["ticket"])  # incident updates never wait

    @field_validator("quiet_hours")
    @classmethod
    def _hh_mm(cls, v: tuple[str, str] | None) -> tuple[str, str] | None:
        if v is None:
            return v
        for item in v:
            if not _HHMM.fullmatch(item):
                raise ValueError(f"quiet_hours {item!r} is not HH:MM (24-hour), e.g. [\"22:00\", \"07:00\"]")
        if v[0] == v[1]:
            raise ValueError("quiet_hours start and end are the same; remove quiet_hours or give a real period")
        return v

    @field_validator("exempt_kinds")
    @classmethod
    def _kinds(cls, v: list[str]) -> list[str]:
        known = [k.value for k in PostKind]
        for k in v:
            if k not in known:
                raise ValueError(f"unknown post kind {k!r} in exempt_kinds; use {', '.join(known)}")
        return v


def e164_numbers(numbers: list[str]) -> list[str]:
    """``own_numbers`` entries as canonical E.164 ("+47 815 00 000" -> "+4781500000"): each must be written with
    its + country code (no region is guessed) and be a valid number in libphonenumber's numbering plans."""
    import phonenumbers  # only when numbers are configured: the CLI's start-up does not pay for it otherwise

    out = []
    for raw in numbers:
        text = str(raw).strip()
        problem = "is not an E.164 phone number"
        if text.startswith("+"):
            try:
                parsed = phonenumbers.parse(text, None)
            except phonenumbers.NumberParseException:
                parsed = None
            if parsed is not None and phonenumbers.is_valid_number(parsed):
                out.append(str(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)))
                continue
            problem = "is not a valid phone number"
        raise ValueError(f"own_numbers: {text[:40]!r} {problem}; write it with its country code, for example "
                         '"+47 815 00 000"')
    return out


class AccountConfig(BaseModel):
    """One account: a channel, a kind, credentials by reference, an optional base URL, tone profile, policy."""

    model_config = ConfigDict(extra="forbid")

    name: str = ""
    channel: str
    kind: AccountKind = AccountKind.PERSONAL
    display: str | None = None
    #: API base URL; None means the real platform. Point it at `publisher sandbox` for rehearsals.
    base_url: str | None = None
    #: credential name -> reference ("env:VAR" or "file:/path#key"); never the secret itself
    credentials: dict[str, str] = Field(default_factory=dict)
    timezone: str = "UTC"
    languages: list[str] = Field(default_factory=lambda: ["en"])
    profile: str | None = None  # tone profile; default: the one matching `kind`
    #: domains the account's organisation owns: role mailboxes on them (noc@, jobs@, press@) are public contact
    #: points, not private data. None: the file's ``organisation.own_domains``
    own_domains: list[str] | None = None
    #: the organisation's own published phone numbers (NOC hotline, switchboard, press line) in E.164 ("+47 815 00
    #: 000"): public contact points, not private data (rule option ``privacy.phone.own_contact``). None: the file's
    #: ``organisation.own_numbers``
    own_numbers: list[str] | None = None
    long_text: Literal["reject", "split"] = "reject"
    posters: list[str] | None = None  # OS users allowed to post; None = anyone
    approvers: list[str] | None = None
    policy: PolicyConfig = Field(default_factory=PolicyConfig)
    #: posting slots in the account's zone (Buffer's queue): ["09:00", "17:00"] every day, or per weekday
    #: {mon: [...], ...}; used by `--at next-slot` and campaign rows without a time (publisher/workflows/slots.py)
    slots: list[str] | dict[str, list[str]] | None = None
    #: channel-specific options (page id, author URN, graph version, dry-run scripts, ...)
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("channel")
    @classmethod
    def _known_channel(cls, v: str) -> str:
        if v not in CHANNELS:
            raise ValueError(f"unknown channel {v!r}; use one of {', '.join(CHANNELS)}")
        return v

    @field_validator("slots")
    @classmethod
    def _slot_times(cls, v: list[str] | dict[str, list[str]] | None) -> list[str] | dict[str, list[str]] | None:
        if v is None:
            return v
        days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        for day, times in (v.items() if isinstance(v, dict) else [("", v)]):
            if day and day not in days:
                raise ValueError(f"slots: {day!r} is not a weekday; use {', '.join(days)}")
            for item in times:
                if not _HHMM.fullmatch(item):
                    raise ValueError(f"slot {item!r} is not HH:MM (24-hour), e.g. [\"09:00\", \"12:30\"]")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            if len(v) > 255:
                raise ValueError("too long")
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError, OSError) as e:  # OSError: a directory such as 'Europe'
            raise ValueError(f"unknown IANA time zone {v[:80]!r} (for example Europe/Oslo)") from e
        return v

    @field_validator("credentials")
    @classmethod
    def _references_only(cls, v: dict[str, str]) -> dict[str, str]:
        for key, ref in v.items():
            if not _REF.fullmatch(ref):
                raise ValueError(
                    f"credential {key!r} must be a reference like 'env:NAME' or 'file:/path/secrets.yaml#key', "
                    "never the secret itself"
                )
        return v

    @field_validator("own_domains")
    @classmethod
    def _domains(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return None
        out = []
        for d in v:
            d = d.strip().lower().lstrip("@").removeprefix("*.")
            if not re.fullmatch(r"[a-z0-9-]+(?:\.[a-z0-9-]+)+", d):
                raise ValueError(f"own_domains: {d[:80]!r} is not a domain name (for example fjordnett.no)")
            out.append(d)
        return out

    @field_validator("own_numbers")
    @classmethod
    def _numbers(cls, v: list[str] | None) -> list[str] | None:
        return None if v is None else e164_numbers(v)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def profile_name(self) -> str:
        return self.profile or str(self.kind)


class FeedConfig(BaseModel):
    """A feed declared in the config (``feeds:``), synced into the store by the scheduler and the ``feed`` commands;
    its accounts, URL and templates are checked by ``publisher.workflows.feeds.config_problems``."""

    model_config = ConfigDict(extra="forbid")
    url: str
    accounts: list[str] = Field(min_length=1)
    template: str
    templates: dict[str, str] = Field(default_factory=dict)  # channel or account -> its own template
    interval: int = Field(default=900, ge=1)  # seconds between polls
    max_per_poll: int = Field(default=3, ge=1)
    spacing: int = Field(default=600, ge=0)  # seconds between announcements past max_per_poll
    backfill: int = Field(default=0, ge=0)  # the first poll announces the newest N (0: only marks entries seen)


class OrganisationConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    #: the organisation's own e-mail domains (subdomains included), the default for every account of the file
    own_domains: list[str] = Field(default_factory=list)
    #: the organisation's own published phone numbers in E.164, the default for every account of the file
    own_numbers: list[str] = Field(default_factory=list)

    @field_validator("own_numbers")
    @classmethod
    def _numbers(cls, v: list[str]) -> list[str]:
        return e164_numbers(v)


class FileConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    accounts: dict[str, AccountConfig] = Field(default_factory=dict)
    feeds: dict[str, FeedConfig] = Field(default_factory=dict)
    profiles: dict[str, Any] = Field(default_factory=dict)  # tone profiles, validated by publisher.tone
    scheduler: dict[str, float] = Field(default_factory=dict)
    #: OS users (for example a web front end's service user) allowed to name the acting person in PUBLISHER_ACTOR
    delegators: list[str] = Field(default_factory=list)
    #: defaults for every account of the file (``own_domains``, ``own_numbers``)
    organisation: OrganisationConfig = Field(default_factory=lambda: OrganisationConfig())


DEFAULT_ACCOUNTS: dict[str, dict[str, Any]] = {
    "noc": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo", "display": "NOC (dry run)"},
    "andrew": {"channel": "dryrun", "kind": "personal", "timezone": "Europe/Oslo", "display": "Andrew (dry run)"},
    "comms": {"channel": "dryrun", "kind": "organisation", "timezone": "Europe/Oslo", "display": "Comms (dry run)"},
}


@dataclass(frozen=True)
class SchedulerSettings:
    tick_seconds: float = 0.25  # how often the scheduler looks for due deliveries
    horizon_seconds: float = 2.0  # claim deliveries due within this window; send with delay to the exact time
    batch: int = 500  # max deliveries claimed per tick
    message_batch: int = 50  # max delivery ids in one broker message (those due at the same instant, one channel)
    spread: int = 16  # split what one tick claims into at least this many messages, so every worker thread gets some
    lease_seconds: float = 60.0  # a `publishing` claim older than this becomes `unknown`
    lost_after_seconds: float = 3.0  # a `queued` delivery this far past due, missing from the broker, is re-sent
    reconcile_every_seconds: float = 10.0


@dataclass(frozen=True)
class Settings:
    home: Path
    database_url: str
    redis_url: str | None
    accounts: dict[str, AccountConfig]
    profiles: dict[str, Any] = field(default_factory=dict)
    feeds: dict[str, FeedConfig] = field(default_factory=dict)
    scheduler: SchedulerSettings = field(default_factory=SchedulerSettings)
    config_path: Path | None = None
    #: the config file's (modification time in ns, size) when these settings were read from it: a worker re-reads
    #: the file for its pre-publish tone check only when that changed (``tone.current_config``)
    config_stamp: tuple[int, int] | None = None
    log_level: str = "INFO"
    log_format: str = "text"  # PUBLISHER_LOG_FORMAT: text | json (JSON lines)
    #: how often workers and schedulers refresh their heartbeat (publisher.ops.heartbeat); it lives 3x as long
    heartbeat_seconds: float = 5.0
    #: serve Prometheus metrics on this port (PUBLISHER_METRICS_PORT, or `--metrics-port`); None = off
    metrics_port: int | None = None
    actor: str = "unknown"
    env: dict[str, str] = field(default_factory=dict, repr=False)
    #: ``PUBLISHER_BROKER_URL``: amqp(s):// for RabbitMQ; unset means Redis (``redis_url``) or the embedded Valkey.
    #: Rate budgets, cadence and heartbeats always live in Redis (``redis_url``, else the embedded Valkey).
    broker_url: str | None = None

    @property
    def valkey_dir(self) -> Path:
        return self.home / "valkey"

    @property
    def channels(self) -> set[str]:
        """The channels the configured accounts use: the queues a worker consumes by default, and those
        ``publisher health`` wants a live worker for."""
        return {a.channel for a in self.accounts.values()}

    def account(self, name: str) -> AccountConfig:
        try:
            return self.accounts[name]
        except KeyError:
            known = ", ".join(sorted(self.accounts)) or "(none configured)"
            raise NotFound(
                f"unknown account {name!r}", hint=f"use one of: {known}; `publisher accounts list` shows them"
            ) from None


def default_home(env: dict[str, str]) -> Path:
    if env.get("PUBLISHER_HOME"):
        return Path(env["PUBLISHER_HOME"]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("publisher", appauthor=False))


def os_user(env: dict[str, str]) -> str:
    """The real OS user (from the uid, not from environment variables anyone can set)."""
    try:
        import pwd
    except ImportError:  # pragma: no cover - non-POSIX
        return env.get("USER") or env.get("USERNAME") or "unknown"
    try:
        return pwd.getpwuid(os.getuid()).pw_name
    except KeyError:  # a uid without a name (containers): the uid, never $USER, which anyone can set
        return f"uid:{os.getuid()}"


def _actor(env: dict[str, str], delegators: list[str]) -> str:
    """Who acts: the OS user, or the person a trusted delegator names in PUBLISHER_ACTOR. Posting rights and the
    two-person approval rule rest on this, so an ordinary user cannot claim to be someone else."""
    real = os_user(env)
    named = env.get("PUBLISHER_ACTOR")
    if not named:
        return real
    if real not in delegators:
        raise NotPermitted(f"PUBLISHER_ACTOR is set, but OS user {real!r} may not act for others",
                           hint=f"unset PUBLISHER_ACTOR, or add {real!r} to `delegators:` in the config")
    return named


def _read_yaml(path: Path) -> dict[str, Any]:
    from publisher import yamlfile

    data = yamlfile.read(path) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must be a mapping with an 'accounts:' key", hint="see config/publisher.example.yaml")
    return data


def _explain(e: ValidationError, path: Path | None) -> ConfigError:
    first = e.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    msg = first["msg"].removeprefix("Value error, ")
    where = f"{path}: " if path else ""
    return ConfigError(f"{where}{loc}: {msg}", hint="fix this entry; `publisher config check` validates the whole file")


def _scheduler_settings(raw: dict[str, float], path: Path | None) -> SchedulerSettings:
    known = SchedulerSettings.__dataclass_fields__
    for key, value in raw.items():
        if key not in known:
            import difflib

            close = difflib.get_close_matches(key, known, n=1)
            raise ConfigError(f"{path or 'configuration'}: scheduler.{key} is not a setting",
                              hint=f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known)}")
        if not math.isfinite(value) or value < 0 or (value == 0 and key != "horizon_seconds"):
            raise ConfigError(f"{path or 'configuration'}: scheduler.{key} must be positive, not {value}",
                              hint="see config/publisher.example.yaml for sensible values")
    return SchedulerSettings(**raw)  # type: ignore[arg-type]


LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
LOG_FORMATS = ("text", "json")


def _positive(env: dict[str, str], name: str, default: float, *, integer: bool = False) -> float:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        value = -1
    if not math.isfinite(value) or value <= 0 or (integer and value > 65535):
        raise ConfigError(f"{name}={raw[:40]!r} is not a positive {'port number' if integer else 'number'}",
                          hint=f"set {name} to {'a port such as 9191' if integer else 'seconds, e.g. 5'}, or unset it")
    return value


def _check_env(env: dict[str, str]) -> None:
    """Refuse environment values that would otherwise fail later, far from their cause."""
    level = env.get("PUBLISHER_LOG_LEVEL", "INFO").upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"PUBLISHER_LOG_LEVEL={level[:40]!r} is not a log level", hint=f"use one of {', '.join(LOG_LEVELS)}")
    fmt = env.get("PUBLISHER_LOG_FORMAT", "text").lower()
    if fmt not in LOG_FORMATS:
        raise ConfigError(f"PUBLISHER_LOG_FORMAT={fmt[:40]!r} is not a log format", hint="use text or json")
    redis_url = env.get("PUBLISHER_REDIS_URL")
    if redis_url and not re.match(r"(rediss?|unix)://", redis_url):
        raise ConfigError("PUBLISHER_REDIS_URL is not a Redis URL",
                          hint="use redis://host:6379/0, rediss://... or unix:///path/redis.sock, or unset it")
    broker_url = env.get("PUBLISHER_BROKER_URL")
    if broker_url and not re.match(r"amqps?://", broker_url):
        raise ConfigError("PUBLISHER_BROKER_URL is not an AMQP URL",
                          hint="use amqp://user:password@host:5672/ for RabbitMQ, or unset it (Redis comes from "
                               "PUBLISHER_REDIS_URL)")


def organisation_defaults(account: AccountConfig, org: OrganisationConfig) -> dict[str, Any]:
    """An account without its own ``own_domains`` / ``own_numbers`` takes the organisation's (each setting on its
    own: an account's list replaces the organisation's, it does not add to it). Personal accounts too: the
    organisation's published numbers and its function mailboxes are public whoever posts them (a customer passing
    on the business line), and its names are what the account's hashtags run together."""
    out: dict[str, Any] = {}
    if account.own_domains is None and org.own_domains:
        out["own_domains"] = list(org.own_domains)
    if account.own_numbers is None and org.own_numbers:
        out["own_numbers"] = list(org.own_numbers)
    return out


def config_file(env: dict[str, str], home: Path) -> Path | None:
    """The configuration file to read (PUBLISHER_CONFIG, else ``$PUBLISHER_HOME/config.yaml``), if any, once the
    trust check passed: permissions come only from a file the caller cannot have written (publisher/trust.py)."""
    config_path: Path | None = None
    if env.get("PUBLISHER_CONFIG"):
        config_path = Path(env["PUBLISHER_CONFIG"]).expanduser()
        if not config_path.exists():
            raise ConfigError(f"PUBLISHER_CONFIG points to {config_path}, which does not exist", hint="create it or unset the variable")
    elif (home / "config.yaml").exists():
        config_path = home / "config.yaml"
    if config_path:
        config_path = trust.checked(config_path, home, env.get("PUBLISHER_DATABASE_URL"))
    return config_path


def file_stamp(path: Path) -> tuple[int, int]:
    """What tells a changed file from the one read before: (modification time in ns, size). Raises OSError."""
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def _stamp(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        return file_stamp(path)
    except OSError:
        return None  # reading it reports why


def load(env: dict[str, str] | None = None) -> Settings:
    """Load settings from the environment (default ``os.environ``) and the config file it points to."""
    env = dict(os.environ if env is None else env)
    home = default_home(env)
    config_path = config_file(env, home)
    stamp = _stamp(config_path)  # before reading: a change while it is read makes the next check read it again
    raw: dict[str, Any] = _read_yaml(config_path) if config_path else {"accounts": DEFAULT_ACCOUNTS}
    try:
        fc = FileConfig.model_validate(raw)
    except ValidationError as e:
        raise _explain(e, config_path) from None
    accounts = {name: acc.model_copy(update={"name": name, **organisation_defaults(acc, fc.organisation)})
                for name, acc in fc.accounts.items()}
    sched = _scheduler_settings(fc.scheduler, config_path)
    db_url = env.get("PUBLISHER_DATABASE_URL") or f"sqlite:///{home / 'publisher.sqlite'}"
    _check_env(env)
    return Settings(
        home=home,
        database_url=db_url,
        redis_url=env.get("PUBLISHER_REDIS_URL") or None,
        accounts=accounts,
        profiles=fc.profiles,
        feeds=fc.feeds,
        scheduler=sched,
        config_path=config_path,
        config_stamp=stamp,
        log_level=env.get("PUBLISHER_LOG_LEVEL", "INFO").upper(),
        log_format=env.get("PUBLISHER_LOG_FORMAT", "text").lower(),
        heartbeat_seconds=_positive(env, "PUBLISHER_HEARTBEAT_SECONDS", 5.0),
        metrics_port=int(_positive(env, "PUBLISHER_METRICS_PORT", 0, integer=True)) or None,
        actor=_actor(env, fc.delegators),
        env=env,
        broker_url=env.get("PUBLISHER_BROKER_URL") or None,
    )
