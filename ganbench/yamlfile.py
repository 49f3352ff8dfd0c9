"""Reading a user's YAML file: bounded, strict, and with line numbers for every error.

Limits answer hostile or broken input in well under a second instead of exhausting memory:
the file size, the nesting depth and the number of values after alias expansion ("billion
laughs": a few lines of `&a`/`*a` that expand to 10^9 strings). Duplicate keys are errors
(YAML lets the last one win silently). Errors are capped at MAX_ERRORS lines.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from ganbench.safefile import NotAFileError, read_capped

MAX_BYTES = int(os.environ.get("GANBENCH_MAX_FILE_BYTES", 1 << 20))  # 1 MiB
MAX_DEPTH = 50
MAX_VALUES = 100_000  # scalars + collections after aliases are expanded
MAX_ERRORS = 20
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: ~10x faster to compose


class ConfigError(ValueError):
    """A user's configuration is wrong; the message names the file, line and field."""


def cap_lines(lines: list[str], limit: int = MAX_ERRORS) -> str:
    """At most `limit` lines, then a count of the rest (a 100k-key file must not print 100k)."""
    if len(lines) <= limit:
        return "\n".join(lines)
    return "\n".join([*lines[:limit], f"... and {len(lines) - limit} more"])


def read_text(path: Path) -> str:
    """The file as text, or a ConfigError naming it: missing, too big, binary, not UTF-8."""
    try:  # a FIFO or /dev/zero is refused by its kind before it is opened (safefile.py)
        data = read_capped(path, "YAML file", MAX_BYTES, "GANBENCH_MAX_FILE_BYTES")
    except NotAFileError as e:
        raise ConfigError(str(e)) from None
    if b"\0" in data:
        raise ConfigError(f"{path}: binary file (it contains NUL bytes), not a YAML text file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[:e.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text (byte 0x{data[e.start]:02x}); save the "
                          "file as UTF-8") from None


def read_yaml(path: Path) -> tuple[Any, yaml.Node | None]:
    """(data, node tree) of a YAML file; data is None for an empty (or comments-only) file."""
    path = Path(path)
    text = read_text(path)
    try:
        loader = _Loader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None, None
            _check_tree(path, node)
            data = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply (limit {MAX_DEPTH} levels)") from None
    return data, node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for kv in node.value for n in kv]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _check_tree(path: Path, root: yaml.Node) -> None:
    """Depth, expanded size and duplicate keys, in one iterative pass over the node graph.

    Aliases make the tree a DAG: a node is visited once and its expanded size memoised, so a
    billion laughs costs as many steps as it has lines."""
    size: dict[int, int] = {}
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    on_path: set[int] = set()
    while stack:
        node, depth, done = stack.pop()
        if depth > MAX_DEPTH:
            raise ConfigError(f"{path}:{node.start_mark.line + 1}: nested more than {MAX_DEPTH} "
                              "levels deep")
        kids = _children(node)
        if done:
            on_path.discard(id(node))
            size[id(node)] = min(10**12, 1 + sum(size[id(k)] for k in kids))
            # Only aliases can make the expansion larger than the nodes written out (those
            # are bounded by MAX_BYTES).
            if size[id(node)] > max(MAX_VALUES, len(size)):
                raise ConfigError(
                    f"{path}:{node.start_mark.line + 1}: expands to more than {MAX_VALUES:,} "
                    "values (YAML aliases *name repeat what &name marks); write the values out")
            continue
        if id(node) in size:
            continue
        if id(node) in on_path:
            raise ConfigError(f"{path}:{node.start_mark.line + 1}: an alias refers to itself")
        if isinstance(node, yaml.MappingNode):
            _check_duplicates(path, node)
        on_path.add(id(node))
        stack.append((node, depth, True))
        stack.extend((k, depth + 1, False) for k in kids if id(k) not in size)


def _check_duplicates(path: Path, node: yaml.MappingNode) -> None:
    first: dict[str, yaml.Node] = {}
    for k, _ in node.value:
        if not isinstance(k, yaml.ScalarNode) or k.value == "<<":
            continue
        if k.value in first:
            raise ConfigError(
                f"{path}:{k.start_mark.line + 1}: duplicate key {k.value!r} (first at line "
                f"{first[k.value].start_mark.line + 1}); YAML would silently keep the last one")
        first[k.value] = k


def _index(node: yaml.MappingNode) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    """key -> (key node, value node), built once per mapping (errors used to rescan it)."""
    idx = node.__dict__.get("_ganbench_index")
    if idx is None:
        idx = {}
        for k, v in node.value:
            if isinstance(k, yaml.ScalarNode):
                idx.setdefault(k.value, (k, v))
        node.__dict__["_ganbench_index"] = idx
    return idx


def node_at(node: yaml.Node, loc: tuple[Any, ...]) -> yaml.Node:
    """The deepest YAML node along a pydantic error location (for its line number).

    The last key resolves to the key node itself: an error about `tricks.foo` points at the
    line naming `foo`, not at its first parameter below."""
    for i, key in enumerate(loc):
        if isinstance(node, yaml.MappingNode):
            hit = _index(node).get(str(key))
            if hit is None:
                return node
            node = hit[0] if i == len(loc) - 1 else hit[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            return node
    return node


def has_path(node: yaml.Node | None, loc: tuple[Any, ...]) -> bool:
    """Whether the file has a mapping key at every step of `loc`."""
    for key in loc:
        if not isinstance(node, yaml.MappingNode):
            return False
        hit = _index(node).get(str(key))
        if hit is None:
            return False
        node = hit[1]
    return True


def line_of(node: yaml.Node | None, *loc: Any) -> int | str:
    return node_at(node, loc).start_mark.line + 1 if node is not None else "?"
