"""Safe YAML loading that can say where every value came from (file and line).

Only YAML's safe constructors are used (no tags that execute or build Python objects). Each document comes
with a map from field path (tuple of keys and indices) to its 1-based line, so a validation error can be
reported as ``file:line: field: message``.

Two paths, one result (docs/scale.md, "Loading big files"):

* the fast path (``fleet.policy.fastyaml``) builds the values straight from libyaml's event stream (PyYAML's
  C parser) and records no lines; the line map is computed on first use (``Document.line_of``), i.e. only
  when a document has an error to report;
* the exact path below (pure-Python parser, lines for every value) runs when the fast path meets anything
  unusual (a syntax error, a tag, a duplicate key, a merge key ``<<``, aliases beyond the budget): it
  reports the problem with its line, exactly as before.

Bounds, each a clear error with the file and line: a file above ``MAX_FILE_BYTES``, a byte sequence that
is not UTF-8, a character YAML forbids (NUL, other control characters), nesting deeper than ``MAX_DEPTH``,
a scalar longer than ``MAX_SCALAR_CHARS``, an integer of more digits than Python converts, aliases that
expand to more than ``ALIAS_BUDGET`` values ("billion laughs").
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from fleet.errors import InputError, Problem

Path_ = tuple[str | int, ...]


MAX_FILE_BYTES = 32 * 2**20   # a policy, inventory or config file above this is refused (an inventory of
#                               10,000 clusters is about 3 MiB)
MAX_DEPTH = 100               # nesting levels of mappings and sequences
MAX_SCALAR_CHARS = 2**20      # characters in one scalar


class Document:
    """One YAML document: its data, and (computed when first asked for) the line of every value."""

    def __init__(self, file: str, data: Any, lines: dict[Path_, int] | None, start_line: int,
                 lines_from: Callable[[], dict[Path_, int]] | None = None):
        self.file = file
        self.data = data
        self.start_line = start_line
        self._lines = lines
        self._lines_from = lines_from

    @property
    def lines(self) -> dict[Path_, int]:
        if self._lines is None:
            self._lines = self._lines_from() if self._lines_from is not None else {}
            self._lines_from = None
        return self._lines

    def line_of(self, loc: Path_) -> int:
        """Line of the deepest known prefix of ``loc``."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.start_line


class _Loader(yaml.SafeLoader):
    """The safe loader; ``_construct`` below builds the values (refusing duplicate keys and tags)."""


_YAML = "tag:yaml.org,2002:"
_MAP, _SEQ = _YAML + "map", _YAML + "seq"
# plain values only: !!set, !!omap, !!binary, !!python/... and local tags (!foo) are refused
_SCALARS = frozenset(_YAML + t for t in ("null", "bool", "int", "float", "str", "timestamp"))
ALIAS_BUDGET = 100_000  # values that may be produced by expanding aliases, per file (stops "billion laughs")


@dataclass
class _Ctx:
    loader: _Loader
    file: str
    lines: dict[Path_, int]
    seen: set[int]
    budget: int = ALIAS_BUDGET
    aliased: int = 0  # > 0 while expanding a node that was already constructed once (an alias)


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_YAML):] if tag.startswith(_YAML) else tag


def _construct(node: yaml.Node, ctx: _Ctx, path: Path_) -> Any:
    ctx.lines[path] = node.start_mark.line + 1
    if len(path) > MAX_DEPTH:
        raise InputError([Problem(ctx.file, node.start_mark.line + 1, _fmt(path[:MAX_DEPTH]),
                                  f"nested more than {MAX_DEPTH} levels deep")])
    repeat = id(node) in ctx.seen
    ctx.seen.add(id(node))
    if ctx.aliased or repeat:
        ctx.budget -= 1
        if ctx.budget < 0:
            raise InputError([Problem(ctx.file, node.start_mark.line + 1, _fmt(path),
                                      f"aliases expand to more than {ALIAS_BUDGET} values")])
    allowed = _MAP if isinstance(node, yaml.MappingNode) else _SEQ if isinstance(node, yaml.SequenceNode) else None
    if node.tag != allowed and (allowed is not None or node.tag not in _SCALARS):
        raise InputError([Problem(ctx.file, node.start_mark.line + 1, _fmt(path),
                                  f"YAML tag {_short_tag(node.tag)} is not allowed: write plain YAML values")])
    if allowed is None:
        return _scalar(ctx, node, path)
    ctx.aliased += repeat
    try:
        if isinstance(node, yaml.SequenceNode):
            return [_construct(child, ctx, path + (i,)) for i, child in enumerate(node.value)]
        own = sum(1 for k, _ in node.value if k.tag != _YAML + "merge")
        ctx.loader.flatten_mapping(cast(yaml.MappingNode, node))  # merged pairs (<<) come first; the mapping's own keys override them
        merged = len(node.value) - own
        out: dict[Any, Any] = {}
        own_keys: dict[Any, int] = {}
        for i, (key_node, value_node) in enumerate(node.value):
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _SCALARS:
                raise InputError([Problem(ctx.file, key_node.start_mark.line + 1, _fmt(path),
                                          "mapping keys must be plain scalars")])
            key = ctx.loader.construct_object(key_node, deep=True)
            if key is None:
                raise InputError([Problem(ctx.file, key_node.start_mark.line + 1, _fmt(path),
                                          "mapping keys must be plain scalars")])
            if i >= merged:
                if key in own_keys:
                    raise InputError([Problem(ctx.file, key_node.start_mark.line + 1, _fmt(path + (key,)),
                                              f"duplicate key (first defined on line {own_keys[key]})")])
                own_keys[key] = key_node.start_mark.line + 1
            out[key] = _construct(value_node, ctx, path + (key,))
            ctx.lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    finally:
        ctx.aliased -= repeat


