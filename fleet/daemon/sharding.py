"""Sharding, as Argo CD shards its application controller: N daemons (``--shard i/n``), each owning the clusters
whose stable hash falls on its index, each with its own leader lease (``<lease>-shard-<i>``), all on one
PostgreSQL store. Runs are tagged with the shard that started them; a shard only reconciles its own runs.

The hash is SHA-256 of the cluster id (never Python's ``hash()``, which is salted per process), so every
replica, on every machine and across restarts, agrees on the owner of every cluster.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_SHARD_RE = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_ORDINAL_RE = re.compile(r"-(\d+)$")


def shard_of(cluster_id: str, shards: int) -> int:
    """The shard (0..shards-1) that owns ``cluster_id``: sha256(id) mod shards."""
    if shards < 1:
        raise ValueError("shards must be at least 1")
    digest = hashlib.sha256(cluster_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % shards


@dataclass(frozen=True)
class Shard:
    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"shard count must be at least 1, not {self.count}")
        if not 0 <= self.index < self.count:
            raise ValueError(f"shard index must be in 0..{self.count - 1}, not {self.index}")

    def owns(self, cluster_id: str) -> bool:
        return self.count == 1 or shard_of(cluster_id, self.count) == self.index

    def lease_name(self, base: str) -> str:
        """One lease per shard; an unsharded daemon keeps the plain name."""
        return base if self.count == 1 else f"{base}-shard-{self.index}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse_shard(text: str) -> Shard:
    """``"i/n"`` -> Shard(i, n); raises ValueError with a message fit for the user."""
    m = _SHARD_RE.match(text or "")
    if not m:
        raise ValueError(f"expected INDEX/COUNT such as 0/3, not {text!r}")
    return Shard(int(m.group(1)), int(m.group(2)))


def shard_from_hostname(hostname: str, count: int) -> Shard:
    """A StatefulSet pod's ordinal is its shard (``fleet-2`` -> 2/count), as Argo CD derives its controller
    shard from the pod name."""
    m = _ORDINAL_RE.search(hostname.split(".", 1)[0])
    if not m:
        raise ValueError(f"cannot take a shard index from hostname {hostname!r} (expected a StatefulSet pod name "
                         f"ending in -<ordinal>); pass --shard INDEX/{count}")
    return Shard(int(m.group(1)), count)


def resolve_shard(option: str | None, configured: int, hostname: str) -> Shard:
    """The shard this daemon runs: ``--shard i/n`` if given (n must agree with spec.shards when that is set
    above 1), else the hostname ordinal when spec.shards > 1, else the single shard 0/1."""
    if option:
        shard = parse_shard(option)
        if configured > 1 and shard.count != configured:
            raise ValueError(f"--shard {option} disagrees with spec.shards: {configured}")
        return shard
    if configured > 1:
        return shard_from_hostname(hostname, configured)
    return Shard()
