"""AksProvider: fleet's Provider over azure-mgmt-containerservice (ARM ``Microsoft.ContainerService``).

Settings (camelCase, validated strictly):

- ``subscriptions`` (required): subscription ids to discover in.
- ``resourceGroups``: only these resource groups (in every subscription); default: the whole subscription.
- ``endpoint``: ARM base URL override (sovereign clouds, emulators). Over plain ``http://`` no real token is
  ever sent: the bearer policy is replaced by a HeadersPolicy with a placeholder (the sdk-lab workaround).
- ``cloud``: AZURE_PUBLIC_CLOUD | AZURE_CHINA_CLOUD | AZURE_US_GOVERNMENT (ARM endpoint and token scope).
- ``apiVersion``: pin the ARM api-version (default: the SDK's).
- ``includePreview``: offer preview Kubernetes versions (default false).
- ``timeoutSeconds``: connect/read timeout per request (default 30). ``pollIntervalSeconds``: the poll_after
  suggested when ARM sends no Retry-After (default 30).

The credential is azure-identity's DefaultAzureCredential unless one is passed as ``credential=``.
Operations: ``start`` sends one PUT (``begin_create_or_update`` with ``polling=False``) and keeps the
``Azure-AsyncOperation`` URL in ``OperationRef.data``; ``poll`` sends one GET of that URL through the client's
pipeline (or of the resource when the URL is unknown, e.g. after a crash) and never waits.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast
from urllib.parse import urlparse

from fleet.clock import Clock, SystemClock
from fleet.errors import PermanentProviderError, TemporaryProviderError
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
from providers.aks import gates
from providers.aks.budget import compute_upgrade_settings
from providers.aks.errors import is_sdk_error, translate
from providers.aks.rules import Facts, compute_pool_offers, compute_rules
from providers.aks.settings import AksSettings, parse_settings
from providers.checks_base import BuiltinChecks, force_active, parse_instant

log = logging.getLogger("providers.aks")
T = TypeVar("T")

# provisioningState values of a resource with an operation in flight. The 2026-08-01 spec types the cluster's
# and the pool's provisioningState as a free string ("The current deployment or provisioning state"), with no
# list of values, so each busy value has its own source: Creating/Updating/Upgrading/Scaling (AKS docs' az
# outputs, e.g. learn.microsoft.com/azure/aks/upgrade-node-pools "provisioningState": "Upgrading"); Canceling
# (the spec's ManagedClusters_AbortLatestOperation / AgentPools_AbortLatestOperation: "moved to a Canceling
# state and eventually to a Canceled state"); Deleting, Stopping and Starting (the delete, stop and start
# operations). None of them is a failure: fleet treats them as busy (try later).
BUSY_STATES = frozenset({"Upgrading", "Updating", "Creating", "Scaling", "Deleting", "Canceling", "Starting",
                         "Stopping"})
FAILED_STATES = frozenset({"Failed", "Canceled"})
PLACEHOLDER_AUTH = "Bearer fleet-plain-http-placeholder"
_ARM_ID = re.compile(r"(?i)^/subscriptions/([^/]+)/resourceGroups/([^/]+)/providers/Microsoft\.ContainerService"
                     r"/managedClusters/([^/]+)$")


@dataclass(frozen=True)
class ArmRef:
    subscription: str
    resource_group: str
    name: str

    @classmethod
    def parse(cls, arm_id: str) -> ArmRef:
        mt = _ARM_ID.match(arm_id or "")
        if not mt:
            raise PermanentProviderError(f"not a managed cluster resource id: {arm_id!r}", code="bad-id")
        return cls(*mt.groups())

    @property
    def arm_id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourceGroups/{self.resource_group}/providers/"
                f"Microsoft.ContainerService/managedClusters/{self.name}")


def _text(value: Any) -> str | None:
    """SDK enums are str-Enums: take their value, never their repr."""
    if value is None:
        return None
    return str(getattr(value, "value", value))


def _same(a: str | None, b: str | None) -> bool:
    if not a or not b:
        return False
    try:
        return parse_version(a) == parse_version(b)
    except InvalidVersion:
        return a == b


class AksProvider(BuiltinChecks):
    type = "aks"
    settings_model = AksSettings   # the schema of this provider's settings (FleetConfig validates against it)
    facts_model = Facts            # per-cluster facts an inventory may state (none for AKS: see rules.Facts)

    @classmethod
    def upgrade_rules(cls, cluster: Cluster) -> UpgradeRules:
        return compute_rules(cluster)

    def __init__(self, name: str = "aks", settings: Mapping[str, Any] | None = None, *,
                 clock: Clock | None = None, config_dir: str | None = None, credential: Any = None, **_: Any):
        self.name = name
        self.settings = parse_settings(settings)
        self.clock = clock or SystemClock()
        self._credential = credential
        self._clients: dict[str, Any] = {}
        self._index: dict[str, ArmRef] = {}
        self._sdk_module = import_optional("azure.mgmt.containerservice", "aks")
        self._client_lock = threading.Lock()     # clients are made once, shared by the limiter's workers
        # bounded concurrency and ARM's read bucket per subscription, on this provider's clock (docs/scale.md)
        s = self.settings
        self.limiter = ScopeLimiter(name, s.api_rate_per_second, s.api_burst, concurrency=s.api_concurrency,
                                    clock=self.clock)
        self._region_cache: dict[tuple[str, str], tuple[datetime, tuple[str, ...]]] = {}

    # ---- SDK plumbing -----------------------------------------------------------------------------------
    @property
    def _plain_http(self) -> bool:
        return bool(self.settings.endpoint) and urlparse(self.settings.endpoint or "").scheme == "http"

    def _base_url(self) -> str:
        if self.settings.endpoint:
            return self.settings.endpoint
        from azure.core import AzureClouds
        from azure.mgmt.core.tools import get_arm_endpoints
        return str(get_arm_endpoints(AzureClouds[self.settings.cloud or "AZURE_PUBLIC_CLOUD"])["resource_manager"])

    def _client(self, subscription: str) -> Any:
        with self._client_lock:
            return self._make_client(subscription)

    def _make_client(self, subscription: str) -> Any:
        client = self._clients.get(subscription)
        if client is not None:
            return client
        s = self.settings
        kwargs: dict[str, Any] = {"retry_total": 0, "connection_timeout": s.timeout_seconds,
                                  "read_timeout": s.timeout_seconds, "polling_interval": 0}
        if s.endpoint:
            kwargs["base_url"] = s.endpoint
        if s.api_version:
            kwargs["api_version"] = s.api_version
        if s.cloud:
            from azure.core import AzureClouds
            kwargs["cloud_setting"] = AzureClouds[s.cloud]
        if self._plain_http:
            # sdk-lab workaround (A): the bearer policy refuses http; never send a real token in clear text.
            from azure.core.pipeline.policies import HeadersPolicy
            kwargs["authentication_policy"] = HeadersPolicy({"Authorization": PLACEHOLDER_AUTH})
            credential = self._credential or object()
        else:
            if self._credential is None:    # one credential (and token cache) for every subscription
                self._credential = import_optional("azure.identity", "aks").DefaultAzureCredential()
            credential = self._credential
        client = self._sdk_module.ContainerServiceClient(credential, subscription, **kwargs)
        self._clients[subscription] = client
        return client

    def _sdk(self, action: str, fn: Callable[[], T]) -> T:
        """Run one SDK call; every SDK exception is translated here (the boundary)."""
        try:
            return fn()
        except Exception as exc:
            if is_sdk_error(exc):
                raise translate(exc, provider=self.name, operation=action, clock=self.clock) from exc
            raise

    def _read(self, subscription: str, action: str, fn: Callable[[], T]) -> T:
        """One read request through the limiter (a token of the subscription; Retry-After honoured)."""
        return cast(T, self.limiter.call(subscription.lower(), lambda: self._sdk(action, fn)))

    def _list(self, subscription: str, action: str, make: Callable[[], Any]) -> list[Any]:
        """Every item of an ARM list, page by page (``nextLink``), each page one read through the limiter."""
        pager = self._sdk(action, lambda: make().by_page())     # lazy: no request yet
        pages = iter(pager)

        def next_page() -> list[Any] | None:
            page = next(pages, None)
            return None if page is None else list(page)

        items: list[Any] = []
        while True:
            got = self._read(subscription, action, next_page)
            if got is None:
                return items
            items += got
            if not getattr(pager, "continuation_token", None):    # no nextLink: that was the last page
                return items

    def _list_scope(self, sub: str, rg: str | None) -> list[Any] | None:
        """The managed clusters of a subscription or of one of its resource groups (None: no such group)."""
        client = self._client(sub)
        if rg is None:
            return self._list(sub, f"list managed clusters in {sub}", lambda: client.managed_clusters.list())
        try:
            return self._list(sub, f"list managed clusters in {sub}/{rg}",
                              lambda: client.managed_clusters.list_by_resource_group(rg))
        except PermanentProviderError as err:
            if not err.code.endswith("/ResourceGroupNotFound"):
                raise
            return None                     # the group exists in another subscription (checked below)

    # ---- discovery --------------------------------------------------------------------------------------
    def discover(self) -> list[Cluster]:
        """One ARM list per subscription (or resource group), concurrently, each subscription paced by its own
        read bucket (docs/scale.md)."""
        clusters: dict[str, Cluster] = {}
        index: dict[str, ArmRef] = {}
        unseen_groups = {rg.lower(): rg for rg in self.settings.resource_groups or []}
        groups: list[str | None] = [None]
        if self.settings.resource_groups:
            groups = list(self.settings.resource_groups)
        where = [(sub, rg) for sub in self.settings.subscriptions for rg in groups]
        lists = self.limiter.spread([functools.partial(self._list_scope, sub, rg) for sub, rg in where])
        for (_, rg), found in zip(where, lists, strict=True):
            if isinstance(found, BaseException):
                raise found
            if found is None:
                continue
            if rg is not None:
                unseen_groups.pop(rg.lower(), None)
            for mc in found:
                cluster = self.compute_cluster(mc)
                if cluster.id in clusters:
                    log.warning("duplicate cluster id, keeping the first", extra={
                        "provider": self.name, "cluster": cluster.id, "reason": cluster.extra.get("armId")})
                    continue
                clusters[cluster.id] = cluster
                index[cluster.id] = ArmRef.parse(str(mc.id))
        if unseen_groups:
            raise PermanentProviderError(f"resource group(s) {', '.join(sorted(unseen_groups.values()))} not "
                                         "found in any configured subscription", provider=self.name,
                                         code="404/ResourceGroupNotFound")
        self._index = index
        return [clusters[k] for k in sorted(clusters)]

    def compute_cluster(self, mc: Any) -> Cluster:
        """A fleet Cluster from an SDK ManagedCluster (pure)."""
        ref = ArmRef.parse(str(mc.id))
        p = mc.properties or self._sdk_module.models.ManagedClusterProperties()
        pools, modes = [], {}
        for ap in p.agent_pool_profiles or []:
            state = _text(ap.provisioning_state) or "Succeeded"
            running = ap.power_state is None or (_text(ap.power_state.code) or "Running") == "Running"
            pools.append(NodePool(name=ap.name, version=ap.current_orchestrator_version or ap.orchestrator_version
                                  or "", nodes=ap.count or 0, healthy=state not in FAILED_STATES and running,
                                  upgrading=state in BUSY_STATES))
            modes[ap.name] = _text(ap.mode) or "User"
        state = _text(p.provisioning_state) or "Succeeded"
        running = p.power_state is None or (_text(p.power_state.code) or "Running") == "Running"
        aup = p.auto_upgrade_profile
        channel = (_text(aup.upgrade_channel) if aup is not None else None) or "none"
        return Cluster(
            provider=self.name, provider_type=self.type, location=mc.location, name=mc.name,
            control_plane=p.current_kubernetes_version or p.kubernetes_version or "", node_pools=tuple(pools),
            labels=dict(mc.tags or {}), auto_upgrade=None if channel.lower() == "none" else f"upgrade channel {channel}",
            healthy=state not in FAILED_STATES and running, upgrading=state in BUSY_STATES,
            extra={"subscription": ref.subscription, "resourceGroup": ref.resource_group, "armId": ref.arm_id,
                   "provisioningState": state, "kubernetesVersion": p.kubernetes_version, "poolModes": modes,
                   "upgradeChannel": channel})

    def _locate(self, cluster: Cluster) -> ArmRef:
        arm_id = (cluster.extra or {}).get("armId")
        if arm_id:
            return ArmRef.parse(str(arm_id))
        if cluster.id not in self._index:
            self.discover()
        ref = self._index.get(cluster.id)
        if ref is None:
            raise PermanentProviderError(f"cluster {cluster.id} not found in the configured scopes",
                                         provider=self.name, code="404")
        return ref

    # ---- offers ------------------------------------------------------------------------------------------
    def _versions(self, upgrades: Any) -> tuple[str, ...]:
        vs = {u.kubernetes_version for u in upgrades or []
              if u.kubernetes_version and (self.settings.include_preview or not u.is_preview)}
        return tuple(sorted(vs, key=parse_version))

    def offers(self, cluster: Cluster) -> VersionOffers:
        ref = self._locate(cluster)
        client = self._client(ref.subscription)
        prof = self._read(ref.subscription, f"get upgrade profile of {cluster.id}",
                          lambda: client.managed_clusters.get_upgrade_profile(ref.resource_group, ref.name))
        props = prof.properties
        # the upgrade profiles list one hop (the next minor at most; pools capped at today's control plane);
        # the region's version list adds the later hops so a multi-minor path can be planned
        region = self._region_versions(ref.subscription, cluster.location)
        control_plane = self._versions(props.control_plane_profile.upgrades if props.control_plane_profile else [])
        control_plane = _merged(control_plane, region, cluster.control_plane)
        names = [p.name for p in cluster.node_pools] or [p.name for p in props.agent_pool_profiles or [] if p.name]
        current = {p.name: p.version for p in cluster.node_pools}
        pools: dict[str, tuple[str, ...]] = {}
        for pool in names:
            ap = self._read(ref.subscription, f"get upgrade profile of {cluster.id} pool {pool}",
                            lambda: client.agent_pools.get_upgrade_profile(ref.resource_group, ref.name, pool))
            own = self._versions(ap.properties.upgrades if ap.properties else [])
            at = current.get(pool) or cluster.control_plane
            # only versions reachable one minor at a time, never above the control plane's offers (rules.py)
            pools[pool] = compute_pool_offers(at, control_plane, _merged(own, region, at))
        return VersionOffers(control_plane, pools)

    def _region_versions(self, subscription: str, location: str) -> tuple[str, ...]:
        """Every GA (or, with includePreview, preview) patch version AKS offers in the region (offers are per
        location: cached per subscription and location for ``versionsEverySeconds``)."""
        key, now = (subscription.lower(), location.lower()), self.clock.now()
        hit = self._region_cache.get(key)
        ttl = timedelta(seconds=self.settings.versions_every_seconds)
        if hit is not None and ttl and timedelta(0) <= now - hit[0] < ttl:
            return hit[1]
        client = self._client(subscription)
        res = self._read(subscription, f"list Kubernetes versions in {location}",
                         lambda: client.managed_clusters.list_kubernetes_versions(location))
        out = {patch for kv in res.values_property or [] if self.settings.include_preview or not kv.is_preview
               for patch in (kv.patch_versions or {})}
        versions = tuple(sorted(out, key=parse_version))
        self._region_cache[key] = (now, versions)
        return versions

    def check_step(self, cluster: Cluster, step: Step) -> list[str]:
        return compute_upgrade_settings(cluster, step)[1]

    # ---- start -------------------------------------------------------------------------------------------
    def start(self, cluster: Cluster, step: Step) -> OperationRef:
        ref = self._locate(cluster)
        if step.component is Component.CONTROL_PLANE:
            return self._start_control_plane(cluster, ref, step)
        return self._start_pool(cluster, ref, step)

    def _start_control_plane(self, cluster: Cluster, ref: ArmRef, step: Step) -> OperationRef:
        client = self._client(ref.subscription)
        mc = self._sdk(f"get {cluster.id}", lambda: client.managed_clusters.get(ref.resource_group, ref.name))
        p = mc.properties
        state = _text(p.provisioning_state) or "Succeeded"
        if _same(p.current_kubernetes_version or p.kubernetes_version, step.to) and state not in BUSY_STATES:
            return self._ref(cluster, ref, step, done=True)
        if _same(p.kubernetes_version, step.to) and state in BUSY_STATES:
            return self._ref(cluster, ref, step)            # already moving there: follow the resource
        self._refuse_if_busy(state, cluster.id)
        # Control plane only, as AKS does it: kubernetesVersion changes, every pool's orchestratorVersion is
        # sent unchanged (a pool without one would be upgraded along with the control plane).
        p.kubernetes_version = step.to
        for ap in p.agent_pool_profiles or []:
            ap.orchestrator_version = ap.orchestrator_version or ap.current_orchestrator_version
        # as azure-cli's aks_upgrade does before its full-resource PUT (Azure/azure-cli
        # src/azure-cli/azure/cli/command_modules/acs/custom.py @ 0a1fa21c, aks_upgrade: "# null out the SP and
        # AAD profile because otherwise validation complains" / instance.service_principal_profile = None; later
        # revisions and aks-preview keep the SP line only): a GET never returns the secret, so sending the
        # profile back would send a service principal without its secret
        p.service_principal_profile = None
        if force_active(step, self.clock.now()):
            # an operator override of the upgrade-blockers gate: AKS's own override, expiring when fleet's does
            # (spec UpgradeOverrideSettings: until "must be set for the overrides to take effect")
            models = self._sdk_module.models
            p.upgrade_settings = models.ClusterUpgradeSettings(override_settings=models.UpgradeOverrideSettings(
                force_upgrade=True, until=parse_instant(step.force_until)))
        headers = self._sdk(f"upgrade control plane of {cluster.id} to {step.to}", lambda: client.managed_clusters
                            .begin_create_or_update(ref.resource_group, ref.name, mc, polling=False,
                                                    cls=_response_headers, **_if_match(mc.e_tag)).result())
        return self._issued(cluster, ref, step, headers)

    def _start_pool(self, cluster: Cluster, ref: ArmRef, step: Step) -> OperationRef:
        client = self._client(ref.subscription)
        pool = step.pool or ""
        ap = self._sdk(f"get {cluster.id} pool {pool}",
                       lambda: client.agent_pools.get(ref.resource_group, ref.name, pool))
        p = ap.properties
        state = _text(p.provisioning_state) or "Succeeded"
        if _same(p.current_orchestrator_version or p.orchestrator_version, step.to) and state not in BUSY_STATES:
            return self._ref(cluster, ref, step, done=True)
        if _same(p.orchestrator_version, step.to) and state in BUSY_STATES:
            return self._ref(cluster, ref, step)
        self._refuse_if_busy(state, f"{cluster.id} pool {pool}")
        wanted, _ = compute_upgrade_settings(cluster, step)
        settings = dict(p.upgrade_settings) if p.upgrade_settings is not None else {}
        settings.update(wanted)
        p.orchestrator_version = step.to
        p.upgrade_settings = self._sdk_module.models.AgentPoolUpgradeSettings(settings)
        headers = self._sdk(f"upgrade {cluster.id} pool {pool} to {step.to}", lambda: client.agent_pools
                            .begin_create_or_update(ref.resource_group, ref.name, pool, ap, polling=False,
                                                    cls=_response_headers, **_if_match(p.e_tag)).result())
        return self._issued(cluster, ref, step, headers)

    def _refuse_if_busy(self, state: str, what: str) -> None:
        """Another operation is in flight (see BUSY_STATES): AKS would answer 409; try later, never fail."""
        if state in BUSY_STATES:
            raise TemporaryProviderError(f"{what} is {state}: another operation is in progress",
                                         provider=self.name, code=f"busy/{state}",
                                         retry_after=self.settings.poll_interval_seconds)

    def _issued(self, cluster: Cluster, ref: ArmRef, step: Step, headers: Mapping[str, str]) -> OperationRef:
        op = self._ref(cluster, ref, step, async_url=headers.get("azure-asyncoperation"))
        log.info("upgrade requested", extra={"provider": self.name, "cluster": cluster.id, "operation": op.id,
                                             "reason": step.key})
        return op

    def _ref(self, cluster: Cluster, ref: ArmRef, step: Step, *, async_url: str | None = None,
             done: bool = False) -> OperationRef:
        data: dict[str, Any] = {"subscription": ref.subscription, "resourceGroup": ref.resource_group,
                                "cluster": ref.name, "component": step.component.value, "pool": step.pool,
                                "to": step.to}
        if done:
            data["done"] = True
            return OperationRef(f"{ref.arm_id}#{step.key}#done", cluster.id, step.key, data)
        if async_url:
            data["asyncUrl"] = async_url
            return OperationRef(urlparse(async_url).path.rsplit("/", 1)[-1], cluster.id, step.key, data)
        return OperationRef(f"{ref.arm_id}#{step.key}", cluster.id, step.key, data)

    # ---- poll --------------------------------------------------------------------------------------------
    def _trusted(self, url: str) -> bool:
        """Only follow operation URLs on the ARM endpoint we were configured with (the token goes along)."""
        a, b = urlparse(url), urlparse(self._base_url())
        return (a.scheme, a.netloc.lower()) == (b.scheme, b.netloc.lower())

    def poll(self, cluster: Cluster, op: OperationRef) -> OperationStatus:
        d = op.data
        if d.get("done"):
            return OperationStatus(OperationState.SUCCEEDED, f"already at {d.get('to')}", 1.0)
        if not all(d.get(k) for k in ("subscription", "resourceGroup", "cluster", "to")):
            raise PermanentProviderError(f"operation {op.id} was not started by an aks provider", provider=self.name,
                                         code="bad-operation")
        ref = ArmRef(str(d["subscription"]), str(d["resourceGroup"]), str(d["cluster"]))
        url = d.get("asyncUrl")
        if url and self._trusted(str(url)):
            from azure.core.exceptions import ResourceNotFoundError
            try:
                return self._poll_async(ref, str(url))
            except PermanentProviderError as err:
                if not isinstance(err.__cause__, ResourceNotFoundError):
                    raise
                log.info("async operation expired, reading the resource", extra={
                    "provider": self.name, "cluster": op.cluster_id, "operation": op.id})
        return self._poll_resource(ref, d)

    def _poll_async(self, ref: ArmRef, url: str) -> OperationStatus:
        from azure.core.exceptions import ResourceNotFoundError, map_error
        from azure.core.rest import HttpRequest
        client = self._client(ref.subscription)

        def get() -> Any:
            resp = client.send_request(HttpRequest("GET", url))
            map_error(resp.status_code, resp, {404: ResourceNotFoundError})
            resp.raise_for_status()
            return resp

        resp = self._sdk(f"poll operation of {ref.arm_id}", get)
        body = resp.json() or {}
        status = str(body.get("status") or "InProgress")
        if status == "Succeeded":
            return OperationStatus(OperationState.SUCCEEDED, "Succeeded", 1.0)
        if status in FAILED_STATES:
            err = body.get("error") or {}
            msg = f"{status}: {err.get('code', '')}: {err.get('message', '')}".strip(": ")
            return OperationStatus(OperationState.FAILED, msg or status)
        pct = body.get("percentComplete")
        return OperationStatus(OperationState.RUNNING, status, float(pct) / 100 if pct is not None else None,
                               poll_after=self._poll_after(resp.headers.get("Retry-After")))

    def _poll_after(self, retry_after: str | None) -> float:
        try:
            return max(1.0, float(retry_after)) if retry_after else self.settings.poll_interval_seconds
        except ValueError:
            return self.settings.poll_interval_seconds

    def _poll_resource(self, ref: ArmRef, d: Mapping[str, Any]) -> OperationStatus:
        client = self._client(ref.subscription)
        if d.get("component") == Component.CONTROL_PLANE.value:
            mc = self._sdk(f"get {ref.arm_id}", lambda: client.managed_clusters.get(ref.resource_group, ref.name))
            state, current = mc.properties.provisioning_state, mc.properties.current_kubernetes_version
        else:
            ap = self._sdk(f"get {ref.arm_id} pool {d.get('pool')}",
                           lambda: client.agent_pools.get(ref.resource_group, ref.name, str(d.get("pool"))))
            state, current = ap.properties.provisioning_state, ap.properties.current_orchestrator_version
        state = _text(state) or "Succeeded"
        if state in BUSY_STATES:
            return OperationStatus(OperationState.RUNNING, f"provisioningState {state}",
                                   poll_after=self.settings.poll_interval_seconds)
        if state in FAILED_STATES:
            return OperationStatus(OperationState.FAILED, f"provisioningState {state}")
        if _same(current, str(d.get("to"))):
            return OperationStatus(OperationState.SUCCEEDED, "Succeeded", 1.0)
        return OperationStatus(OperationState.FAILED, f"operation ended with version {current}, not {d.get('to')}")


    # ---- safety gates (fleet.provider: BuiltinCheck; providers/aks/gates.py; docs/gates-providers.md) -----
    SUPPORTED_CHECKS = frozenset({BuiltinCheck.UPGRADE_BLOCKERS, BuiltinCheck.CLUSTER_HEALTH,
                                  BuiltinCheck.NODES_READY})

    def check_runners(self, cluster: Cluster, step: Step, params: Mapping[str, Any],
                      now: datetime) -> Mapping[str, Callable[[], CheckOutcome]]:
        return {
            BuiltinCheck.UPGRADE_BLOCKERS: lambda: self._check_blockers(cluster, step),
            BuiltinCheck.CLUSTER_HEALTH: lambda: self._check_health(cluster),
            BuiltinCheck.NODES_READY: lambda: self._check_ready(cluster, step),
        }

    @classmethod
    def rollback_support(cls, cluster: Cluster, step: Step) -> RollbackSupport | None:
        """None: the ARM API of azure-mgmt-containerservice 41.8.0 (2026-08-01) has no rollback operation for a
        managed cluster or an agent pool (AgentPools: abort latest operation, node-image upgrade, upgrade
        profile only); docs/gates-providers.md."""
        return None

    def _get_cluster(self, cluster: Cluster) -> tuple[Any, ArmRef, Any]:
        ref = self._locate(cluster)
        client = self._client(ref.subscription)
        mc = self._sdk(f"get {cluster.id}", lambda: client.managed_clusters.get(ref.resource_group, ref.name))
        return mc, ref, client

    def _check_blockers(self, cluster: Cluster, step: Step) -> CheckOutcome:
        mc, _, _ = self._get_cluster(cluster)
        p = mc.properties
        override = getattr(p.upgrade_settings, "override_settings", None) if p.upgrade_settings else None
        return gates.blockers(step, p.current_kubernetes_version or p.kubernetes_version, override)

    def _check_health(self, cluster: Cluster) -> CheckOutcome:
        mc, ref, client = self._get_cluster(cluster)
        pools = self._sdk(f"list pools of {cluster.id}",
                          lambda: list(client.agent_pools.list(ref.resource_group, ref.name)))
        return gates.cluster_health(mc, pools)

    def _check_ready(self, cluster: Cluster, step: Step) -> CheckOutcome:
        if step.component is Component.NODE_POOL and step.pool:
            ref = self._locate(cluster)
            client = self._client(ref.subscription)
            pool = step.pool
            ap = self._sdk(f"get {cluster.id} pool {pool}",
                           lambda: client.agent_pools.get(ref.resource_group, ref.name, pool))
            return gates.pool_ready(ap, step.to, _same)
        mc, _, _ = self._get_cluster(cluster)
        return gates.control_plane_ready(mc, step.to, _same)


def _merged(own: tuple[str, ...], region: tuple[str, ...], current: str) -> tuple[str, ...]:
    """The profile's one hop, the region's later versions, and the current version (so an up-to-date
    cluster is planned as up to date, not as offered nothing)."""
    try:
        cur = parse_version(current)
    except InvalidVersion:
        return own
    later = {v for v in region if parse_version(v) > cur}
    return tuple(sorted(set(own) | later | {current}, key=parse_version))


def _if_match(etag: str | None) -> dict[str, Any]:
    """Optimistic concurrency: the PUT carries back the GET's eTag, so a concurrent change gets 412 (Temporary)
    instead of being overwritten by our full-resource PUT."""
    if not etag:
        return {}
    from azure.core import MatchConditions
    return {"etag": etag, "match_condition": MatchConditions.IfNotModified}


def _response_headers(pipeline_response: Any, deserialized: Any, headers: Any) -> dict[str, str]:
    """``cls`` callback for a begin_* call with polling=False: the initial PUT's response headers (lower-cased)."""
    return {k.lower(): v for k, v in pipeline_response.http_response.headers.items()}
