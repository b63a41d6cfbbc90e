"""Round-trip YAML edits that keep a file's formatting and comments (ruamel.yaml), and the generic YAML-path
mapping (docs/gitops.md: Terraform variables in YAML, Crossplane, ACK, Config Connector manifests).

A YAML path is dotted keys with list steps: ``spec.forProvider.version``, ``spec.nodePools[0].version``,
``spec.nodePools[name=workers].version``; an optional document selector ``Kind=name:`` in front picks one
document of a multi-document file (``Cluster=prod:spec.forProvider.version``), otherwise the path must resolve
in exactly one document.

Each document's indentation style is detected by round-tripping it under the common styles and keeping the one
that reproduces it byte for byte; only edited documents are re-emitted, and a document no style reproduces is
refused rather than reformatted.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]|\[([^=\]]+)=([^\]]*)\]")
_STYLES = ((2, 2, 0), (2, 4, 2), (4, 4, 2), (4, 6, 4))        # (mapping, sequence, offset)


class YamlEditError(ValueError):
    """A file cannot be edited as asked (no such path, ambiguous document, unparsable, unstable formatting)."""


_SEPARATOR = re.compile(r"^---[^\n]*(?:\n|$)", re.M)


@dataclass
class _Doc:
    head: str                      # the separator line before the document ("" for the first)
    text: str
    data: Any
    style: tuple[int, int, int]
    dirty: bool = False


class YamlFile:
    """The documents of one YAML file, editable; each document is dumped back in its own style, and only the
    documents an edit touched are re-emitted (the others, their separators and comments stay byte for byte)."""

    def __init__(self, text: str, where: str = "<yaml>"):
        self.where = where
        self._docs: list[_Doc] = []
        pos, head = 0, ""
        for m in _SEPARATOR.finditer(text):
            self._add(head, text[pos:m.start()])
            head, pos = m.group(0), m.end()
        self._add(head, text[pos:])

    @classmethod
    def parse(cls, text: str, where: str = "<yaml>") -> YamlFile:
        return cls(text, where)

    def _add(self, head: str, text: str) -> None:
        if not head and not text:
            return
        try:
            data = _yaml(_STYLES[0]).load(text)
        except YAMLError as exc:
            raise YamlEditError(f"{self.where}: not valid YAML: {exc}") from None
        style = None
        for st in _STYLES:
            if _dump(_yaml(st).load(text), st) == text:
                style = st
                break
        if style is None:
            style = _STYLES[0]
        self._docs.append(_Doc(head, text, _yaml(style).load(text) if style != _STYLES[0] else data, style))

    @property
    def docs(self) -> list[Any]:
        return [d.data for d in self._docs]

    def touch(self, index: int) -> None:
        d = self._docs[index]
        if _dump(_yaml(d.style).load(d.text), d.style) != d.text:
            raise YamlEditError(f"{self.where}: document {index + 1} does not survive a YAML round trip unchanged "
                                "(unusual indentation or layout); refusing to reformat it")
        d.dirty = True

    def index_of(self, doc: Any) -> int:
        return next(i for i, d in enumerate(self._docs) if d.data is doc)

    def dump_alike(self, doc: Any, other: Any) -> str:
        """``other`` as a file of its own, in the style of this file's document ``doc``."""
        return _dump(other, self._docs[self.index_of(doc)].style)

    def dump(self) -> str:
        return "".join(d.head + (_dump(d.data, d.style) if d.dirty else d.text) for d in self._docs)

    def objects(self) -> list[tuple[int, dict[str, Any]]]:
        """(index, document) of the Kubernetes-looking documents (mappings with a kind)."""
        return [(i, d) for i, d in enumerate(self.docs) if isinstance(d, dict) and d.get("kind")]


def _yaml(style: tuple[int, int, int]) -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=style[0], sequence=style[1], offset=style[2])
    return y


def _dump(data: Any, style: tuple[int, int, int]) -> str:
    if data is None:
        return ""
    buf = io.StringIO()
    _yaml(style).dump(data, buf)
    return buf.getvalue()


