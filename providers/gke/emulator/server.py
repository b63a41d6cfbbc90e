"""A local GKE emulator: the container.googleapis.com v1 REST surface that google-cloud-container sends.

Paths (all under ``/v1/projects/{project}/locations/{location}``; ``location`` may be ``-`` for lists)::

    GET  /clusters                                     ListClusters
    GET  /clusters/{c}                                 GetCluster
    GET  /clusters/{c}:fetchClusterUpgradeInfo         FetchClusterUpgradeInfo (upgradeDetails of master upgrades)
    POST /clusters/{c}:updateMaster                    UpdateMaster        -> Operation UPGRADE_MASTER
    GET  /clusters/{c}/nodePools                       ListNodePools
    GET  /clusters/{c}/nodePools/{np}                  GetNodePool
    GET  /clusters/{c}/nodePools/{np}:fetchNodePoolUpgradeInfo
    PUT  /clusters/{c}/nodePools/{np}                  UpdateNodePool      -> Operation UPGRADE_NODES
    POST /clusters/{c}/nodePools/{np}:rollback         RollbackNodePoolUpgrade (after a failed upgrade)
    GET  /operations                                   ListOperations
    GET  /operations/{op}                              GetOperation
    GET  /serverConfig                                 GetServerConfig

Request bodies are first checked against GKE's discovery document (providers/gke/emulator/discovery.py:
unknown fields, wrong JSON types, unknown enum names are a 400 INVALID_ARGUMENT), then parsed and answered
with the SDK's own proto-plus types; enums are answered as integers when the client asks for
``$alt=json;enum-encoding=int``. Operations run over virtual time from the injected clock: RUNNING until
their computed duration has elapsed, then DONE (with ``error`` when a failure was injected); cluster and
pool versions change only when an operation completes. A mutating request while an operation runs on the
cluster is refused the way GKE refuses it (400 FAILED_PRECONDITION "Operation ... is currently upgrading
...").  ``upgrade_log`` records every accepted upgrade request with the upgradeSettings and nodeDrainConfig it
carried.

Autopilot clusters (``add_cluster(autopilot=True)``): their node pools cannot be listed, read or updated
(400 "Autopilot node pools cannot be accessed or modified."), and when a control-plane upgrade completes
their nodes follow it. Node counts: ``resize`` changes a pool's size the way ``clusters resize`` does
(``initialNodeCount`` keeps its creation value); the cluster reports the total as ``currentNodeCount``.
Every rule cites its source where it is enforced; docs/fidelity/gke.md lists them and what is not modelled.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from fleet.clock import Clock, SystemClock, iso
from fleet.provider import import_optional
from fleet.versions import InvalidVersion, parse_version
from providers.emulator_base import EmulatorServer, Request, ServedEmulator
from providers.gke.emulator.discovery import SpecViolation, validate

container_v1 = import_optional("google.cloud.container_v1", "gke")

SELF_LINK = "https://container.googleapis.com/v1/"
# The error GKE answers for any node-pool call on an Autopilot cluster (400, reason badRequest), quoted from
# real responses: turbot/steampipe-plugin-gcp#591 ("googleapi: Error 400: Autopilot node pools cannot be
# accessed or modified. ... badRequest") and gke-labs/kube-agents#920 (gcloud: "code=400, message=Autopilot
# node pools cannot be accessed or modified."). Neither quotes the status name; INVALID_ARGUMENT is the
# status Google's APIs pair with reason badRequest (an inference, said so in docs/fidelity/gke.md).
AUTOPILOT_POOLS = "Autopilot node pools cannot be accessed or modified."
_SEG = r"[^/:]+"
_LOC = rf"/v1/projects/(?P<project>{_SEG})/locations/(?P<location>{_SEG})"
_CLUSTER = rf"{_LOC}/clusters/(?P<cluster>{_SEG})"
_POOL = rf"{_CLUSTER}/nodePools/(?P<pool>{_SEG})"

_FAULTS = {
    "throttle": ("RESOURCE_EXHAUSTED", ("Quota exceeded for quota metric 'Read requests' of service "
                                        "'container.googleapis.com'.")),
    "server-error": ("UNAVAILABLE", "The service is currently unavailable."),
    "forbidden": ("PERMISSION_DENIED", "Required 'container.clusters.get' permission."),
    "not-found": ("NOT_FOUND", "Not found."),
}


class ApiError(Exception):
    """An error answered in GKE's shape: ``{"error": {"code", "message", "status"}}``."""

    def __init__(self, code: int, status: str, message: str):
        super().__init__(message)
        self.code, self.status, self.message = code, status, message

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "status": self.status}}


