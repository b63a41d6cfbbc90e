"""A Kubernetes API server on 127.0.0.1 for Cluster API management clusters, built on the shared
EmulatorServer (providers/emulator_base.py). The official ``kubernetes`` client talks to it unchanged.

Paths (the real kube-apiserver's):
  GET /version, /api, /api/v1, /api/v1/namespaces[/{ns}], /apis, /apis/{group}, /apis/{group}/{version}
  GET|POST                 /apis/{g}/{v}/namespaces/{ns}/{plural}          list (labelSelector) / create
  GET                      /apis/{g}/{v}/{plural}                          list across namespaces
  GET|PUT|PATCH|DELETE     /apis/{g}/{v}/namespaces/{ns}/{plural}/{name}   get / replace / patch / delete
  GET|PUT|PATCH            .../{name}/status                               status subresource
Served: Cluster, ClusterClass (schema: spec.kubernetesVersions only), KubeadmControlPlane, MachineDeployment, MachineSet, Machine in ONE CAPI version
(``capi_version``, v1beta1 like CAPI <= 1.10 or v1beta2 like CAPI >= 1.11 — no conversion between them),
OCIMachineTemplate and DevMachineTemplate (``infra_version``), and coordination.k8s.io/v1 Leases.

Objects are validated against the real CRD schemas (providers/capi/emulator/crds, see schema.py) and against the
checks of the CAPI webhooks that matter here (KCP maxSurge 0|1, no minor skipped, odd replicas; a topology
version must be one of its ClusterClass's ``spec.kubernetesVersions`` when the class lists them; versions
defaulted to a leading ``v``; infrastructure templates immutable). Each check cites its webhook source below
(kubernetes-sigs/cluster-api at commit ae7ff047db499ac3858ade268ba38db8c9f128bb). Errors carry the apiserver's Status
shape (422 reason Invalid with details.causes, 409 Conflict / AlreadyExists, 404 NotFound).
``controllers.py`` simulates the CAPI controllers over the injected clock.

Faults (``inject``): ``throttle`` (429 + Retry-After, a Status with reason TooManyRequests and
``details.retryAfterSeconds``: apimachinery ``NewTooManyRequests``), ``apf-throttle`` (429 as the API server's
max-in-flight and API Priority and Fairness filters answer it: plain text "Too many requests, please try again
later." and ``Retry-After: 1``, k8s.io/apiserver pkg/server/filters/maxinflight.go ``tooManyRequests``, which
priority-and-fairness.go calls too; after authentication, as in the real filter chain), ``server-error`` (503),
``internal-error`` (500), ``forbidden`` (403), ``timeout`` for the next request; ``machine-never-ready`` / ``machine-fails`` for the
next Machine created (optionally only for one KCP / MachineDeployment: ``inject(f, target=name)``).
``upgrade_log`` lists every accepted request that changed a Kubernetes version (KCP ``spec.version``, MD
``spec.template.spec.version``, Cluster ``spec.topology.version``).

Not modelled: watch, the scale subresource, conversion between API versions, CEL validation rules,
MachineHealthCheck remediation, infrastructure Machines (OCIMachine) and bootstrap configs.

Demo use::

    emu = CapiEmulator(ScaledClock(start, 60), capi_version="v1beta2").start()
    emu.add_cluster("oci-a", "v1.29.6", pools={"md-0": 3})
    ... emu.url, emu.upgrade_log, emu.budget("MachineDeployment", "md-0") ...
    emu.stop()
"""

from __future__ import annotations

import builtins
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fleet.clock import Clock, SystemClock
from providers.capi.emulator import pools as pooling
from providers.capi.emulator import seed as seeding
from providers.capi.emulator import seed_pools
from providers.capi.emulator.controllers import (
    LABEL_CLUSTER,
    Budget,
    Controllers,
    SimMachine,
    Timings,
    version_key,
)
from providers.capi.emulator.render import Renderer
from providers.capi.emulator.schema import CRD_DIR, LEASE_TYPE, Cause, ResourceType, load_crds, resource_types
from providers.capi.emulator.store import ObjectStore, StatusError
from providers.emulator_base import EmulatorServer, Request, ServedEmulator