def stable(text: str) -> bool:
    """Does the file survive a round trip unchanged (so an edit changes only what it edits)?"""
    try:
        return YamlFile.parse(text).dump() == text
    except YamlEditError:
        return False


def parse_path(path: str) -> tuple[tuple[str, str] | None, list[Any]]:
    """``Kind=name:a.b[0].c[k=v]`` -> ((Kind, name) or None, steps); a step is a key, an index or (key, value)."""
    selector: tuple[str, str] | None = None
    head, sep, rest = path.partition(":")
    if sep and "=" in head and "." not in head and "[" not in head:
        kind, _, name = head.partition("=")
        selector, path = (kind.strip(), name.strip()), rest
    steps: list[Any] = []
    pos = 0
    for part in path.split("."):
        if not part:
            raise YamlEditError(f"bad YAML path {path!r}: empty step")
        for m in _STEP.finditer(part):
            if m.group(1) is not None:
                steps.append(m.group(1))
            elif m.group(2) is not None:
                steps.append(int(m.group(2)))
            else:
                steps.append((m.group(3), m.group(4)))
            pos += len(m.group(0))
        pos += 1
    if pos - 1 != len(path):
        raise YamlEditError(f"bad YAML path {path!r}")
    return selector, steps


def _walk(node: Any, steps: list[Any], path: str) -> tuple[Any, Any]:
    """The container holding the last step, and that step's key or index."""
    for i, step in enumerate(steps):
        last = i == len(steps) - 1
        if isinstance(step, tuple):
            if not isinstance(node, list):
                raise YamlEditError(f"{path}: [{step[0]}={step[1]}] applies to a list")
            hits = [j for j, x in enumerate(node) if isinstance(x, dict) and str(x.get(step[0])) == step[1]]
            if len(hits) != 1:
                raise YamlEditError(f"{path}: {len(hits)} list items with {step[0]}={step[1]}")
            step = hits[0]
        if isinstance(step, int):
            if not isinstance(node, list) or step >= len(node):
                raise YamlEditError(f"{path}: no list item [{step}]")
        elif not isinstance(node, dict) or (step not in node and not last):
            raise YamlEditError(f"{path}: no key {step!r}")
        if last:
            return node, step
        node = node[step]
    raise YamlEditError(f"{path}: empty path")


def find(f: YamlFile, path: str) -> list[tuple[int, Any, Any]]:
    """Where ``path`` resolves: (document index, container, key) for each matching document."""
    selector, steps = parse_path(path)
    out = []
    for i, doc in enumerate(f.docs):
        if selector is not None:
            meta = doc.get("metadata") if isinstance(doc, dict) else None
            if not isinstance(doc, dict) or doc.get("kind") != selector[0] or \
                    not isinstance(meta, dict) or meta.get("name") != selector[1]:
                continue
        try:
            container, key = _walk(doc, steps, path)
        except YamlEditError:
            if selector is not None:
                raise
            continue
        if isinstance(container, dict) and key not in container:
            continue
        out.append((i, container, key))
    return out


def get_value(f: YamlFile, path: str) -> Any:
    hits = find(f, path)
    if len(hits) != 1:
        raise YamlEditError(f"{path}: resolves in {len(hits)} documents (add a Kind=name: selector)")
    _, container, key = hits[0]
    return container[key]


def set_value(f: YamlFile, path: str, value: Any) -> bool:
    """Set the value at ``path`` (which must exist, in one document); True when it changed."""
    hits = find(f, path)
    if len(hits) != 1:
        raise YamlEditError(f"{path}: resolves in {len(hits)} documents (add a Kind=name: selector)")
    index, container, key = hits[0]
    if container[key] == value:
        return False
    f.touch(index)
    container[key] = value
    return True


def spell_version(current: Any, to: str, fmt: str = "full") -> str:
    """``to`` spelled as the file spells versions: ``full`` keeps the file's leading ``v`` or lack of it,
    ``no-v`` drops it, ``minor`` keeps major.minor only."""
    bare = to.strip().lstrip("v")
    if fmt == "minor":
        return ".".join(bare.split(".")[:2])
    if fmt == "no-v":
        return bare
    had_v = isinstance(current, str) and current.strip().startswith("v")
    return f"v{bare}" if had_v else bare
