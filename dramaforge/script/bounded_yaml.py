"""Loading a YAML brief with limits checked before any Python object is built.

PyYAML shares an aliased node instead of copying it, so a "billion laughs" file composes into a
small graph that explodes only when something walks it (validation, the language guess). The
composed graph is therefore measured first: aliases, depth, and the number of nodes it would
have with every alias expanded; a cycle (``&a [*a]``) is refused outright. Only then is it
constructed, once, from the same graph. Whatever PyYAML raises (it raises more than
``YAMLError``: ``ValueError`` for a date like 2024-13-45, ``RecursionError``) becomes a
ScriptError naming the line.
"""

from __future__ import annotations

from typing import Any

import yaml

from dramaforge.errors import ScriptError
from dramaforge.script.clean import escape_controls

MAX_BYTES = 256 * 1024
"""A brief is a page; 256 KB of YAML is something else, and PyYAML reads it slowly."""
MAX_ALIASES = 100
MAX_DEPTH = 40
MAX_NODES = 50_000
"""Nodes with every alias expanded: what validating the brief will have to walk."""


class _Limit(Exception):
    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.line = line


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases and depth while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0
        self.depth = 0

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        line = self.peek_event().start_mark.line + 1  # type: ignore[no-untyped-call]
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise _Limit(f"more than {MAX_ALIASES} aliases (*name)", line)
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _Limit(f"nested more than {MAX_DEPTH} levels deep", line)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def load(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """The brief's data and its composed node tree (for line numbers), or a ScriptError."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise ScriptError(
            f"a YAML brief may be at most {MAX_BYTES // 1024} KB; check it is the right file",
            path=source,
        )
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _measure(root)
        data = loader.construct_document(root) if root is not None else None
    except _Limit as err:
        raise ScriptError(
            f"the YAML is {err}; a brief needs none of that, so it is not read",
            path=source,
            line=err.line,
        ) from err
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark
        problem = escape_controls(str(err.problem or err))
        raise ScriptError(
            f"not valid YAML ({problem}); check the indentation and quoting on this line",
            path=source,
            line=mark.line + 1 if mark is not None else None,
        ) from err
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as err:
        raise ScriptError(
            f"not valid YAML ({escape_controls(str(err))[:200]}); check the values on this line",
            path=source,
            line=_line_of(loader),
        ) from err
    finally:
        loader.dispose()
    return data, root


def _line_of(loader: _BoundedLoader) -> int | None:
    try:
        return int(loader.get_mark().line) + 1
    except Exception:  # the reader may be past the end after a failed construction
        return None


def _measure(root: yaml.Node) -> None:
    """Refuse a cycle, or a graph that expands past MAX_NODES. Iterative and memoised on node
    identity, so its own cost is the size of the file, not of the expansion."""
    size: dict[int, int] = {}
    busy: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            busy.discard(key)
            total = 1 + sum(size[id(c)] for c in _children(node))
            if total > MAX_NODES:
                raise _Limit(
                    f"over {MAX_NODES:,} values once its aliases are expanded",
                    node.start_mark.line + 1,
                )
            size[key] = total
            continue
        if key in size:
            continue
        if key in busy:
            raise _Limit("recursive (an alias inside its own anchor)", node.start_mark.line + 1)
        busy.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in size)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
