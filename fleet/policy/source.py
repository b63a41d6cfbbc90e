"""Safe YAML loading that remembers where every value came from (file and line).

Only YAML's safe constructors are used (no tags that execute or build Python objects). Each document is
returned with a map from field path (tuple of keys and indices) to its 1-based line, so a validation error
can be reported as ``file:line: field: message``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import yaml

from fleet.errors import InputError, Problem

Path_ = tuple[str | int, ...]


@dataclass
class Document:
    file: str
    data: Any
    lines: dict[Path_, int]
    start_line: int

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
        return ctx.loader.construct_object(node, deep=True)
    ctx.aliased += repeat
    try:
        if isinstance(node, yaml.SequenceNode):
            return [_construct(child, ctx, path + (i,)) for i, child in enumerate(node.value)]
        own = sum(1 for k, _ in node.value if k.tag != _YAML + "merge")
        ctx.loader.flatten_mapping(cast(yaml.MappingNode, node))  # merged pairs (<<) come first; the mapping's own keys override them
        merged = len(node.value) - own
        out: dict[Any, Any] = {}
        own_keys: set[Any] = set()
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
                                              "duplicate key")])
                own_keys.add(key)
            out[key] = _construct(value_node, ctx, path + (key,))
            ctx.lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    finally:
        ctx.aliased -= repeat


def _fmt(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


format_path = _fmt


def load_documents(path: str | Path, text: str | None = None) -> list[Document]:
    """Parse every YAML document in a file. Raises InputError (with the line) on syntax errors."""
    file = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError([Problem(file, None, "", f"cannot read file: {exc}")]) from exc
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
    except yaml.YAMLError as exc:
        raise InputError([Problem(file, None, "", f"invalid YAML: {exc}")]) from exc
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
