"""The one way publisher reads a YAML file (configuration, secrets): strict, bounded, and quiet about content.

Strict: UTF-8 only (a BOM is allowed), duplicate keys refused (a later ``channel:`` silently replacing an earlier
one changed accounts without a word). Bounded: file size, nesting depth and the size of the document once aliases
are expanded (a "billion laughs" in an account's options passed validation, then hung every post). Quiet: errors
name the file, line and column and what is wrong, never the offending line, which may hold a secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from publisher.errors import ConfigError

MAX_BYTES = 1_000_000
MAX_DEPTH = 64
MAX_NODES = 1_000_000  # after alias expansion; 10,000 accounts with a policy each take about 100,000


class _Refused(yaml.MarkedYAMLError):
    """A document the loader will not build; carries the position of the node at fault."""


class _StrictLoader(yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(problem=f"nested deeper than {MAX_DEPTH} levels", problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)  # type: ignore[no-any-return,no-untyped-call]
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:
                continue  # an unhashable key; the base class reports it
            if duplicate:
                raise _Refused(problem=f"duplicate key {key!r}" if isinstance(key, str | int) else "duplicate key",
                               problem_mark=key_node.start_mark)
        return super().construct_mapping(node, deep=deep)  # type: ignore[no-any-return]


def _expanded_size(root: Node) -> int:
    """Nodes the document has once every alias is expanded (a shared node counts each time it is used)."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _Refused(problem="an alias refers to a node that contains it", problem_mark=node.start_mark)
        active.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            children = node.value
        elif isinstance(node, MappingNode):
            children = [n for pair in node.value for n in pair]
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_NODES:
                raise _Refused(problem=f"expands to more than {MAX_NODES} values (aliases repeating aliases)",
                               problem_mark=node.start_mark)
        active.discard(key)
        sizes[key] = total
        return total

    return size(root)


def _decode(raw: bytes, path: Path, what: str) -> str:
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or raw[:2].count(0) == 1:
        raise ConfigError(f"{what} {path} is UTF-16, not UTF-8", hint="save it as UTF-8 (e.g. `iconv -f UTF-16 -t UTF-8`)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise ConfigError(f"{what} {path} is not valid UTF-8 (line {line}, byte {e.start})",
                          hint="save it as UTF-8") from None


def read(path: Path, *, what: str = "config file", secret: bool = False) -> Any:
    """Parse the YAML file at ``path``; raise ConfigError naming the place (never, for ``secret``, the content)."""
    return read_with_nodes(path, what=what, secret=secret)[0]


def read_with_nodes(path: Path, *, what: str = "config file", secret: bool = False) -> tuple[Any, Node | None]:
    """``read``, and the document's node tree: its marks give the line and column of every key and value."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a directory", hint="point to a YAML file") from None
    except OSError as e:
        raise ConfigError(f"cannot read {what} {path}: {e.strerror}", hint="check the path and its permissions") from None
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{what} {path} is larger than {MAX_BYTES // 1_000_000} MB",
                          hint="point to the right YAML file")
    text = _decode(raw, path, what)
    loader: _StrictLoader | None = None
    try:
        loader = _StrictLoader(text)  # checks every character first (NUL and other controls are refused)
        node = loader.get_single_node()
        if node is None:
            return None, None
        _expanded_size(node)
        return loader.construct_document(node), node
    except yaml.YAMLError as e:
        raise _explain(e, path, what, secret) from None
    except RecursionError:
        raise ConfigError(f"{what} {path} is nested too deeply", hint=f"at most {MAX_DEPTH} levels") from None
    finally:
        if loader is not None:
            loader.dispose()


def _explain(e: yaml.YAMLError, path: Path, what: str, secret: bool) -> ConfigError:
    mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
    where = f" line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    if isinstance(e, yaml.reader.ReaderError):
        where = f" at character {e.position}"
    problem = getattr(e, "problem", None) or getattr(e, "reason", None)
    detail = f": {problem}" if problem and (not secret or isinstance(e, _Refused)) else ""
    if secret and isinstance(e, _Refused) and problem and problem.startswith("duplicate key"):
        detail = ": duplicate key"  # the key names a secret, not the secret, but say no more than needed
    hint = "fix the syntax; config/publisher.example.yaml is a template" if not secret else \
        "fix the syntax at that place (one `key: value` per line)"
    return ConfigError(f"{path}:{where} is not valid YAML{detail}", hint=hint)
