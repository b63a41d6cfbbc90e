"""CapiProvider: Cluster API management clusters through the official ``kubernetes`` client.

A workload cluster is a ``clusters.cluster.x-k8s.io`` object with a KubeadmControlPlane (the control plane)
and MachineDeployments labelled ``cluster.x-k8s.io/cluster-name`` (the node pools). The API version the
server serves is used (v1beta2 preferred, v1beta1 supported; see objects.py for the field paths).

Steps, the way an operator does them by hand:
- control plane: copy the KCP's infrastructure machine template under a new name with the image for the
  target version (settings.images), create it, then merge-patch the KCP (``version``, ``infrastructureRef``,
  ``maxSurge`` 0|1) with a resourceVersion precondition;
- node pool: the same for a MachineDeployment (``spec.template.spec.version``, ``infrastructureRef``,
  ``maxSurge``/``maxUnavailable``, ``minReadySeconds``, drain timeout);
- managed topology (ClusterClass): patch ``Cluster.spec.topology.version``; CAPI sequences the rest. When the
  ClusterClass lists ``spec.kubernetesVersions`` (rules.py), those are the offers and the only versions
  sent (the Cluster webhook refuses any other); otherwise the image map is the allow-list.
MachinePools (next to MachineDeployments), managed control planes (CAPA AWSManagedControlPlane, CAPOCI
OCIManagedControlPlane, CAPZ AzureManagedControlPlane, CAPG GCPManagedControlPlane) and their machine pools:
managed.py / pools.py. BYOH (ByoMachineTemplate): no template copy, the version selects the installer bundle.
Templates are never edited in place. A step is done when the status reports every replica up to date and
available at the new version and ``observedGeneration`` caught up. ``start`` is idempotent: an object whose
spec already asks for ``step.to`` yields an operation for it and nothing is created.

Rate limits (the provider kit, fleet.ratelimit; docs/scale.md): the scope is one management cluster (its API
server). Discovery reads each management cluster on its own worker (``limiter.spread``) and every GET of
discovery and of ``offers`` (API groups, a group version's resources, lists, gets) takes one token of its
management cluster's bucket and is counted per scope (``_read``); a 429 with Retry-After pauses that
management cluster only and the read is retried. Starts, polls and checks go straight to the API server (their
temporary errors are the step machine's to retry).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from fleet.clock import Clock, SystemClock, iso
from fleet.errors import PermanentProviderError, TemporaryProviderError
from fleet.provider import (
    BuiltinCheck,
    CheckOutcome,
    CheckResult,
    Cluster,
    Component,
    NodePool,
    OperationRef,
    OperationState,
    OperationStatus,
    RollbackSupport,
    Step,
    UpgradeRules,
    VersionOffers,
    import_optional,
)
from fleet.ratelimit import ScopeLimiter
from fleet.versions import InvalidVersion, parse_version
from providers.capi import gates
from providers.capi.budget import compute_kcp_surge, compute_pool_knobs, compute_warnings
from providers.capi.errors import translate
from providers.capi.managed import ManagedOps, kind_version
from providers.capi.objects import (
    CLUSTER_NAME_LABEL,
    CONTROL_PLANE_NAME_LABEL,
    DEPLOYMENT_NAME_LABEL,
    ClusterView,
    KcpView,
    MdView,
    Ref,
    capi_version,
    compute_kcp_patch,
    compute_md_patch,
    compute_rollout,
    compute_template_copy,
    compute_topology_patch,
    failed_machines,
    get,
    observe_gitops,
    rolling,
    same_version,
    topology_annotations,
)
from providers.capi.pools import CONTROL_PLANES as MANAGED_CONTROL_PLANES
from providers.capi.rules import Facts, compute_rules
from providers.capi.settings import CapiSettings, ManagementCluster, parse_settings
from providers.checks_base import guarded

CAPI = "cluster.x-k8s.io"
BYOH = ("ByoMachineTemplate",)         # template kinds whose Machine version selects an installer bundle, no image
CP = "controlplane.cluster.x-k8s.io"
KCP = "KubeadmControlPlane"
MD = "MachineDeployment"
_log = logging.getLogger("providers.capi")


def _override_server(doc: dict[str, Any], context: str | None, server: str) -> None:
    """Point the (given or current) context's cluster at ``server``."""
    ctx_name = context or doc.get("current-context")
    ctx = next((c.get("context") or {} for c in doc.get("contexts") or [] if c.get("name") == ctx_name), {})
    for c in doc.get("clusters") or []:
        if c.get("name") == ctx.get("cluster"):
            c.setdefault("cluster", {})["server"] = server


@dataclass
class _Mgmt:
    """One management cluster: its API client and what discovery told us."""

    name: str
    settings: ManagementCluster
    custom: Any = None
    apis: Any = None
    groups: dict[str, tuple[list[str], str]] | None = None
    plurals: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)