def _fault_body(fault: str, status: int) -> dict[str, Any]:
    name, message = _FAULTS.get(fault, ("INTERNAL", "Internal error."))
    return ApiError(status, name, message).body()


@dataclass
class EmulatedOperation:
    name: str                 # full resource name: projects/p/locations/l/operations/operation-...
    op_type: str              # UPGRADE_MASTER | UPGRADE_NODES | UPDATE_CLUSTER
    cluster: str              # cluster resource name
    pool: str | None
    initial: str
    target: str
    started: datetime
    ends: datetime
    nodes: int = 0
    fail: bool = False
    status: str = "RUNNING"
    error: str | None = None

    @property
    def short(self) -> str:
        return self.name.rsplit("/", 1)[-1]

    @property
    def target_path(self) -> str:
        return self.cluster if self.pool is None else f"{self.cluster}/nodePools/{self.pool}"


def _newest_first(versions: Sequence[str]) -> list[str]:
    return sorted(dict.fromkeys(versions), key=parse_version, reverse=True)


class GkeEmulator(ServedEmulator):
    """GKE's v1 REST API on 127.0.0.1. ``start()``/``stop()`` (or ``with``), ``.url``, seed with
    ``add_cluster``/``set_versions``, break with ``inject(fault)``, read ``upgrade_log``.

    Durations: a control-plane upgrade takes ``master_seconds``; a node-pool upgrade takes
    ``node_seconds`` per batch of nodes (surge: maxSurge+maxUnavailable nodes at once; blue-green: the
    batch size plus batch and pool soak times)."""

    def __init__(self, clock: Clock | None = None, *, port: int = 0, master_seconds: float = 600.0,
                 node_seconds: float = 120.0, retry_after: int = 2):
        self.clock = clock or SystemClock()
        self.master_seconds = master_seconds
        self.node_seconds = node_seconds
        self.clusters: dict[str, Any] = {}              # resource name -> container_v1.Cluster
        self.server_configs: dict[tuple[str, str], Any] = {}
        self.projects: set[str] = set()
        self.operations: dict[str, EmulatedOperation] = {}
        self.upgrade_log: list[dict[str, Any]] = []
        self.rollback_log: list[dict[str, Any]] = []     # accepted RollbackNodePoolUpgrade requests
        self.pool_nodes: dict[tuple[str, str], int] = {}  # (cluster path, pool) -> nodes it runs now
        self._lock = threading.RLock()
        self._fail_next = False
        self._seq = 0
        h = self._api
        self.server = EmulatorServer(routes=[
            ("GET", rf"{_LOC}/clusters", h(self._list_clusters)),
            ("GET", _CLUSTER, h(self._get_cluster)),
            ("GET", rf"{_CLUSTER}:fetchClusterUpgradeInfo", h(self._cluster_upgrade_info)),
            ("POST", rf"{_CLUSTER}:updateMaster", h(self._update_master)),
            ("GET", rf"{_CLUSTER}/nodePools", h(self._list_node_pools)),
            ("GET", _POOL, h(self._get_node_pool)),
            ("GET", rf"{_POOL}:fetchNodePoolUpgradeInfo", h(self._pool_upgrade_info)),
            ("PUT", _POOL, h(self._update_node_pool)),
            ("POST", rf"{_POOL}:rollback", h(self._rollback_node_pool)),
            ("GET", rf"{_LOC}/operations", h(self._list_operations)),
            ("GET", rf"{_LOC}/operations/(?P<op>{_SEG})", h(self._get_operation)),
            ("GET", rf"{_LOC}/serverConfig", h(self._server_config)),
        ], error_body=_fault_body, port=port, retry_after=retry_after)

    # ---- lifecycle ----------------------------------------------------------------------------------
    def inject(self, fault: str) -> None:
        """One-shot: 'throttle' (429 + Retry-After), 'server-error' (503), 'forbidden' (403), 'not-found',
        'timeout' (answer late) for the next request; 'fail-operation': the next upgrade started fails."""
        if fault == "fail-operation":
            with self._lock:
                self._fail_next = True
        else:
            self.server.inject(fault)

    # ---- seeding ------------------------------------------------------------------------------------
    def add_cluster(self, name: str, master_version: str, pools: Mapping[str, str | Mapping[str, Any]], *,
                    project: str = "demo-project", location: str = "us-central1",
                    release_channel: str | None = None, node_auto_upgrade: bool = False, nodes: int = 3,
                    zones: Sequence[str] | None = None, image_type: str = "COS_CONTAINERD",
                    labels: Mapping[str, str] | None = None, autopilot: bool = False) -> str:
        """Add a cluster; ``pools`` maps a pool name to its version or to a dict with ``version``, and
        optionally ``nodes`` (per zone), ``zones``, ``autoUpgrade``, ``imageType``, ``labels`` (NodeConfig.labels,
        container.v1.json). Returns its resource name.

        ``autopilot``: an Autopilot cluster. "All Autopilot clusters are enrolled in a release channel" and
        are regional, with node auto-upgrade always on (cloud.google.com/kubernetes-engine/docs/concepts/
        cluster-upgrades-autopilot), so the channel defaults to REGULAR and auto-upgrade is set on its pools."""
        if autopilot:
            release_channel = release_channel or "REGULAR"
            node_auto_upgrade = True
        zones = list(zones or ([location] if location.count("-") >= 2 else [f"{location}-a"]))
        node_pools = []
        for pname, spec in pools.items():
            s: Mapping[str, Any] = {"version": spec} if isinstance(spec, str) else spec
            node_pools.append(container_v1.NodePool(
                name=pname, version=s["version"], status="RUNNING",
                initial_node_count=int(s.get("nodes", nodes)), locations=list(s.get("zones", zones)),
                config={"image_type": s.get("imageType", image_type), "machine_type": "e2-standard-4",
                        **({"labels": dict(s["labels"])} if s.get("labels") else {})},   # NodeConfig.labels
                management={"auto_upgrade": bool(s.get("autoUpgrade", node_auto_upgrade)), "auto_repair": True},
                upgrade_settings={"max_surge": 1, "max_unavailable": 0, "strategy": "SURGE"},
                self_link=f"{SELF_LINK}projects/{project}/locations/{location}/clusters/{name}/nodePools/{pname}"))
        path = f"projects/{project}/locations/{location}/clusters/{name}"
        sizes = {p.name: p.initial_node_count * max(1, len(p.locations)) for p in node_pools}
        cluster = container_v1.Cluster(
            name=name, location=location, locations=zones, status="RUNNING", node_pools=node_pools,
            current_master_version=master_version, initial_cluster_version=master_version,
            current_node_version=min((p.version for p in node_pools), key=parse_version, default=""),
            resource_labels=dict(labels or {}), self_link=SELF_LINK + path,
            release_channel={"channel": release_channel or "UNSPECIFIED"}, autopilot={"enabled": autopilot},
            current_node_count=sum(sizes.values()))
        container_v1.Cluster.from_json(container_v1.Cluster.to_json(cluster))   # the shape round-trips
        with self._lock:
            self.projects.add(project)
            self.clusters[path] = cluster
            self.pool_nodes.update({(path, pname): n for pname, n in sizes.items()})
        return path

    def resize(self, project: str, location: str, name: str, pool: str, nodes_per_zone: int) -> None:
        """Resize a pool as ``gcloud container clusters resize --node-pool P --num-nodes N`` does: N nodes
        in each of its zones. ``initialNodeCount`` is what the pool was created with ("The initial node count
        for the pool", container.v1.json NodePool) and does not change; the cluster's ``currentNodeCount``
        ("The number of nodes currently in the cluster", Cluster) does."""
        with self._lock:
            path = f"projects/{project}/locations/{location}/clusters/{name}"
            found = self._find_pool(self.clusters[path], pool)
            self.pool_nodes[(path, pool)] = nodes_per_zone * max(1, len(found.locations))
            self._count_nodes(path)

    def _count_nodes(self, path: str) -> None:
        self.clusters[path].current_node_count = sum(n for (c, _), n in self.pool_nodes.items() if c == path)

    def set_versions(self, master: Sequence[str], node: Sequence[str] | None = None, *, project: str = "*",
                     location: str = "*", channels: Mapping[str, Sequence[str]] | None = None,
                     default: str | None = None) -> None:
        """Versions the serverConfig offers for a project/location (``*`` = any). Node versions default to
        the master versions; ``channels`` maps RAPID/REGULAR/STABLE/EXTENDED to their valid versions."""
        masters = _newest_first(master)
        cfg = container_v1.ServerConfig(
            default_cluster_version=default or (masters[0] if masters else ""),
            valid_master_versions=masters, valid_node_versions=_newest_first(node if node is not None else master),
            default_image_type="COS_CONTAINERD", valid_image_types=["COS_CONTAINERD", "UBUNTU_CONTAINERD"],
            channels=[{"channel": ch, "valid_versions": _newest_first(vs),
                       "default_version": _newest_first(vs)[0] if vs else ""}
                      for ch, vs in (channels or {}).items()])
        with self._lock:
            if project != "*":
                self.projects.add(project)
            self.server_configs[(project, location)] = cfg

    def set_health(self, project: str, location: str, name: str, pool: str | None = None, *,
                   status: str | None = None, message: str = "",
                   conditions: Sequence[Mapping[str, Any]] | None = None) -> None:
        """Test control: a cluster's or node pool's ``status`` (Cluster.Status / NodePool.Status names),
        ``statusMessage`` and ``conditions`` (StatusCondition {code|canonicalCode, message}), as GKE reports
        them; GKE sets these itself from what it observes, which the emulator does not model."""
        with self._lock:
            cluster = self.clusters[f"projects/{project}/locations/{location}/clusters/{name}"]
            obj = self._find_pool(cluster, pool) if pool else cluster
            if status is not None:
                obj.status = status
                obj.status_message = message
            if conditions is not None:
                obj.conditions = [container_v1.StatusCondition(**dict(c)) for c in conditions]

    # ---- observation (tests, demos) -----------------------------------------------------------------
    def cluster(self, project: str, location: str, name: str) -> Any:
        """A copy of the stored cluster (container_v1.Cluster), after settling operations."""
        with self._lock:
            self._settle()
            c = self.clusters[f"projects/{project}/locations/{location}/clusters/{name}"]
            return container_v1.Cluster.deserialize(container_v1.Cluster.serialize(c))

    def upgrades_for(self, location: str, name: str, project: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [e for e in self.upgrade_log if e["location"] == location and e["clusterName"] == name
                    and (project is None or e["project"] == project)]

    def running(self) -> list[EmulatedOperation]:
        with self._lock:
            self._settle()
            return [o for o in self.operations.values() if o.status == "RUNNING"]

    def next_completion(self) -> datetime | None:
        """When the last running operation will be done (advance a FakeClock to it to finish them all)."""
        ends = [o.ends for o in self.running()]
        return max(ends) if ends else None

    # ---- plumbing -----------------------------------------------------------------------------------
    def _api(self, fn: Callable[[dict[str, str], Request], Any]):
        def handler(match: Any, _body: Any, req: Request) -> tuple[int, Any, dict[str, str] | None]:
            ints = "enum-encoding=int" in unquote(req.query)
            with self._lock:
                self._settle()
                try:
                    msg = fn(match.groupdict(), req)
                except ApiError as err:
                    return err.code, err.body(), None
            text = type(msg).to_json(msg, use_integers_for_enums=ints, indent=None,
                                     always_print_fields_with_no_presence=False)
            return 200, json.loads(text), None
        return handler

    @staticmethod
    def _parse(kind: Any, req: Request) -> Any:
        """The body as ``kind``, checked against the discovery document's schema of the same name first."""
        try:
            text = (req.raw or b"{}").decode()
            validate(kind.__name__, json.loads(text))
            return kind.from_json(text)
        except SpecViolation as exc:
            raise ApiError(400, "INVALID_ARGUMENT", str(exc)) from exc
        except Exception as exc:  # json_format.ParseError, UnicodeDecodeError: a malformed request body
            raise ApiError(400, "INVALID_ARGUMENT", f"Invalid JSON payload received. {exc}") from exc

    def _settle(self) -> None:
        now = self.clock.now()
        for op in self.operations.values():
            if op.status == "RUNNING" and now >= op.ends:
                self._complete(op)

    def _complete(self, op: EmulatedOperation) -> None:
        op.status = "DONE"
        cluster = self.clusters[op.cluster]
        pool = self._find_pool(cluster, op.pool) if op.pool else None
        if op.fail:
            op.error = (f"Failed to upgrade {'node pool ' + op.pool if op.pool else 'master'} to {op.target}: "
                        "an injected failure (nodes did not become healthy).")
        elif op.op_type == "UPGRADE_MASTER":
            cluster.current_master_version = op.target
            if cluster.autopilot.enabled:
                # "After GKE upgrades your Autopilot cluster control plane, GKE upgrades the nodes to the same
                # GKE version" (cluster-upgrades-autopilot). Modelled as done when the control plane is;
                # the real node upgrade runs afterwards, within maintenance windows.
                for p in cluster.node_pools:
                    p.version = op.target
                cluster.current_node_version = op.target
        elif pool is not None:
            pool.version = op.target
            cluster.current_node_version = min((p.version for p in cluster.node_pools), key=parse_version)
        if pool is not None:
            pool.status = "RUNNING"
        cluster.status = "RUNNING"

    def _new_operation(self, p: dict[str, str], op_type: str, pool: str | None, initial: str, target: str,
                       seconds: float, nodes: int = 0, can_fail: bool = True) -> EmulatedOperation:
        self._seq += 1
        now = self.clock.now()
        name = (f"projects/{p['project']}/locations/{p['location']}/operations/"
                f"operation-{int(now.timestamp() * 1000)}-{self._seq:08x}")
        fail = self._fail_next and op_type != "UPDATE_CLUSTER" and can_fail
        if fail:
            self._fail_next = False
        op = EmulatedOperation(name, op_type, self._cluster_path(p), pool, initial, target, now,
                               now + timedelta(seconds=seconds), nodes, fail)
        self.operations[name] = op
        if seconds <= 0:
            self._complete(op)
        return op

    def _op_proto(self, op: EmulatedOperation) -> Any:
        location = op.name.split("/")[3]
        msg = container_v1.Operation(
            name=op.short, zone=location, location=location, operation_type=op.op_type, status=op.status,
            self_link=SELF_LINK + op.name, target_link=SELF_LINK + op.target_path, start_time=iso(op.started))
        if op.status == "DONE":
            msg.end_time = iso(op.ends)
        if op.error:
            msg.error = {"code": 13, "message": op.error}
            msg.status_message = op.error
        if op.op_type == "UPGRADE_NODES":
            total = op.nodes
            span = (op.ends - op.started).total_seconds() or 1.0
            done = total if op.status == "DONE" else int(
                total * min(1.0, (self.clock.now() - op.started).total_seconds() / span))
            msg.progress = {"status": op.status, "metrics": [{"name": "NODES_TOTAL", "int_value": total},
                                                              {"name": "NODES_DONE", "int_value": done}]}
        return msg

    @staticmethod
    def _cluster_path(p: dict[str, str]) -> str:
        return f"projects/{p['project']}/locations/{p['location']}/clusters/{p['cluster']}"

    def _check_project(self, project: str) -> None:
        if project not in self.projects:
            raise ApiError(403, "PERMISSION_DENIED", f"Permission denied on resource project {project}.")

    def _get(self, p: dict[str, str]) -> Any:
        self._check_project(p["project"])
        path = self._cluster_path(p)
        if path not in self.clusters:
            raise ApiError(404, "NOT_FOUND", f"Not found: {path}.")
        return self.clusters[path]

    @staticmethod
    def _refuse_autopilot(cluster: Any) -> None:
        if cluster.autopilot.enabled:                   # source: AUTOPILOT_POOLS above
            raise ApiError(400, "INVALID_ARGUMENT", AUTOPILOT_POOLS)

    @staticmethod
    def _find_pool(cluster: Any, name: str | None) -> Any:
        for pool in cluster.node_pools:
            if pool.name == name:
                return pool
        return None

    def _get_pool(self, p: dict[str, str]) -> Any:
        cluster = self._get(p)
        self._refuse_autopilot(cluster)
        pool = self._find_pool(cluster, p["pool"])
        if pool is None:
            raise ApiError(404, "NOT_FOUND", f"Not found: {self._cluster_path(p)}/nodePools/{p['pool']}.")
        return cluster, pool

    def _config(self, project: str, location: str) -> Any:
        for key in ((project, location), (project, "*"), ("*", location), ("*", "*")):
            if key in self.server_configs:
                return self.server_configs[key]
        return container_v1.ServerConfig()

    def _refuse_if_busy(self, path: str, cluster_name: str) -> None:
        # GKE refuses a second upgrade while one runs on the cluster, quoted from real responses:
        # hashicorp/terraform-provider-google#3650 ("googleapi: Error 400: Operation operation-... is currently
        # upgrading cluster NAME. Please wait and try again once it is done., failedPrecondition") and
        # banzaicloud/pipeline#623. Those quote the text for a running cluster operation; the text while a
        # node-pool operation runs is not quoted there (the emulator names the pool: an assumption).
        for op in self.operations.values():
            if op.cluster == path and op.status == "RUNNING":
                what = f"node pool {op.pool}" if op.pool else f"cluster {cluster_name}"
                raise ApiError(400, "FAILED_PRECONDITION", f"Operation {op.short} is currently upgrading "
                               f"{what}. Please wait and try again once it is done.")

    @staticmethod
    def _resolve(requested: str, valid: Sequence[str], default: str) -> str | None:
        """GKE's version aliases: 'latest', '-' (default), '1.X', '1.X.Y', or an exact valid version, as
        container.v1.json documents them on UpdateMasterRequest.masterVersion and
        UpdateNodePoolRequest.nodeVersion ("1.X": the highest valid patch+gke.N in 1.X, ...)."""
        if requested == "latest":
            return valid[0] if valid else None
        if requested == "-":
            return default or None
        if requested in valid:
            return requested
        try:
            want = parse_version(requested)
        except InvalidVersion:
            return None
        if want.build:
            return None
        hits = [v for v in valid if parse_version(v).minor_key == want.minor_key
                and (want.patch is None or parse_version(v).patch == want.patch)]
        return max(hits, key=parse_version) if hits else None

    def _log_upgrade(self, op: EmulatedOperation, requested: str, settings: Any, drain: Any = None) -> None:
        project, location = op.cluster.split("/")[1], op.cluster.split("/")[3]
        self.upgrade_log.append({
            "operation": op.name, "type": op.op_type, "project": project, "location": location,
            "clusterName": op.cluster.rsplit("/", 1)[-1], "nodePool": op.pool, "version": op.target,
            "requested": requested, "at": iso(op.started),
            "upgradeSettings": None if settings is None else json.loads(type(settings).to_json(
                settings, use_integers_for_enums=False, indent=None, always_print_fields_with_no_presence=False)),
            "nodeDrainConfig": None if drain is None else json.loads(type(drain).to_json(
                drain, indent=None, always_print_fields_with_no_presence=False)),
        })

    # ---- handlers -----------------------------------------------------------------------------------
    def _list_clusters(self, p: dict[str, str], _req: Request) -> Any:
        self._check_project(p["project"])
        prefix = f"projects/{p['project']}/locations/"
        found = [c for path, c in sorted(self.clusters.items()) if path.startswith(prefix)
                 and (p["location"] == "-" or path.split("/")[3] == p["location"])]
        return container_v1.ListClustersResponse(clusters=found)

    def _get_cluster(self, p: dict[str, str], _req: Request) -> Any:
        return self._get(p)

    def _list_node_pools(self, p: dict[str, str], _req: Request) -> Any:
        cluster = self._get(p)
        self._refuse_autopilot(cluster)
        return container_v1.ListNodePoolsResponse(node_pools=list(cluster.node_pools))

    def _get_node_pool(self, p: dict[str, str], _req: Request) -> Any:
        return self._get_pool(p)[1]

    def _upgrade_info(self, path: str, pool: str | None) -> Any:
        state = {"RUNNING": "RUNNING", "DONE": "SUCCEEDED"}
        details = [{"state": "FAILED" if o.error else state[o.status], "start_time": o.started,
                    "initial_version": o.initial, "target_version": o.target, "start_type": "MANUAL",
                    **({"end_time": o.ends} if o.status == "DONE" else {})}
                   for o in self.operations.values()
                   if o.cluster == path and o.pool == pool and o.op_type in ("UPGRADE_MASTER", "UPGRADE_NODES")]
        return details

    def _cluster_upgrade_info(self, p: dict[str, str], _req: Request) -> Any:
        cluster = self._get(p)
        channel = container_v1.ReleaseChannel.Channel(cluster.release_channel.channel).name
        return container_v1.ClusterUpgradeInfo(
            upgrade_details=self._upgrade_info(self._cluster_path(p), None),
            auto_upgrade_status=["ACTIVE"] if channel != "UNSPECIFIED" else [])

    def _pool_upgrade_info(self, p: dict[str, str], _req: Request) -> Any:
        _, pool = self._get_pool(p)
        return container_v1.NodePoolUpgradeInfo(
            upgrade_details=self._upgrade_info(self._cluster_path(p), p["pool"]),
            auto_upgrade_status=["ACTIVE"] if pool.management.auto_upgrade else [])

    def _list_operations(self, p: dict[str, str], _req: Request) -> Any:
        self._check_project(p["project"])
        ops = [self._op_proto(o) for o in self.operations.values() if o.name.split("/")[1] == p["project"]
               and (p["location"] == "-" or o.name.split("/")[3] == p["location"])]
        return container_v1.ListOperationsResponse(operations=ops)

    def _get_operation(self, p: dict[str, str], _req: Request) -> Any:
        self._check_project(p["project"])
        name = f"projects/{p['project']}/locations/{p['location']}/operations/{p['op']}"
        if name not in self.operations:
            raise ApiError(404, "NOT_FOUND", f"Not found: {name}.")
        return self._op_proto(self.operations[name])

    def _server_config(self, p: dict[str, str], _req: Request) -> Any:
        self._check_project(p["project"])
        return self._config(p["project"], p["location"])

    def _update_master(self, p: dict[str, str], req: Request) -> Any:
        cluster = self._get(p)
        body = self._parse(container_v1.UpdateMasterRequest, req)
        if not body.master_version:                   # container.v1.json: masterVersion is "Required."
            raise ApiError(400, "INVALID_ARGUMENT", "master_version must be set.")
        self._refuse_if_busy(self._cluster_path(p), p["cluster"])
        cfg = self._config(p["project"], p["location"])
        valid = list(cfg.valid_master_versions)
        channel = container_v1.ReleaseChannel.Channel(cluster.release_channel.channel).name
        for ch in cfg.channels:
            if channel != "UNSPECIFIED" and container_v1.ReleaseChannel.Channel(ch.channel).name == channel:
                valid = list(ch.valid_versions)
        target = self._resolve(body.master_version, valid, cfg.default_cluster_version)
        if target is None:
            raise ApiError(400, "INVALID_ARGUMENT", f'Master version "{body.master_version}" is unsupported.')
        cur, new = parse_version(cluster.current_master_version), parse_version(target)
        # Unsupported or older versions: the request names versions from serverConfig.validMasterVersions (or
        # the channel's validVersions); a downgrade of the control plane is not offered (GKE docs
        # "Downgrading clusters": minor downgrades are not supported; patch downgrades are not modelled).
        if new <= cur:
            raise ApiError(400, "INVALID_ARGUMENT", f"Cannot upgrade master from {cur} to {target}: "
                           "the target must be newer than the current version.")
        # One minor at a time: the Kubernetes version skew policy upgrades kube-apiserver from 1.{n-1} to 1.n;
        # Google's own words found for it are on Google Distributed Cloud ("Because of Kubernetes constraints,
        # a user cluster's control plane must be upgraded one minor version at a time", GDC for VMware,
        # skip-version-upgrade page), not a GKE page; the refusal text is the emulator's own.
        if new.minor_key > (cur.major, cur.minor + 1):
            raise ApiError(400, "INVALID_ARGUMENT", f"Master cannot be upgraded from {cur} to {target}: "
                           "upgrade one minor version at a time.")
        cluster.status = "RECONCILING"
        op = self._new_operation(p, "UPGRADE_MASTER", None, cluster.current_master_version, target,
                                 self.master_seconds)
        self._log_upgrade(op, body.master_version, None)
        return self._op_proto(op)

    def _update_node_pool(self, p: dict[str, str], req: Request) -> Any:
        cluster, pool = self._get_pool(p)
        body = self._parse(container_v1.UpdateNodePoolRequest, req)
        self._refuse_if_busy(self._cluster_path(p), p["cluster"])
        settings = body.upgrade_settings if "upgrade_settings" in body else None
        drain = body.node_drain_config if "node_drain_config" in body else None
        if settings is not None:
            self._validate_settings(settings)
        if drain is not None:
            pool.node_drain_config = drain
        if not body.node_version:                      # a settings-only update: applied at once
            if settings is not None:
                pool.upgrade_settings = settings
            op = self._new_operation(p, "UPDATE_CLUSTER", p["pool"], pool.version, pool.version, 0)
            return self._op_proto(op)
        if not body.image_type:                        # container.v1.json: imageType is "Required."
            raise ApiError(400, "INVALID_ARGUMENT", "image_type must be set when node_version is set.")
        cfg = self._config(p["project"], p["location"])
        target = self._resolve(body.node_version, list(cfg.valid_node_versions), "")
        if body.node_version == "-":                   # '-' "picks the Kubernetes master version"
            target = cluster.current_master_version
        if target is None:
            raise ApiError(400, "INVALID_ARGUMENT", f'Node version "{body.node_version}" is unsupported.')
        # Nodes never run a newer version than the control plane (Kubernetes version skew policy: the kubelet
        # must not be newer than kube-apiserver; GKE docs "Standard cluster upgrades").
        if not parse_version(target).not_newer_than(parse_version(cluster.current_master_version)):
            raise ApiError(400, "INVALID_ARGUMENT", f"Node version {target} cannot be newer than the master "
                           f"version {cluster.current_master_version}.")
        if settings is not None:
            pool.upgrade_settings = settings
        nodes = self.pool_nodes.get((self._cluster_path(p), pool.name), 0)
        pool.status = "RECONCILING"
        op = self._new_operation(p, "UPGRADE_NODES", p["pool"], pool.version, target,
                                 self._pool_seconds(pool.upgrade_settings, nodes), nodes)
        self._log_upgrade(op, body.node_version, settings, drain)
        return self._op_proto(op)

    def _rollback_node_pool(self, p: dict[str, str], req: Request) -> Any:
        """RollbackNodePoolUpgrade: "Rolls back a previously Aborted or Failed NodePool upgrade. This makes no
        changes if the last upgrade successfully completed." (container.v1 discovery document,
        projects.locations.clusters.nodePools.rollback; gcloud container node-pools rollback: "used after a
        canceled or failed node-pool upgrade. It makes a best-effort attempt to revert the pool back to its
        original state"). While an operation runs on the cluster it is refused like any mutation (see
        _refuse_if_busy). Not documented, the emulator's own (docs/fidelity/gke.md): the rollback's
        operation type (UPGRADE_NODES; the Operation.Type enum has no rollback type), its duration (one node
        batch), and the answer when there is nothing to roll back (an operation already DONE, no change)."""
        _, pool = self._get_pool(p)
        body = self._parse(container_v1.RollbackNodePoolUpgradeRequest, req)
        self._refuse_if_busy(self._cluster_path(p), p["cluster"])
        path = self._cluster_path(p)
        last = next((o for o in reversed(list(self.operations.values())) if o.cluster == path
                     and o.pool == p["pool"] and o.op_type == "UPGRADE_NODES"), None)
        failed = last is not None and last.error is not None
        target = last.initial if failed and last is not None else pool.version
        nodes = self.pool_nodes.get((path, pool.name), 0)
        if failed:
            pool.status = "RECONCILING"
        op = self._new_operation(p, "UPGRADE_NODES", p["pool"], pool.version, target,
                                 self.node_seconds if failed else 0, nodes, can_fail=False)
        self.rollback_log.append({"operation": op.name, "nodePool": p["pool"], "cluster": path,
                                  "respectPdb": bool(body.respect_pdb), "changes": failed, "version": target})
        return self._op_proto(op)

    @staticmethod
    def _validate_settings(s: Any) -> None:
        try:
            strategy = container_v1.NodePoolUpdateStrategy(s.strategy).name
        except ValueError as exc:      # an enum number the API does not define
            raise ApiError(400, "INVALID_ARGUMENT", f"Invalid value at 'upgrade_settings.strategy' "
                           f"(type.googleapis.com/google.container.v1.NodePoolUpdateStrategy), {s.strategy}") from exc
        if strategy == "BLUE_GREEN":
            rollout = s.blue_green_settings.standard_rollout_policy
            # container.v1.json StandardRolloutPolicy.batchPercentage: "The range of this field should be (0.0, 1.0]."
            if "batch_percentage" in rollout and not 0.0 < rollout.batch_percentage <= 1.0:
                raise ApiError(400, "INVALID_ARGUMENT", "batch_percentage must be in (0, 1].")
            if rollout.batch_node_count < 0:           # unanchored (spec: "Number of blue nodes to drain")
                raise ApiError(400, "INVALID_ARGUMENT", "batch_node_count must not be negative.")
            return
        if s.max_surge < 0 or s.max_unavailable < 0:   # unanchored: counts of nodes (spec), never negative
            raise ApiError(400, "INVALID_ARGUMENT", "max_surge and max_unavailable must not be negative.")
        # UpgradeSettings: "(maxUnavailable + maxSurge) determines the level of parallelism" (container.v1.json);
        # both 0 would mean no progress. No source found for GKE's refusal or its text (documented-closest:
        # the parallelism sentence above); kept as a refusal, marked unanchored in docs/fidelity/gke.md.
        if s.max_surge == 0 and s.max_unavailable == 0:
            raise ApiError(400, "INVALID_ARGUMENT", "max_surge and max_unavailable cannot both be 0.")

    def _pool_seconds(self, s: Any, nodes: int) -> float:
        """How long the emulated upgrade runs: the emulator's own model for tests, not GKE's (GKE publishes
        no duration; it applies maxSurge/maxUnavailable per zone, which this does not model)."""
        if container_v1.NodePoolUpdateStrategy(s.strategy).name == "BLUE_GREEN":
            bg = s.blue_green_settings
            rollout = bg.standard_rollout_policy
            batch = rollout.batch_node_count or (math.ceil(rollout.batch_percentage * nodes)
                                                 if rollout.batch_percentage else nodes)
            batches = math.ceil(nodes / max(1, batch))
            soak = rollout.batch_soak_duration.total_seconds() if "batch_soak_duration" in rollout else 0.0
            pool_soak = bg.node_pool_soak_duration.total_seconds() if "node_pool_soak_duration" in bg else 0.0
            return self.node_seconds + batches * (self.node_seconds + soak) + pool_soak
        parallel = max(1, s.max_surge + s.max_unavailable)
        return math.ceil(max(1, nodes) / parallel) * self.node_seconds
