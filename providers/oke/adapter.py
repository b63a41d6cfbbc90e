"""OkeProvider: Oracle Container Engine for Kubernetes through the official ``oci`` SDK (ContainerEngineClient).

Settings (camelCase, strict):

- ``compartments`` (required): compartment OCIDs to discover clusters in.
- ``regions``: region names (default: the region of the OCI config / ``auth``).
- ``endpoint``: service endpoint override, e.g. a sovereign realm or an emulator; ``{region}`` is replaced by
  the region (required when more than one region is set).
- ``configFile`` / ``profile``: the OCI CLI config (default ``~/.oci/config``, ``DEFAULT``).
- ``auth``: ``{tenancy, user, fingerprint, privateKey | privateKeyFile, passphrase?, region?}`` for an
  in-memory API-key signer instead of the config file.
- ``timeoutSeconds`` (default 10): HTTP read timeout; ``pollIntervalSeconds`` (default 30): suggested poll delay.

Steps: the control plane moves with ``UpdateCluster(kubernetesVersion)``; a node pool with
``UpdateNodePool(kubernetesVersion, nodePoolCyclingDetails{isNodeCyclingEnabled, maximumSurge,
maximumUnavailable})`` (see budget.py). Both return a work request, which poll() reads.

Rules (rules.py, docs/fidelity/oke.md): node cycling exists only on ENHANCED clusters and never for bare-metal
shapes; without it a pool's new version reaches only new nodes. discover() fills ``Cluster.facts``
(``clusterType``, ``bareMetalPools``); the planner blocks such pools, and start() refuses them too. A pool step
is done only when every node of the pool runs the target version: after the update's work request succeeds,
poll() follows a ``NODEPOOL_CYCLING`` work request on the pool, if OKE runs one, and checks the nodes.

Idempotency: OKE's work requests do not say which version they move to, so start() records its target in
the freeform tag ``fleet-upgrade-target`` in the same update request. A running work request whose resource
carries the same target is "ours" and is returned; any other running update is refused as temporary.

OKE has no cloud-side auto-upgrade of the control plane, so Cluster.auto_upgrade is always None.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

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
from providers.oke import gates
from providers.oke.budget import compute_cycling
from providers.oke.errors import translate
from providers.oke.rules import BARE_METAL_REASON, BASIC, BASIC_REASON, Facts, compute_rules, is_bare_metal
from providers.oke.settings import OkeSettings, parse_settings

log = logging.getLogger("providers.oke")

TARGET_TAG = "fleet-upgrade-target"
RUNNING_WR = ["ACCEPTED", "IN_PROGRESS", "CANCELING"]
GONE = {"DELETING", "DELETED"}
DONE_PREFIX = "done:"
MAX_PAGES = 100
PAGE_LIMIT = 1000     # the maximum ``limit`` of OKE's List operations (SDK docstrings, "1000 is the maximum")
POOL_WORK = ("NODEPOOL_UPDATE", "NODEPOOL_CYCLING")   # oci.container_engine.models.WorkRequest.operation_type
# how long poll() waits, after a pool's update succeeded with cycling requested but nodes still old, for a
# NODEPOOL_CYCLING work request to appear before it reports the step failed
CYCLING_GRACE_SECONDS = 600.0


def oke_version(version: str) -> str:
    """OKE spells versions ``v1.30.1``."""
    v = version.strip()
    return v if v.startswith("v") else f"v{v}"


def _same(a: str | None, b: str) -> bool:
    try:
        return a is not None and parse_version(a) == parse_version(b)
    except InvalidVersion:
        return a == b


def _sorted_versions(versions: set[str]) -> tuple[str, ...]:
    return tuple(sorted(versions, key=parse_version))


class OkeProvider(BuiltinChecks):
    type = "oke"
    settings_model = OkeSettings   # the schema of this provider's settings (FleetConfig validates against it)
    facts_model = Facts            # the per-cluster facts of an inventory cluster (rules.py)

    @classmethod
    def upgrade_rules(cls, cluster: Cluster) -> UpgradeRules:
        return compute_rules(cluster)

    def __init__(self, name: str = "oke", settings: Mapping[str, Any] | None = None, *, clock: Clock | None = None,
                 config_dir: str | None = None, **_: Any):
        self.name = name
        self.settings = parse_settings(settings or {})
        self.clock = clock or SystemClock()
        self._config_dir = Path(config_dir) if config_dir else None
        self._oci = import_optional("oci", "oke")
        self._clients: dict[str, Any] = {}
        self._base_config: dict[str, Any] | None = None
        self._client_lock = threading.Lock()    # clients are made once, shared by the limiter's workers
        # bounded concurrency and a token bucket per tenancy+region, on this provider's clock (docs/scale.md)
        s = self.settings
        self.limiter = ScopeLimiter(name, s.api_rate_per_second, s.api_burst, concurrency=s.api_concurrency,
                                    clock=self.clock)
        self._options: dict[tuple[str, str], tuple[datetime, list[str]]] = {}   # (region, comp) -> read at, versions

    # ---- SDK plumbing -----------------------------------------------------------------------------------
    def _call(self, action: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Every SDK call goes through here: foreign errors become Temporary/PermanentProviderError."""
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            err = translate(exc, provider=self.name, operation=action)
            if err is None:
                raise
            log.info("oke call failed", extra={"provider": self.name, "operation": action, "reason": err.code})
            raise err from exc

    def _path(self, p: str) -> str:
        path = Path(p).expanduser()
        return str(self._config_dir / path if self._config_dir and not path.is_absolute() else path)

    def _config(self) -> dict[str, Any]:
        if self._base_config is None:
            s, oci = self.settings, self._oci
            if s.auth is not None:
                cfg: dict[str, Any] = {"tenancy": s.auth.tenancy, "user": s.auth.user,
                                       "fingerprint": s.auth.fingerprint, "region": s.auth.region}
                if s.auth.private_key_file:
                    cfg["key_file"] = self._path(s.auth.private_key_file)
                else:
                    cfg["key_content"] = s.auth.private_key.get_secret_value() if s.auth.private_key else None
                if s.auth.passphrase is not None:
                    cfg["pass_phrase"] = s.auth.passphrase.get_secret_value()
            else:
                file = self._path(s.config_file) if s.config_file else oci.config.DEFAULT_LOCATION
                cfg = self._call("read OCI config", oci.config.from_file, file_location=file, profile_name=s.profile)
            self._base_config = cfg
        return self._base_config

    def regions(self) -> list[str]:
        if self.settings.regions:
            return list(self.settings.regions)
        region = self._config().get("region")
        if not region:
            raise PermanentProviderError("no OCI region: set regions in the oke settings", provider=self.name,
                                         code="InvalidConfig")
        return [region]

    def _client(self, region: str) -> Any:
        with self._client_lock:
            return self._make_client(region)

    def _make_client(self, region: str) -> Any:
        if region not in self._clients:
            oci, s = self._oci, self.settings
            cfg = {**self._config(), "region": region}
            kwargs: dict[str, Any] = {
                "retry_strategy": oci.retry.NoneRetryStrategy(),
                "circuit_breaker_strategy": oci.circuit_breaker.NoCircuitBreakerStrategy(),
                "timeout": (min(5.0, s.timeout_seconds), s.timeout_seconds)}
            if s.auth is not None:
                kwargs["signer"] = self._call(
                    "load API key", oci.signer.Signer, cfg["tenancy"], cfg["user"], cfg["fingerprint"],
                    private_key_file_location=cfg.get("key_file"), pass_phrase=cfg.get("pass_phrase"),
                    private_key_content=cfg.get("key_content"))
            if s.endpoint:
                kwargs["service_endpoint"] = s.endpoint.replace("{region}", region)
            self._clients[region] = self._call("create ContainerEngineClient",
                                               oci.container_engine.ContainerEngineClient, cfg, **kwargs)
        return self._clients[region]

    def _scope(self, region: str) -> str:
        """What OCI meters requests by: the tenancy (of the signing key or config), in one region."""
        tenancy = self.settings.auth.tenancy if self.settings.auth is not None else self.settings.profile
        return f"{tenancy}:{region}"

    def _read(self, region: str, action: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One read request through the limiter (a token of the tenancy+region; Retry-After honoured)."""
        return self.limiter.call(self._scope(region), lambda: self._call(action, fn, *args, **kwargs))

    def _all(self, action: str, fn: Callable[..., Any], *args: Any, region: str | None = None,
             **kwargs: Any) -> list[Any]:
        """Follow ``opc-next-page``. (oci.pagination wraps calls in the SDK's default retry strategy, which
        sleeps; fleet retries on its own schedule, so pages are fetched here without retries.) With ``region``,
        each page is a read through the limiter, at the documented maximum page size (1000, ``limit`` of the
        List operations: oci.container_engine.ContainerEngineClient)."""
        items: list[Any] = []
        page: str | None = None
        if region is not None:
            kwargs = {**kwargs, "limit": PAGE_LIMIT}
        for _ in range(MAX_PAGES):
            args_ = {**kwargs, "page": page} if page else kwargs
            resp = (self._read(region, action, fn, *args, **args_) if region is not None
                    else self._call(action, fn, *args, **args_))
            items.extend(resp.data or [])
            page = resp.next_page
            if not page:
                return items
        raise TemporaryProviderError(f"{action}: more than {MAX_PAGES} pages", provider=self.name, code="Paging")

    # ---- discovery ------------------------------------------------------------------------------------
    def discover(self) -> list[Cluster]:
        """Per region and compartment, concurrently (each tenancy+region paced by its own bucket): one
        ListClusters and one ListNodePools for the whole compartment (its ``clusterId`` filter is optional:
        oci.container_engine.ContainerEngineClient.list_node_pools), pages of 1000, and the compartment's
        offered versions (GetClusterOptions, cached ``optionsEverySeconds``): 2-3 requests per compartment
        and region, whatever the number of clusters (docs/scale.md)."""
        where = [(region, comp) for region in self.regions() for comp in self.settings.compartments]
        found = self.limiter.spread([functools.partial(self._discover_in, r, c) for r, c in where])
        out: list[Cluster] = []
        for part in found:
            if isinstance(part, BaseException):
                raise part
            out.extend(part)
        return out

    def _discover_in(self, region: str, comp: str) -> list[Cluster]:
        ce = self._client(region)
        clusters = [c for c in self._all("list clusters", ce.list_clusters, comp, region=region)
                    if c.lifecycle_state not in GONE]
        if not clusters:
            return []
        opts = self._offered(ce, region, comp)
        pools: dict[str, list[Any]] = {}
        for p in self._all("list node pools", ce.list_node_pools, comp, region=region):
            pools.setdefault(p.cluster_id, []).append(p)
        return [self._to_cluster(region, comp, c, pools.get(c.id, []), opts) for c in clusters]

    def _offered(self, ce: Any, region: str, comp: str) -> list[str]:
        """Every version OKE offers in a region and compartment (GetClusterOptions ``all``), cached."""
        key, now = (region, comp), self.clock.now()
        hit = self._options.get(key)
        ttl = timedelta(seconds=self.settings.options_every_seconds)
        if hit is not None and ttl and timedelta(0) <= now - hit[0] < ttl:
            return hit[1]
        opts = self._read(region, "get cluster options", ce.get_cluster_options, "all", compartment_id=comp,
                          should_list_all_patch_versions=True).data.kubernetes_versions or []
        self._options[key] = (now, list(opts))
        return list(opts)

    def _to_cluster(self, region: str, comp: str, c: Any, pools: list[Any], opts: list[str]) -> Cluster:
        node_pools = tuple(
            NodePool(p.name, p.kubernetes_version, nodes=_pool_size(p),
                     healthy=p.lifecycle_state in ("ACTIVE", "UPDATING"), upgrading=p.lifecycle_state == "UPDATING")
            for p in pools if p.lifecycle_state not in GONE)
        tags = dict(c.freeform_tags or {})
        tags.pop(TARGET_TAG, None)
        return Cluster(
            provider=self.name, location=region, name=c.name, control_plane=c.kubernetes_version,
            node_pools=node_pools, labels=tags, provider_type=self.type,
            available=self._cp_versions(c.kubernetes_version, c.available_kubernetes_upgrades, opts),
            auto_upgrade=None,   # OKE never upgrades a control plane by itself
            healthy=c.lifecycle_state in ("ACTIVE", "UPDATING"),
            upgrading=c.lifecycle_state == "UPDATING" or any(p.upgrading for p in node_pools),
            extra={"clusterId": c.id, "compartmentId": comp, "region": region, "type": c.type,
                   "lifecycleState": c.lifecycle_state,
                   "nodePoolIds": {p.name: p.id for p in pools if p.lifecycle_state not in GONE}},
            facts=_facts(c, pools))

    @staticmethod
    def _cp_versions(current: str, upgrades: list[str] | None, opts: list[str]) -> tuple[str, ...]:
        """The current version, OKE's availableKubernetesUpgrades, and every newer supported version."""
        vs = {current, *(upgrades or [])}
        try:
            cur = parse_version(current)
            vs.update(v for v in opts if parse_version(v) > cur)
            return _sorted_versions(vs)
        except InvalidVersion:
            return tuple(sorted(vs))

    def _locate(self, cluster: Cluster) -> tuple[Any, str, str]:
        """(client, compartment, cluster OCID) for a discovered cluster, finding it by name if needed."""
        extra = cluster.extra or {}
        region = extra.get("region") or cluster.location
        ce = self._client(region)
        if extra.get("clusterId") and extra.get("compartmentId"):
            return ce, extra["compartmentId"], extra["clusterId"]
        for comp in self.settings.compartments:
            found = [c for c in self._all("list clusters", ce.list_clusters, comp, name=cluster.name)
                     if c.lifecycle_state not in GONE]
            if found:
                return ce, comp, found[0].id
        raise PermanentProviderError(f"cluster {cluster.id} not found in {region}", provider=self.name,
                                     code="NotAuthorizedOrNotFound")

    def offers(self, cluster: Cluster) -> VersionOffers:
        ce, comp, cid = self._locate(cluster)
        region = (cluster.extra or {}).get("region") or cluster.location
        c = self._read(region, "get cluster", ce.get_cluster, cid).data
        opts = self._read(region, "get cluster options", ce.get_cluster_options, cid, compartment_id=comp,
                          should_list_all_patch_versions=True).data.kubernetes_versions or []
        return VersionOffers(self._cp_versions(c.kubernetes_version, c.available_kubernetes_upgrades, opts),
                             {"*": _sorted_versions(set(opts))})

    # ---- steps ----------------------------------------------------------------------------------------
    def check_step(self, cluster: Cluster, step: Step) -> list[str]:
        if step.component is Component.CONTROL_PLANE:
            return []
        pool = cluster.pool(step.pool or "")
        return list(compute_cycling(step, pool.nodes if pool else None).warnings)

    def _running(self, ce: Any, comp: str, cid: str, op_types: str | tuple[str, ...], resource_id: str,
                 statuses: list[str] = RUNNING_WR) -> list[Any]:
        types = (op_types,) if isinstance(op_types, str) else op_types
        wrs = self._all("list work requests", ce.list_work_requests, comp, cluster_id=cid, resource_id=resource_id,
                        resource_type="CLUSTER" if "CLUSTER_UPDATE" in types else "NODEPOOL", status=statuses)
        return [w for w in wrs if w.status in statuses and w.operation_type in types
                and any(r.identifier == resource_id for r in w.resources or [])]

    def _check_cyclable(self, ce: Any, cid: str, cluster: Cluster, step: Step, pool: Any) -> None:
        """Never send a pool upgrade OKE cannot carry out on the existing nodes (rules.py): it would "succeed"
        while the kubelets stay old."""
        c = self._call("get cluster", ce.get_cluster, cid).data
        reason = BASIC_REASON if c.type == BASIC else BARE_METAL_REASON if is_bare_metal(pool.node_shape) else None
        if reason:
            raise PermanentProviderError(f"cannot upgrade node pool {step.pool} of {cluster.id}: {reason}",
                                         provider=self.name, code="NodeCyclingUnsupported")

    def _ref(self, cluster: Cluster, step: Step, op_id: str, region: str, comp: str, target: str) -> OperationRef:
        data: dict[str, Any] = {"region": region, "compartmentId": comp, "target": target}
        if step.component is Component.NODE_POOL:
            data["pool"] = step.pool
        return OperationRef(op_id, cluster.id, step.key, data)

    def start(self, cluster: Cluster, step: Step) -> OperationRef:
        ce, comp, cid = self._locate(cluster)
        region = (cluster.extra or {}).get("region") or cluster.location
        target = oke_version(step.to)
        if step.component is Component.CONTROL_PLANE:
            c = self._call("get cluster", ce.get_cluster, cid).data
            if _same(c.kubernetes_version, target):
                return self._ref(cluster, step, f"{DONE_PREFIX}{cid}@{target}", region, comp, target)
            running = self._running(ce, comp, cid, "CLUSTER_UPDATE", cid)
            if running:
                return self._adopt(cluster, step, running[0], c.freeform_tags, region, comp, target)
            details = self._oci.container_engine.models.UpdateClusterDetails(
                kubernetes_version=target, freeform_tags={**(c.freeform_tags or {}), TARGET_TAG: target})
            resp = self._call("update cluster", ce.update_cluster, cid, details)
        else:
            pid = self._pool_id(ce, comp, cid, cluster, step)
            p = self._call("get node pool", ce.get_node_pool, pid).data
            if _same(p.kubernetes_version, target) and all(_same(n.kubernetes_version, target) for n in p.nodes or []):
                return self._ref(cluster, step, f"{DONE_PREFIX}{pid}@{target}", region, comp, target)
            running = self._running(ce, comp, cid, POOL_WORK, pid)
            if running:
                return self._adopt(cluster, step, running[0], p.freeform_tags, region, comp, target)
            self._check_cyclable(ce, cid, cluster, step, p)
            resp = self._call("update node pool", ce.update_node_pool, pid, self._pool_details(p, step, target))
            wr_id = resp.headers.get("opc-work-request-id")
            if wr_id:
                ref = self._ref(cluster, step, wr_id, region, comp, target)
                log.info("oke upgrade started", extra={"provider": self.name, "cluster": cluster.id, "operation": wr_id})
                return OperationRef(ref.id, ref.cluster_id, ref.step_key, {**ref.data, "poolId": pid})
        wr = resp.headers.get("opc-work-request-id")
        if not wr:
            raise TemporaryProviderError(f"OKE accepted the update of {cluster.id} without a work request id",
                                         provider=self.name, code="NoWorkRequest")
        log.info("oke upgrade started", extra={"provider": self.name, "cluster": cluster.id, "operation": wr})
        return self._ref(cluster, step, wr, region, comp, target)

    def _adopt(self, cluster: Cluster, step: Step, wr: Any, tags: Mapping[str, str] | None, region: str,
               comp: str, target: str) -> OperationRef:
        """A work request is running: ours if the resource's target tag says so, else try later."""
        if (tags or {}).get(TARGET_TAG) == target:
            return self._ref(cluster, step, wr.id, region, comp, target)
        raise TemporaryProviderError(f"another update ({wr.operation_type} {wr.id}) is in progress on {cluster.id}",
                                     provider=self.name, code="IncorrectState",
                                     retry_after=self.settings.poll_interval_seconds)

    def _pool_id(self, ce: Any, comp: str, cid: str, cluster: Cluster, step: Step) -> str:
        ids = (cluster.extra or {}).get("nodePoolIds") or {}
        if step.pool in ids:
            return ids[step.pool]
        found = [p for p in self._all("list node pools", ce.list_node_pools, comp, cluster_id=cid, name=step.pool)
                 if p.lifecycle_state not in GONE]
        if not found:
            raise PermanentProviderError(f"node pool {step.pool} not found in {cluster.id}", provider=self.name,
                                         code="NotAuthorizedOrNotFound")
        return found[0].id

    def _pool_details(self, pool: Any, step: Step, target: str) -> Any:
        models = self._oci.container_engine.models
        plan = compute_cycling(step, len(pool.nodes) if pool.nodes is not None else _pool_size(pool))
        kwargs: dict[str, Any] = {"kubernetes_version": target,
                                  "freeform_tags": {**(pool.freeform_tags or {}), TARGET_TAG: target}}
        if plan.cycle:
            kwargs["node_pool_cycling_details"] = models.NodePoolCyclingDetails(
                is_node_cycling_enabled=True, maximum_surge=plan.maximum_surge,
                maximum_unavailable=plan.maximum_unavailable)
        if plan.eviction_grace is not None:
            kwargs["node_eviction_node_pool_settings"] = models.NodeEvictionNodePoolSettings(
                eviction_grace_duration=plan.eviction_grace)
        return models.UpdateNodePoolDetails(**kwargs)

    def poll(self, cluster: Cluster, op: OperationRef) -> OperationStatus:
        if op.id.startswith(DONE_PREFIX):
            return OperationStatus(OperationState.SUCCEEDED, f"already at {op.data.get('target', '')}", 1.0)
        region = op.data.get("region") or (cluster.extra or {}).get("region") or cluster.location
        ce = self._client(region)
        try:
            wr = self._call("get work request", ce.get_work_request, op.id).data
        except PermanentProviderError as err:   # GetWorkRequest answered 404 (NotAuthorizedOrNotFound)
            if getattr(err.__cause__, "status", None) == 404:
                raise OperationNotFound(f"work request {op.id} is no longer known: {err}", provider=self.name,
                                        code=err.code) from err
            raise
        if wr.status == "SUCCEEDED":
            if op.data.get("pool") is not None and wr.operation_type in POOL_WORK:
                return self._poll_nodes(ce, cluster, op, wr)
            return OperationStatus(OperationState.SUCCEEDED, f"{wr.operation_type} succeeded", 1.0)
        if wr.status in ("FAILED", "CANCELED"):
            return self._failed(ce, op, wr)
        return OperationStatus(OperationState.RUNNING, f"{wr.operation_type} {wr.status.lower()}",
                               poll_after=self.settings.poll_interval_seconds)

    def _failed(self, ce: Any, op: OperationRef, wr: Any) -> OperationStatus:
        comp = op.data.get("compartmentId") or wr.compartment_id
        errors = self._call("list work request errors", ce.list_work_request_errors, comp, wr.id).data or []
        detail = "; ".join(f"{e.code}: {e.message}" for e in errors) or "no error details"
        return OperationStatus(OperationState.FAILED, f"{wr.operation_type} {wr.status.lower()}: {detail}")

    def _poll_nodes(self, ce: Any, cluster: Cluster, op: OperationRef, wr: Any) -> OperationStatus:
        """The pool's work request succeeded: done only when every node runs the target. OKE may replace the
        nodes under a separate NODEPOOL_CYCLING work request (WorkRequest.operation_type), which is followed."""
        target = str(op.data.get("target", ""))
        # the pool: the work request's "nodepool" resource (terraform-provider-oci matches entityType the same way)
        pid = next((r.identifier for r in wr.resources or [] if "nodepool" in (r.entity_type or "").lower()),
                   op.data.get("poolId"))
        if pid is None:
            return OperationStatus(OperationState.SUCCEEDED, f"{wr.operation_type} succeeded", 1.0)
        p = self._call("get node pool", ce.get_node_pool, pid).data
        stale = [n.name for n in p.nodes or [] if not _same(n.kubernetes_version, target)]
        if not stale and _same(p.kubernetes_version, target):
            return OperationStatus(OperationState.SUCCEEDED, f"{wr.operation_type} succeeded; all nodes at {target}",
                                   1.0)
        comp = op.data.get("compartmentId") or wr.compartment_id
        cycling = [w for w in self._running(ce, comp, p.cluster_id, "NODEPOOL_CYCLING", pid,
                                            [*RUNNING_WR, "SUCCEEDED", "FAILED", "CANCELED"])
                   if w.id != wr.id and _after(w.time_accepted, wr.time_accepted)]
        active = [w for w in cycling if w.status in RUNNING_WR]
        if active:
            return OperationStatus(OperationState.RUNNING, f"NODEPOOL_CYCLING {active[0].id} "
                                   f"{active[0].status.lower()}: {len(stale)} node(s) not yet at {target}",
                                   poll_after=self.settings.poll_interval_seconds)
        failed = [w for w in cycling if w.status in ("FAILED", "CANCELED")]
        if failed:
            return self._failed(ce, op, failed[0])
        waited = _seconds_since(wr.time_finished, self.clock.now())
        if not cycling and (waited is None or waited < CYCLING_GRACE_SECONDS):
            return OperationStatus(OperationState.RUNNING, f"{wr.operation_type} succeeded; waiting for node cycling "
                                   f"({len(stale)} node(s) not yet at {target})",
                                   poll_after=self.settings.poll_interval_seconds)
        return OperationStatus(OperationState.FAILED, f"{wr.operation_type} succeeded but {len(stale)} node(s) of "
                               f"node pool {p.name} still run an older version than {target} "
                               f"({', '.join(stale[:5])}): the nodes were not cycled")

    # ---- safety gates (fleet.provider: BuiltinCheck; providers/oke/gates.py; docs/gates-providers.md) -----
    SUPPORTED_CHECKS = frozenset({BuiltinCheck.CLUSTER_HEALTH, BuiltinCheck.NODES_READY})

    def check_runners(self, cluster: Cluster, step: Step, params: Mapping[str, Any],
                      now: datetime) -> Mapping[str, Callable[[], CheckOutcome]]:
        return {
            BuiltinCheck.CLUSTER_HEALTH: lambda: self._check_health(cluster),
            BuiltinCheck.NODES_READY: lambda: self._check_ready(cluster, step),
        }

    @classmethod
    def rollback_support(cls, cluster: Cluster, step: Step) -> RollbackSupport | None:
        """None: the Container Engine API (oci 2.189.0) has no rollback operation, and a control plane cannot be
        downgraded (docs/gates-providers.md)."""
        return None

    def _check_health(self, cluster: Cluster) -> CheckOutcome:
        ce, comp, cid = self._locate(cluster)
        c = self._call("get cluster", ce.get_cluster, cid).data
        summaries = [p for p in self._all("list node pools", ce.list_node_pools, comp, cluster_id=cid)
                     if p.lifecycle_state not in GONE]
        pools = [self._call("get node pool", ce.get_node_pool, p.id).data for p in summaries]
        return gates.cluster_health(c, pools)

    def _check_ready(self, cluster: Cluster, step: Step) -> CheckOutcome:
        ce, comp, cid = self._locate(cluster)
        if step.component is Component.NODE_POOL and step.pool:
            pid = self._pool_id(ce, comp, cid, cluster, step)
            return gates.pool_ready(self._call("get node pool", ce.get_node_pool, pid).data, step.to, _same)
        return gates.control_plane_ready(self._call("get cluster", ce.get_cluster, cid).data, step.to, _same)


def _facts(c: Any, pools: list[Any]) -> dict[str, Any]:
    """Cluster.facts (rules.Facts keys) from what OKE reports: Cluster.type and the pools' node shapes."""
    facts: dict[str, Any] = {}
    if c.type in ("BASIC_CLUSTER", "ENHANCED_CLUSTER"):
        facts["clusterType"] = c.type
    bare = sorted(p.name for p in pools if p.lifecycle_state not in GONE and is_bare_metal(getattr(p, "node_shape", None)))
    if bare:
        facts["bareMetalPools"] = bare
    return facts


def _after(a: Any, b: Any) -> bool:
    return a is None or b is None or a >= b


def _seconds_since(t: Any, now: Any) -> float | None:
    if t is None:
        return None
    try:
        return float((now - t).total_seconds())
    except TypeError:
        return None


def _pool_size(p: Any) -> int:
    cfg = getattr(p, "node_config_details", None)
    if cfg is not None and cfg.size is not None:
        return int(cfg.size)
    return int(getattr(p, "quantity_per_subnet", 0) or 0) * len(getattr(p, "subnet_ids", None) or [])
