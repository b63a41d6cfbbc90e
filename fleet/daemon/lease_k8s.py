"""The Kubernetes Lease back-end of leader election (coordination.k8s.io/v1, official ``kubernetes`` client).

The Lease carries ``holderIdentity``, ``leaseDurationSeconds``, ``acquireTime``, ``renewTime`` and
``leaseTransitions`` (the epoch: one more on every change of holder). Every write is a PUT with the
resourceVersion that was read, so of two replicas racing for an expired Lease exactly one wins (the other
gets 409 Conflict). As in client-go, expiry is judged by when THIS replica last saw the record change plus
the lease duration (never by comparing another machine's ``renewTime`` with our clock), so clock skew
between replicas does not matter. Releasing empties ``holderIdentity`` so a standby takes over at once.

Fencing across the two systems: the Lease decides who leads, the store refuses stale writes. After winning
(or renewing) the Lease at epoch T, the holder writes T through to the store's ``leases`` row in one
transaction that only ever raises the row's epoch, and it acts only after that commit. A write fenced at an
older epoch is then refused by the store. If the row is already at or above T (the Lease was deleted and
re-created, restarting leaseTransitions), the holder first raises leaseTransitions above the row (a PUT
under its own resourceVersion) and writes that through.

This module imports the kubernetes client lazily: only ``spec.leaderElection.backend: kubernetes`` needs the
``capi`` extra.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fleet.clock import Clock
from fleet.daemon.lease import Grant, LeaderElector
from fleet.errors import MissingExtraError
from fleet.state.store import SqlStore as Store


class _Inconclusive(Exception):
    """A write lost a race we cannot judge yet (409 on our own renewal): look again next round."""


def coordination_api(kubeconfig: Path | None, context: str | None) -> Any:
    """A CoordinationV1Api from a kubeconfig file, else the in-cluster service account, else the default
    kubeconfig (as kubectl finds it)."""
    try:
        from kubernetes import client, config
    except ImportError as exc:  # pragma: no cover - the capi extra is part of [all]
        raise MissingExtraError("leaderElection.backend kubernetes needs the kubernetes client: "
                                "pip install 'fleet-upgrader[capi]'") from exc
    cfg = client.Configuration()
    if kubeconfig is not None:
        config.load_kube_config(config_file=str(kubeconfig), context=context, client_configuration=cfg)
    else:
        try:
            config.load_incluster_config(client_configuration=cfg)
        except config.ConfigException:
            config.load_kube_config(context=context, client_configuration=cfg)
    cfg.retries = 0
    return client.CoordinationV1Api(client.ApiClient(cfg))


class KubernetesLease(LeaderElector):
    backend = "kubernetes"

    def __init__(self, api: Any, namespace: str, name: str, identity: str, duration: timedelta, clock: Clock, *,
                 store: Store, engine: Any = None):
        super().__init__(name, identity, duration, clock, store=store, engine=engine)
        self.api = api
        self.namespace = namespace
        self.seconds = max(1, math.ceil(duration.total_seconds()))
        self.timeout = max(1.0, min(5.0, self.renew_every.total_seconds()))
        self._observed: tuple[str, str] | None = None      # (holder, resourceVersion) last seen
        self._observed_at: datetime | None = None

    # ---- the Lease ----------------------------------------------------------------------------------
    def _attempt(self, now: datetime) -> Grant | None:
        from kubernetes.client import ApiException, V1Lease, V1LeaseSpec, V1ObjectMeta
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace, _request_timeout=self.timeout)
        except ApiException as exc:
            if exc.status != 404:
                raise
            body = V1Lease(metadata=V1ObjectMeta(name=self.name, namespace=self.namespace),
                           spec=V1LeaseSpec(holder_identity=self.identity, lease_duration_seconds=self.seconds,
                                            acquire_time=now, renew_time=now, lease_transitions=0))
            try:
                created = self.api.create_namespaced_lease(self.namespace, body, _request_timeout=self.timeout)
            except ApiException as exc2:
                if exc2.status == 409:
                    return None                     # another replica created it first
                raise
            self.holder = self.identity
            return self._write_through(now, created, None)
        spec = lease.spec or V1LeaseSpec()
        lease.spec = spec
        holder = spec.holder_identity or ""
        seen = (holder, lease.metadata.resource_version or "")
        if seen != self._observed:
            self._observed, self._observed_at = seen, now
        self.holder = holder or None
        if holder == self.identity:
            spec.renew_time = now
            spec.lease_duration_seconds = self.seconds
            return self._write_through(now, self._replace(lease, renewal=True), holder)
        duration = timedelta(seconds=spec.lease_duration_seconds or self.seconds)
        assert self._observed_at is not None
        if holder and now < self._observed_at + duration:
            return None
        spec.holder_identity = self.identity
        spec.lease_transitions = (spec.lease_transitions or 0) + 1
        spec.acquire_time = now
        spec.renew_time = now
        spec.lease_duration_seconds = self.seconds
        won = self._replace(lease, renewal=False)
        if won is None:
            return None
        self.holder = self.identity
        return self._write_through(now, won, holder or None)

    def _replace(self, lease: Any, *, renewal: bool) -> Any:
        from kubernetes.client import ApiException
        try:
            out = self.api.replace_namespaced_lease(self.name, self.namespace, lease, _request_timeout=self.timeout)
        except ApiException as exc:
            if exc.status != 409:
                raise
            if renewal:
                raise _Inconclusive("lease changed under our renewal") from exc
            return None                              # another replica won the race
        self._observed = (out.spec.holder_identity or "", out.metadata.resource_version or "")
        self._observed_at = self.clock.now()
        return out

    def _release(self, now: datetime) -> None:
        lease = self.api.read_namespaced_lease(self.name, self.namespace, _request_timeout=self.timeout)
        if lease.spec is None or lease.spec.holder_identity != self.identity:
            return
        lease.spec.holder_identity = ""
        lease.spec.lease_duration_seconds = 1
        lease.spec.renew_time = now
        self.api.replace_namespaced_lease(self.name, self.namespace, lease, _request_timeout=self.timeout)

    # ---- the store fence ------------------------------------------------------------------------------
    def _write_through(self, now: datetime, lease: Any, previous: str | None) -> Grant | None:
        if lease is None:
            return None
        epoch = int(lease.spec.lease_transitions or 0)
        behind = self._store_epoch(now, epoch)
        if behind is not None:
            # the Lease restarted its count below the store's: raise it above, under our resourceVersion
            lease.spec.lease_transitions = behind + 1
            lease = self._replace(lease, renewal=True)
            epoch = behind + 1
            if self._store_epoch(now, epoch) is not None:
                raise _Inconclusive("the store's lease epoch moved while raising the Lease's")
        return Grant(epoch, previous)

    def _store_epoch(self, now: datetime, epoch: int) -> int | None:
        """Raise the store's lease row to ``epoch`` held by us; return the row's epoch if it is ahead."""
        assert self.store is not None
        return self.store.raise_lease(self.name, self.identity, epoch, now, self.duration)
