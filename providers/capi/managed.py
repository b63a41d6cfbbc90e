"""The adapter's side of MachinePools and managed control planes (see pools.py for the kinds and fields).

``ManagedOps`` reads and patches through the CapiProvider's SDK boundary (its ``_read``/``_get``/``_list``/
``_patch``), so errors are translated in one place and the reads of discovery and offers are metered per
management cluster (the rate-limit kit). Discovery finds each kind in whatever API version the
management cluster serves it (``kind_version``: the group's versions, v1beta2 first, whose resource list has
the kind). Offers: ``settings.versions[<control plane kind>]`` is the allow-list of a managed cluster (its
control plane and its MachinePools); MachinePools of kubeadm clusters are offered the versions with an image
for their infrastructure pool kind (``settings.images``), or ``settings.versions.MachinePool``.

Steps:
- control plane: merge-patch ``spec.version`` (resourceVersion precondition) — the cloud upgrades the control
  plane, the provider reports it in status; refused before any write: a downgrade, more than one minor, a
  version not in the allow-list, an update still running (retry later);
- MachinePool: patch the infrastructure pool (pools.compute_infra_patch), then the MachinePool's
  ``spec.template.spec.version``. Idempotent: a pool (or control plane) already asking for the version yields
  an operation for it and writes nothing.
"""

from __future__ import annotations

import dataclasses
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fleet.clock import iso
from fleet.errors import PermanentProviderError, TemporaryProviderError
from fleet.provider import (
    CheckOutcome,
    CheckResult,
    Cluster,
    Component,
    NodePool,
    OperationRef,
    OperationState,
    OperationStatus,
    Step,
    VersionOffers,
)
from fleet.versions import InvalidVersion, parse_version
from providers.capi.objects import CLUSTER_NAME_LABEL, get, same_version
from providers.capi.pools import (
    CAPI,
    CONTROL_PLANES,
    MP,
    POOL_IMAGE_FIELDS,
    CpView,
    PoolView,
    compute_cp_patch,
    compute_infra_patch,
    compute_pool_patch,
    compute_pool_rollout,
)

if TYPE_CHECKING:
    from providers.capi.adapter import CapiProvider, _Mgmt

_log = logging.getLogger("providers.capi")


def kind_version(a: CapiProvider, m: _Mgmt, group: str, kind: str) -> str:
    """The API version in which ``group`` serves ``kind`` (v1beta2 first, then the group's other versions)."""
    a._served(m, CAPI)                                   # fills m.groups
    assert m.groups is not None
    versions = sorted((m.groups.get(group) or ([], ""))[0], key=lambda v: (v != "v1beta2", v), reverse=False)
    for v in versions:
        if (group, v) not in m.plurals:
            res = a._read(m, f"{m.name}: discover {group}/{v}", m.custom.get_api_resources, group, v)
            m.plurals[(group, v)] = {r.kind: r.name for r in res.resources if "/" not in r.name}
        if kind in m.plurals[(group, v)]:
            return v
    raise PermanentProviderError(f"{m.name}: {kind} is not served in {group} (is its provider installed?)",
                                 provider=a.name, code="404")