CAPI_GROUP = "cluster.x-k8s.io"
CP_GROUP = "controlplane.cluster.x-k8s.io"
INFRA_GROUP = "infrastructure.cluster.x-k8s.io"
_VERSION_RE = re.compile(r"^v?\d+(\.\d+){0,2}([-+][0-9A-Za-z.+-]+)?$")
_RESOURCE = (r"/apis/(?P<g>[^/]+)/(?P<v>[^/]+)(?:/namespaces/(?P<ns>[^/]+))?/(?P<plural>[^/]+)"
             r"(?:/(?P<name>[^/]+)(?:/(?P<sub>status|scale))?)?")
_FAULT_STATUS = {
    429: ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
    503: ("ServiceUnavailable", "the server is currently unable to handle the request"),
    403: ("Forbidden", 'forbidden: User "system:serviceaccount:fleet:fleet-upgrader" cannot perform this request'),
    404: ("NotFound", "the server could not find the requested resource"),
    500: ("InternalError", "Internal error occurred: simulated server error"),
}
# the max-in-flight / APF filters' answer (k8s.io/apiserver pkg/server/filters/maxinflight.go: ``retryAfter = "1"``,
# ``http.Error``, which sets text/plain and nosniff)
APF_BODY = b"Too many requests, please try again later.\n"
APF_HEADERS = {"Retry-After": "1", "Content-Type": "text/plain; charset=utf-8", "X-Content-Type-Options": "nosniff"}


@dataclass(frozen=True)
class UpgradeRequest:
    """One accepted request that changed a Kubernetes version."""

    at: datetime
    method: str
    content_type: str
    kind: str
    namespace: str
    name: str
    cluster: str
    from_version: str
    to_version: str
    body: Any


def _header(req: Request, name: str) -> str:
    """Header lookup ignoring case (clients send ``authorization`` or ``Authorization``)."""
    low = name.lower()
    return next((v for k, v in req.headers.items() if k.lower() == low), "")


def _version_of(kind: str, obj: dict[str, Any]) -> str | None:
    spec = obj.get("spec") or {}
    if kind == "KubeadmControlPlane":
        return spec.get("version")
    if kind == "MachineDeployment":
        return ((spec.get("template") or {}).get("spec") or {}).get("version")
    if kind == "Cluster":
        return (spec.get("topology") or {}).get("version")
    return pooling.version_of(kind, obj)


