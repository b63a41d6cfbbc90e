"""Safe YAML loading that remembers where every value came from (file and line).

Only YAML's safe constructors are used (no tags that execute or build Python objects). Each document is
returned with a map from field path (tuple of keys and indices) to its 1-based line, so a validation error
can be reported as ``file:line: field: message``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    """SafeLoader that refuses duplicate keys."""


def _construct(node: yaml.Node, loader: _Loader, path: Path_, lines: dict[Path_, int], file: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str | int | float | bool) or key is None:
                raise InputError([Problem(file, key_node.start_mark.line + 1, _fmt(path), "mapping keys must be scalars")])
            if key in out:
                raise InputError([Problem(file, key_node.start_mark.line + 1, _fmt(path + (key,)), "duplicate key")])
            out[key] = _construct(value_node, loader, path + (key,), lines, file)
            lines[path + (key,)] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_construct(child, loader, path + (i,), lines, file) for i, child in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


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
                lines: dict[Path_, int] = {}
                data = _construct(node, loader, (), lines, file)
                docs.append(Document(file, data, lines, node.start_mark.line + 1))
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise InputError([Problem(file, line, "", f"invalid YAML: {exc.problem or exc}")]) from exc
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
