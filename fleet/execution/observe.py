"""observe_fleet: read every provider's clusters and offers (read-only). Provider errors are contained:
a provider that fails this tick keeps its last observation, marked stale, and nothing is dispatched to it.
A cluster whose offers cannot be read for now (TemporaryProviderError, nothing cached) is listed in
``offers_unknown`` for the tick: unknown, not "offers no versions"; nothing about it changes.

Observation is decoupled from the tick (docs/scale.md): the engine works from the latest observation; a
provider's full discovery runs on its own cadence (``discovery_interval``, FleetConfig
``spec.discoveryInterval``; 0 = every tick), and the clusters that matter now are re-read one by one
(``refresh_cluster``): a cluster whose step is about to start (time of check = time of use: its version,
health and offers are read right before the start call) and a cluster whose finished step is being verified.
Operations in flight are polled through their operation object only (the engine's poll), which needs no
discovery. A tick's provider calls therefore follow the work due, not the fleet's size.

A provider may implement ``refresh(cluster) -> Cluster | None`` (None: the cluster is gone); one that
does not is re-discovered in full instead, at most once per tick.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fleet.errors import ProviderError, TemporaryProviderError
from fleet.provider import Cluster, Provider, VersionOffers

log = logging.getLogger("fleet.observe")


@dataclass
class Observation:
    at: datetime
    clusters: dict[str, Cluster] = field(default_factory=dict)
    offers: dict[str, VersionOffers] = field(default_factory=dict)
    stale_providers: set[str] = field(default_factory=set)
    errors: dict[str, str] = field(default_factory=dict)

    def fresh(self, cluster_id: str) -> bool:
        c = self.clusters.get(cluster_id)
        return c is not None and c.provider not in self.stale_providers


class Observer:
    """Keeps the last observation per provider and an offers cache (offers change rarely)."""

    def __init__(self, providers: Mapping[str, Provider], offers_ttl: timedelta = timedelta(hours=1),
                 discovery_interval: timedelta = timedelta(0)):
        self.providers = providers
        self.offers_ttl = offers_ttl
        self.discovery_interval = discovery_interval
        self._last: dict[str, list[Cluster]] = {}
        self._by_id: dict[str, dict[str, Cluster]] = {}   # provider -> its last clusters by id
        self._offers: dict[str, tuple[datetime, VersionOffers]] = {}
        self._discovered_at: dict[str, datetime] = {}     # provider -> its last successful full discovery
        self._refreshed: dict[str, datetime] = {}         # cluster id -> when it was last re-read on its own
        self.offers_unknown: dict[str, str] = {}    # cluster id -> why its offers are unknown this tick
        self.calls = {"discover": 0, "refresh": 0}  # provider calls made by observation (for benchmarks)

    def discovery_due(self, name: str, now: datetime) -> bool:
        at = self._discovered_at.get(name)
        return at is None or now - at >= self.discovery_interval or now < at

    def _discover(self, name: str, now: datetime) -> None:
        self.calls["discover"] += 1
        clusters = self.providers[name].discover()
        if clusters is not self._last.get(name):   # a provider may return the same list: unchanged
            self._last[name] = clusters
            self._by_id[name] = {c.id: c for c in clusters}
        self._discovered_at[name] = now

    def observe_fleet(self, now: datetime) -> Observation:
        obs = Observation(now)
        self.offers_unknown = {}
        for name in self.providers:
            if self.discovery_due(name, now):
                try:
                    self._discover(name, now)
                except ProviderError as exc:
                    log.warning("discovery failed", extra={"provider": name, "reason": str(exc)})
                    obs.stale_providers.add(name)
                    obs.errors[name] = str(exc)
            obs.clusters.update(self._by_id.get(name, {}))
        return obs

    def refresh_cluster(self, obs: Observation, cluster_id: str, now: datetime) -> Cluster | None:
        """Re-read one cluster now (once per tick; nothing to do when its provider was discovered in full
        this tick) and put it in ``obs``. Returns it as read, or None when it is gone (dropped from ``obs``).
        A provider error keeps the last observation of it (logged)."""
        c = obs.clusters.get(cluster_id)
        if c is None or c.provider not in self.providers:
            return c
        name = c.provider
        if self._discovered_at.get(name) == now or self._refreshed.get(cluster_id) == now:
            return c
        fn = getattr(self.providers[name], "refresh", None)
        try:
            if fn is None:
                self._discover(name, now)                  # no targeted read: one full discovery this tick
                fresh = self._by_id.get(name, {}).get(cluster_id)
            else:
                self.calls["refresh"] += 1
                fresh = fn(c)
        except ProviderError as exc:
            log.warning("refresh failed", extra={"provider": name, "cluster": cluster_id, "reason": str(exc)})
            return c
        self._refreshed[cluster_id] = now
        if fn is not None:
            by_id = self._by_id.setdefault(name, {})
            self._last.pop(name, None)   # the provider's next list is new to us, whatever its identity
            if fresh is None:
                by_id.pop(cluster_id, None)
            else:
                by_id[cluster_id] = fresh
        if fresh is None:
            obs.clusters.pop(cluster_id, None)
            self.forget_offers(cluster_id)
            return None
        if fresh != c:
            self.forget_offers(cluster_id)   # offers follow the version: read them again
        obs.clusters[cluster_id] = fresh
        return fresh

    def offers_for(self, cluster: Cluster, now: datetime) -> VersionOffers | None:
        hit = self._offers.get(cluster.id)
        if hit is not None and now - hit[0] < self.offers_ttl:
            return hit[1]
        if cluster.available:
            o = VersionOffers(cluster.available, {p.name: p.available for p in cluster.node_pools if p.available})
            self._offers[cluster.id] = (now, o)
            return o
        p = self.providers.get(cluster.provider)
        if p is None:
            return None
        try:
            o = p.offers(cluster)
        except ProviderError as exc:
            log.warning("offers failed", extra={"provider": cluster.provider, "cluster": cluster.id, "reason": str(exc)})
            if hit is None and isinstance(exc, TemporaryProviderError):
                self.offers_unknown[cluster.id] = str(exc)
            return hit[1] if hit else None
        self._offers[cluster.id] = (now, o)
        return o

    def forget_offers(self, cluster_id: str) -> None:
        self._offers.pop(cluster_id, None)