class CapiEmulator(ServedEmulator):
    """One emulated management cluster. ``start()``/``stop()``, ``url``, ``add_cluster(...)``, ``inject``."""

    def __init__(self, clock: Clock | None = None, *, capi_version: str = "v1beta2", infra_version: str = "v1beta2",
                 token: str | None = None, port: int = 0, timings: Timings | None = None,
                 crd_dir: str | Path | None = None):
        if capi_version not in ("v1beta1", "v1beta2"):
            raise ValueError(f"capi_version must be v1beta1 or v1beta2, not {capi_version!r}")
        self.clock = clock or SystemClock()
        self.capi_version, self.infra_version, self.token = capi_version, infra_version, token
        crds = load_crds(str(crd_dir or CRD_DIR))
        served = {CAPI_GROUP: capi_version, CP_GROUP: capi_version, INFRA_GROUP: infra_version}
        self.resource_types: list[ResourceType] = resource_types(crds, served) + [LEASE_TYPE]
        self.types = {rt.kind: rt for rt in self.resource_types}
        self._by_path = {(rt.group, rt.version, rt.plural): rt for rt in self.resource_types}
        self.store = ObjectStore(self.clock, admission=self._admit)
        self.ctrl = Controllers(self.store, self.types, self.clock, capi_version, timings,
                                render=lambda ctrl: Renderer(ctrl).render_all())
        self.pools = pooling.PoolControllers(self.store, self.types, self.ctrl.timings)
        self.ctrl.plugins.append(self.pools)
        self.upgrade_log: list[UpgradeRequest] = []
        self.apf_rejections = 0               # requests still to reject as APF does (inject("apf-throttle"))
        routes: list[tuple[str, str, Any]] = [
            ("GET", r"/version/?", self._h(self._version)),
            ("GET", r"/api/?", self._h(self._core_versions)),
            ("GET", r"/api/v1/?", self._h(self._core_resources)),
            ("GET", r"/api/v1/namespaces(?:/(?P<ns>[^/]+))?/?", self._h(self._namespaces)),
            ("GET", r"/apis/?", self._h(self._groups)),
            ("GET", r"/apis/(?P<g>[^/]+)/?", self._h(self._group)),
            ("GET", r"/apis/(?P<g>[^/]+)/(?P<v>[^/]+)/?", self._h(self._resources)),
        ]
        routes += [(m, _RESOURCE, self._h(self._resource)) for m in ("GET", "POST", "PUT", "PATCH", "DELETE")]
        self.server = EmulatorServer(routes=routes, error_body=self._fault_body, port=port)

    # ---- lifecycle, faults, inspection -------------------------------------------------------------------
    def inject(self, fault: str, target: str | None = None) -> None:
        if fault in ("machine-never-ready", "machine-fails"):
            with self.store.lock:
                self.ctrl.inject(fault, target)
        elif fault == "apf-throttle":
            with self.store.lock:
                self.apf_rejections += 1
        else:
            self.server.inject(fault)

    def set_condition(self, kind: str, name: str, ctype: str, ok: bool, reason: str = "", message: str = "",
                      namespace: str = "default") -> None:
        """Test control: force a condition of a KubeadmControlPlane, MachineDeployment or Machine (e.g. the KCP's
        EtcdClusterHealthy, a Machine's NodeHealthy) to True/False, as CAPI's controllers would report what they
        observe in the workload cluster (not modelled); ``clear_conditions`` removes every forced one."""
        with self.store.lock:
            self.ctrl.condition_overrides[(kind, namespace, name, ctype)] = (ok, reason, message)
            self.ctrl.advance()

    def clear_conditions(self) -> None:
        with self.store.lock:
            self.ctrl.condition_overrides.clear()
            self.ctrl.advance()

    def tick(self) -> None:
        """Let the simulated controllers catch up with the clock (requests do this too)."""
        self.ctrl.advance()

    def get(self, kind: str, name: str, namespace: str = "default") -> dict[str, Any]:
        with self.store.lock:
            self.ctrl.advance()
            return self.store.get(self.types[kind], namespace, name)

    def list(self, kind: str, namespace: str | None = None, selector: str | None = None) -> builtins.list[dict[str, Any]]:
        with self.store.lock:
            self.ctrl.advance()
            return self.store.list(self.types[kind], namespace, selector)

    def machines(self, namespace: str = "default", owner: str | None = None) -> builtins.list[SimMachine]:
        """Simulated Machines (incl. deleting ones); ``owner``: a KCP or MachineDeployment name."""
        with self.store.lock:
            self.ctrl.advance()
            return [m for m in self.ctrl.machines.values() if m.namespace == namespace
                    and owner in (None, m.owner if m.owner_kind == "KubeadmControlPlane" else m.deployment)]

    def budget(self, kind: str, name: str, namespace: str = "default") -> Budget:
        """Largest surge / unavailability seen for a KubeadmControlPlane or MachineDeployment."""
        with self.store.lock:
            self.ctrl.advance()
            return self.ctrl.budget.get((kind, namespace, name)) or self.pools.budget.get((kind, namespace, name),
                                                                                          Budget())

    def upgrade_calls(self, cluster: str, namespace: str | None = None) -> int:
        return sum(1 for u in self.upgrade_log if u.cluster == cluster and namespace in (None, u.namespace))

    def add_cluster(self, name: str, version: str = "v1.29.2", **kw: Any) -> dict[str, Any]:
        """Seed a workload cluster with ready Machines; see ``seed.add_cluster`` for the options."""
        with self.store.lock:
            return seeding.add_cluster(self, name, version, **kw)

    def add_managed_cluster(self, name: str, control_plane: str, version: str, **kw: Any) -> dict[str, Any]:
        """Seed a cluster with a managed control plane (``control_plane``: AWSManagedControlPlane,
        OCIManagedControlPlane, AzureManagedControlPlane or GCPManagedControlPlane) and MachinePools; see
        ``seed_pools.add_managed_cluster``."""
        with self.store.lock:
            return seed_pools.add_managed_cluster(self, name, control_plane, version, **kw)

    def add_machine_pool(self, cluster: str, name: str, version: str, infra_kind: str, **kw: Any) -> dict[str, Any]:
        """Add a MachinePool (and its infrastructure machine pool) to a cluster; see ``seed_pools.add_machine_pool``."""
        with self.store.lock:
            out = seed_pools.add_machine_pool(self, cluster, name, version, infra_kind, **kw)
            self.ctrl.advance()
            return out

    # ---- HTTP plumbing -----------------------------------------------------------------------------------
    def _fault_body(self, fault: str, status: int) -> dict[str, Any]:
        reason, message = _FAULT_STATUS.get(status, _FAULT_STATUS[500])
        out = StatusError(status, reason, message).body()
        if status in (429, 503):
            out["details"] = {"retryAfterSeconds": self.server.retry_after}
        return out

    def _h(self, fn: Any) -> Any:
        def handler(m: re.Match[str], body: Any, req: Request) -> tuple[int, Any, dict[str, str] | None]:
            if self.token is not None and _header(req, "Authorization") != f"Bearer {self.token}":
                return 401, StatusError(401, "Unauthorized", "Unauthorized").body(), None
            with self.store.lock:
                if self.apf_rejections:
                    self.apf_rejections -= 1
                    return 429, APF_BODY, dict(APF_HEADERS)
                try:
                    self.ctrl.advance()
                    return fn(m, body, req)
                except StatusError as exc:
                    return exc.code, exc.body(), None
        return handler

    # ---- discovery ---------------------------------------------------------------------------------------
    def _version(self, m: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        return 200, {"major": "1", "minor": "33", "gitVersion": "v1.33.4", "platform": "linux/amd64",
                     "compiler": "gc", "goVersion": "go1.24.6", "gitTreeState": "clean", "gitCommit": "emulated",
                     "buildDate": "2026-01-01T00:00:00Z"}, None

    def _core_versions(self, m: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        host = self.url.split("://", 1)[1]
        return 200, {"kind": "APIVersions", "versions": ["v1"],
                     "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}]}, None

    def _core_resources(self, m: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        return 200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            {"name": "namespaces", "singularName": "namespace", "namespaced": False, "kind": "Namespace",
             "verbs": ["get", "list"], "shortNames": ["ns"]}]}, None

    def _namespaces(self, m: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        def ns_obj(n: str) -> dict[str, Any]:
            return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": n}, "status": {"phase": "Active"}}
        names = self.store.namespaces()
        if m["ns"]:
            return 200, ns_obj(m["ns"]), None
        return 200, {"apiVersion": "v1", "kind": "NamespaceList", "metadata": {"resourceVersion": str(self.store.rv)},
                     "items": [ns_obj(n) for n in names]}, None

    def _group_doc(self, group: str) -> dict[str, Any]:
        versions = sorted({rt.version for rt in self.resource_types if rt.group == group}, reverse=True)
        gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
        return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs, "preferredVersion": gvs[0]}

    def _groups(self, m: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        groups = sorted({rt.group for rt in self.resource_types})
        return 200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [self._group_doc(g) for g in groups]}, None

    def _group(self, m: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        if not any(rt.group == m["g"] for rt in self.resource_types):
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        return 200, self._group_doc(m["g"]), None

    def _resources(self, m: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        rts = [rt for rt in self.resource_types if rt.group == m["g"] and rt.version == m["v"]]
        if not rts:
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        verbs = ["create", "delete", "get", "list", "patch", "update"]
        res: list[dict[str, Any]] = []
        for rt in rts:
            res.append({"name": rt.plural, "singularName": rt.singular, "namespaced": True, "kind": rt.kind,
                        "verbs": verbs, "shortNames": list(rt.short_names), "categories": list(rt.categories)})
            res += [{"name": f"{rt.plural}/{sub}", "singularName": "", "namespaced": True,
                     "kind": rt.kind if sub == "status" else "Scale", "verbs": ["get", "patch", "update"]}
                    for sub in rt.subresources]
        return 200, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{m['g']}/{m['v']}",
                     "resources": res}, None

    # ---- resources ---------------------------------------------------------------------------------------
    def _resource(self, m: re.Match[str], body: Any, req: Request) -> tuple[int, Any, dict[str, str] | None]:
        rt = self._by_path.get((m["g"], m["v"], m["plural"]))
        if rt is None:
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        ns, name, sub = m["ns"], m["name"], m["sub"]
        if sub == "scale" or (sub and sub not in rt.subresources):
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        if ns is None and (req.method != "GET" or name):
            raise StatusError(404, "NotFound", "the server could not find the requested resource")
        prune = req.param("fieldValidation") in ("Ignore", "Warn")
        if req.method == "GET":
            return self._read(rt, ns, name, req)
        if req.method == "POST":
            if name is not None:
                raise StatusError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
            obj, pruned = self.store.create(rt, ns, body, prune=prune)
            return 201, obj, self._warn(pruned)
        if name is None:
            raise StatusError(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
        if req.method == "DELETE":
            obj = self.store.delete(rt, ns, name)
            if rt.kind == "Machine":
                self.ctrl.delete_machine(ns, name)
            return 200, obj, None
        return self._write(rt, ns, name, sub, body, req, prune)

    def _read(self, rt: ResourceType, ns: str | None, name: str | None,
              req: Request) -> tuple[int, Any, dict[str, str] | None]:
        if req.param("watch") in ("true", "1"):
            raise StatusError(405, "MethodNotAllowed", "watch is not supported by this emulator")
        if name is None or ns is None:       # a list (a name without a namespace was refused above)
            items = self.store.list(rt, ns, req.param("labelSelector"))
            return 200, {"apiVersion": rt.api_version, "kind": f"{rt.kind}List",
                         "metadata": {"resourceVersion": str(self.store.rv)}, "items": items}, None
        return 200, self.store.get(rt, ns, name), None

    def _write(self, rt: ResourceType, ns: str, name: str, sub: str | None, body: Any, req: Request,
               prune: bool) -> tuple[int, Any, dict[str, str] | None]:
        """PUT (update) or PATCH of one object or its status; logs the upgrades it carries."""
        old = self.store.get(rt, ns, name)
        if req.method == "PUT":
            if not (isinstance(body, dict) and (body.get("metadata") or {}).get("resourceVersion")):
                raise StatusError(422, "Invalid", f'{rt.kind}.{rt.group} "{name}" is invalid: metadata.resourceVersion: '
                                  "Invalid value: 0x0: must be specified for an update")
            obj, pruned = self.store.update(rt, ns, name, body, subresource=sub, prune=prune)
        else:
            obj, pruned = self.store.patch(rt, ns, name, body, _header(req, "Content-Type"),
                                           subresource=sub, prune=prune)
        self._log_upgrade(rt, old, obj, req)
        return 200, obj, self._warn(pruned)

    @staticmethod
    def _warn(pruned: builtins.list[str]) -> dict[str, str] | None:
        if not pruned:
            return None
        return {"Warning": ", ".join(f'299 - "unknown field \\"{p}\\""' for p in pruned)}

    def _log_upgrade(self, rt: ResourceType, old: dict[str, Any], new: dict[str, Any], req: Request) -> None:
        before, after = _version_of(rt.kind, old), _version_of(rt.kind, new)
        if before == after or after is None:
            return
        meta = new["metadata"]
        cluster = (meta["name"] if rt.kind == "Cluster" else (meta.get("labels") or {}).get(LABEL_CLUSTER)
                   or (new.get("spec") or {}).get("clusterName") or "")
        self.upgrade_log.append(UpgradeRequest(self.clock.now(), req.method, _header(req, "Content-Type"),
                                               rt.kind, meta["namespace"], meta["name"], cluster, before or "", after,
                                               req.body))

    # ---- webhooks (CAPI / provider admission) ------------------------------------------------------------
    def _admit(self, rt: ResourceType, old: dict[str, Any] | None, new: dict[str, Any]) -> builtins.list[Cause]:
        kind, spec = rt.kind, new.get("spec") or {}
        causes: list[Cause] = pooling.admit(rt, old, new)      # MachinePool, managed control planes and pools
        if kind == "KubeadmControlPlane":
            # controlplane/kubeadm/webhooks/admission/kubeadmcontrolplane.go validateVersion: "Validate that the
            # update is upgrading at most one minor version. Note: Skipping a minor version is not allowed."
            # (Forbidden spec.version "cannot update Kubernetes version from X to Y")
            causes += self._admit_version(spec, "version", old["spec"].get("version") if old else None, "spec.version")
            path = ("rolloutStrategy",) if rt.version == "v1beta1" else ("rollout", "strategy")
            node: Any = spec
            for p in path + ("rollingUpdate",):
                node = (node or {}).get(p) if isinstance(node, dict) else None
            surge = (node or {}).get("maxSurge") if isinstance(node, dict) else None
            if surge is not None and surge not in (0, 1):
                causes.append(Cause("FieldValueRequired", "Required value: value must be 1 or 0",
                                    ".".join(("spec",) + path + ("rollingUpdate", "maxSurge"))))
            if spec.get("replicas", 1) % 2 == 0:
                causes.append(Cause("FieldValueForbidden", "Forbidden: cannot be an even number when etcd is stacked",
                                    "spec.replicas"))
        elif kind == "MachineDeployment":
            tspec = (spec.get("template") or {}).get("spec") or {}
            oldv = ((old["spec"].get("template") or {}).get("spec") or {}).get("version") if old else None
            causes += self._admit_version(tspec, "version", oldv, "spec.template.spec.version", ceiling=False)
            sel = (spec.get("selector") or {}).get("matchLabels") or {}
            labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
            if any(labels.get(k) != v for k, v in sel.items()):
                causes.append(Cause("FieldValueInvalid", "Invalid value: selector does not match template labels",
                                    "spec.template.metadata.labels"))
        elif kind == "Cluster" and spec.get("topology"):
            oldv = ((old.get("spec") or {}).get("topology") or {}).get("version") if old else None
            versions = self._class_versions(new)
            # core/webhooks/admission/cluster.go: the +2-minor ceiling is checked only when the ClusterClass lists
            # no kubernetesVersions ("shouldValidateVersionCeiling := len(clusterClass.Spec.KubernetesVersions) ==
            # 0 && ..."); with a list CAPI chains the upgrade through the listed versions itself.
            causes += self._admit_version(spec["topology"], "version", oldv, "spec.topology.version",
                                          ceiling=not versions)
            if versions and spec["topology"].get("version") not in versions:
                # core/webhooks/admission/cluster.go ValidateClusterForClusterClass: "If the ClusterClass defines a
                # list of versions, check the version is one of them." (field.Invalid spec.topology.version)
                causes.append(Cause("FieldValueInvalid", f'Invalid value: "{spec["topology"].get("version")}": '
                                    "version must match one of the versions defined in the ClusterClass",
                                    "spec.topology.version"))
        elif kind.endswith("MachineTemplate") and old is not None and \
                (old.get("spec") or {}).get("template", {}).get("spec") != spec.get("template", {}).get("spec"):
            causes.append(Cause("FieldValueInvalid", f"Invalid value: {kind}: {kind} spec.template.spec field is "
                                "immutable. Please create a new resource instead.", "spec.template.spec"))
        return causes

    def _class_versions(self, cluster: dict[str, Any]) -> builtins.list[str]:
        """``spec.kubernetesVersions`` of the Cluster's ClusterClass ([] if none or the class does not exist: the
        real webhook then only warns that the class could not be found)."""
        topo = (cluster.get("spec") or {}).get("topology") or {}
        ref = topo.get("classRef") or {}
        name = ref.get("name") or topo.get("class")
        ns = ref.get("namespace") or topo.get("classNamespace") or (cluster.get("metadata") or {}).get("namespace")
        rt = self.types.get("ClusterClass")
        cc = self.store.find(rt, ns, name) if rt is not None and name and ns else None
        return list(((cc or {}).get("spec") or {}).get("kubernetesVersions") or [])

    @staticmethod
    def _admit_version(spec: dict[str, Any], key: str, old: str | None, path: str, ceiling: bool = True) -> builtins.list[Cause]:
        v = spec.get(key)
        if v is None:
            return []
        if not _VERSION_RE.match(v):
            return [Cause("FieldValueInvalid", f'Invalid value: "{v}": must be a valid semantic version', path)]
        if not v.startswith("v"):
            spec[key] = v = "v" + v                      # the defaulting webhook adds the leading v
        if ceiling and old and old != v:
            frm, to = version_key(old), version_key(v)
            if to[:2] >= (frm[0], frm[1] + 2):
                return [Cause("FieldValueForbidden", f"Forbidden: cannot update Kubernetes version from {old} to {v}",
                              path)]
        return []
