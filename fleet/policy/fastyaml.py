"""The fast YAML path: values built straight from libyaml's event stream, no nodes and no line map.

PyYAML's C loader (``CSafeLoader``) spends most of its time composing a node for every value and resolving
each plain scalar's tag through the generic resolver; for a 10,000-cluster inventory that is several seconds.
Here the events come from the same C parser, and the values are built in one loop: a quoted scalar is a
string, a plain one is resolved with the same implicit-resolver table PyYAML uses (first character, then its
regular expressions), and non-string scalars are constructed by PyYAML's own safe constructors.

The loop never recurses (a file nested 100,000 levels deep cannot crash it, where the C composer would
overflow the C stack), stops at ``MAX_DEPTH`` with the line, and hands anything unusual to the exact path in
``fleet.policy.source`` (which reports it with its line, exactly as before): a syntax error, an explicit tag
other than the plain ones, a duplicate key, a merge key, a complex or null key, an oversized scalar or
integer, aliases expanding to more than ``ALIAS_BUDGET`` values. Line numbers are computed by that exact
path only when someone asks for one (``Document.line_of``), i.e. when a document has an error to report.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from fleet.errors import InputError, Problem
from fleet.policy import source

_YAML = "tag:yaml.org,2002:"
_STR, _SEQ, _MAP = _YAML + "str", _YAML + "seq", _YAML + "map"
_PLAIN = frozenset(_YAML + t for t in ("null", "bool", "int", "float", "str", "timestamp"))
_HAS_C = bool(getattr(yaml, "__with_libyaml__", False))


class _Unusual(Exception):
    """Something the exact path must look at (it reports it, with the line)."""


class _Frame:
    __slots__ = ("value", "is_map", "key", "has_key", "anchor", "size")

    def __init__(self, value: Any, is_map: bool, anchor: str | None):
        self.value = value
        self.is_map = is_map
        self.key: Any = None
        self.has_key = False
        self.anchor = anchor
        self.size = 1


class _Builder:
    """Builds one stream's documents from events (iteratively)."""

    def __init__(self, loader: Any):
        self.loader = loader
        self.resolvers: dict[Any, list[tuple[str, Any]]] = loader.yaml_implicit_resolvers
        self.constructors: dict[Any, Any] = loader.yaml_constructors
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.budget = source.ALIAS_BUDGET
        self.stack: list[_Frame] = []
        self.root: Any = None
        self.max_depth_line = 0

    def tag_of(self, ev: Any) -> str:
        tag = ev.tag
        if tag is not None and tag != "!":
            return str(tag)
        if not ev.implicit[0]:
            return _STR
        value = ev.value
        for t, regexp in self.resolvers.get(value[0] if value else "", ()):
            if regexp.match(value):
                return str(t)
        return _STR

    def scalar(self, ev: Any) -> Any:
        value = ev.value
        if len(value) > source.MAX_SCALAR_CHARS:
            raise InputError([Problem("", ev.start_mark.line + 1, "",
                                      f"value longer than {source.MAX_SCALAR_CHARS} characters")])
        tag = self.tag_of(ev)
        if tag == _STR:
            return value
        if tag not in _PLAIN:
            raise _Unusual
        node = yaml.ScalarNode(tag, value, ev.start_mark, ev.end_mark, ev.style)
        try:
            return self.constructors[tag](self.loader, node)
        except ValueError:
            raise _Unusual from None

    def emit(self, value: Any, size: int) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        top.size += size
        if not top.is_map:
            top.value.append(value)
        elif top.has_key:
            top.value[top.key] = value
            top.has_key = False
        else:
            if value is None or isinstance(value, (dict, list)) or value in top.value:
                raise _Unusual   # null or complex key, or a duplicate key
            top.key = value
            top.has_key = True

    def open(self, ev: Any, is_map: bool) -> None:
        if ev.tag not in (None, "!", _MAP if is_map else _SEQ):
            raise _Unusual
        if len(self.stack) >= source.MAX_DEPTH:
            raise InputError([Problem("", ev.start_mark.line + 1, "",
                                      f"nested more than {source.MAX_DEPTH} levels deep")])
        self.stack.append(_Frame({} if is_map else [], is_map, ev.anchor))

    def close(self) -> None:
        f = self.stack.pop()
        if f.anchor is not None:
            self.anchors[f.anchor] = (f.value, f.size)
        self.emit(f.value, f.size)

    def alias(self, ev: Any) -> None:
        hit = self.anchors.get(ev.anchor)
        if hit is None:
            raise _Unusual
        self.budget -= hit[1]
        if self.budget < 0:
            raise _Unusual
        self.emit(hit[0], hit[1])

    def event(self, ev: Any) -> None:
        kind = type(ev)
        if kind is yaml.ScalarEvent:
            value = self.scalar(ev)   # a merge key (<<) has its own tag: unusual
            if ev.anchor is not None:
                self.anchors[ev.anchor] = (value, 1)
            self.emit(value, 1)
        elif kind is yaml.MappingStartEvent:
            self.open(ev, True)
        elif kind is yaml.SequenceStartEvent:
            self.open(ev, False)
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            self.close()
        elif kind is yaml.AliasEvent:
            self.alias(ev)


def _depth_only(loader: Any) -> None:
    """After something unusual: read the rest of the events for depth alone, so the exact path (whose
    parser recurses) never sees a file nested deeper than MAX_DEPTH."""
    depth = 0
    while loader.check_event():
        ev = loader.get_event()
        kind = type(ev)
        if kind is yaml.MappingStartEvent or kind is yaml.SequenceStartEvent:
            depth += 1
            if depth > source.MAX_DEPTH:
                raise InputError([Problem("", ev.start_mark.line + 1, "",
                                          f"nested more than {source.MAX_DEPTH} levels deep")])
        elif kind is yaml.MappingEndEvent or kind is yaml.SequenceEndEvent:
            depth -= 1


def _parse(file: str, text: str) -> list[tuple[Any, int]] | None:
    """(data, start line) per document, or None when the exact path must parse the file."""
    loader = yaml.CSafeLoader(text)
    docs: list[tuple[Any, int]] = []
    try:
        b = _Builder(loader)
        start = 0
        while loader.check_event():
            ev: Any = loader.get_event()
            kind = type(ev)
            if kind is yaml.DocumentStartEvent:
                b = _Builder(loader)
                start = -1
            elif kind is yaml.DocumentEndEvent:
                docs.append((b.root, start))
            elif kind is not yaml.StreamStartEvent and kind is not yaml.StreamEndEvent:
                if start < 0:
                    start = ev.start_mark.line + 1
                b.event(ev)
        return docs
    except _Unusual:
        try:
            _depth_only(loader)
        except yaml.YAMLError:
            pass
        return None
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


def fast_documents(file: str, text: str) -> list[source.Document] | None:
    """Every document of ``text`` (lines computed on first use), or None: use ``source.exact_documents``."""
    if not _HAS_C:
        return None
    try:
        parsed = _parse(file, text)
    except InputError as exc:
        raise InputError([Problem(file, p.line, p.field, p.message) for p in exc.problems]) from None
    if parsed is None:
        return None
    cache: dict[str, list[source.Document]] = {}

    def exact() -> list[source.Document]:
        if "docs" not in cache:
            cache["docs"] = source.exact_documents(file, text)
        return cache["docs"]

    def lines_of(i: int) -> Callable[[], dict[source.Path_, int]]:
        return lambda: exact()[i].lines if i < len(exact()) else {}

    return [source.Document(file, data, None, start, lines_from=lines_of(i))
            for i, (data, start) in enumerate(parsed)]