class ManagedOps:
    def __init__(self, adapter: CapiProvider):
        self.a = adapter

    # ---- observe -------------------------------------------------------------------------------------------
    def pools_served(self, m: _Mgmt) -> str | None:
        """The version MachinePools are served in; None when they are not (not installed)."""
        try:
            return kind_version(self.a, m, CAPI, MP)
        except PermanentProviderError:
            return None

    def list_pools(self, m: _Mgmt, ns: str | None) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """Every MachinePool of ``ns`` (None: all namespaces) in one list, by (namespace, cluster name):
        discovery reads them once per namespace scope, not once per cluster."""
        mv = self.pools_served(m)
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for o in self.a._list(m, CAPI, mv, "machinepools", ns, CLUSTER_NAME_LABEL) if mv else []:
            out.setdefault((o["metadata"]["namespace"], o["metadata"]["labels"][CLUSTER_NAME_LABEL]), []).append(o)
        return out

    def _pools(self, m: _Mgmt, ns: str, cluster: str, listed: list[dict[str, Any]] | None = None) -> list[PoolView]:
        """The cluster's MachinePools with their infrastructure pools; ``listed``: its MachinePool objects from
        ``list_pools`` (else they are listed here)."""
        mv = self.pools_served(m)
        if mv is None:
            return []                                    # MachinePools not installed: none
        out = []
        objs = listed if listed is not None else self.a._list(m, CAPI, mv, "machinepools", ns,
                                                              f"{CLUSTER_NAME_LABEL}={cluster}")
        for o in objs:
            view = PoolView(mv, o, None)
            ref = view.infra_ref
            if ref.kind:
                iv = kind_version(self.a, m, ref.group, ref.kind)
                view.infra = self.a._get(m, ref.group, iv, m.plurals[(ref.group, iv)][ref.kind], ns, ref.name)
            out.append(view)
        return sorted(out, key=lambda v: v.name)

    def _cp(self, m: _Mgmt, ns: str, ref: dict[str, Any]) -> CpView:
        kind = ref["kind"]
        k = CONTROL_PLANES[kind]
        v = kind_version(self.a, m, k.group, kind)
        return CpView(kind, self.a._get(m, k.group, v, m.plurals[(k.group, v)][kind], ns, ref["name"]))

    def _observe(self, m: _Mgmt, ns: str, name: str) -> tuple[dict[str, Any], CpView | None, list[PoolView]]:
        c = self.a._get(m, CAPI, self.a._served(m, CAPI), "clusters", ns, name)
        ref = get(c, "spec", "controlPlaneRef", default={}) or {}
        cp = self._cp(m, ns, ref) if ref.get("kind") in CONTROL_PLANES else None
        return c, cp, self._pools(m, ns, name)

    # ---- offers --------------------------------------------------------------------------------------------
    def _allowed(self, kind: str, current: str) -> tuple[str, ...]:
        listed = self.a.settings.versions.get(kind, [])
        try:
            floor = parse_version(current)
            return tuple(sorted((v for v in listed if parse_version(v) >= floor), key=parse_version))
        except InvalidVersion:
            return tuple(listed)

    def _pool_offers(self, cp_kind: str | None, p: PoolView) -> tuple[str, ...]:
        if cp_kind is not None:
            return self._allowed(cp_kind, p.version)
        kind = p.infra_ref.kind
        if kind in self.a.settings.images:
            return self.a._offered([kind], p.version)
        return self._allowed(MP, p.version)

    def offers_for(self, cp: CpView | None, pools: list[PoolView]) -> dict[str, tuple[str, ...]]:
        return {p.name: self._pool_offers(cp.kind if cp else None, p) for p in pools}

    # ---- discovery -----------------------------------------------------------------------------------------
    def build(self, m: _Mgmt, c: dict[str, Any], ref: dict[str, Any],
              listed: list[dict[str, Any]] | None = None) -> Cluster:
        """A Cluster whose control plane is a managed one (``listed``: its MachinePools, see ``_pools``)."""
        ns, name = c["metadata"]["namespace"], c["metadata"]["name"]
        cp = self._cp(m, ns, ref)
        pools = self._pools(m, ns, name, listed)
        offers = self.offers_for(cp, pools)
        extra = {"managementCluster": m.name, "namespace": ns, "capiVersion": self.a._served(m, CAPI),
                 "topology": False, "clusterClass": None,
                 "controlPlane": {"kind": cp.kind, "name": cp.name, "version": cp.version, "cloud": cp.k.cloud,
                                  "apiVersion": kind_version(self.a, m, cp.k.group, cp.kind)},
                 "machineDeployments": {}, "machinePools": self._pool_extra(pools),
                 "paused": [f"Cluster {name}"] if get(c, "spec", "paused") else [],
                 "holdUpgradeSequence": [], "deferUpgrade": []}
        return Cluster(provider=self.a.name, location=f"{m.name}/{ns}", name=name, control_plane=cp.current_version,
                       node_pools=self._node_pools(pools, offers), labels=dict(c["metadata"].get("labels") or {}),
                       provider_type=self.a.type, available=self._allowed(cp.kind, cp.current_version),
                       healthy=cp.ready, upgrading=cp.busy or any(not p.settled() for p in pools), extra=extra,
                       facts={"controlPlaneKind": cp.kind,
                              **({"clusterType": str(get(cp.obj, "spec", "clusterType"))}
                                 if get(cp.obj, "spec", "clusterType") else {})})

    @staticmethod
    def _pool_extra(pools: list[PoolView]) -> dict[str, Any]:
        return {p.name: {"replicas": p.replicas, "infrastructureKind": p.infra_ref.kind,
                         "infrastructureName": p.infra_ref.name} for p in pools}

    @staticmethod
    def _node_pools(pools: list[PoolView], offers: dict[str, tuple[str, ...]]) -> tuple[NodePool, ...]:
        return tuple(NodePool(p.name, p.infra_version or p.version, p.replicas, available=offers[p.name],
                              healthy=p.ready_replicas >= p.replicas, upgrading=not p.settled()) for p in pools)

    def extend(self, m: _Mgmt, cluster: Cluster, listed: list[dict[str, Any]] | None = None) -> Cluster:
        """A kubeadm cluster plus its MachinePools (next to its MachineDeployments; ``listed``: see ``_pools``)."""
        ns = str((cluster.extra or {}).get("namespace"))
        pools = self._pools(m, ns, cluster.name, listed)
        if not pools:
            return cluster
        extra = {**(cluster.extra or {}), "machinePools": self._pool_extra(pools)}
        return dataclasses.replace(cluster, node_pools=cluster.node_pools + self._node_pools(pools, self.offers_for(
            None, pools)), extra=extra, upgrading=cluster.upgrading or any(not p.settled() for p in pools))

    # ---- steps ---------------------------------------------------------------------------------------------
    def is_pool(self, cluster: Cluster, step: Step) -> bool:
        return step.component is Component.NODE_POOL and step.pool in ((cluster.extra or {}).get("machinePools") or {})

    def check_step(self, cluster: Cluster, step: Step) -> list[str]:
        extra = cluster.extra or {}
        cp_kind = (extra.get("controlPlane") or {}).get("kind")
        to = step.to if step.to.startswith("v") else f"v{step.to}"
        w: list[str] = [f"{what} is paused: its controllers will not act until it is resumed"
                        for what in extra.get("paused") or []]
        if cp_kind in CONTROL_PLANES:
            if not any(same_version(v, to) for v in self.a.settings.versions.get(cp_kind, [])):
                w.append(f"blocked: {to} is not in settings.versions.{cp_kind} (the versions "
                         f"{CONTROL_PLANES[cp_kind].cloud} offers); nothing will be changed")
            if step.component is Component.CONTROL_PLANE:
                if step.max_surge or step.max_unavailable or step.strategy == "blue-green":
                    w.append(f"{cp_kind}: the cloud upgrades the control plane; budgets do not apply")
                return w
        pool = (extra.get("machinePools") or {}).get(step.pool or "")
        if pool is None:
            return [*w, f"blocked: MachinePool {step.pool} not found"]
        kind = pool["infrastructureKind"]
        image = self._image(kind, to)
        w += compute_infra_patch(kind, step, to, image)[1]
        if kind not in POOL_IMAGE_FIELDS and cp_kind not in CONTROL_PLANES and \
                not any(same_version(v, to) for v in self.a.settings.versions.get(MP, [])):
            w.append(f"blocked: {to} is not in settings.versions.MachinePool; nothing will be changed")
        return w

    def _image(self, kind: str, to: str) -> str | None:
        return next((img for v, img in self.a.settings.images.get(kind, {}).items() if same_version(v, to)), None)

    def start(self, m: _Mgmt, cluster: Cluster, step: Step, to: str) -> OperationRef:
        ns = str((cluster.extra or {}).get("namespace"))
        _, cp, pools = self._observe(m, ns, cluster.name)
        if step.component is Component.CONTROL_PLANE:
            if cp is None:
                raise PermanentProviderError(f"cluster {ns}/{cluster.name} has no managed control plane",
                                             provider=self.a.name, code="400")
            return self._start_cp(m, cluster, step, to, cp)
        pool = next((p for p in pools if p.name == step.pool), None)
        if pool is None:
            raise PermanentProviderError(f"MachinePool {ns}/{step.pool} not found for cluster {cluster.name}",
                                         provider=self.a.name, code="404")
        ceiling = cp.current_version if cp else cluster.control_plane
        return self._start_pool(m, cluster, step, to, pool, cp.kind if cp else None, ceiling)

    def _check_allowed(self, kind: str, what: str, current: str, to: str, one_minor: bool) -> None:
        cur, new = parse_version(current), parse_version(to)
        if new < cur:
            raise PermanentProviderError(f"{what}: downgrade {current} -> {to} is not supported",
                                         provider=self.a.name, code="400")
        if one_minor and new.minors_from(cur) > 1:
            raise PermanentProviderError(f"{what}: one minor at a time ({current} -> {to})", provider=self.a.name,
                                         code="400")
        listed = self.a.settings.versions.get(kind)
        if listed is not None and not any(same_version(v, to) for v in listed):
            raise PermanentProviderError(f"{what}: {to} is not in settings.versions.{kind}", provider=self.a.name,
                                         code="400")

    def _start_cp(self, m: _Mgmt, cluster: Cluster, step: Step, to: str, cp: CpView) -> OperationRef:
        if same_version(cp.version, to):
            return self._op(m, cluster, step, cp.kind, cp.namespace, cp.name, to, 0)
        if cp.busy:
            raise TemporaryProviderError(f"{cp.kind} {cp.namespace}/{cp.name} is still upgrading to {cp.version}",
                                         provider=self.a.name, code="409", retry_after=60.0)
        self._check_allowed(cp.kind, f"{cp.kind} {cp.name}", cp.current_version, to, one_minor=True)
        if cp.kind not in self.a.settings.versions:
            raise PermanentProviderError(f"{cp.kind} {cp.name}: settings.versions.{cp.kind} lists no versions",
                                         provider=self.a.name, code="400")
        k = cp.k
        v = kind_version(self.a, m, k.group, cp.kind)
        self.a._patch(m, k.group, v, m.plurals[(k.group, v)][cp.kind], cp.namespace, cp.name, compute_cp_patch(cp, to))
        _log.info("capi: %s %s/%s -> %s", cp.kind, cp.namespace, cp.name, to,
                  extra={"provider": self.a.name, "cluster": cluster.id, "operation": step.key})
        return self._op(m, cluster, step, cp.kind, cp.namespace, cp.name, to, 0)

    def _start_pool(self, m: _Mgmt, cluster: Cluster, step: Step, to: str, p: PoolView, cp_kind: str | None,
                    ceiling: str) -> OperationRef:
        if p.asks_for(to):
            return self._op(m, cluster, step, MP, p.namespace, p.name, to, p.generation)
        if not p.settled():
            raise TemporaryProviderError(f"MachinePool {p.namespace}/{p.name} is still rolling out {p.version}",
                                         provider=self.a.name, code="409", retry_after=60.0)
        if parse_version(to) > parse_version(ceiling):
            raise PermanentProviderError(f"MachinePool {p.name}: {to} is newer than the control plane ({ceiling})",
                                         provider=self.a.name, code="400")
        kind = p.infra_ref.kind
        image = self._image(kind, to)
        patch, warnings = compute_infra_patch(kind, step, to, image)
        if any(w.startswith("blocked:") for w in warnings):
            raise PermanentProviderError(f"MachinePool {p.name}: " + "; ".join(w for w in warnings
                                                                                if w.startswith("blocked:")),
                                         provider=self.a.name, code="400")
        if cp_kind is not None:
            self._check_allowed(cp_kind, f"MachinePool {p.name}", p.version, to, one_minor=False)
        elif kind not in POOL_IMAGE_FIELDS:
            self._check_allowed(MP, f"MachinePool {p.name}", p.version, to, one_minor=False)
        if patch is not None:
            ref = p.infra_ref
            iv = kind_version(self.a, m, ref.group, kind)
            self.a._patch(m, ref.group, iv, m.plurals[(ref.group, iv)][kind], p.namespace, ref.name, patch)
        out = PoolView(p.capi, self.a._patch(m, CAPI, p.capi, "machinepools", p.namespace, p.name,
                                             compute_pool_patch(p, to)), p.infra)
        _log.info("capi: MachinePool %s/%s (%s) -> %s", p.namespace, p.name, kind, to,
                  extra={"provider": self.a.name, "cluster": cluster.id, "operation": step.key})
        return self._op(m, cluster, step, MP, p.namespace, p.name, to, out.generation)

    def _op(self, m: _Mgmt, cluster: Cluster, step: Step, kind: str, ns: str, name: str, to: str,
            generation: int) -> OperationRef:
        data = {"managementCluster": m.name, "namespace": ns, "kind": kind, "name": name, "generation": generation,
                "version": to, "startedAt": iso(self.a.clock.now())}
        return OperationRef(f"{m.name}/{ns}/{kind}/{name}@{to}", cluster.id, step.key, data)

    # ---- poll ----------------------------------------------------------------------------------------------
    def poll(self, m: _Mgmt, d: dict[str, Any]) -> OperationStatus:
        ns, name, kind, to = d["namespace"], d["name"], d["kind"], d["version"]
        if kind in CONTROL_PLANES:
            cp = self._cp(m, ns, {"kind": kind, "name": name})
            if not same_version(cp.version, to):
                return OperationStatus(OperationState.FAILED, f"{kind} {ns}/{name} now asks for {cp.version}: the "
                                       f"step to {to} was superseded")
            failed = [x for x in get(cp.obj, "status", "conditions", default=[]) or []
                      if x.get("status") == "False" and x.get("severity") == "Error"]
            if failed:
                return OperationStatus(OperationState.FAILED, f"{kind} {name}: " + "; ".join(
                    f"{x.get('type')} {x.get('reason')}: {x.get('message')}" for x in failed))
            if not cp.busy:
                return OperationStatus(OperationState.SUCCEEDED, f"{kind} {name}: {CONTROL_PLANES[kind].cloud} "
                                       f"reports {cp.current_version}", 1.0)
            done, progress, message = False, 0.5, f"{kind} {name}: the cloud is upgrading to {to}"
        else:
            mv = kind_version(self.a, m, CAPI, MP)
            pool = PoolView(mv, self.a._get(m, CAPI, mv, "machinepools", ns, name), None)
            if not same_version(pool.version, to):
                return OperationStatus(OperationState.FAILED, f"MachinePool {ns}/{name} now asks for {pool.version}: "
                                       f"the step to {to} was superseded")
            done, progress, message = compute_pool_rollout(pool, to, int(d.get("generation") or 0))
            if done:
                return OperationStatus(OperationState.SUCCEEDED, message, 1.0)
        timeout = self.a.settings.rollout_timeout_seconds
        started = datetime.fromisoformat(str(d["startedAt"])) if d.get("startedAt") else None
        if timeout and started and (self.a.clock.now() - started).total_seconds() > timeout:
            return OperationStatus(OperationState.FAILED, f"rollout not finished after {timeout}s: {message}")
        return OperationStatus(OperationState.RUNNING, message, progress, poll_after=self.a.settings.poll_interval_seconds)

    def check_health(self, m: _Mgmt, cluster: Cluster) -> CheckOutcome:
        """cluster-health of a managed cluster: the control plane reports ready (no Error condition) and every
        MachinePool has all its replicas ready."""
        ns = str((cluster.extra or {}).get("namespace"))
        _, cp, pools = self._observe(m, ns, cluster.name)
        problems: list[str] = []
        if cp is not None:
            problems += [] if cp.ready else [f"{cp.kind} {cp.name} is not ready"]
            problems += [f"{cp.kind} {cp.name}: {x.get('reason')}: {x.get('message')}" for x in
                         get(cp.obj, "status", "conditions", default=[]) or []
                         if x.get("status") == "False" and x.get("severity") == "Error"]
        problems += [f"MachinePool {p.name}: {p.ready_replicas}/{p.replicas} ready" for p in pools
                     if p.ready_replicas < p.replicas]
        evidence = {"controlPlane": cp.kind if cp else None, "pools": {p.name: p.ready_replicas for p in pools}}
        if problems:
            return CheckOutcome(CheckResult.FAIL, "; ".join(problems), evidence)
        return CheckOutcome(CheckResult.PASS, "control plane ready, every MachinePool ready", evidence)

    def check_nodes_ready(self, m: _Mgmt, cluster: Cluster, step: Step, to: str) -> CheckOutcome:
        """nodes-ready after a step: a managed control plane reports ``to`` and ready; a MachinePool reports every
        replica at ``to`` (``status.versions``) and ready, its controller having observed the spec."""
        ns = str((cluster.extra or {}).get("namespace"))
        _, cp, pools = self._observe(m, ns, cluster.name)
        if step.component is Component.CONTROL_PLANE:
            if cp is None:
                return CheckOutcome(CheckResult.ERROR, f"cluster {cluster.name} has no managed control plane", {})
            ok = cp.ready and not cp.busy and same_version(cp.version, to)
            evidence: dict[str, Any] = {"kind": cp.kind, "spec": cp.version, "status": cp.current_version,
                                        "ready": cp.ready}
            return CheckOutcome(CheckResult.PASS if ok else CheckResult.FAIL,
                                f"{cp.kind} {cp.name}: {cp.current_version}" + ("" if ok else f", not ready at {to}"),
                                evidence)
        pool = next((p for p in pools if p.name == step.pool), None)
        if pool is None:
            return CheckOutcome(CheckResult.ERROR, f"MachinePool {ns}/{step.pool} not found", {"pool": step.pool})
        done, _, message = compute_pool_rollout(pool, to, 0)
        return CheckOutcome(CheckResult.PASS if done else CheckResult.FAIL, message,
                            {"pool": pool.name, "versions": pool.versions(), "ready": pool.ready_replicas,
                             "replicas": pool.replicas})

    def offers(self, m: _Mgmt, cluster: Cluster) -> VersionOffers:
        ns = str((cluster.extra or {}).get("namespace"))
        _, cp, pools = self._observe(m, ns, cluster.name)
        cp_offers = self._allowed(cp.kind, cp.current_version) if cp else ()
        return VersionOffers(cp_offers, self.offers_for(cp, pools))
