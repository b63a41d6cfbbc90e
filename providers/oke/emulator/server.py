"""A local OKE (Container Engine for Kubernetes) emulator that the ``oci`` SDK talks to over plain http.

It speaks the ``/20180222`` REST paths, verbs, status codes and JSON shapes the SDK sends and parses
(``oci.container_engine.models``): clusters, node pools, cluster options and work requests. A path may start
with a region segment (``/us-ashburn-1/20180222/...``) so one server can stand for several regions; the
adapter's ``endpoint`` setting ``http://127.0.0.1:PORT/{region}`` produces that. Updates are accepted with
``202`` and an ``opc-work-request-id``; work requests go ACCEPTED -> IN_PROGRESS -> SUCCEEDED/FAILED over
VIRTUAL time read from the injected clock, and the cluster or node pool changes only when its work request
completes. A second update while one runs is refused with ``409 IncorrectState`` as OKE does.

Rules (sources in comments and docs/fidelity/oke.md): update bodies are checked against the oci SDK models
(spec.py); node cycling is refused on BASIC clusters and bare-metal (``BM.*``) pools; without cycling a node
pool's version changes but its nodes keep theirs; ``cycling_work_request=True`` runs the node replacement under
a separate ``NODEPOOL_CYCLING`` work request (which of the two OKE does is not documented).

Outside tests (demos)::

    emu = OkeEmulator(ScaledClock(start, 60)).start()
    emu.add_cluster("web", "v1.30.1", {"pool-a": "v1.30.1"}, available=["v1.30.1", "v1.30.10", "v1.31.1"])
    ... settings {"endpoint": emu.endpoint, "auth": emu.demo_auth(), ...}
    emu.stop()
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from fleet.clock import Clock, SystemClock, iso
from fleet.versions import parse_version
from providers.emulator_base import EmulatorServer, Request, ServedEmulator
from providers.oke.emulator.spec import SpecError, validate

API = "/20180222"
DEFAULT_REGION = "us-ashburn-1"
DEFAULT_COMPARTMENT = "ocid1.compartment.oc1..fleetdemo"
_PREFIX = r"(?:/(?P<region>[a-z][a-z0-9-]*))?" + API

# Request bodies are checked against the oci SDK's models (spec.py: UpdateClusterDetails, UpdateNodePoolDetails
# and the models they nest: property names, JSON types, enum values); anything else is refused with 400.
BASIC = "BASIC_CLUSTER"
# "You can only cycle nodes to perform an in-place managed node Kubernetes upgrade when using enhanced clusters."
# "You cannot cycle nodes with bare metal shapes." (Oracle, "Performing an In-Place Managed Node Kubernetes Upgrade
# by Cycling Nodes in an Existing Node Pool", docs.oracle.com/en-us/iaas/Content/ContEng/Tasks/
# contengupgradingk8sworkernode_topic-Performing_an_InPlace_Worker_Node_Upgrade_by_Cycling_an_Existing_Node_Pool.htm).
# Neither the page nor the API reference gives the error OKE returns for such a request: the emulator refuses it
# with 400 InvalidParameter (the API reference's generic 400 code); the status and code are NOT verified.
NOT_CYCLABLE_CODE = "InvalidParameter"
ACTIVE_WR = ("ACCEPTED", "IN_PROGRESS", "CANCELING")
_ERROR_CODES = {400: "InvalidParameter", 401: "NotAuthenticated", 403: "NotAllowed",
                404: "NotAuthorizedOrNotFound", 409: "IncorrectState", 429: "TooManyRequests",
                500: "InternalServerError", 503: "ServiceUnavailable"}
_BUDGET_RE = re.compile(r"^(\d+)(%?)$")


class _Refused(Exception):
    def __init__(self, status: int, message: str, code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code = status, message, code or _ERROR_CODES.get(status, "Error")


@dataclass
class _Pool:
    id: str
    name: str
    cluster_id: str
    compartment_id: str
    version: str
    nodes: list[dict[str, Any]]
    state: str = "ACTIVE"
    shape: str = "VM.Standard.E4.Flex"
    tags: dict[str, str] = field(default_factory=dict)
    cycling: dict[str, Any] | None = None
    eviction: dict[str, Any] | None = None


@dataclass
class _Cluster:
    id: str
    name: str
    compartment_id: str
    region: str
    version: str
    available: list[str] | None       # this cluster's options (None: the emulator-wide list)
    type: str = "ENHANCED_CLUSTER"
    state: str = "ACTIVE"
    details: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    created: str = ""
    updated_by: str | None = None
    pools: dict[str, _Pool] = field(default_factory=dict)


@dataclass
class _WorkRequest:
    id: str
    op_type: str
    compartment_id: str
    cluster_id: str
    pool_id: str | None
    target: str | None
    accepted: datetime
    duration: timedelta
    cycle: bool = False
    fail: bool = False
    then_cycle: timedelta | None = None   # NODEPOOL_UPDATE followed by its own NODEPOOL_CYCLING work request
    status: str = "ACCEPTED"
    started: datetime | None = None
    finished: datetime | None = None
    errors: list[dict[str, str]] = field(default_factory=list)


def _error_body(fault: str, status: int) -> dict[str, str]:
    return {"code": _ERROR_CODES.get(status, "InternalServerError"), "message": f"emulated fault: {fault}"}


def _budget(value: Any, size: int, name: str, round_up: bool) -> int:
    """Parse ``"2"`` or ``"25%"`` (OKE takes both, as strings) into a node count for a pool of ``size``."""
    m = _BUDGET_RE.match(str(value).strip()) if isinstance(value, str | int) else None
    if m is None:
        raise _Refused(400, f"{name} must be an integer or a percentage, got {value!r}")
    n = int(m.group(1))
    if m.group(2):
        if n > 100:
            raise _Refused(400, f"{name} must be between 0% and 100%, got {value!r}")
        return math.ceil(size * n / 100) if round_up else math.floor(size * n / 100)
    if n > size:
        raise _Refused(400, f"{name} must be between 0 and the node pool size ({size}), got {value!r}")
    return n


class OkeEmulator(ServedEmulator):
    """In-process OKE. ``start()``/``stop()``, ``url``, ``endpoint`` (a ``{region}`` template for the adapter),
    seeding (``add_cluster``, ``set_versions``), ``inject(fault)`` and ``upgrade_log`` (accepted upgrade PUTs)."""

    def __init__(self, clock: Clock | None = None, *, port: int = 0, default_region: str = DEFAULT_REGION,
                 cluster_minutes: float = 20.0, node_minutes: float = 5.0, accept_seconds: float = 10.0,
                 retry_after: int = 2, require_signature: bool = True, cycling_work_request: bool = False):
        self.clock = clock or SystemClock()
        self.default_region = default_region
        self.cluster_time = timedelta(minutes=cluster_minutes)
        self.node_time = timedelta(minutes=node_minutes)
        self.accept_time = timedelta(seconds=accept_seconds)
        self.require_signature = require_signature
        # OKE's WorkRequest.operationType has NODEPOOL_CYCLING next to NODEPOOL_UPDATE (oci.container_engine.models.
        # WorkRequest), but no public source says when OKE uses it. False: the update's own NODEPOOL_UPDATE work
        # request cycles the nodes (what terraform-provider-oci waits for after UpdateNodePool); True: that work
        # request only changes the pool, and a separate NODEPOOL_CYCLING work request then replaces the nodes.
        self.cycling_work_request = cycling_work_request
        self.page_size = 1000              # the page size when a list request gives no ``limit``
        self.versions: list[str] = []
        self.clusters: dict[str, _Cluster] = {}
        self.work_requests: dict[str, _WorkRequest] = {}
        self.upgrade_log: list[dict[str, Any]] = []
        self._fail_next = False
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        p, r = _PREFIX, self._route
        self.server = EmulatorServer(routes=[
            ("GET", p + r"/clusters", r(self._list_clusters)),
            ("GET", p + r"/clusters/(?P<id>[^/]+)", r(self._get_cluster)),
            ("PUT", p + r"/clusters/(?P<id>[^/]+)", r(self._update_cluster)),
            ("GET", p + r"/clusterOptions/(?P<id>[^/]+)", r(self._cluster_options)),
            ("GET", p + r"/nodePools", r(self._list_node_pools)),
            ("GET", p + r"/nodePools/(?P<id>[^/]+)", r(self._get_node_pool)),
            ("PUT", p + r"/nodePools/(?P<id>[^/]+)", r(self._update_node_pool)),
            ("GET", p + r"/workRequests", r(self._list_work_requests)),
            ("GET", p + r"/workRequests/(?P<id>[^/]+)", r(self._get_work_request)),
            ("GET", p + r"/workRequests/(?P<id>[^/]+)/errors", r(self._work_request_errors)),
        ], error_body=_error_body, port=port, retry_after=retry_after)

    # ---- lifecycle ------------------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        """The adapter's ``endpoint`` setting for this emulator: one server, a path segment per region."""
        return self.server.url + "/{region}"

    # ---- seeding and control --------------------------------------------------------------------------
    def _ocid(self, kind: str, region: str) -> str:
        return f"ocid1.{kind}.oc1.{region}.aaaa{next(self._ids):08x}"

    def set_versions(self, versions: Iterable[str]) -> None:
        """The emulator-wide Kubernetes versions (``/clusterOptions/all``)."""
        with self._lock:
            self.versions = sorted(set(versions), key=parse_version)

    def add_cluster(self, name: str, kubernetes_version: str, node_pools: Mapping[str, str] | None = None, *,
                    compartment_id: str = DEFAULT_COMPARTMENT, region: str | None = None,
                    available: Sequence[str] | None = None, nodes: int = 3, cluster_type: str = "ENHANCED_CLUSTER",
                    tags: Mapping[str, str] | None = None, shapes: Mapping[str, str] | None = None) -> str:
        """Create an ACTIVE cluster with node pools ``{name: version}`` of ``nodes`` nodes each; ``available``
        are the versions OKE offers this cluster (also added to ``/clusterOptions/all``); ``shapes``: node shape
        per pool (default VM.Standard.E4.Flex). Returns its OCID."""
        region = region or self.default_region
        with self._lock:
            if available:
                self.set_versions([*self.versions, *available])
            c = _Cluster(self._ocid("cluster", region), name, compartment_id, region, kubernetes_version,
                         sorted(set(available), key=parse_version) if available else None, cluster_type,
                         tags=dict(tags or {}), created=iso(self.clock.now()) or "")
            for pool_name, version in (node_pools or {}).items():
                pid = self._ocid("nodepool", region)
                c.pools[pid] = _Pool(pid, pool_name, c.id, compartment_id, version,
                                     [self._node(pid, version, i) for i in range(nodes)],
                                     shape=(shapes or {}).get(pool_name, "VM.Standard.E4.Flex"))
            self.clusters[c.id] = c
            return c.id

    def _node(self, pool_id: str, version: str, i: int) -> dict[str, Any]:
        return {"id": self._ocid("instance", pool_id.split(".")[3]), "name": f"oke-node-{next(self._ids)}-{i}",
                "kubernetesVersion": version, "nodePoolId": pool_id, "lifecycleState": "ACTIVE",
                "availabilityDomain": f"AD-{i % 3 + 1}"}

    @staticmethod
    def demo_auth() -> dict[str, str]:
        """An ``auth`` setting for the adapter with a fresh in-memory RSA key (the emulator checks that requests
        are signed, not by whom). Needs ``cryptography``, which the oci SDK installs."""
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption()).decode()
        return {"tenancy": "ocid1.tenancy.oc1..fleetdemo", "user": "ocid1.user.oc1..fleetdemo",
                "fingerprint": "12:34:56:78:9a:bc:de:f0:12:34:56:78:9a:bc:de:f0", "privateKey": pem}

    def inject(self, fault: str) -> None:
        """``fail-operation``: the next work request accepted ends FAILED; anything else (``throttle``,
        ``server-error``, ``forbidden``, ``not-found``, ``timeout``) fails the next HTTP request."""
        if fault == "fail-operation":
            with self._lock:
                self._fail_next = True
        else:
            self.server.inject(fault)

    def set_node_state(self, cluster: str, pool: str, index: int, *, lifecycle_state: str | None = None,
                       error: Mapping[str, str] | None = None, region: str | None = None) -> None:
        """Test control: one node's ``lifecycleState`` (oci.container_engine.models.Node: CREATING, ACTIVE,
        UPDATING, DELETING, DELETED, FAILING, INACTIVE) and ``nodeError`` ({code, message, status}: NodeError),
        as GetNodePool reports them; OKE sets these from what it observes, which is not modelled."""
        with self._lock:
            c = self.cluster_by_name(cluster, region)
            node = next(p for p in c.pools.values() if p.name == pool).nodes[index]
            if lifecycle_state is not None:
                node["lifecycleState"] = lifecycle_state
            if error is not None:
                node["nodeError"] = dict(error)

    def set_state(self, cluster: str, pool: str | None = None, *, lifecycle_state: str,
                  region: str | None = None) -> None:
        """Test control: a cluster's or node pool's ``lifecycleState`` (Cluster / NodePool models)."""
        with self._lock:
            c = self.cluster_by_name(cluster, region)
            if pool is None:
                c.state = lifecycle_state
            else:
                next(p for p in c.pools.values() if p.name == pool).state = lifecycle_state

    def cluster_by_name(self, name: str, region: str | None = None) -> _Cluster:
        region = region or self.default_region
        with self._lock:
            return next(c for c in self.clusters.values() if c.name == name and c.region == region)

    def pending_seconds(self) -> float:
        """Virtual seconds until every running work request has finished."""
        with self._lock:
            now = self.clock.now()
            left = [(w.accepted + w.duration + (w.then_cycle or timedelta(0)) - now).total_seconds()
                    for w in self.work_requests.values() if w.status in ACTIVE_WR]
            return max([0.0, *left])

    # ---- virtual time ---------------------------------------------------------------------------------
    def settle(self) -> None:
        """Move work requests along to the clock's now; resources change only when theirs completes."""
        now = self.clock.now()
        for w in list(self.work_requests.values()):   # _complete may add a NODEPOOL_CYCLING work request
            if w.status not in ACTIVE_WR:
                continue
            if now - w.accepted >= w.duration:
                self._complete(w, now)
            elif now - w.accepted >= self.accept_time and w.status == "ACCEPTED":
                w.status, w.started = "IN_PROGRESS", now

    def _complete(self, w: _WorkRequest, now: datetime) -> None:
        c = self.clusters[w.cluster_id]
        w.started = w.started or min(now, w.accepted + self.accept_time)
        w.finished = min(now, w.accepted + w.duration)
        pool = c.pools.get(w.pool_id) if w.pool_id else None
        if w.fail:
            w.status = "FAILED"
            what = f"node pool {pool.name}" if pool else f"cluster {c.name}"
            w.errors.append({"code": "InternalError", "message": f"upgrade of {what} to {w.target} failed: "
                             "emulated failure", "timestamp": iso(now) or ""})
        else:
            w.status = "SUCCEEDED"
            if pool is None and w.target:
                c.version = w.target
            elif pool is not None and w.target:
                pool.version = w.target
                if w.then_cycle is not None:
                    self._start_cycling(c, pool, w)
                    return
                if w.cycle:
                    pool.nodes = [self._node(pool.id, w.target, i) for i in range(len(pool.nodes))]
        if pool is not None:
            pool.state = "ACTIVE"
        else:
            c.state = "ACTIVE"
        c.details = ""

    def _start_cycling(self, c: _Cluster, pool: _Pool, update: _WorkRequest) -> None:
        """The pool's update is done; its nodes are replaced under a NODEPOOL_CYCLING work request (the pool stays
        UPDATING until that one finishes). See ``cycling_work_request``."""
        wid = self._ocid("clustersworkrequest", c.region)
        start = update.finished or self.clock.now()
        self.work_requests[wid] = _WorkRequest(wid, "NODEPOOL_CYCLING", c.compartment_id, c.id, pool.id,
                                               update.target, start, update.then_cycle or timedelta(0), cycle=True)
        self.settle()

    # ---- JSON shapes (oci.container_engine.models) ----------------------------------------------------
    def _options(self, c: _Cluster | None) -> list[str]:
        return list(c.available) if c is not None and c.available else list(self.versions)

    def _upgrades(self, c: _Cluster) -> list[str]:
        cur = parse_version(c.version)
        return [v for v in self._options(c) if parse_version(v) > cur and parse_version(v).minors_from(cur) <= 1]

    def _cluster_json(self, c: _Cluster) -> dict[str, Any]:
        return {"id": c.id, "name": c.name, "compartmentId": c.compartment_id,
                "vcnId": f"ocid1.vcn.oc1.{c.region}.aaaavcn", "kubernetesVersion": c.version,
                "lifecycleState": c.state, "lifecycleDetails": c.details, "type": c.type,
                "availableKubernetesUpgrades": self._upgrades(c) if c.state == "ACTIVE" else [],
                "freeformTags": dict(c.tags), "definedTags": {}, "systemTags": {},
                "metadata": {"timeCreated": c.created, "updatedByWorkRequestId": c.updated_by}}

    def _pool_json(self, p: _Pool, with_nodes: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": p.id, "name": p.name, "clusterId": p.cluster_id, "compartmentId": p.compartment_id,
            "kubernetesVersion": p.version, "lifecycleState": p.state, "lifecycleDetails": "",
            "nodeShape": p.shape, "nodeImageName": "Oracle-Linux-8.10-2026.01.01-0",
            "nodeConfigDetails": {"size": len(p.nodes), "placementConfigs": []},
            "freeformTags": dict(p.tags), "definedTags": {}, "systemTags": {}}
        if p.cycling is not None:
            out["nodePoolCyclingDetails"] = dict(p.cycling)
        if p.eviction is not None:
            out["nodeEvictionNodePoolSettings"] = dict(p.eviction)
        if with_nodes:
            out["nodes"] = [dict(n) for n in p.nodes]
        return out

    def _wr_json(self, w: _WorkRequest) -> dict[str, Any]:
        action = "IN_PROGRESS" if w.status in ACTIVE_WR else ("UPDATED" if w.status == "SUCCEEDED" else "FAILED")
        resources = [{"entityType": "cluster", "actionType": action if w.pool_id is None else "RELATED",
                      "identifier": w.cluster_id, "entityUri": f"{API}/clusters/{w.cluster_id}"}]
        if w.pool_id:
            resources.append({"entityType": "nodepool", "actionType": action, "identifier": w.pool_id,
                              "entityUri": f"{API}/nodePools/{w.pool_id}"})
        return {"id": w.id, "operationType": w.op_type, "status": w.status, "compartmentId": w.compartment_id,
                "resources": resources, "timeAccepted": iso(w.accepted), "timeStarted": iso(w.started),
                "timeFinished": iso(w.finished)}

    # ---- request plumbing -----------------------------------------------------------------------------
    def _route(self, fn: Any) -> Any:
        return lambda m, body, req: self._handle(fn, m, body, req)

    def _handle(self, fn: Any, m: re.Match[str], body: Any, req: Request) -> tuple[int, Any, dict[str, str]]:
        headers = {"opc-request-id": _header(req, "opc-request-id") or f"emu-{next(self._ids)}"}
        try:
            if self.require_signature and not (_header(req, "authorization") or "").startswith("Signature "):
                raise _Refused(401, "The required information to complete authentication was not provided.")
            with self._lock:
                self.settle()
                status, out, extra = fn(m.group("region") or self.default_region, m, body, req)
        except _Refused as exc:
            return exc.status, {"code": exc.code, "message": exc.message}, headers
        headers.update(extra or {})
        return status, out, headers

    def _find_cluster(self, region: str, cid: str) -> _Cluster:
        c = self.clusters.get(cid)
        if c is None or c.region != region:
            raise _Refused(404, "Authorization failed or requested resource not found.")
        return c

    def _find_pool(self, region: str, pid: str) -> tuple[_Cluster, _Pool]:
        for c in self.clusters.values():
            if pid in c.pools and c.region == region:
                return c, c.pools[pid]
        raise _Refused(404, "Authorization failed or requested resource not found.")

    def _running(self, c: _Cluster) -> list[_WorkRequest]:
        return [w for w in self.work_requests.values() if w.cluster_id == c.id and w.status in ACTIVE_WR]

    def _accept(self, c: _Cluster, pool: _Pool | None, op_type: str, target: str | None, duration: timedelta,
                *, upgrade: bool, cycle: bool = False, body: Any = None,
                then_cycle: timedelta | None = None) -> dict[str, str]:
        wid = self._ocid("clustersworkrequest", c.region)
        now = self.clock.now()
        fail = upgrade and self._fail_next
        if fail:
            self._fail_next = False
        self.work_requests[wid] = _WorkRequest(wid, op_type, c.compartment_id, c.id, pool.id if pool else None,
                                               target, now, duration, cycle=cycle, fail=fail, then_cycle=then_cycle)
        if upgrade:
            self.upgrade_log.append({"kind": "nodePool" if pool else "cluster", "region": c.region,
                                     "clusterId": c.id, "clusterName": c.name,
                                     "nodePoolId": pool.id if pool else None,
                                     "nodePoolName": pool.name if pool else None, "kubernetesVersion": target,
                                     "workRequestId": wid, "time": iso(now), "body": body,
                                     "nodePoolCyclingDetails": (body or {}).get("nodePoolCyclingDetails"),
                                     "nodeEvictionNodePoolSettings": (body or {}).get("nodeEvictionNodePoolSettings")})
        return {"opc-work-request-id": wid}

    # ---- handlers (region, match, body, request) -> (status, body, headers) -------------------------------
    def _list_clusters(self, region: str, m: re.Match[str], body: Any, req: Request) -> Any:
        q = parse_qs(req.query)
        comp = _required(q, "compartmentId")
        states = set(q.get("lifecycleState", []))
        items = [self._cluster_json(c) for c in self.clusters.values()
                 if c.region == region and c.compartment_id == comp and (not states or c.state in states)
                 and (not q.get("name") or c.name == q["name"][0])]
        return _page(items, q, self.page_size)

    def _get_cluster(self, region: str, m: re.Match[str], body: Any, req: Request) -> Any:
        return 200, self._cluster_json(self._find_cluster(region, m.group("id"))), None

    def _cluster_options(self, region: str, m: re.Match[str], body: Any, req: Request) -> Any:
        oid = m.group("id")
        versions = self._options(None if oid == "all" else self._find_cluster(region, oid))
        if (parse_qs(req.query).get("shouldListAllPatchVersions") or ["false"])[0].lower() != "true":
            newest: dict[tuple[int, int], str] = {}
            for v in versions:                      # by default OKE lists the newest patch of each minor
                newest[parse_version(v).minor_key] = v
            versions = sorted(newest.values(), key=parse_version)
        return 200, {"kubernetesVersions": versions, "clusterPodNetworkOptions": [{"cniType": "OCI_VCN_IP_NATIVE"}]}, None

    def _update_cluster(self, region: str, m: re.Match[str], body: Any, req: Request) -> Any:
        c = self._find_cluster(region, m.group("id"))
        body = _checked(body, "UpdateClusterDetails")
        target = body.get("kubernetesVersion")
        if c.state != "ACTIVE" or self._running(c):
            raise _Refused(409, f"Cluster {c.id} is in state {c.state} with a work request in progress; "
                                "only one update can run at a time.")
        changes = target is not None and target != c.version
        if changes and target not in self._upgrades(c):
            raise _Refused(400, f"Invalid kubernetesVersion {target!r}: the cluster can be upgraded to "
                                f"{', '.join(self._upgrades(c)) or 'no version'}")
        if "freeformTags" in body:
            c.tags = {str(k): str(v) for k, v in (body["freeformTags"] or {}).items()}
        if "name" in body:
            c.name = str(body["name"])
        headers = self._accept(c, None, "CLUSTER_UPDATE", target if changes else None,
                               self.cluster_time if changes else timedelta(0), upgrade=changes, body=body)
        if changes:
            c.state, c.details = "UPDATING", f"Upgrading control plane to {target}"
            c.updated_by = headers["opc-work-request-id"]
        return 202, None, headers

    def _list_node_pools(self, region: str, m: re.Match[str], body: Any, req: Request) -> Any:
        # "List all the node pools in a compartment, and optionally filter by cluster": compartmentId is
        # required, clusterId optional (ListNodePools; oci.container_engine.ContainerEngineClient.list_node_pools)
        q = parse_qs(req.query)
        comp = _required(q, "compartmentId")
        cid = next(iter(q.get("clusterId") or []), None)
        states = set(q.get("lifecycleState", []))
        items = [self._pool_json(p, False) for c in self.clusters.values() if c.region == region
                 for p in c.pools.values() if p.compartment_id == comp and (cid is None or c.id == cid)
                 and (not q.get("name") or p.name == q["name"][0]) and (not states or p.state in states)]
        return _page(items, q, self.page_size)

    def _get_node_pool(self, region: str, m: re.Match[str], body: Any, req: Request) -> Any:
        return 200, self._pool_json(self._find_pool(region, m.group("id"))[1], True), None

    def _check_pool_version(self, c: _Cluster, p: _Pool, target: str) -> None:
        """A node pool may move to an offered version, never past its control plane and never down."""
        if target not in self._options(c):
            raise _Refused(400, f"Invalid kubernetesVersion {target!r} for a node pool")
        if parse_version(target) > parse_version(c.version):
            raise _Refused(400, f"Node pool version {target} cannot be newer than the control plane "
                                f"version {c.version}")
        if parse_version(target) < parse_version(p.version):
            raise _Refused(400, f"Node pool version cannot be downgraded from {p.version} to {target}")

    @staticmethod
    def _check_cyclable(c: _Cluster, p: _Pool) -> None:
        """Node cycling: ENHANCED clusters only, never bare-metal shapes (see NOT_CYCLABLE_CODE for the source)."""
        if c.type == BASIC:
            raise _Refused(400, f"Node cycling is only supported on enhanced clusters; cluster {c.id} is a "
                                "BASIC_CLUSTER.", NOT_CYCLABLE_CODE)
        if p.shape.startswith("BM."):
            raise _Refused(400, f"Node cycling is not supported for node pool {p.id} with bare metal shape "
                                f"{p.shape}.", NOT_CYCLABLE_CODE)

    def _update_node_pool(self, region: str, m: re.Match[str], body: Any, req: Request) -> Any:
        c, p = self._find_pool(region, m.group("id"))
        body = _checked(body, "UpdateNodePoolDetails")
        cycling = body.get("nodePoolCyclingDetails") or {}
        eviction = body.get("nodeEvictionNodePoolSettings") or {}
        busy = [w for w in self._running(c) if w.pool_id in (None, p.id)]
        if busy or c.state != "ACTIVE" or p.state != "ACTIVE":
            raise _Refused(409, f"Node pool {p.id} cannot be updated while work request {busy[0].id if busy else ''} "
                                f"is in progress (cluster {c.state}, node pool {p.state}).")
        target = body.get("kubernetesVersion")
        if target is not None and target != p.version:
            self._check_pool_version(c, p, target)
        size = len(p.nodes)
        cycle = cycling.get("isNodeCyclingEnabled") is True
        if cycle:
            self._check_cyclable(c, p)
        surge_raw, unavail_raw = cycling.get("maximumSurge", "1"), cycling.get("maximumUnavailable", "0")
        surge = _budget(surge_raw, size, "maximumSurge", True)
        unavailable = _budget(unavail_raw, size, "maximumUnavailable", False)
        if cycle and str(surge_raw).rstrip("%") == "0" and str(unavail_raw).rstrip("%") == "0":
            raise _Refused(400, "maximumSurge and maximumUnavailable cannot both be 0")
        grace = eviction.get("evictionGraceDuration")
        if grace is not None and not re.fullmatch(r"PT(\d+M)?(\d+S)?", str(grace)):
            raise _Refused(400, f"evictionGraceDuration must be an ISO 8601 duration like PT30M, got {grace!r}")
        if "freeformTags" in body:
            p.tags = {str(k): str(v) for k, v in (body["freeformTags"] or {}).items()}
        if cycling:
            p.cycling = dict(cycling)
        if eviction:
            p.eviction = dict(eviction)
        version_change = target is not None and target != p.version
        stale_nodes = any(n["kubernetesVersion"] != (target or p.version) for n in p.nodes)
        upgrade = version_change or (cycle and stale_nodes)
        then_cycle = None
        if upgrade and cycle:
            batches = math.ceil(size / max(1, surge + unavailable)) if size else 1
            duration = self.accept_time + self.node_time * batches
            if self.cycling_work_request:
                duration, then_cycle = self.accept_time, self.node_time * batches
        else:
            duration = self.accept_time if upgrade else timedelta(0)
        headers = self._accept(c, p, "NODEPOOL_UPDATE", (target or p.version) if upgrade else None, duration,
                               upgrade=upgrade, cycle=cycle, body=body, then_cycle=then_cycle)
        if upgrade:
            p.state = "UPDATING"
        return 202, None, headers

    def _list_work_requests(self, region: str, m: re.Match[str], body: Any, req: Request) -> Any:
        q = parse_qs(req.query)
        comp = _required(q, "compartmentId")
        cid, rid = next(iter(q.get("clusterId") or []), None), next(iter(q.get("resourceId") or []), None)
        rtype = next(iter(q.get("resourceType") or []), None)
        statuses = set(q.get("status", []))
        items = [self._wr_json(w) for w in self.work_requests.values()
                 if w.compartment_id == comp and self.clusters[w.cluster_id].region == region
                 and (cid is None or w.cluster_id == cid)
                 and (rid is None or rid in (w.cluster_id, w.pool_id))
                 and (rtype is None or (rtype == "NODEPOOL") == (w.pool_id is not None))
                 and (not statuses or w.status in statuses)]
        items.reverse()                               # newest first
        return _page(items, q, self.page_size)

    def _get_work_request(self, region: str, m: re.Match[str], body: Any, req: Request) -> Any:
        return 200, self._wr_json(self._find_wr(region, m.group("id"))), None

    def _work_request_errors(self, region: str, m: re.Match[str], body: Any, req: Request) -> Any:
        return 200, [dict(e) for e in self._find_wr(region, m.group("id")).errors], None

    def _find_wr(self, region: str, wid: str) -> _WorkRequest:
        w = self.work_requests.get(wid)
        if w is None or self.clusters[w.cluster_id].region != region:
            raise _Refused(404, "Authorization failed or requested resource not found.")
        return w


def _header(req: Request, name: str) -> str | None:
    for k, v in req.headers.items():
        if k.lower() == name:
            return v
    return None


def _required(q: dict[str, list[str]], name: str) -> str:
    if not q.get(name):
        raise _Refused(400, f"{name} is required", "MissingParameter")
    return q[name][0]


def _checked(body: Any, model: str) -> dict[str, Any]:
    """The body of an update request, checked against the SDK model ``model`` (spec.py)."""
    if not isinstance(body, dict):
        raise _Refused(400, "request body must be a JSON object", "CannotParseRequest")
    try:
        validate(body, model)
    except SpecError as exc:
        raise _Refused(400, f"Invalid {model}: {exc}", "InvalidParameter") from None
    return body


def _page(items: list[dict[str, Any]], q: dict[str, list[str]], size: int) -> tuple[int, Any, dict[str, str]]:
    start = int((q.get("page") or ["0"])[0] or 0)
    limit = int((q.get("limit") or [str(size)])[0])
    chunk = items[start:start + limit]
    headers = {"opc-next-page": str(start + limit)} if start + limit < len(items) else {}
    return 200, chunk, headers
