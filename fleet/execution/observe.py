"""observe_fleet: read every provider's clusters and offers (read-only). Provider errors are contained:
a provider that fails this tick keeps its last observation, marked stale, and nothing is dispatched to it.
A cluster whose offers cannot be read for now (TemporaryProviderError, nothing cached) is listed in
``offers_unknown`` for the tick: unknown, not "offers no versions"; nothing about it changes."""

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

    def __init__(self, providers: Mapping[str, Provider], offers_ttl: timedelta = timedelta(hours=1)):
        self.providers = providers
        self.offers_ttl = offers_ttl
        self._last: dict[str, list[Cluster]] = {}
        self._by_id: dict[str, dict[str, Cluster]] = {}   # provider -> its last clusters by id
        self._offers: dict[str, tuple[datetime, VersionOffers]] = {}
        self.offers_unknown: dict[str, str] = {}    # cluster id -> why its offers are unknown this tick

    def observe_fleet(self, now: datetime) -> Observation:
        obs = Observation(now)
        self.offers_unknown = {}
        for name, p in self.providers.items():
            try:
                clusters = p.discover()
                if clusters is not self._last.get(name):   # a provider may return the same list: unchanged
                    self._last[name] = clusters
                    self._by_id[name] = {c.id: c for c in clusters}
            except ProviderError as exc:
                log.warning("discovery failed", extra={"provider": name, "reason": str(exc)})
                obs.stale_providers.add(name)
                obs.errors[name] = str(exc)
            obs.clusters.update(self._by_id.get(name, {}))
        return obs

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