def _scalar(ctx: _Ctx, node: yaml.Node, path: Path_) -> Any:
    if len(node.value) > MAX_SCALAR_CHARS:
        raise InputError([Problem(ctx.file, node.start_mark.line + 1, _fmt(path),
                                  f"value longer than {MAX_SCALAR_CHARS} characters")])
    try:
        return ctx.loader.construct_object(node, deep=True)
    except ValueError as exc:  # an integer of more digits than Python converts, a date that does not exist
        msg = (f"integer longer than {sys.get_int_max_str_digits()} digits" if node.tag == _YAML + "int"
               else f"cannot read this value: {exc}")
        raise InputError([Problem(ctx.file, node.start_mark.line + 1, _fmt(path), msg)]) from None


def _fmt(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


format_path = _fmt


def read_text(path: str | Path) -> str:
    """A file's text, refused (with the line) above MAX_FILE_BYTES, when not UTF-8, or holding a NUL."""
    file = str(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError([Problem(file, None, "", f"cannot read file: {exc}")]) from exc
    if len(raw) > MAX_FILE_BYTES:
        line = raw.count(b"\n", 0, MAX_FILE_BYTES) + 1
        raise InputError([Problem(file, line, "", f"file is larger than the {MAX_FILE_BYTES // 2**20} MiB limit "
                                                  "for policy, inventory and config files (docs/scale.md)")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise InputError([Problem(file, line, "", f"cannot read file: not UTF-8 (byte 0x{raw[exc.start]:02x} "
                                                  f"at offset {exc.start})")]) from None


def load_documents(path: str | Path, text: str | None = None) -> list[Document]:
    """Parse every YAML document in a file. Raises InputError (with the line) on syntax errors and on
    anything past the bounds above."""
    from fleet.policy import fastyaml  # the fast path (it needs the exact path below for its lines)

    file = str(path)
    if text is None:
        text = read_text(path)
    elif len(text) > MAX_FILE_BYTES:
        raise InputError([Problem(file, None, "", f"text is larger than the {MAX_FILE_BYTES // 2**20} MiB limit")])
    fast = fastyaml.fast_documents(file, text)
    if fast is not None:
        return fast
    return exact_documents(file, text)


def exact_documents(file: str, text: str) -> list[Document]:
    """The pure-Python parse with every value's line (see the module docstring)."""
    docs: list[Document] = []
    try:
        loader = _Loader(text)
        try:
            while loader.check_node():
                node = loader.get_node()
                if node is None:
                    continue
                ctx = _Ctx(loader, file, {}, set())
                data = _construct(node, ctx, ())
                docs.append(Document(file, data, ctx.lines, node.start_mark.line + 1))
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        # a problem found at the end of the stream is reported on the file's last line, not one past it
        last = max(1, len(text.splitlines()))
        line = min(mark.line + 1, last) if mark else None
        msg = f"invalid YAML: {exc.problem or exc}"
        if exc.context and exc.context_mark is not None and exc.problem:
            msg += f" ({exc.context} started on line {min(exc.context_mark.line + 1, last)})"
        raise InputError([Problem(file, line, "", msg)]) from exc
    except yaml.reader.ReaderError as exc:   # a character YAML does not allow (NUL, control characters)
        line = text.count("\n", 0, exc.position) + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        raise InputError([Problem(file, line, "", f"invalid YAML: character U+{code:04X} is not allowed "
                                                  "in a YAML file")]) from None
    except yaml.YAMLError as exc:
        raise InputError([Problem(file, None, "", f"invalid YAML: {exc}")]) from exc
    except RecursionError:
        raise InputError([Problem(file, None, "", f"nested more than {MAX_DEPTH} levels deep")]) from None
    return docs


def yaml_files(paths: list[str | Path]) -> list[Path]:
    """Expand files and folders (recursively, *.yaml / *.yml, sorted) into files."""
    out: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.suffix in (".yaml", ".yml") and f.is_file()))
        else:
            out.append(p)
    return out
