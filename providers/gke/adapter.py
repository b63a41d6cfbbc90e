"""GkeProvider: fleet's Provider over google-cloud-container (``ClusterManagerClient``, REST transport).

Settings (camelCase, validated strictly)::

    projects: [my-project, ...]        required; the GCP projects to discover in
    locations: ["-"]                   regions/zones to list ("-" = every location of the project)
    endpoint: http://127.0.0.1:8080    API endpoint override (emulator, sovereign cloud); default Google's
    credentials: default | anonymous   default = Application Default Credentials chain
    credentialsFile: sa.json           a service-account key file (relative to the config directory)
    timeoutSeconds: 30                 per-request timeout (SDK retries are off: the engine retries)
    pollIntervalSeconds: 30            suggested delay between polls of a running operation

Control-plane step: ``UpdateMaster(masterVersion)``. Node-pool step: ``UpdateNodePool(nodeVersion,
imageType, upgradeSettings, nodeDrainConfig)`` with the budget from providers.gke.budget. Autopilot clusters
(``autopilot.enabled``) get ``facts["autopilot"]`` and ``pools_follow_control_plane``: GKE upgrades their
nodes after the control plane and refuses node-pool calls (providers.gke.rules). Both return a GKE Operation that is
polled with ``GetOperation``. ``start`` is idempotent: the cluster's current versions, the running operations
(``ListOperations``) and their target versions (``FetchClusterUpgradeInfo``/``FetchNodePoolUpgradeInfo``)
are read before anything is issued. SDK exceptions are translated in providers.gke.errors.translate.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import ValidationError

from fleet.clock import Clock, SystemClock
from fleet.errors import OperationNotFound, PermanentProviderError, TemporaryProviderError
from fleet.provider import (
    BuiltinCheck,
    CheckOutcome,
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
from providers.checks_base import BuiltinChecks
from providers.gke import gates
from providers.gke.budget import check_step as compute_warnings
from providers.gke.budget import compute_drain_config, compute_upgrade_settings
from providers.gke.errors import translate
from providers.gke.rules import Facts, compute_rules
from providers.gke.settings import GkeSettings

log = logging.getLogger("providers.gke")
T = TypeVar("T")
_TARGET_RE = re.compile(r"/(?:locations|zones)/(?P<loc>[^/]+)/clusters/(?P<cluster>[^/]+)"
                        r"(?:/nodePools/(?P<pool>[^/]+))?$")
_UNHEALTHY_CLUSTER = {"ERROR", "DEGRADED"}
_UNHEALTHY_POOL = {"ERROR", "RUNNING_WITH_ERROR"}


@dataclass(frozen=True)
class _Target:
    project: str
    location: str
    cluster: str

    @property
    def path(self) -> str:
        return f"projects/{self.project}/locations/{self.location}/clusters/{self.cluster}"

    def pool_path(self, pool: str) -> str:
        return f"{self.path}/nodePools/{pool}"

    @property
    def parent(self) -> str:
        return f"projects/{self.project}/locations/{self.location}"


def _enum_name(value: Any) -> str:
    return getattr(value, "name", str(value))


def _same_version(a: str, b: str) -> bool:
    try:
        return parse_version(a) == parse_version(b)
    except InvalidVersion:
        return a == b


def _ascending(versions: list[str]) -> tuple[str, ...]:
    good = []
    for v in dict.fromkeys(versions):
        try:
            good.append((parse_version(v), v))
        except InvalidVersion:
            log.debug("ignoring unparseable GKE version %r", v, extra={"provider": "gke", "reason": "invalid version"})
    return tuple(v for _, v in sorted(good, key=lambda item: item[0]))


def _pool_estimate(pool: Any) -> int:
    """A pool's size from its own fields: ``initialNodeCount`` per zone, kept inside its autoscaling limits
    (``totalMin/MaxNodeCount`` for the pool, else ``min/maxNodeCount`` per zone; container.v1.json
    NodePoolAutoscaling). ``initialNodeCount`` is the size at creation: it does not follow resizes."""
    zones = max(1, len(pool.locations))
    nodes = pool.initial_node_count * zones
    a = pool.autoscaling
    if "autoscaling" in pool and a.enabled:
        lo = a.total_min_node_count or a.min_node_count * zones
        hi = a.total_max_node_count or a.max_node_count * zones
        nodes = max(nodes, lo)
        nodes = min(nodes, hi) if hi else nodes
    return nodes


def compute_pool_nodes(gc: Any) -> tuple[dict[str, int], str]:
    """Nodes per pool, as near as the GKE API reports them, and where the numbers came from (pure).

    The container API has no per-pool current size (that is the managed instance groups' size, a Compute
    API read). It does report the cluster's ``currentNodeCount`` ("The number of nodes currently in the
    cluster", output only, deprecated in favour of the Kubernetes API): a single pool gets exactly that; several
    pools share it in proportion to their estimates (largest remainder). Without it, the estimates stand."""
    estimate = {p.name: _pool_estimate(p) for p in gc.node_pools}
    current = gc.current_node_count
    total = sum(estimate.values())
    if not estimate or not current or current == total:
        return estimate, "initialNodeCount x zones" if not current else "currentNodeCount"
    if len(estimate) == 1:
        return {name: current for name in estimate}, "currentNodeCount"
    weights = estimate if total else dict.fromkeys(estimate, 1)
    wsum = sum(weights.values())
    exact = {name: current * w / wsum for name, w in weights.items()}
    shares = {name: int(v) for name, v in exact.items()}
    for name in sorted(exact, key=lambda n: (shares[n] - exact[n], n))[:current - sum(shares.values())]:
        shares[name] += 1
    return shares, "currentNodeCount shared by estimate (approximate)"


class GkeProvider(BuiltinChecks):
    type = "gke"
    settings_model = GkeSettings   # the schema of this provider's settings (FleetConfig validates against it)
    facts_model = Facts            # per-cluster facts an inventory may state (autopilot)

    @classmethod
    def upgrade_rules(cls, cluster: Cluster) -> UpgradeRules:
        return compute_rules(cluster)

    def __init__(self, name: str = "gke", settings: Mapping[str, Any] | None = None, *,
                 clock: Clock | None = None, config_dir: str | None = None, **_: Any):
        self.name = name
        self.clock = clock or SystemClock()
        try:
            self.settings = GkeSettings.model_validate(dict(settings or {}))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<settings>'}: {e['msg']}"
                                 for e in exc.errors())
            raise ValueError(f"gke provider {name!r}: invalid settings: {problems}") from None
        self._key_file: Path | None = None
        if self.settings.credentials_file:
            self._key_file = Path(config_dir or ".") / self.settings.credentials_file
            if not self._key_file.is_file():
                raise ValueError(f"gke provider {name!r}: credentialsFile: {self._key_file} does not exist")
        import_optional("google.cloud.container_v1", "gke")   # a missing SDK names its extra at start-up
        self._client_obj: Any = None
        self._lock = threading.Lock()
        self._index: dict[str, _Target] = {}
        # bounded concurrency and a token bucket per project, on this provider's clock (docs/scale.md)
        s = self.settings
        self.limiter = ScopeLimiter(name, s.api_rate_per_second, s.api_burst, concurrency=s.api_concurrency,
                                    clock=self.clock)
        self._server_configs: dict[str, tuple[datetime, Any]] = {}    # parent -> (read at, ServerConfig)

    # ---- SDK boundary -------------------------------------------------------------------------------
    def _client(self) -> Any:
        with self._lock:
            if self._client_obj is None:
                container_v1 = import_optional("google.cloud.container_v1", "gke")
                credentials = None                      # None: the client runs the default credentials chain
                if self.settings.credentials == "anonymous":
                    credentials = import_optional("google.auth.credentials", "gke").AnonymousCredentials()
                elif self._key_file is not None:
                    sa = import_optional("google.oauth2.service_account", "gke")
                    credentials = sa.Credentials.from_service_account_file(
                        str(self._key_file), scopes=["https://www.googleapis.com/auth/cloud-platform"])
                options = {"api_endpoint": self.settings.endpoint} if self.settings.endpoint else None
                self._client_obj = container_v1.ClusterManagerClient(
                    credentials=credentials, transport="rest", client_options=options)
            return self._client_obj

    def _call(self, what: str, fn: Callable[[Any, dict[str, Any]], T]) -> T:
        """Run one SDK call (no SDK retries, a short timeout); SDK exceptions become fleet errors here."""
        try:
            return fn(self._client(), {"retry": None, "timeout": self.settings.timeout_seconds})
        except Exception as exc:
            mapped = translate(exc, provider=self.name, operation=what)
            if mapped is None:
                raise
            raise mapped from exc

    def _read(self, project: str, what: str, fn: Callable[[Any, dict[str, Any]], T]) -> T:
        """One read request through the limiter (a token of the project; Retry-After honoured)."""
        return cast(T, self.limiter.call(project, lambda: self._call(what, fn)))

    # ---- discovery ----------------------------------------------------------------------------------
    def discover(self) -> list[Cluster]:
        """One ListClusters per project and location (``-``: all of them in one call), concurrently, each
        project paced by its own bucket (docs/scale.md)."""
        found: dict[str, Cluster] = {}
        where = [(project, f"projects/{project}/locations/{location}")
                 for project in self.settings.projects for location in self.settings.locations]
        lists = self.limiter.spread([
            functools.partial(self._read, project, f"list clusters in {parent}",
                              functools.partial(_list_clusters, parent)) for project, parent in where])
        for (project, parent), resp in zip(where, lists, strict=True):
            if isinstance(resp, BaseException):
                raise resp
            if resp.missing_zones:
                log.warning("GKE could not list clusters in zones %s of project %s",
                            ", ".join(resp.missing_zones), project,
                            extra={"provider": self.name, "operation": f"list clusters in {parent}",
                                   "reason": "missing zones"})
            for gc in resp.clusters:
                cluster = self.observe_cluster(project, gc)
                prior = found.get(cluster.id)
                if prior is not None and prior.extra.get("project") != project:
                    log.warning("cluster id %s exists in projects %s and %s; keeping the first", cluster.id,
                                prior.extra.get("project"), project,
                                extra={"provider": self.name, "cluster": cluster.id, "reason": "duplicate id"})
                    continue
                found[cluster.id] = cluster
                self._index[cluster.id] = _Target(project, cluster.location, cluster.name)
        return [found[k] for k in sorted(found)]

    def observe_cluster(self, project: str, gc: Any) -> Cluster:
        """A container_v1.Cluster as fleet's Cluster (pure)."""
        channel = _enum_name(gc.release_channel.channel) if "release_channel" in gc else "UNSPECIFIED"
        auto = []
        if channel not in ("UNSPECIFIED", "0"):
            auto.append(f"release channel {channel}")
        pools_auto = [p.name for p in gc.node_pools if p.management.auto_upgrade]
        if pools_auto:
            auto.append(f"node auto-upgrade on {', '.join(pools_auto)}")
        autopilot = "autopilot" in gc and bool(gc.autopilot.enabled)
        counts, counted = compute_pool_nodes(gc)
        pools = tuple(NodePool(name=p.name, version=p.version, nodes=counts[p.name],
                               healthy=_enum_name(p.status) not in _UNHEALTHY_POOL,
                               upgrading=_enum_name(p.status) == "RECONCILING",
                               labels=dict(p.config.labels) if "config" in p else {})   # NodeConfig.labels
                      for p in gc.node_pools)
        status = _enum_name(gc.status)
        return Cluster(
            provider=self.name, provider_type=self.type, location=gc.location, name=gc.name,
            control_plane=gc.current_master_version, node_pools=pools, labels=dict(gc.resource_labels),
            auto_upgrade="; ".join(auto) or None, healthy=status not in _UNHEALTHY_CLUSTER,
            upgrading=status == "RECONCILING" or any(p.upgrading for p in pools),
            pools_follow_control_plane=autopilot, facts={"autopilot": autopilot},
            extra={"project": project, "releaseChannel": channel, "status": status, "nodeCount": counted,
                   "poolZones": {p.name: len(p.locations) for p in gc.node_pools}})

    def _target(self, cluster: Cluster) -> _Target:
        project = (cluster.extra or {}).get("project")
        if project:
            return _Target(project, cluster.location, cluster.name)
        if cluster.id not in self._index and len(self.settings.projects) == 1:
            return _Target(self.settings.projects[0], cluster.location, cluster.name)
        if cluster.id not in self._index:
            self.discover()
        if cluster.id not in self._index:
            raise PermanentProviderError(f"cluster {cluster.id} not found in projects "
                                         f"{', '.join(self.settings.projects)}", provider=self.name, code="404")
        return self._index[cluster.id]

    # ---- offers -------------------------------------------------------------------------------------
    def offers(self, cluster: Cluster) -> VersionOffers:
        t = self._target(cluster)
        cfg = self._server_config(t)
        masters = list(cfg.valid_master_versions)
        channel = (cluster.extra or {}).get("releaseChannel")
        for ch in cfg.channels:
            if channel not in (None, "UNSPECIFIED") and _enum_name(ch.channel) == channel and ch.valid_versions:
                masters = list(ch.valid_versions)
        # every valid node version of the location: the planner keeps each pool step at or below the
        # control-plane version it follows (filtering by today's control plane would hide later minors)
        nodes = list(cfg.valid_node_versions)
        return VersionOffers(control_plane=_ascending(masters), node_pools={"*": _ascending(nodes)})

    def _server_config(self, t: _Target) -> Any:
        """The location's ServerConfig (offers are per location: cached ``serverConfigEverySeconds``)."""
        now = self.clock.now()
        hit = self._server_configs.get(t.parent)
        ttl = timedelta(seconds=self.settings.server_config_every_seconds)
        if hit is not None and ttl and timedelta(0) <= now - hit[0] < ttl:
            return hit[1]
        cfg = self._read(t.project, f"get server config for {t.parent}",
                         lambda c, kw: c.get_server_config(name=t.parent, **kw))
        self._server_configs[t.parent] = (now, cfg)
        return cfg

    # ---- budgets ------------------------------------------------------------------------------------
    def check_step(self, cluster: Cluster, step: Step) -> list[str]:
        return compute_warnings(cluster, step)

    # ---- start --------------------------------------------------------------------------------------
    def start(self, cluster: Cluster, step: Step) -> OperationRef:
        t = self._target(cluster)
        gc = self._call(f"get cluster {t.path}", lambda c, kw: c.get_cluster(name=t.path, **kw))
        pool_name = step.pool if step.component is Component.NODE_POOL else None
        if pool_name is None:
            current = gc.current_master_version
        elif "autopilot" in gc and gc.autopilot.enabled:
            # GKE refuses node-pool calls on Autopilot clusters (400 "Autopilot node pools cannot be accessed or
            # modified."); their nodes follow the control plane. The planner never plans this step.
            raise PermanentProviderError(f"{cluster.id} is an Autopilot cluster: GKE upgrades its nodes after "
                                         f"the control plane; node pool {pool_name} cannot be upgraded by API",
                                         provider=self.name, code="FAILED_PRECONDITION")
        else:
            pool = next((p for p in gc.node_pools if p.name == pool_name), None)
            if pool is None:
                raise PermanentProviderError(f"node pool {pool_name} not found in {cluster.id}",
                                             provider=self.name, code="404")
            current = pool.version
        ops = self._call(f"list operations in {t.parent}",
                         lambda c, kw: c.list_operations(parent=t.parent, **kw)).operations
        if _same_version(current, step.to):
            return self._completed(t, cluster, step, ops)
        running = [o for o in ops if _enum_name(o.status) in ("PENDING", "RUNNING", "ABORTING")
                   and self._op_target(o, t) is not None]
        kind = "UPGRADE_MASTER" if pool_name is None else "UPGRADE_NODES"
        for o in running:
            if (_enum_name(o.operation_type) == kind and self._op_target(o, t) == (pool_name or "")
                    and _same_version(self._running_target(t, pool_name) or "", step.to)):
                log.info("upgrade of %s to %s already running as %s", cluster.id, step.to, o.name,
                         extra={"provider": self.name, "cluster": cluster.id, "operation": o.name})
                return self._ref(t, cluster, step, o)
        if running:
            raise TemporaryProviderError(
                f"GKE operation {running[0].name} ({_enum_name(running[0].operation_type)}) is running on "
                f"{cluster.id}; try {step.key} later", provider=self.name, code="FAILED_PRECONDITION",
                retry_after=self.settings.poll_interval_seconds)
        if pool_name is None:
            op = self._call(f"update master of {t.path} to {step.to}",
                            lambda c, kw: c.update_master(name=t.path, master_version=step.to, **kw))
        else:
            op = self._call(f"update node pool {t.pool_path(pool_name)} to {step.to}",
                            lambda c, kw: c.update_node_pool(request=self._pool_request(t, pool, step), **kw))
        log.info("requested upgrade of %s (%s) to %s: operation %s", cluster.id, step.key, step.to, op.name,
                 extra={"provider": self.name, "cluster": cluster.id, "operation": op.name})
        return self._ref(t, cluster, step, op)

    def _pool_request(self, t: _Target, pool: Any, step: Step) -> Any:
        container_v1 = import_optional("google.cloud.container_v1", "gke")
        fields: dict[str, Any] = {"name": t.pool_path(pool.name), "node_version": step.to,
                                  "image_type": pool.config.image_type or "COS_CONTAINERD"}
        settings = compute_upgrade_settings(step)
        if settings is not None:
            fields["upgrade_settings"] = container_v1.NodePool.UpgradeSettings(**settings)
        drain = compute_drain_config(step)
        if drain is not None:
            fields["node_drain_config"] = container_v1.NodePool.NodeDrainConfig(**drain)
        return container_v1.UpdateNodePoolRequest(**fields)

    @staticmethod
    def _op_target(op: Any, t: _Target) -> str | None:
        """'' when ``op`` targets the cluster itself, the pool name for a pool, None for other clusters."""
        m = _TARGET_RE.search(op.target_link or "")
        if m is None or m["cluster"] != t.cluster or m["loc"] != t.location:
            return None
        return m["pool"] or ""

    def _running_target(self, t: _Target, pool: str | None) -> str | None:
        """The target version of the upgrade running on the cluster (or pool), from GKE's upgrade info."""
        if pool is None:
            info = self._call(f"fetch upgrade info of {t.path}",
                              lambda c, kw: c.fetch_cluster_upgrade_info(name=t.path, **kw))
        else:
            info = self._call(f"fetch upgrade info of {t.pool_path(pool)}",
                              lambda c, kw: c.fetch_node_pool_upgrade_info(name=t.pool_path(pool), **kw))
        running = [d for d in info.upgrade_details if _enum_name(d.state) == "RUNNING"]
        return running[-1].target_version if running else None

    def _completed(self, t: _Target, cluster: Cluster, step: Step, ops: list[Any]) -> OperationRef:
        want = step.pool if step.component is Component.NODE_POOL else ""
        kind = "UPGRADE_NODES" if want else "UPGRADE_MASTER"
        done = [o for o in ops if _enum_name(o.status) == "DONE" and _enum_name(o.operation_type) == kind
                and self._op_target(o, t) == want and not (o.error.code or o.error.message)]
        if done:
            return self._ref(t, cluster, step, max(done, key=lambda o: o.end_time or o.start_time))
        return OperationRef(id=f"{cluster.id}#{step.key}", cluster_id=cluster.id, step_key=step.key,
                            data={"done": True, "target": step.to})

    def _ref(self, t: _Target, cluster: Cluster, step: Step, op: Any) -> OperationRef:
        location = op.location or t.location
        name = op.name if op.name.startswith("projects/") else \
            f"projects/{t.project}/locations/{location}/operations/{op.name}"
        return OperationRef(id=name, cluster_id=cluster.id, step_key=step.key,
                            data={"name": name, "target": step.to})

    # ---- poll ---------------------------------------------------------------------------------------
    def poll(self, cluster: Cluster, op: OperationRef) -> OperationStatus:
        if op.data.get("done"):
            return OperationStatus(OperationState.SUCCEEDED, f"already at {op.data.get('target')}", 1.0)
        name = str(op.data.get("name") or op.id)
        try:
            o = self._call(f"get operation {name}", lambda c, kw: c.get_operation(name=name, **kw))
        except PermanentProviderError as err:   # operations.get answered 404 NOT_FOUND
            if err.code == "404":
                raise OperationNotFound(f"operation {name} is no longer known: {err}", provider=self.name,
                                        code=err.code) from err
            raise
        status = _enum_name(o.status)
        if status == "DONE":
            if o.error.code or o.error.message or o.status_message:
                return OperationStatus(OperationState.FAILED,
                                       o.error.message or o.status_message or f"operation {o.name} failed")
            return OperationStatus(OperationState.SUCCEEDED, o.detail or "done", 1.0)
        metrics = {m.name: m.int_value for m in o.progress.metrics}
        total, done = metrics.get("NODES_TOTAL"), metrics.get("NODES_DONE")
        progress = min(1.0, done / total) if total and done is not None else None
        return OperationStatus(OperationState.RUNNING, f"{_enum_name(o.operation_type)} {status.lower()}",
                               progress, poll_after=self.settings.poll_interval_seconds)


    # ---- safety gates (fleet.provider: BuiltinCheck; providers/gke/gates.py; docs/gates-providers.md) -----
    SUPPORTED_CHECKS = frozenset({BuiltinCheck.CLUSTER_HEALTH, BuiltinCheck.NODES_READY})
    ROLLBACK_API = "RollbackNodePoolUpgrade (POST v1/{name=projects/*/locations/*/clusters/*/nodePools/*}:rollback)"

    def check_runners(self, cluster: Cluster, step: Step, params: Mapping[str, Any],
                      now: datetime) -> Mapping[str, Callable[[], CheckOutcome]]:
        return {
            BuiltinCheck.CLUSTER_HEALTH: lambda: self._check_health(cluster),
            BuiltinCheck.NODES_READY: lambda: self._check_ready(cluster, step),
        }

    def _check_health(self, cluster: Cluster) -> CheckOutcome:
        t = self._target(cluster)
        gc = self._call(f"get cluster {t.path}", lambda c, kw: c.get_cluster(name=t.path, **kw))
        return gates.cluster_health(gc)

    def _check_ready(self, cluster: Cluster, step: Step) -> CheckOutcome:
        t = self._target(cluster)
        if step.component is Component.NODE_POOL and step.pool:
            pool = self._call(f"get node pool {t.pool_path(step.pool)}",
                              lambda c, kw: c.get_node_pool(name=t.pool_path(step.pool or ""), **kw))
            return gates.pool_ready(pool, step.to, _same_version(pool.version, step.to))
        gc = self._call(f"get cluster {t.path}", lambda c, kw: c.get_cluster(name=t.path, **kw))
        return gates.master_ready(gc, step.to, _same_version(gc.current_master_version, step.to))

    @classmethod
    def rollback_support(cls, cluster: Cluster, step: Step) -> RollbackSupport | None:
        """Node-pool steps only (GKE has no control-plane rollback API in container v1; a control-plane
        downgrade is refused). GKE rolls back an upgrade that failed or was canceled; after one that completed
        it makes no changes, so ``rollback`` refuses then (NothingToRollBack) and the step halts instead."""
        if step.component is not Component.NODE_POOL or not step.pool or cluster.pools_follow_control_plane:
            return None
        return RollbackSupport(cls.ROLLBACK_API, None,
                               "reverts a node-pool upgrade that failed or was canceled (best effort, GKE API "
                               "reference); no changes after an upgrade that completed")

    def rollback(self, cluster: Cluster, step: Step, op: OperationRef) -> OperationRef:
        if self.rollback_support(cluster, step) is None:
            raise PermanentProviderError(f"{cluster.id}: {step.key} cannot be rolled back on GKE",
                                         provider=self.name, code="RollbackUnsupported")
        t = self._target(cluster)
        path = t.pool_path(step.pool or "")
        info = self._call(f"fetch upgrade info of {path}",
                          lambda c, kw: c.fetch_node_pool_upgrade_info(name=path, **kw))
        last = _enum_name(info.upgrade_details[-1].state) if info.upgrade_details else "NONE"
        if last == "RUNNING":
            raise TemporaryProviderError(f"{cluster.id}: node pool {step.pool} is still upgrading; roll back "
                                         "after it failed or was canceled", provider=self.name,
                                         code="FAILED_PRECONDITION", retry_after=self.settings.poll_interval_seconds)
        if last not in ("FAILED", "CANCELED"):
            raise PermanentProviderError(
                f"{cluster.id}: nothing to roll back on node pool {step.pool}: its last upgrade is {last}, and "
                "GKE's RollbackNodePoolUpgrade makes no changes after an upgrade that completed",
                provider=self.name, code="NothingToRollBack")
        container_v1 = import_optional("google.cloud.container_v1", "gke")
        request = container_v1.RollbackNodePoolUpgradeRequest(name=path)
        done = self._call(f"roll back node pool {path}",
                          lambda c, kw: c.rollback_node_pool_upgrade(request=request, **kw))
        log.info("requested rollback of %s (%s): operation %s", cluster.id, step.key, done.name,
                 extra={"provider": self.name, "cluster": cluster.id, "operation": done.name})
        ref = self._ref(t, cluster, step, done)
        return OperationRef(ref.id, ref.cluster_id, ref.step_key, {**ref.data, "rollback": True,
                                                                   "target": step.from_})


def _list_clusters(parent: str, c: Any, kw: dict[str, Any]) -> Any:
    return c.list_clusters(parent=parent, **kw)
