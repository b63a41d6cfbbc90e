"""Kubernetes versions as providers spell them.

Parses ``v1.29.4``, ``1.29.4-gke.1043002``, ``1.29`` (EKS control planes), ``1.29.0-20240202`` (EKS node
AMI releases) and ``v1.24.9-eks-49d8fe8`` (kubelet strings). The provider's spelling is kept for display
and dispatch; ordering uses only the numbers: (major, minor, patch, numeric build parts).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

_VERSION_RE = re.compile(r"^\s*v?(\d+)\.(\d+)(?:\.(\d+))?(?:[-+](.*))?\s*$")
_NUM_RE = re.compile(r"\d+")


class InvalidVersion(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Version:
    major: int
    minor: int
    patch: int | None
    build: tuple[int, ...] = ()
    raw: str = field(default="", compare=False)

    @property
    def key(self) -> tuple[int, int, int, tuple[int, ...]]:
        return (self.major, self.minor, -1 if self.patch is None else self.patch, self.build)

    @property
    def minor_key(self) -> tuple[int, int]:
        return (self.major, self.minor)

    @property
    def minor_str(self) -> str:
        return f"{self.major}.{self.minor}"

    def __lt__(self, other: Version) -> bool:
        return self.key < other.key

    def __le__(self, other: Version) -> bool:
        return self.key <= other.key

    def __gt__(self, other: Version) -> bool:
        return self.key > other.key

    def __ge__(self, other: Version) -> bool:
        return self.key >= other.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Version) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)

    def __str__(self) -> str:
        return self.raw or self.canonical

    @property
    def canonical(self) -> str:
        base = f"{self.major}.{self.minor}"
        return base if self.patch is None else f"{base}.{self.patch}"

    def minors_from(self, other: Version) -> int:
        """How many minors ``self`` is ahead of ``other`` (negative when behind)."""
        if self.major != other.major:
            return (self.major - other.major) * 1000 + (self.minor - other.minor)
        return self.minor - other.minor

    def same_release(self, other: Version) -> bool:
        """Same major.minor.patch (build suffixes ignored; a missing patch matches any patch)."""
        if self.minor_key != other.minor_key:
            return False
        return self.patch is None or other.patch is None or self.patch == other.patch

    def not_newer_than(self, control_plane: Version) -> bool:
        """Whether a node running ``self`` may run under ``control_plane`` (never newer than it).

        A control plane spelled without a patch (EKS ``1.29``) admits every patch of its minor.
        """
        if self.minor_key != control_plane.minor_key:
            return self.minor_key < control_plane.minor_key
        if control_plane.patch is None or self.patch is None:
            return True
        return self.patch <= control_plane.patch


@lru_cache(maxsize=65536)
def parse_version(text: str) -> Version:
    """Parse a provider spelling. Raises InvalidVersion for anything that is not a Kubernetes version."""
    if not isinstance(text, str):
        raise InvalidVersion(f"not a version: {text!r}")
    m = _VERSION_RE.match(text)
    if not m:
        raise InvalidVersion(f"not a Kubernetes version: {text!r}")
    major, minor, patch, suffix = m.groups()
    build: tuple[int, ...] = ()
    if suffix:
        # numeric build parts only: 'gke.1043002' -> (1043002,), '20240202' -> (20240202,);
        # a hex commit ('eks-49d8fe8') is not an order, so it is dropped.
        parts = re.split(r"[.\-+_]", suffix)
        build = tuple(int(p) for p in parts if p.isdigit())
    return Version(int(major), int(minor), None if patch is None else int(patch), build, text.strip())


def is_version(text: str) -> bool:
    try:
        parse_version(text)
    except InvalidVersion:
        return False
    return True


def max_kubelet_skew(control_plane: Version) -> int:
    """Minors a kubelet may lag its API server: 3 from Kubernetes 1.28, 2 before."""
    return 3 if control_plane.minor_key >= (1, 28) else 2


def newest(versions: list[Version]) -> Version | None:
    return max(versions) if versions else None


def newest_of_minor(versions: list[Version], minor_key: tuple[int, int]) -> Version | None:
    best: Version | None = None
    for v in versions:
        if v.minor_key == minor_key and (best is None or v > best):
            best = v
    return best
