"""An emulator of the ARM surface of AKS that the adapter uses, on providers.emulator_base.EmulatorServer.

Paths (``api-version`` query parameter required, as the SDK sends it; names are case-insensitive as in ARM)::

    GET  /subscriptions/{s}/providers/Microsoft.ContainerService/managedClusters            (paged: nextLink)
    GET  /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters
    GET  PUT  .../managedClusters/{c}                       PUT: 200 + Azure-AsyncOperation + Location
    GET  .../managedClusters/{c}/upgradeProfiles/default
    GET  .../managedClusters/{c}/agentPools
    GET  PUT  .../managedClusters/{c}/agentPools/{p}
    GET  .../managedClusters/{c}/agentPools/{p}/upgradeProfiles/default
    GET  /subscriptions/{s}/providers/Microsoft.ContainerService/locations/{l}/operations/{id}      (status)
    GET  /subscriptions/{s}/providers/Microsoft.ContainerService/locations/{l}/operationresults/{id} (202/204)

Bodies are built and read with the SDK's model classes. Operations run over virtual time from the injected
clock: ``InProgress`` until ``started + duration``, then ``Succeeded`` (or ``Failed`` when armed with
``inject("fail-operation")``); the resource's ``provisioningState`` follows and versions change only when
the operation completes. A PUT while any operation runs on the cluster is refused with 409
``OperationNotAllowed``. ``upgrade_log`` records every accepted mutating PUT with the upgradeSettings received;
``received`` every PUT body as sent.

Every PUT body is validated against the extract of AKS's REST specification in spec/ (spec.py); the version
rules (one minor per pool step, pools never above the control plane nor more than two minors behind it, the
control plane one minor at a time, the all-or-none orchestratorVersion rule of a managedCluster PUT) each cite
their source where they are enforced. docs/fidelity/aks.md lists them, and what is not modelled.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from azure.mgmt.containerservice import models as m

from fleet.clock import Clock, SystemClock, iso
from fleet.versions import parse_version
from providers.aks.emulator.spec import validate as validate_against_spec
from providers.aks.emulator.state import (
    RP,
    ArmError,
    DeprecatedApiUsage,
    EmuCluster,
    EmuOperation,
    EmuPool,
    UpgradeRecord,
    count_nodes,
    fault_body,
    retry_hint,
    validate_upgrade_settings,
)
from providers.emulator_base import EmulatorServer, Request, ServedEmulator

OPERATIONS_API_VERSION = "2016-03-30"
# [SPEC] orchestratorVersion: "The node pool minor version must be within two minor versions of the control
# plane version"; [DOCS-CP] learn.microsoft.com/azure/aks/upgrade-aks-control-plane: "the control plane can be at
# most two minor versions ahead of node pools". (Written here again, not imported from providers.aks.rules:
# the emulator is evidence only as far as it does not share the adapter's understanding.)
POOL_SKEW = 2
# No source found gives AKS's error code for a PUT that would leave a pool more than POOL_SKEW minors behind
# the control plane; the emulator's code says so (docs/fidelity/aks.md)
UNDOCUMENTED_SKEW_CODE = "EmulatorUndocumentedNodePoolSkew"
# ManagedClusters_List / _ListByResourceGroup are `x-ms-pageable` (nextLinkName `nextLink`) and take no page-size
# parameter (api-version and the path only, managedClusters.json 2026-08-01): ARM does not document how many
# clusters a page holds. 2 is a test device (a few clusters already exercise nextLink), not ARM's size; an
# AksEmulator(page_size=...) sets another (bench/scale_api.py measures both, docs/scale.md).
PAGE_SIZE = 2
_SUB = r"(?i)/subscriptions/(?P<sub>[^/]+)"
_RG = _SUB + r"/resourceGroups/(?P<rg>[^/]+)"
_MC = _RG + rf"/providers/{RP}/managedClusters/(?P<name>[^/]+)"
_POOL = _MC + r"/agentPools/(?P<pool>[^/]+)"
_LOC = _SUB + rf"/providers/{RP}/locations/(?P<loc>[^/]+)"
_BUSY = ("Upgrading", "Updating")


class AksEmulator(ServedEmulator):
    """Start with ``start()`` (ephemeral port on 127.0.0.1), seed with ``add_cluster``, stop with ``stop()``."""

    def __init__(self, clock: Clock | None = None, *, port: int = 0,
                 control_plane_duration: timedelta = timedelta(minutes=10),
                 node_batch_duration: timedelta = timedelta(minutes=4),
                 update_duration: timedelta = timedelta(minutes=1), retry_after: int = 2,
                 page_size: int = PAGE_SIZE):
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        self.clock = clock or SystemClock()
        self.page_size = page_size
        self.cp_duration, self.batch_duration, self.update_duration = (control_plane_duration,
                                                                       node_batch_duration, update_duration)
        self.clusters: dict[tuple[str, str, str], EmuCluster] = {}
        self.operations: dict[str, EmuOperation] = {}
        self.upgrade_log: list[UpgradeRecord] = []
        self.received: list[tuple[str, str, Any]] = []     # every PUT body as received (method, path, body)
        self.subscriptions: set[str] = set()
        self.resource_groups: set[tuple[str, str]] = set()
        self._fail_next: tuple[str, str] | None = None
        self._seq = 0
        self._lock = threading.RLock()
        routes: list[tuple[str, str, Callable[..., Any]]] = [
            ("GET", _SUB + rf"/providers/{RP}/managedClusters", self._list_subscription),
            ("GET", _RG + rf"/providers/{RP}/managedClusters", self._list_group),
            ("GET", _MC, self._get_cluster),
            ("PUT", _MC, self._put_cluster),
            ("GET", _MC + r"/upgradeProfiles/default", self._cluster_upgrade_profile),
            ("GET", _MC + r"/agentPools", self._list_pools),
            ("GET", _POOL, self._get_pool),
            ("PUT", _POOL, self._put_pool),
            ("GET", _POOL + r"/upgradeProfiles/default", self._pool_upgrade_profile),
            ("GET", _LOC + r"/operations/(?P<op>[^/]+)", self._operation_status),
            ("GET", _LOC + r"/operationresults/(?P<op>[^/]+)", self._operation_result),
            ("GET", _LOC + r"/kubernetesVersions", self._kubernetes_versions),
        ]
        self.server = EmulatorServer([(meth, rx, self._arm(h)) for meth, rx, h in routes],
                                     error_body=fault_body, port=port, retry_after=retry_after)

    # ---- lifecycle and seeding -------------------------------------------------------------------------
    def add_cluster(self, name: str, version: str, pools: dict[str, str], available: list[str], *,
                    subscription: str = "00000000-0000-0000-0000-000000000000", resource_group: str = "rg",
                    location: str = "westeurope", node_count: int = 3, system_pool: str | None = None,
                    upgrade_channel: str = "none", tags: dict[str, str] | None = None,
                    preview: list[str] | None = None) -> EmuCluster:
        """Seed a cluster; the first pool is the System pool unless ``system_pool`` names another."""
        for pool in pools:    # a pool AKS could not have: the spec's ManagedClusterAgentPoolProfile.name pattern
            if validate_against_spec({"name": pool}, "ManagedClusterAgentPoolProfile"):
                raise ValueError(f"{pool!r} is not a valid AKS agent pool name (^[a-z][a-z0-9]{{0,11}}$)")
        system = system_pool or next(iter(pools), None)
        c = EmuCluster(subscription, resource_group, name, location, version, version,
                       {p: EmuPool(p, v, v, node_count, "System" if p == system else "User") for p, v in pools.items()},
                       sorted(set(available), key=parse_version), list(preview or []), upgrade_channel,
                       tags=dict(tags or {}))
        with self._lock:
            self.clusters[c.key] = c
            self.subscriptions.add(subscription.lower())
            self.resource_groups.add((subscription.lower(), resource_group.lower()))
        return c

    def record_deprecated_api_usage(self, name: str, api: str, removed_in: str, *, seen_at: datetime | None = None,
                                    resource_group: str = "rg",
                                    subscription: str = "00000000-0000-0000-0000-000000000000") -> None:
        """Test control: the cluster's API server saw a request to ``api``, which Kubernetes ``removed_in`` no
        longer serves (AKS records such usage itself; the emulator is told)."""
        with self._lock:
            c = self.cluster(name, resource_group, subscription)
            c.deprecated_api_usage.append(DeprecatedApiUsage(api, removed_in, seen_at or self.clock.now()))

    def set_state(self, name: str, pool: str | None = None, *, provisioning_state: str | None = None,
                  power_state: str | None = None, resource_group: str = "rg",
                  subscription: str = "00000000-0000-0000-0000-000000000000") -> None:
        """Test control: a cluster's or pool's provisioningState / powerState.code as AKS would report them."""
        with self._lock:
            c = self.cluster(name, resource_group, subscription)
            obj: Any = c.pools[pool] if pool else c
            if provisioning_state is not None:
                obj.state = provisioning_state
            if power_state is not None:
                obj.power = power_state

    def add_subscription(self, subscription: str, *resource_groups: str) -> None:
        """An (empty) subscription and resource groups, for discovery scopes without clusters."""
        with self._lock:
            self.subscriptions.add(subscription.lower())
            self.resource_groups.update((subscription.lower(), rg.lower()) for rg in resource_groups)

    def inject(self, fault: str) -> None:
        """One-shot HTTP fault for the next request (see EmulatorServer), or 'fail-operation': the next
        operation accepted ends Failed."""
        if fault == "fail-operation":
            self.fail_next_operation()
        else:
            self.server.inject(fault)

    def fail_next_operation(self, code: str = "UpgradeFailed",
                            message: str = "Drain of node aks-nodepool-vmss000000 failed: eviction blocked by a "
                                           "PodDisruptionBudget") -> None:
        with self._lock:
            self._fail_next = (code, message)

    def running_operations(self) -> list[EmuOperation]:
        with self._lock:
            self.settle()
            return [o for o in self.operations.values() if o.status == "InProgress"]

    def cluster(self, name: str, resource_group: str = "rg",
                subscription: str = "00000000-0000-0000-0000-000000000000") -> EmuCluster:
        return self.clusters[(subscription.lower(), resource_group.lower(), name.lower())]

    # ---- virtual time ----------------------------------------------------------------------------------
    def settle(self) -> None:
        """Complete every operation whose time has come (state changes happen only here)."""
        now = self.clock.now()
        with self._lock:
            for op in sorted(self.operations.values(), key=lambda o: o.started):
                if op.status == "InProgress" and now >= op.started + op.duration:
                    self._complete(op, op.started + op.duration)

    def _complete(self, op: EmuOperation, at: datetime) -> None:
        c = self.clusters.get(op.cluster)
        op.ended = at
        op.status = "Failed" if op.fail else "Succeeded"
        if c is None:
            return
        c.generation += 1
        for pool in op.pools_to:
            c.pools[pool].generation += 1
        if op.fail:
            if op.kind == "managedCluster":
                c.state = "Failed"
            for pool in op.pools_to:
                c.pools[pool].state = "Failed"
            return
        if op.control_plane_to:
            c.version = c.desired = op.control_plane_to
        c.state = "Succeeded"
        for pool, to in op.pools_to.items():
            p = c.pools[pool]
            p.version = p.desired = to
            p.state = "Succeeded"

    def _running_on(self, c: EmuCluster) -> EmuOperation | None:
        for op in self.operations.values():
            if op.cluster == c.key and op.status == "InProgress":
                return op
        return None

    # ---- request plumbing ------------------------------------------------------------------------------
    def _arm(self, handler: Callable[..., tuple[int, Any, dict[str, str] | None]]):
        def run(match: re.Match[str], body: Any, req: Request) -> tuple[int, Any, dict[str, str] | None]:
            try:
                if not (req.headers.get("Authorization") or "").startswith("Bearer "):
                    raise ArmError(401, "AuthenticationFailed", "Authentication failed. The 'Authorization' "
                                   "header is missing.")
                if not req.param("api-version"):
                    raise ArmError(400, "MissingApiVersionParameter", "The api-version query parameter "
                                   "(?api-version=) is required for all requests.")
                with self._lock:
                    if req.method == "PUT":
                        self.received.append((req.method, req.path, body))
                    self.settle()
                    if match.group("sub").lower() not in self.subscriptions:
                        raise ArmError(404, "SubscriptionNotFound",
                                       f"The subscription '{match.group('sub')}' could not be found.")
                    return handler(match, body, req)
            except ArmError as err:
                return err.status, {"error": {"code": err.code, "message": err.message, **err.extra}}, None
        return run

    def _find(self, match: re.Match[str]) -> EmuCluster:
        key = (match.group("sub").lower(), match.group("rg").lower(), match.group("name").lower())
        c = self.clusters.get(key)
        if c is None:
            if key[:2] not in self.resource_groups:
                raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{match.group('rg')}' could not "
                               "be found.")
            raise ArmError(404, "ResourceNotFound", f"The Resource '{RP}/managedClusters/{match.group('name')}' "
                           f"under resource group '{match.group('rg')}' was not found.")
        return c

    def _pool(self, c: EmuCluster, name: str) -> EmuPool:
        for p in c.pools.values():
            if p.name.lower() == name.lower():
                return p
        raise ArmError(404, "NotFound", f"Agent pool '{name}' not found in managed cluster '{c.name}'.")

    # ---- rendering (with the SDK's models) --------------------------------------------------------------
    def _pool_props(self, p: EmuPool, cls: type) -> Any:
        return cls(count=p.count, vm_size=p.vm_size, mode=p.mode, os_type="Linux", type="VirtualMachineScaleSets",
                   orchestrator_version=p.desired, current_orchestrator_version=p.version,
                   provisioning_state=p.state, power_state=m.PowerState(code=p.power), e_tag=f'"{p.generation}"',
                   upgrade_settings=m.AgentPoolUpgradeSettings(p.upgrade_settings) if p.upgrade_settings else None)

    def _render_cluster(self, c: EmuCluster) -> dict[str, Any]:
        profiles = []
        for p in c.pools.values():
            prof = self._pool_props(p, m.ManagedClusterAgentPoolProfile)
            prof.name = p.name
            profiles.append(prof)
        mc = m.ManagedCluster(  # type: ignore[call-overload]  # SDK overloads omit read-only fields, which a server sets
            id=c.arm_id, name=c.name, type=f"{RP}/ManagedClusters", location=c.location, tags=dict(c.tags),
            e_tag=c.etag,
            sku=m.ManagedClusterSKU(name="Base", tier="Free"),
            properties=m.ManagedClusterProperties(  # type: ignore[call-overload]  # SDK overloads omit read-only fields, which a server sets
                provisioning_state=c.state, power_state=m.PowerState(code=c.power), kubernetes_version=c.desired,
                upgrade_settings=(m.ClusterUpgradeSettings(c.cluster_upgrade_settings)
                                  if c.cluster_upgrade_settings else None),
                current_kubernetes_version=c.version, dns_prefix=c.name, fqdn=f"{c.name}.hcp.{c.location}.azmk8s.io",
                agent_pool_profiles=profiles, max_agent_pools=100,
                # what a GET of a managed-identity cluster shows (the secret is never returned)
                service_principal_profile=m.ManagedClusterServicePrincipalProfile(client_id="msi"),
                auto_upgrade_profile=m.ManagedClusterAutoUpgradeProfile(upgrade_channel=c.channel,
                                                                       node_os_upgrade_channel=c.node_os_channel)))
        return mc.as_dict()

    def _render_pool(self, c: EmuCluster, p: EmuPool) -> dict[str, Any]:
        ap = m.AgentPool(  # type: ignore[call-overload]  # SDK overloads omit read-only fields, which a server sets
            id=f"{c.arm_id}/agentPools/{p.name}", name=p.name, type=f"{RP}/managedClusters/agentPools",
            properties=self._pool_props(p, m.ManagedClusterAgentPoolProfileProperties))
        return ap.as_dict()

    def _upgrades(self, c: EmuCluster, current: str, ceiling: str | None) -> list[tuple[str, bool]]:
        cur = parse_version(current)
        out = []
        for v, preview in [(v, False) for v in c.available] + [(v, True) for v in c.preview]:
            pv = parse_version(v)
            if pv <= cur or pv.minor_key > (cur.major, cur.minor + 1):
                continue                     # no downgrades, no minor skipping (non-LTS)
            if ceiling is not None and pv > parse_version(ceiling):
                continue                     # a node pool never runs newer than its control plane
            out.append((v, preview))
        return sorted(out, key=lambda x: parse_version(x[0]))

    # ---- handlers: reads ---------------------------------------------------------------------------------
    def _page(self, found: list[EmuCluster], req: Request) -> tuple[int, Any, None]:
        """One page of a list: only the clusters on it are rendered (a page costs its own size, not the list's)."""
        start = int(req.param("$skipToken") or 0)
        out: dict[str, Any] = {"value": [self._render_cluster(c) for c in found[start:start + self.page_size]]}
        if start + self.page_size < len(found):
            host = req.headers.get("Host", "127.0.0.1")
            out["nextLink"] = (f"http://{host}{req.path}?api-version={req.param('api-version')}"
                               f"&$skipToken={start + self.page_size}")
        return 200, out, None

    def _list_subscription(self, match: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        sub = match.group("sub").lower()
        return self._page([c for k, c in sorted(self.clusters.items()) if k[0] == sub], req)

    def _list_group(self, match: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        sub, rg = match.group("sub").lower(), match.group("rg").lower()
        if (sub, rg) not in self.resource_groups:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{match.group('rg')}' could not be found.")
        return self._page([c for k, c in sorted(self.clusters.items()) if k[:2] == (sub, rg)], req)

    def _get_cluster(self, match: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        return 200, self._render_cluster(self._find(match)), None

    def _list_pools(self, match: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        c = self._find(match)
        return 200, {"value": [self._render_pool(c, p) for p in c.pools.values()]}, None

    def _get_pool(self, match: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        c = self._find(match)
        return 200, self._render_pool(c, self._pool(c, match.group("pool"))), None

    def _cluster_upgrade_profile(self, match: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        c = self._find(match)
        Item = m.ManagedClusterPoolUpgradeProfileUpgradesItem
        prof = m.ManagedClusterUpgradeProfile(  # type: ignore[call-overload]  # SDK overloads omit read-only fields, which a server sets
            id=f"{c.arm_id}/upgradeprofiles/default", name="default",
            type=f"{RP}/managedClusters/upgradeprofiles",
            properties=m.ManagedClusterUpgradeProfileProperties(
                control_plane_profile=m.ManagedClusterPoolUpgradeProfile(
                    kubernetes_version=c.version, name=None, os_type="Linux",
                    upgrades=[Item(kubernetes_version=v, is_preview=pre) for v, pre in self._upgrades(c, c.version, None)]),
                agent_pool_profiles=[m.ManagedClusterPoolUpgradeProfile(
                    kubernetes_version=p.version, name=p.name, os_type="Linux",
                    upgrades=[Item(kubernetes_version=v, is_preview=pre)
                              for v, pre in self._upgrades(c, p.version, None)]) for p in c.pools.values()]))
        return 200, prof.as_dict(), None

    def _pool_upgrade_profile(self, match: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        c = self._find(match)
        p = self._pool(c, match.group("pool"))
        Item = m.AgentPoolUpgradeProfilePropertiesUpgradesItem
        prof = m.AgentPoolUpgradeProfile(  # type: ignore[call-overload]  # SDK overloads omit read-only fields, which a server sets
            id=f"{c.arm_id}/agentPools/{p.name}/upgradeProfiles/default", name="default",
            type=f"{RP}/managedClusters/agentPools/upgradeProfiles",
            properties=m.AgentPoolUpgradeProfileProperties(
                kubernetes_version=p.version, os_type="Linux",
                latest_node_image_version="AKSUbuntu-2204gen2containerd-202601.05.0",
                upgrades=[Item(kubernetes_version=v, is_preview=pre)
                          for v, pre in self._upgrades(c, p.version, c.version)]))
        return 200, prof.as_dict(), None

    def _kubernetes_versions(self, match: re.Match[str], body: Any, req: Request) -> tuple[int, Any, None]:
        """The region's versions: those offered to the subscription's clusters in that location."""
        sub, loc = match.group("sub").lower(), match.group("loc").lower()
        found: dict[str, bool] = {}
        for c in self.clusters.values():
            if c.subscription.lower() == sub and c.location.lower() == loc:
                found.update({v: False for v in c.available})
                found.update({v: True for v in c.preview if v not in found})
        minors: dict[str, list[str]] = {}
        for v in sorted(found, key=parse_version):
            minors.setdefault(parse_version(v).minor_str, []).append(v)
        values = []
        for minor, patches in minors.items():
            upgrades = {p: [u for u in found if parse_version(u) > parse_version(p)
                            and parse_version(u).minor_key <= (parse_version(p).major, parse_version(p).minor + 1)]
                        for p in patches}
            values.append(m.KubernetesVersion(version=minor, is_preview=all(found[p] for p in patches),
                                              patch_versions={p: m.KubernetesPatchVersion(upgrades=u)
                                                              for p, u in upgrades.items()}))
        return 200, m.KubernetesVersionListResult(values_property=values).as_dict(), None

    def _operation(self, match: re.Match[str]) -> EmuOperation:
        op = self.operations.get(match.group("op"))
        if op is None or op.cluster[0] != match.group("sub").lower():
            raise ArmError(404, "NotFound", f"Operation '{match.group('op')}' was not found.")
        return op

    def _operation_status(self, match: re.Match[str], body: Any, req: Request) -> tuple[int, Any, Any]:
        op = self._operation(match)
        out: dict[str, Any] = {"id": req.path, "name": op.id, "status": op.status, "startTime": iso(op.started)}
        headers = None
        if op.status == "InProgress":
            elapsed = (self.clock.now() - op.started) / op.duration if op.duration else 0.0
            out["percentComplete"] = round(min(99.0, 100 * elapsed), 1)
            headers = {"Retry-After": str(retry_hint(op, self.clock.now()))}
        else:
            out["endTime"] = iso(op.ended)
            if op.fail:
                out["error"] = {"code": op.fail[0], "message": op.fail[1]}
        return 200, out, headers

    def _operation_result(self, match: re.Match[str], body: Any, req: Request) -> tuple[int, Any, Any]:
        op = self._operation(match)
        if op.status == "InProgress":
            host = req.headers.get("Host", "127.0.0.1")
            return 202, None, {"Location": f"http://{host}{req.path}?{req.query}",
                               "Retry-After": str(retry_hint(op, self.clock.now()))}
        if op.fail:
            return 200, {"error": {"code": op.fail[0], "message": op.fail[1]}}, None
        return 204, None, None

    # ---- handlers: writes --------------------------------------------------------------------------------
    def _refuse_if_busy(self, c: EmuCluster) -> None:
        op = self._running_on(c)
        if op is not None:
            what = "upgrade managed cluster" if op.kind == "managedCluster" else "upgrade agent pool"
            raise ArmError(409, "OperationNotAllowed",
                           f"Operation is not allowed because there's an in progress {what} operation with "
                           f"operation ID '{op.id}' started at {iso(op.started)}. Please wait for it to finish "
                           "before starting a new operation. See https://aka.ms/aks-pending-operation.")

    def _check_if_match(self, req: Request, etag: str) -> None:
        wanted = next((v for k, v in req.headers.items() if k.lower() == "if-match"), None)
        if wanted is not None and wanted != "*" and wanted != etag:
            raise ArmError(412, "PreconditionFailed", f"The resource was modified: If-Match {wanted} does not "
                           f"match the current eTag {etag}.")

    def _check_available(self, c: EmuCluster, target: str) -> None:
        # code as the emulator had it; the troubleshooting page's K8sVersionNotSupported is for the cluster's
        # current version, not a requested one (learn.microsoft.com/troubleshoot/azure/azure-kubernetes/
        # error-codes/aks-upgrade-blocked); message from the same family
        if target not in c.available and target not in c.preview:
            raise ArmError(400, "AgentPoolK8sVersionNotSupported",
                           f"Version {target} is not supported in this region. Please use [az aks get-versions] "
                           "command to get the supported version list in this region.")

    def _check_control_plane(self, c: EmuCluster, target: str, pools_after: dict[str, str]) -> None:
        """A control-plane version change (pools_after: every pool's version once the PUT is done)."""
        if target == c.version:
            return
        self._check_available(c, target)
        cur, to = parse_version(c.version), parse_version(target)
        if to < cur or to.minor_key > (cur.major, cur.minor + 1):
            # "Error message 2: OperationNotAllowed — Upgrading Kubernetes version 1.24.9 to 1.26.6 is not
            # allowed. Available upgrades: [...]" (learn.microsoft.com/troubleshoot/azure/azure-kubernetes/
            # error-codes/aks-upgrade-blocked); minor versions cannot be skipped ([DOCS-CP])
            ups = " ".join(v for v, _ in reversed(self._upgrades(c, c.version, None)))
            raise ArmError(400, "OperationNotAllowed", f"Upgrading Kubernetes version {c.version} to {target} is "
                           f"not allowed. Available upgrades: [{ups}].")
        for name, version in sorted(pools_after.items()):
            pv = parse_version(version)
            if (to.major, to.minor) > (pv.major, pv.minor + POOL_SKEW):
                raise ArmError(400, UNDOCUMENTED_SKEW_CODE,
                               f"Upgrading the control plane to {target} would leave agent pool {name} at "
                               f"{version}, more than {POOL_SKEW} minor versions behind (the node pool minor "
                               "version must be within two minor versions of the control plane version).")

    def _check_pool(self, c: EmuCluster, p: EmuPool, target: str, control_plane: str) -> None:
        """An agent pool version change against the control plane it will run under."""
        if target == p.version:
            return
        self._check_available(c, target)
        cur, to, cp = parse_version(p.version), parse_version(target), parse_version(control_plane)
        if to < cur or to.minor_key > (cur.major, cur.minor + 1):
            # 400 AgentPoolUpgradeVersionNotAllowed, github.com/Azure/AKS/issues/1697 (a jump) and
            # kubernetes-sigs/cluster-api-provider-azure#1883 (a downgrade), message verbatim but the versions
            raise ArmError(400, "AgentPoolUpgradeVersionNotAllowed",
                           f"Upgrade agent pool version from {p.version} to {target} is not allowed, you can only "
                           "upgrade one minor version at a time. Please use [az aks get-upgrades] command to get "
                           "the supported upgrade paths. For more information, please check "
                           "https://aka.ms/version-skew-policy")
        if to.minor_key > cp.minor_key or to > cp:
            # 400 NodePoolMcVersionIncompatible, github.com/rancher/rancher/issues/33426 (message verbatim but
            # the versions); [SPEC] "The node pool version cannot be greater than the control plane version."
            raise ArmError(400, "NodePoolMcVersionIncompatible",
                           f"Node pool version {target} and control plane version {control_plane} are "
                           f"incompatible. Minor version of node pool version {to.minor} is bigger than control "
                           f"plane version {cp.minor}. For more information, please check "
                           "https://aka.ms/version-skew-policy")
        if (cp.major, cp.minor) > (to.major, to.minor + POOL_SKEW):
            raise ArmError(400, UNDOCUMENTED_SKEW_CODE,
                           f"Agent pool version {target} is more than {POOL_SKEW} minor versions behind the control "
                           f"plane version {control_plane}.")

    def _validate_body(self, body: Any, definition: str) -> None:
        """The REST spec's schema for the operation (spec.py, spec/PROVENANCE.md)."""
        errors = validate_against_spec(body, definition)
        if errors:
            raise ArmError(400, "InvalidParameter", f"The request body does not match the API specification: "
                           f"{'; '.join(errors)}")

    def _accept(self, c: EmuCluster, req: Request, kind: str, duration: timedelta, *, pool: str | None,
                to: str | None, settings: dict[str, Any], cp_to: str | None,
                pools_to: dict[str, str]) -> tuple[EmuOperation, dict[str, str]]:
        self._seq += 1
        op_id = f"{self._seq:08x}-0000-4000-8000-{self._seq:012x}"
        now = self.clock.now()
        op = EmuOperation(op_id, c.key, kind, now, duration, cp_to, pools_to, self._fail_next)
        self._fail_next = None
        self.operations[op_id] = op
        self.upgrade_log.append(UpgradeRecord(c.subscription, c.resource_group, c.name, c.location, kind, pool,
                                              to, dict(settings), req.param("api-version"), op_id, iso(now) or ""))
        host = req.headers.get("Host", "127.0.0.1")
        base = f"http://{host}/subscriptions/{c.subscription}/providers/{RP}/locations/{c.location}"
        return op, {"Azure-AsyncOperation": f"{base}/operations/{op_id}?api-version={OPERATIONS_API_VERSION}",
                    "Location": f"{base}/operationresults/{op_id}?api-version={OPERATIONS_API_VERSION}",
                    "Retry-After": str(retry_hint(op, now))}

    def _put_cluster(self, match: re.Match[str], body: Any, req: Request) -> tuple[int, Any, Any]:
        c = self._find(match)
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                           "deserialized.")
        self._validate_body(body, "ManagedCluster")
        mc = m.ManagedCluster(body)
        if not mc.location:
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        props = mc.properties or m.ManagedClusterProperties()
        target = props.kubernetes_version or c.desired
        self._check_if_match(req, c.etag)
        self._refuse_if_busy(c)
        pools_to = self._cluster_put_pools(c, props, target)
        self._check_control_plane(c, target, {p.name: pools_to.get(p.name, p.version) for p in c.pools.values()})
        override = ((body.get("properties") or {}).get("upgradeSettings") or {}).get("overrideSettings") or {}
        self._check_deprecated_apis(c, target, override)
        c.cluster_upgrade_settings = dict((body.get("properties") or {}).get("upgradeSettings") or {})
        changed = target != c.version or pools_to
        duration = (self.cp_duration if target != c.version else timedelta(0)) + sum(
            (self._pool_duration(c.pools[p]) for p in pools_to), timedelta(0))
        _op, headers = self._accept(c, req, "managedCluster", duration or self.update_duration, pool=None,
                                   to=target, settings={}, cp_to=target if target != c.version else None,
                                   pools_to=pools_to)
        c.desired = target
        c.state = "Upgrading" if changed else "Updating"
        c.generation += 1
        for pool_name, to in pools_to.items():
            c.pools[pool_name].desired, c.pools[pool_name].state = to, "Upgrading"
            c.pools[pool_name].generation += 1
        if mc.tags is not None:
            c.tags = dict(mc.tags)
        return 200, self._render_cluster(c), headers

    def _check_deprecated_apis(self, c: EmuCluster, target: str, override: dict[str, Any]) -> None:
        """AKS blocks a control-plane minor upgrade to 1.26 or later while an API removed in the target was used
        within the 12 hours before the upgrade, unless ``upgradeSettings.overrideSettings`` has ``forceUpgrade``
        true and an ``until`` still ahead (learn.microsoft.com/azure/aks/stop-cluster-upgrade-api-breaking-changes:
        prerequisites, the error "Bad Request ... code ValidationError ... subcode
        UpgradeBlockedOnDeprecatedAPIUsage", and its mitigation; spec UpgradeOverrideSettings: forceUpgrade
        "bypass upgrade protections such as checking for deprecated API usage", until "only matches the start
        time of an upgrade ... It must be set for the overrides to take effect"). The message follows the page's
        example; "recorded hourly" (usage in the last hour may be missed) is not modelled."""
        cur, to = parse_version(c.version), parse_version(target)
        if to.minor_key <= cur.minor_key or to.minor_key < (1, 26):
            return
        until = override.get("until")
        try:
            forced = override.get("forceUpgrade") is True and until is not None and \
                datetime.fromisoformat(str(until).replace("Z", "+00:00")) > self.clock.now()
        except ValueError:
            forced = False
        now = self.clock.now()
        recent = [u for u in c.deprecated_api_usage if cur.minor_key < parse_version(u.removed_in).minor_key
                  <= to.minor_key and now - u.seen_at <= timedelta(hours=12)]
        if not recent or forced:
            return
        details = "".join(f"\n\t* usage has been detected on API {u.api}, and was recently seen at: "
                          f"{u.seen_at:%Y-%m-%d %H:%M:%S +0000 UTC}, which will be removed in {u.removed_in}"
                          for u in recent)
        raise ArmError(400, "ValidationError",
                       "Control Plane upgrade is blocked due to recent usage of a Kubernetes API deprecated in the "
                       "specified version. Please refer to https://kubernetes.io/docs/reference/using-api/"
                       "deprecation-guide to migrate the usage. To bypass this error, set enable-force-upgrade in "
                       "upgradeSettings.overrideSettings. Bypassing this error without migrating usage will result "
                       f"in the deprecated Kubernetes API calls failing. Usage details: {len(recent)} error(s) "
                       f"occurred:{details}\n\n", subcode="UpgradeBlockedOnDeprecatedAPIUsage")

    def _cluster_put_pools(self, c: EmuCluster, props: Any, target: str) -> dict[str, str]:
        """The pools a managedCluster PUT moves, and where. AKS's rule (400
        NotAllAgentPoolOrchestratorVersionSpecifiedAndUnchanged, message verbatim from
        github.com/hashicorp/terraform-provider-azurerm/issues/23436): "Using managed cluster api, all Agent
        pools' OrchestratorVersion must be all specified or all unspecified. If all specified, they must be stay
        unchanged or the same with control plane." All unspecified: every pool follows the control plane (the
        upgrade-node-pools page: the default of az aks upgrade upgrades all pools with the control plane)."""
        sent = {(p.name or "").lower(): p.orchestrator_version for p in (props.agent_pool_profiles or [])}
        pairs = [(p, sent.get(p.name.lower())) for p in c.pools.values()]
        pools_to: dict[str, str] = {}
        if not any(v for _, v in pairs):
            if target != c.version:
                pools_to = {p.name: target for p in c.pools.values() if p.version != target}
        elif all(v in (p.desired, p.version, target) for p, v in pairs):
            pools_to = {p.name: str(v) for p, v in pairs if v not in (p.desired, p.version)}
        else:
            raise ArmError(400, "NotAllAgentPoolOrchestratorVersionSpecifiedAndUnchanged",
                           "Using managed cluster api, all Agent pools' OrchestratorVersion must be all specified or "
                           "all unspecified. If all specified, they must be stay unchanged or the same with control "
                           "plane. For agent pool specific change, please use per agent pool operations: "
                           "https://aka.ms/agent-pool-rest-api")
        for name, to in pools_to.items():
            self._check_pool(c, c.pools[name], to, target)
        return pools_to

    def _pool_duration(self, p: EmuPool) -> timedelta:
        s = p.upgrade_settings
        batch = count_nodes(s.get("maxSurge") or "10%", p.count) + count_nodes(s.get("maxUnavailable") or "0", p.count)
        soak = timedelta(minutes=int(s.get("nodeSoakDurationInMinutes") or 0))
        return (self.batch_duration + soak) * math.ceil(p.count / max(1, batch))

    def _put_pool(self, match: re.Match[str], body: Any, req: Request) -> tuple[int, Any, Any]:
        c = self._find(match)
        name = match.group("pool")
        if not any(p.lower() == name.lower() for p in c.pools):
            raise ArmError(400, "NotSupported", f"The emulator does not create agent pools ('{name}').")
        p = self._pool(c, name)
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be "
                           "deserialized.")
        self._validate_body(body, "AgentPool")
        ap = m.AgentPool(body)
        props = ap.properties or m.ManagedClusterAgentPoolProfileProperties()
        target = props.orchestrator_version or p.desired
        settings = dict(props.upgrade_settings) if props.upgrade_settings is not None else {}
        validate_upgrade_settings(settings)
        self._check_if_match(req, f'"{p.generation}"')
        self._refuse_if_busy(c)
        self._check_pool(c, p, target, c.version)
        if settings:
            p.upgrade_settings = settings
        upgrading = target != p.version
        _op, headers = self._accept(c, req, "agentPool", self._pool_duration(p) if upgrading else self.update_duration,
                                   pool=p.name, to=target, settings=settings, cp_to=None,
                                   pools_to={p.name: target} if upgrading else {})
        p.desired = target
        p.state = "Upgrading" if upgrading else "Updating"
        p.generation += 1
        c.generation += 1
        if props.count:
            p.count = props.count
        return 200, self._render_pool(c, p), headers