class CapiProvider:
    """Settings: see providers/capi/settings.py (managementClusters, namespaces, images, imageFields,
    endpoint, controlPlaneMaxSurge, requestTimeoutSeconds, rolloutTimeoutSeconds, pollIntervalSeconds,
    apiRatePerSecond, apiBurst, apiConcurrency)."""

    facts_model = Facts            # the per-cluster facts of an inventory cluster (rules.py)

    @classmethod
    def upgrade_rules(cls, cluster: Cluster) -> UpgradeRules:
        return compute_rules(cluster)

    type = "capi"
    settings_model = CapiSettings   # the schema of this provider's settings (FleetConfig validates against it)

    def __init__(self, name: str = "capi", settings: Mapping[str, Any] | None = None, *, clock: Clock | None = None,
                 config_dir: str | None = None, **_: Any):
        self.name = name
        self.settings: CapiSettings = parse_settings(dict(settings or {}))
        self.clock = clock or SystemClock()
        self._base = Path(config_dir) if config_dir else None
        import_optional("kubernetes", "capi")
        t = self.settings.request_timeout_seconds
        self._timeout = (min(5.0, t), t)
        self._mgmts = {mc.name or mc.context or f"mgmt{i}": _Mgmt(mc.name or mc.context or f"mgmt{i}", mc)
                       for i, mc in enumerate(self.settings.management_clusters)}
        self._managed = ManagedOps(self)         # MachinePools and managed control planes (managed.py)
        # bounded concurrency and a token bucket per management cluster, on this provider's clock (docs/scale.md)
        s = self.settings
        self.limiter = ScopeLimiter(name, s.api_rate_per_second, s.api_burst, concurrency=s.api_concurrency,
                                    clock=self.clock)
        self._local = threading.local()          # .metered: this thread reads for discovery or offers

    # ---- the SDK boundary ----------------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, _request_timeout=self._timeout, **kwargs)
        except Exception as exc:
            err = translate(exc, provider=self.name, operation=what)
            if err is None:
                raise
            raise err from exc

    def _read(self, m: _Mgmt, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Every GET of management cluster ``m``. While metered (discovery, offers): through the limiter, one
        token of ``m``'s bucket, counted per scope, Retry-After honoured; otherwise (starts, polls, checks)
        straight to the API server."""
        if getattr(self._local, "metered", False):
            return self.limiter.call(m.name, lambda: self._call(what, fn, *args, **kwargs))
        return self._call(what, fn, *args, **kwargs)

    @contextmanager
    def _metered(self) -> Iterator[None]:
        """The reads of this thread inside go through the limiter (``_read``)."""
        before = getattr(self._local, "metered", False)
        self._local.metered = True
        try:
            yield
        finally:
            self._local.metered = before

    def _connect(self, m: _Mgmt) -> _Mgmt:
        if m.custom is not None:
            return m
        from kubernetes import client
        from kubernetes.config.kube_config import KubeConfigLoader
        path = Path(m.settings.kubeconfig).expanduser()
        if not path.is_absolute() and self._base is not None:
            path = self._base / path
        if not path.is_file():
            raise PermanentProviderError(f"management cluster {m.name}: kubeconfig {path} not found",
                                         provider=self.name, code="config")
        what = f"management cluster {m.name}: load kubeconfig {path}"
        try:
            doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise PermanentProviderError(f"{what}: {exc}", provider=self.name, code="config") from exc
        endpoint = m.settings.endpoint or self.settings.endpoint
        if endpoint:
            # the override goes into the kubeconfig data: the loader re-applies the server on every token refresh
            _override_server(doc, m.settings.context, endpoint.rstrip("/"))
        cfg = client.Configuration()
        try:
            KubeConfigLoader(config_dict=doc, active_context=m.settings.context,
                             config_base_path=str(path.parent)).load_and_set(cfg)
        except Exception as exc:
            err = translate(exc, provider=self.name, operation=what)
            if err is None:
                raise
            raise err from exc
        cfg.retries = 0                        # no hidden retries: poll() never blocks; the engine retries
        api = client.ApiClient(cfg)
        m.custom, m.apis = client.CustomObjectsApi(api), client.ApisApi(api)
        return m

    def _mgmt(self, name: str) -> _Mgmt:
        m = self._mgmts.get(name)
        if m is None:
            raise PermanentProviderError(f"unknown management cluster {name!r}", provider=self.name, code="404")
        return self._connect(m)

    def _served(self, m: _Mgmt, group: str) -> str:
        """The CAPI version to use for ``group``: v1beta2 when served, else v1beta1."""
        if m.groups is None:
            res = self._read(m, f"{m.name}: discover API groups", m.apis.get_api_versions)
            m.groups = {g.name: ([v.version for v in g.versions],
                                 g.preferred_version.version if g.preferred_version else g.versions[0].version)
                        for g in res.groups}
        versions = (m.groups.get(group) or ([], ""))[0]
        for v in ("v1beta2", "v1beta1"):
            if v in versions:
                return v
        raise PermanentProviderError(f"{m.name}: {group} v1beta1/v1beta2 is not served (is Cluster API installed?)",
                                     provider=self.name, code="404")

    def _plural(self, m: _Mgmt, group: str, version: str, kind: str) -> str:
        if (group, version) not in m.plurals:
            res = self._read(m, f"{m.name}: discover {group}/{version}", m.custom.get_api_resources, group, version)
            m.plurals[(group, version)] = {r.kind: r.name for r in res.resources if "/" not in r.name}
        plural = m.plurals[(group, version)].get(kind)
        if plural is None:
            raise PermanentProviderError(f"{m.name}: {kind} is not served in {group}/{version}", provider=self.name,
                                         code="404")
        return plural

    def _list(self, m: _Mgmt, group: str, version: str, plural: str, ns: str | None,
              selector: str | None = None) -> list[dict[str, Any]]:
        what = f"{m.name}: list {plural}" + (f" in {ns}" if ns else "")
        kw = {"label_selector": selector} if selector else {}
        if ns is None:
            res = self._read(m, what, m.custom.list_cluster_custom_object, group, version, plural, **kw)
        else:
            res = self._read(m, what, m.custom.list_namespaced_custom_object, group, version, ns, plural, **kw)
        return list(res.get("items") or [])

    def _get(self, m: _Mgmt, group: str, version: str, plural: str, ns: str, name: str) -> dict[str, Any]:
        return self._read(m, f"{m.name}: get {plural} {ns}/{name}", m.custom.get_namespaced_custom_object, group,
                          version, ns, plural, name)

    def _patch(self, m: _Mgmt, group: str, version: str, plural: str, ns: str, name: str,
               body: dict[str, Any]) -> dict[str, Any]:
        return self._call(f"{m.name}: patch {plural} {ns}/{name}", m.custom.patch_namespaced_custom_object, group,
                          version, ns, plural, name, body, _content_type="application/merge-patch+json")

    # ---- observe -------------------------------------------------------------------------------------------
    def _observe(self, m: _Mgmt, ns: str, name: str) -> tuple[dict[str, Any], KcpView, list[MdView]]:
        cv, kv = self._served(m, CAPI), kind_version(self, m, CP, KCP)
        c = self._get(m, CAPI, cv, "clusters", ns, name)
        ref = get(c, "spec", "controlPlaneRef", default={}) or {}
        if ref.get("kind") != KCP:
            raise PermanentProviderError(f"cluster {ns}/{name}: control plane {ref.get('kind')} is not a "
                                         "KubeadmControlPlane", provider=self.name, code="400")
        kcp = KcpView(kv, self._get(m, CP, kv, "kubeadmcontrolplanes", ns, ref["name"]))
        mds = [MdView(cv, o) for o in self._list(m, CAPI, cv, "machinedeployments", ns,
                                                  f"{CLUSTER_NAME_LABEL}={name}")]
        return c, kcp, sorted(mds, key=lambda v: v.name)

    def _class_versions(self, m: _Mgmt, c: dict[str, Any]) -> list[str] | None:
        """``spec.kubernetesVersions`` of the Cluster's ClusterClass (None: no topology, no list, or no class)."""
        topo = get(c, "spec", "topology")
        if not topo:
            return None
        name = get(topo, "classRef", "name") or get(topo, "class")
        ns = get(topo, "classRef", "namespace") or get(topo, "classNamespace") or c["metadata"]["namespace"]
        if not name:
            return None
        try:
            cc = self._get(m, CAPI, self._served(m, CAPI), "clusterclasses", ns, name)
        except PermanentProviderError as exc:
            if exc.code == "404":
                return None
            raise
        versions = get(cc, "spec", "kubernetesVersions")
        return [str(v) for v in versions] if versions else None

    def _locate(self, cluster: Cluster) -> tuple[_Mgmt, str]:
        extra = cluster.extra or {}
        mgmt, ns = extra.get("managementCluster"), extra.get("namespace")
        if not mgmt or not ns:
            mgmt, _, ns = cluster.location.partition("/")
        return self._mgmt(str(mgmt)), str(ns)

    def _allow_list(self) -> dict[str, dict[str, str]]:
        """settings.images plus settings.versions of template kinds without an image (BYOH ByoMachineTemplate: the
        Machine's version selects the installer bundle)."""
        extra = {k: {capi_version(v): "" for v in vs} for k, vs in self.settings.versions.items() if k in BYOH}
        return {**self.settings.images, **extra}

    def _offered(self, kinds: list[str], current: str) -> tuple[str, ...]:
        """Versions >= ``current`` that have an image for every kind (the image map is the allow-list)."""
        sets = [set(self._allow_list().get(k, {})) for k in kinds]
        common = set.intersection(*sets) if sets else set()
        try:
            floor = parse_version(current)
            return tuple(sorted((v for v in common if parse_version(v) >= floor), key=parse_version))
        except InvalidVersion:
            return tuple(sorted(common, key=parse_version))

    def _offers_for(self, c: dict[str, Any], kcp: KcpView, mds: list[MdView],
                    class_versions: list[str] | None = None) -> VersionOffers:
        if class_versions:
            cp = _at_or_above(class_versions, get(c, "spec", "topology", "version", default=kcp.current_version))
            return VersionOffers(cp, {md.name: cp for md in mds})
        if get(c, "spec", "topology"):
            kinds = sorted({kcp.infra_ref.kind} | {md.infra_ref.kind for md in mds})
            cp = self._offered(kinds, get(c, "spec", "topology", "version", default=kcp.current_version))
            return VersionOffers(cp, {md.name: cp for md in mds})
        return VersionOffers(self._offered([kcp.infra_ref.kind], kcp.current_version),
                             {md.name: self._offered([md.infra_ref.kind], md.version) for md in mds})

    def _build(self, m: _Mgmt, c: dict[str, Any], kcp: KcpView, mds: list[MdView]) -> Cluster:
        meta = c["metadata"]
        ns, name = meta["namespace"], meta["name"]
        topo = get(c, "spec", "topology")
        class_versions = self._class_versions(m, c)
        offers = self._offers_for(c, kcp, mds, class_versions)
        pools = tuple(NodePool(md.name, md.version, md.replicas, available=offers.for_pool(md.name),
                               healthy=md.available >= md.replicas, upgrading=rolling(md)) for md in mds)
        paused = ([f"Cluster {name}"] if get(c, "spec", "paused") else []) + \
                 [f"{v.kind} {v.name}" for v in [kcp, *mds] if v.paused]
        extra: dict[str, Any] = {
            "managementCluster": m.name, "namespace": ns, "capiVersion": kcp.capi, "topology": bool(topo),
            "clusterClass": (get(topo, "classRef", "name") or get(topo, "class")) if topo else None,
            "controlPlane": {"kind": KCP, "name": kcp.name, "replicas": kcp.replicas, "version": kcp.version,
                             "templateKind": kcp.infra_ref.kind, "templateName": kcp.infra_ref.name,
                             "maxSurge": kcp.max_surge},
            "machineDeployments": {md.name: {"replicas": md.replicas, "templateKind": md.infra_ref.kind,
                                             "templateName": md.infra_ref.name, "strategy": md.strategy_type,
                                             "topologyName": md.topology_name} for md in mds},
            "paused": paused, "holdUpgradeSequence": [], "deferUpgrade": []}
        if topo:
            extra.update(topology_annotations(c, mds))
        return Cluster(provider=self.name, location=f"{m.name}/{ns}", name=name, control_plane=kcp.current_version,
                       node_pools=pools, labels=dict(meta.get("labels") or {}), provider_type=self.type,
                       available=offers.control_plane, auto_upgrade=observe_gitops(c, kcp.obj),
                       healthy=kcp.available >= kcp.replicas, upgrading=rolling(kcp) or any(p.upgrading for p in pools),
                       pools_follow_control_plane=bool(topo), extra=extra,
                       facts={**({"topology": True} if topo else {}),
                              **({"clusterClassVersions": class_versions} if class_versions else {})})

    # ---- contract ------------------------------------------------------------------------------------------
    def discover(self) -> list[Cluster]:
        """Each management cluster on its own worker (``limiter.spread``, at most ``apiConcurrency`` at once),
        its reads paced by its own bucket: a slow or throttled management cluster delays only itself."""
        found = self.limiter.spread([functools.partial(self._discover_in, name) for name in self._mgmts])
        out: list[Cluster] = []
        for part in found:
            if isinstance(part, BaseException):
                raise part
            out.extend(part)
        return out

    def _discover_in(self, name: str) -> list[Cluster]:
        with self._metered():
            return self._discover_mgmt(self._mgmt(name))

    def _discover_mgmt(self, m: _Mgmt) -> list[Cluster]:
        out: list[Cluster] = []
        cv = self._served(m, CAPI)
        try:
            kv: str | None = kind_version(self, m, CP, KCP)
        except PermanentProviderError as exc:
            if exc.code != "404":
                raise
            kv = None                                  # only managed control planes are installed
        scopes: list[str | None] = [*(m.settings.namespaces or self.settings.namespaces or [])] or [None]
        for ns in scopes:
            kcps = {(o["metadata"]["namespace"], o["metadata"]["name"]): KcpView(kv or "", o)
                    for o in (self._list(m, CP, kv, "kubeadmcontrolplanes", ns) if kv else [])}
            mds: dict[tuple[str, str], list[MdView]] = {}
            for o in self._list(m, CAPI, cv, "machinedeployments", ns, CLUSTER_NAME_LABEL):
                v = MdView(cv, o)
                mds.setdefault((v.namespace, o["metadata"]["labels"][CLUSTER_NAME_LABEL]), []).append(v)
            mps = self._managed.list_pools(m, ns)        # one list per scope, not one per cluster
            for c in self._list(m, CAPI, cv, "clusters", ns):
                cns, cname = c["metadata"]["namespace"], c["metadata"]["name"]
                ref = get(c, "spec", "controlPlaneRef", default={}) or {}
                kcp = kcps.get((cns, ref.get("name", "")))
                if ref.get("kind") in MANAGED_CONTROL_PLANES:
                    try:
                        out.append(self._managed.build(m, c, ref, mps.get((cns, cname), [])))
                    except PermanentProviderError as exc:
                        if exc.code != "404":
                            raise
                        _log.info("capi: skipping cluster %s/%s: %s", cns, cname, exc,
                                  extra={"provider": self.name, "cluster": cname, "reason": str(exc)})
                    continue
                if ref.get("kind") != KCP or kcp is None:
                    _log.info("capi: skipping cluster %s/%s: no KubeadmControlPlane (%s)", cns, cname,
                              ref.get("kind"), extra={"provider": self.name, "cluster": cname,
                                                      "reason": "no KubeadmControlPlane"})
                    continue
                built = self._build(m, c, kcp, sorted(mds.get((cns, cname), []), key=lambda v: v.name))
                out.append(self._managed.extend(m, built, mps.get((cns, cname), [])))
        return out

    @staticmethod
    def _is_managed(cluster: Cluster) -> bool:
        return ((cluster.extra or {}).get("controlPlane") or {}).get("kind") in MANAGED_CONTROL_PLANES

    def offers(self, cluster: Cluster) -> VersionOffers:
        with self._metered():
            return self._offers(cluster)

    def _offers(self, cluster: Cluster) -> VersionOffers:
        m, ns = self._locate(cluster)
        if self._is_managed(cluster):
            return self._managed.offers(m, cluster)
        c, kcp, mds = self._observe(m, ns, cluster.name)
        base = self._offers_for(c, kcp, mds, self._class_versions(m, c))
        pools = self._managed.offers_for(None, self._managed._pools(m, ns, cluster.name))
        return VersionOffers(base.control_plane, {**base.node_pools, **pools}) if pools else base

    def check_step(self, cluster: Cluster, step: Step) -> list[str]:
        if self._is_managed(cluster) or self._managed.is_pool(cluster, step):
            return self._managed.check_step(cluster, step)
        extra = {**(cluster.extra or {}), "clusterClassVersions": (cluster.facts or {}).get("clusterClassVersions")}
        return compute_warnings(extra, step, self._allow_list(), self.settings.control_plane_max_surge)

    def start(self, cluster: Cluster, step: Step) -> OperationRef:
        m, ns = self._locate(cluster)
        to = capi_version(step.to)
        try:
            parse_version(to)
        except InvalidVersion:
            raise PermanentProviderError(f"{step.to!r} is not a Kubernetes version", provider=self.name,
                                         code="400") from None
        if self._is_managed(cluster) or self._managed.is_pool(cluster, step):
            return self._managed.start(m, cluster, step, to)
        c, kcp, mds = self._observe(m, ns, cluster.name)
        if get(c, "spec", "topology"):
            return self._start_topology(m, cluster, step, to, c, kcp, mds)
        if step.component is Component.CONTROL_PLANE:
            return self._start_rollout(m, cluster, step, to, kcp, kcp)
        md = next((v for v in mds if v.name == step.pool), None)
        if md is None:
            raise PermanentProviderError(f"MachineDeployment {ns}/{step.pool} not found for cluster {cluster.name}",
                                         provider=self.name, code="404")
        return self._start_rollout(m, cluster, step, to, md, kcp)

    def _start_rollout(self, m: _Mgmt, cluster: Cluster, step: Step, to: str, view: KcpView | MdView,
                       kcp: KcpView) -> OperationRef:
        if same_version(view.version, to):
            return self._op(m, cluster, step, view, to)          # already asked for: nothing new is issued
        if rolling(view):
            raise TemporaryProviderError(f"{view.kind} {view.namespace}/{view.name} is still rolling out "
                                         f"{view.version}", provider=self.name, code="409", retry_after=60.0)
        cur, new = parse_version(view.version), parse_version(to)
        if new < cur:
            raise PermanentProviderError(f"{view.kind} {view.name}: downgrade {view.version} -> {to} is not supported",
                                         provider=self.name, code="400")
        if isinstance(view, KcpView) and new.minors_from(cur) > 1:
            raise PermanentProviderError(f"{KCP} {view.name}: cannot skip a minor ({view.version} -> {to})",
                                         provider=self.name, code="400")
        if isinstance(view, MdView) and new > parse_version(kcp.current_version):
            raise PermanentProviderError(f"{MD} {view.name}: {to} is newer than the control plane "
                                         f"({kcp.current_version})", provider=self.name, code="400")
        ref = self._roll_template(m, view, to)                   # validated above: nothing half-made
        out: KcpView | MdView
        if isinstance(view, KcpView):
            surge, _ = compute_kcp_surge(step, self.settings.control_plane_max_surge)
            patch = compute_kcp_patch(view, to, ref, surge)
            out = KcpView(view.capi, self._patch(m, CP, view.capi, "kubeadmcontrolplanes", view.namespace, view.name,
                                                 patch))
        else:
            knobs, _ = compute_pool_knobs(step)
            patch = compute_md_patch(view, to, ref, knobs)
            out = MdView(view.capi, self._patch(m, CAPI, view.capi, "machinedeployments", view.namespace, view.name,
                                                patch))
        _log.info("capi: %s %s/%s -> %s with template %s", view.kind, view.namespace, view.name, to, ref["name"],
                  extra={"provider": self.name, "cluster": cluster.id, "operation": step.key})
        return self._op(m, cluster, step, out, to)

    def _image(self, kind: str, to: str) -> str:
        for v, image in self.settings.images.get(kind, {}).items():
            if same_version(v, to):
                return image
        raise PermanentProviderError(f"no image for {kind} at {to} in settings.images", provider=self.name,
                                     code="400")

    def _roll_template(self, m: _Mgmt, view: KcpView | MdView, to: str) -> dict[str, Any]:
        """Create (or find, after a crash) the copy of the object's template with the image for ``to``."""
        ref = view.infra_ref
        if ref.kind in BYOH:
            # BYOH: the template stays; the Machine's version selects the installer bundle (byomachine_controller.go
            # sets the host's k8sversion annotation from Machine.spec.version; k8sinstallerconfig_controller.go
            # builds the installer for it). The allow-list is settings.versions.ByoMachineTemplate.
            if not any(same_version(v, to) for v in self.settings.versions.get(ref.kind, [])):
                raise PermanentProviderError(f"{to} is not in settings.versions.{ref.kind} (the installer bundles "
                                             "published for BYOH)", provider=self.name, code="400")
            return ref.render(view.capi, ref.version or kind_version(self, m, ref.group, ref.kind))
        image = self._image(ref.kind, to)
        image_field = self.settings.image_field(ref.kind)
        assert image_field is not None                         # settings validation guarantees it
        version = ref.version or kind_version(self, m, ref.group, ref.kind)
        plural = self._plural(m, ref.group, version, ref.kind)
        template = self._get(m, ref.group, version, plural, view.namespace, ref.name)
        new = compute_template_copy(template, to, image, image_field)
        name = new["metadata"]["name"]
        from kubernetes.client.exceptions import ApiException
        try:
            m.custom.create_namespaced_custom_object(ref.group, version, view.namespace, plural, new,
                                                     _request_timeout=self._timeout)
        except ApiException as exc:
            if exc.status != 409:
                err = translate(exc, provider=self.name, operation=f"{m.name}: create {ref.kind} {view.namespace}/{name}")
                raise (err or exc) from exc
            existing = self._get(m, ref.group, version, plural, view.namespace, name)
            if existing.get("spec") != new["spec"]:
                raise PermanentProviderError(f"{ref.kind} {view.namespace}/{name} exists with a different spec",
                                             provider=self.name, code="409") from exc
        except Exception as exc:
            err = translate(exc, provider=self.name, operation=f"{m.name}: create {ref.kind} {view.namespace}/{name}")
            if err is None:
                raise
            raise err from exc
        return Ref(ref.group, ref.kind, name, version).render(view.capi, version)

    def _start_topology(self, m: _Mgmt, cluster: Cluster, step: Step, to: str, c: dict[str, Any], kcp: KcpView,
                        mds: list[MdView]) -> OperationRef:
        ns, name = c["metadata"]["namespace"], c["metadata"]["name"]
        current = get(c, "spec", "topology", "version", default="")
        if step.component is Component.NODE_POOL:
            md = next((v for v in mds if v.name == step.pool), None)
            if md is not None and (same_version(md.version, to) or same_version(current, to)):
                return self._op(m, cluster, step, md, to)
            raise PermanentProviderError(f"cluster {ns}/{name} has a managed topology: node pools follow "
                                         "spec.topology.version, upgrade the control plane instead",
                                         provider=self.name, code="400")
        if same_version(current, to):
            return self._op(m, cluster, step, ClusterView(kcp.capi, c), to)
        if self._topology_busy(c, kcp, mds):
            raise TemporaryProviderError(f"cluster {ns}/{name}: the topology is still rolling out {current}",
                                         provider=self.name, code="409", retry_after=60.0)
        to = self._topology_target(m, c, kcp, mds, current, to)
        cv = self._served(m, CAPI)
        out = self._patch(m, CAPI, cv, "clusters", ns, name, compute_topology_patch(c, to))
        _log.info("capi: Cluster %s/%s topology -> %s", ns, name, to, extra={"provider": self.name,
                                                                             "cluster": cluster.id,
                                                                             "operation": step.key})
        return self._op(m, cluster, step, ClusterView(cv, out), to)

    def _topology_target(self, m: _Mgmt, c: dict[str, Any], kcp: KcpView, mds: list[MdView], current: str,
                         to: str) -> str:
        """The version to write into spec.topology.version, checked as CAPI's Cluster webhook does
        (core/webhooks/admission/cluster.go): never down; with ClusterClass kubernetesVersions only a listed
        version (spelled as listed); without them at most one minor up, and the image map is the allow-list."""
        ns, name = c["metadata"]["namespace"], c["metadata"]["name"]
        cur, new = parse_version(current), parse_version(to)
        versions = self._class_versions(m, c)
        if new < cur:
            raise PermanentProviderError(f"cluster {ns}/{name}: {current} -> {to} is a downgrade", provider=self.name,
                                         code="400")
        if versions:
            listed = next((v for v in versions if same_version(v, to)), None)
            if listed is None:
                raise PermanentProviderError(
                    f"cluster {ns}/{name}: {to} is not in the ClusterClass's kubernetesVersions "
                    f"({', '.join(versions)})", provider=self.name, code="400")
            return listed
        if new.minors_from(cur) > 1:
            raise PermanentProviderError(f"cluster {ns}/{name}: {current} -> {to} is not an allowed topology "
                                         "upgrade (one minor at a time, no downgrades)", provider=self.name, code="400")
        for kind in sorted({kcp.infra_ref.kind} | {md.infra_ref.kind for md in mds}):
            self._image(kind, to)                                  # the image map is the allow-list
        return to

    @staticmethod
    def _topology_busy(c: dict[str, Any], kcp: KcpView, mds: list[MdView]) -> bool:
        """Still moving to the current topology version (held or deferred MachineDeployments aside)?"""
        current = get(c, "spec", "topology", "version", default="")
        ann = topology_annotations(c, mds)
        waiting = set(ann["holdUpgradeSequence"]) | set(ann["deferUpgrade"])
        active = [md for md in mds if (md.topology_name or md.name) not in waiting]
        observed = int(get(c, "status", "observedGeneration", default=0) or 0) >= int(get(c, "metadata", "generation",
                                                                                          default=0) or 0)
        return (not observed or not same_version(kcp.version, current) or rolling(kcp)
                or any(not same_version(md.version, current) or rolling(md) for md in active))

    def _op(self, m: _Mgmt, cluster: Cluster, step: Step, view: KcpView | MdView | ClusterView, to: str) -> OperationRef:
        data = {"managementCluster": m.name, "namespace": view.namespace, "kind": view.kind, "name": view.name,
                "generation": view.generation, "version": to, "startedAt": iso(self.clock.now())}
        return OperationRef(f"{m.name}/{view.namespace}/{view.kind}/{view.name}@{to}", cluster.id, step.key, data)

    def poll(self, cluster: Cluster, op: OperationRef) -> OperationStatus:
        d = dict(op.data)
        m = self._mgmt(str(d["managementCluster"]))
        ns, name, kind, to = d["namespace"], d["name"], d["kind"], d["version"]
        if kind == "Cluster":
            return self._poll_topology(m, d)
        if kind in MANAGED_CONTROL_PLANES or kind == "MachinePool":
            return self._managed.poll(m, d)
        if kind == KCP:
            kv = kind_version(self, m, CP, KCP)
            view: KcpView | MdView = KcpView(kv, self._get(m, CP, kv, "kubeadmcontrolplanes", ns, name))
            selector = f"{CONTROL_PLANE_NAME_LABEL}={name}"
        else:
            cv = self._served(m, CAPI)
            view = MdView(cv, self._get(m, CAPI, cv, "machinedeployments", ns, name))
            selector = f"{DEPLOYMENT_NAME_LABEL}={name}"
        if not same_version(view.version, to):
            return OperationStatus(OperationState.FAILED, f"{kind} {ns}/{name} now asks for {view.version}: the step "
                                   f"to {to} was superseded")
        machines = self._list(m, CAPI, self._served(m, CAPI), "machines", ns, selector)
        return self._judge(d, [compute_rollout(view, int(d["generation"]), to)], machines)

    def _poll_topology(self, m: _Mgmt, d: dict[str, Any]) -> OperationStatus:
        ns, name, to = d["namespace"], d["name"], d["version"]
        c, kcp, mds = self._observe(m, ns, name)
        current = get(c, "spec", "topology", "version", default="")
        if not same_version(current, to):
            return OperationStatus(OperationState.FAILED, f"Cluster {ns}/{name} topology now asks for {current}: the "
                                   f"step to {to} was superseded")
        rollouts = [compute_rollout(kcp, 0, to)] + [compute_rollout(md, 0, to) for md in mds]
        if int(get(c, "status", "observedGeneration", default=0) or 0) < int(d["generation"]):
            rollouts[0] = compute_rollout(kcp, kcp.generation + 1, to)     # not observed yet: not done
        ann = topology_annotations(c, mds)
        notes = [f"{md} held by hold-upgrade-sequence" for md in ann["holdUpgradeSequence"]] + \
                [f"{md} deferred by defer-upgrade" for md in ann["deferUpgrade"]]
        machines = self._list(m, CAPI, self._served(m, CAPI), "machines", ns, f"{CLUSTER_NAME_LABEL}={name}")
        return self._judge(d, rollouts, machines, notes)

    def _judge(self, d: dict[str, Any], rollouts: list[Any], machines: list[dict[str, Any]],
               notes: list[str] | None = None) -> OperationStatus:
        to = d["version"]
        new = [x for x in machines if same_version(get(x, "spec", "version"), to)]
        failed = failed_machines(new)
        if failed:
            return OperationStatus(OperationState.FAILED, "Machines failed during the rollout: " + "; ".join(failed))
        stale = [x for x in machines if not same_version(get(x, "spec", "version"), to)]
        message = "; ".join([r.message for r in rollouts] + (notes or []))
        if all(r.done for r in rollouts) and not stale:
            return OperationStatus(OperationState.SUCCEEDED, message, 1.0)
        timeout = self.settings.rollout_timeout_seconds
        started = datetime.fromisoformat(str(d["startedAt"])) if d.get("startedAt") else None
        if timeout and started and (self.clock.now() - started).total_seconds() > timeout:
            return OperationStatus(OperationState.FAILED, f"rollout not finished after {timeout}s: {message}")
        progress = sum(r.progress for r in rollouts) / len(rollouts)
        return OperationStatus(OperationState.RUNNING, message, progress,
                               poll_after=self.settings.poll_interval_seconds)

    # ---- safety gates (fleet.provider: BuiltinCheck; providers/capi/gates.py; docs/gates-providers.md) ----
    SUPPORTED_CHECKS = frozenset({BuiltinCheck.CLUSTER_HEALTH, BuiltinCheck.NODES_READY, BuiltinCheck.ETCD_BACKUP})

    def supported_checks(self, cluster: Cluster) -> frozenset[str]:
        if self._is_managed(cluster):
            # the cloud's control plane: no etcd to read
            return frozenset({str(BuiltinCheck.CLUSTER_HEALTH), str(BuiltinCheck.NODES_READY)})
        return frozenset(str(c) for c in self.SUPPORTED_CHECKS)

    def run_check(self, cluster: Cluster, check: str, step: Step, params: Mapping[str, Any],
                  now: datetime) -> CheckOutcome:
        runners: dict[str, Callable[[], CheckOutcome]] = {
            BuiltinCheck.CLUSTER_HEALTH: lambda: self._check_health(cluster),
            BuiltinCheck.NODES_READY: lambda: self._check_ready(cluster, step),
            BuiltinCheck.ETCD_BACKUP: lambda: self._check_etcd_backup(cluster, params, now),
        }
        return guarded(str(check), self.name, self.supported_checks(cluster), lambda: runners[str(check)]())

    @classmethod
    def rollback_support(cls, cluster: Cluster, step: Step) -> RollbackSupport | None:
        """None: Cluster API has no rollback; a KubeadmControlPlane refuses a lower ``version`` (its webhook
        allows no downgrade) and fleet does not roll MachineDeployments back to old templates."""
        return None

    def _check_health(self, cluster: Cluster) -> CheckOutcome:
        m, ns = self._locate(cluster)
        if self._is_managed(cluster):
            return self._managed.check_health(m, cluster)
        _, kcp, mds = self._observe(m, ns, cluster.name)
        machines = self._list(m, CAPI, self._served(m, CAPI), "machines", ns, f"{CLUSTER_NAME_LABEL}={cluster.name}")
        return gates.cluster_health(kcp.obj, [md.obj for md in mds], machines)

    def _check_ready(self, cluster: Cluster, step: Step) -> CheckOutcome:
        m, ns = self._locate(cluster)
        if self._is_managed(cluster) or self._managed.is_pool(cluster, step):
            return self._managed.check_nodes_ready(m, cluster, step, capi_version(step.to))
        c, kcp, mds = self._observe(m, ns, cluster.name)
        to = capi_version(step.to)
        if step.component is Component.CONTROL_PLANE and get(c, "spec", "topology"):
            # a managed topology's one step moves every Machine of the cluster
            selector, what = f"{CLUSTER_NAME_LABEL}={cluster.name}", f"Cluster {cluster.name}"
            replicas = kcp.replicas + sum(md.replicas for md in mds)
        elif step.component is Component.CONTROL_PLANE:
            selector, what, replicas = f"{CONTROL_PLANE_NAME_LABEL}={kcp.name}", f"{KCP} {kcp.name}", kcp.replicas
        else:
            md = next((v for v in mds if v.name == step.pool), None)
            if md is None:
                raise PermanentProviderError(f"MachineDeployment {ns}/{step.pool} not found for cluster "
                                             f"{cluster.name}", provider=self.name, code="404")
            selector, what, replicas = f"{DEPLOYMENT_NAME_LABEL}={md.name}", f"{MD} {md.name}", md.replicas
        machines = self._list(m, CAPI, self._served(m, CAPI), "machines", ns, selector)
        return gates.nodes_ready(what, machines, to, replicas)

    def _check_etcd_backup(self, cluster: Cluster, params: Mapping[str, Any], now: datetime) -> CheckOutcome:
        annotation, kind = params.get("annotation"), params.get("object", "Cluster")
        if not isinstance(annotation, str) or not annotation or kind not in gates.ETCD_OBJECTS:
            return CheckOutcome(CheckResult.ERROR, "etcd-backup on Cluster API needs params.annotation (the "
                                "annotation holding the newest backup's RFC 3339 time) and params.object in "
                                f"{', '.join(gates.ETCD_OBJECTS)}", {"params": dict(params)})
        m, ns = self._locate(cluster)
        c, kcp, _ = self._observe(m, ns, cluster.name)
        return gates.etcd_backup(c if kind == "Cluster" else kcp.obj, kind, annotation, params, now)


def _at_or_above(versions: list[str], current: str) -> tuple[str, ...]:
    """The listed versions not older than ``current``, oldest first, spelled as listed."""
    try:
        floor = parse_version(current)
        return tuple(sorted((v for v in versions if parse_version(v) >= floor), key=parse_version))
    except InvalidVersion:
        return tuple(versions)
