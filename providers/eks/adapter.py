"""EksProvider: fleet's Provider over AWS EKS through boto3 (EKS; SSM for AMI releases; STS for roles).

Versions: control planes take a minor only (``"1.30"``). Node groups report and take EKS optimized AMI
release versions (``"1.30.4-20240917"``), read from the public SSM parameter
``/aws/service/eks/optimized-ami/<minor>/<family>/recommended/release_version``; node groups whose AMI has
no such parameter (Bottlerocket, Windows, custom launch templates) are offered minors only. "Patch first"
on EKS therefore means moving node groups to the newest AMI release of their current minor.

Steps: control plane ``UpdateClusterVersion(version="1.30")``; node group ``UpdateNodegroupConfig``
(only when the budget differs, see ``budget.py``) then ``UpdateNodegroupVersion(version, releaseVersion)``.
Node groups with a custom AMI (``amiType: CUSTOM``) are reported in ``Cluster.facts["customAmiNodegroups"]``;
EKS refuses ``version`` for them, so the rules (``rules.py``) plan them as blocked and ``start`` refuses their
steps without sending anything. Polling is one ``DescribeUpdate``. ``start`` is idempotent: a cluster/node group that is not ACTIVE is
searched for its InProgress update (``ListUpdates`` + ``DescribeUpdate``); one to the same target is returned,
any other makes ``start`` raise TemporaryProviderError; one already at the target returns a completed
operation. The SDK makes one attempt per call (the engine retries) with short timeouts.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
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
from fleet.versions import InvalidVersion, Version, parse_version
from providers.checks_base import BuiltinChecks, force_active
from providers.eks import gates
from providers.eks.budget import compute_update_config, config_matches
from providers.eks.errors import translate
from providers.eks.rules import CUSTOM_AMI_REASON, Facts, compute_rules
from providers.eks.settings import EksSettings, Scope, parse_settings, split_location

log = logging.getLogger("providers.eks")

TYPE = "eks"
AUTO_UPGRADE_STANDARD = "auto-upgrade at end of standard support (upgradePolicy.supportType=STANDARD)"
NOOP_PREFIX = "noop:"
_SSM = "/aws/service/eks/optimized-ami/{v}/"
SSM_RELEASE_PATHS = {   # amiType -> the public parameter holding the recommended AMI release of minor {v}
    "AL2_x86_64": _SSM + "amazon-linux-2/recommended/release_version",
    "AL2_x86_64_GPU": _SSM + "amazon-linux-2-gpu/recommended/release_version",
    "AL2_ARM_64": _SSM + "amazon-linux-2-arm64/recommended/release_version",
    "AL2023_x86_64_STANDARD": _SSM + "amazon-linux-2023/x86_64/standard/recommended/release_version",
    "AL2023_ARM_64_STANDARD": _SSM + "amazon-linux-2023/arm64/standard/recommended/release_version",
    "AL2023_x86_64_NVIDIA": _SSM + "amazon-linux-2023/x86_64/nvidia/recommended/release_version",
    "AL2023_ARM_64_NVIDIA": _SSM + "amazon-linux-2023/arm64/nvidia/recommended/release_version",
    "AL2023_x86_64_NEURON": _SSM + "amazon-linux-2023/x86_64/neuron/recommended/release_version",
}
_BUSY = ("UPDATING", "CREATING", "PENDING")               # an update may be running: find it
_GONE = ("DELETING", "FAILED", "CREATE_FAILED", "DELETE_FAILED")   # nothing to upgrade (DEGRADED may update)


@functools.cache
def _data_loader() -> Any:
    """One botocore data loader per process, so the SDK's JSON models are parsed once, not per session."""
    return import_optional("botocore.loaders", "eks").create_loader()


def _custom_ami(ng: Mapping[str, Any]) -> bool:
    """A launch template with its own AMI: EKS reports ``amiType: CUSTOM`` (the AMITypes enum of the API model;
    EKS User Guide, launch templates: with an AMI id, "amiType, releaseVersion, version" can't be set)."""
    return ng.get("amiType") == "CUSTOM"


def _uses_releases(ng: Mapping[str, Any]) -> bool:
    """EKS optimized AMIs have release versions (a custom AMI's amiType is CUSTOM)."""
    return ng.get("amiType") in SSM_RELEASE_PATHS


def _pool_version(ng: Mapping[str, Any]) -> str:
    """An AMI release when the node group runs an EKS optimized AMI of its minor, else the minor."""
    minor, release = str(ng.get("version") or ""), ng.get("releaseVersion")
    if _uses_releases(ng) and release and str(release).startswith(minor + "."):
        return str(release)
    return minor


class EksProvider(BuiltinChecks):
    """Settings: ``regions``, ``profile``, ``roleArn``, ``externalId``, ``accounts`` (``[{alias, profile,
    roleArn, externalId, regions}]``), ``endpoint``, ``ssmEndpoint``, ``stsEndpoint``, ``credentialsFile``,
    ``connectTimeoutSeconds``, ``readTimeoutSeconds``, ``pollIntervalSeconds``, ``roleSessionSeconds``."""

    type = TYPE
    settings_model = EksSettings   # the schema of this provider's settings (FleetConfig validates against it)
    facts_model = Facts            # per-cluster facts (inventory ``facts``; discover() fills the same keys)

    @classmethod
    def upgrade_rules(cls, cluster: Cluster) -> UpgradeRules:
        return compute_rules(cluster)

    def __init__(self, name: str = "eks", settings: Mapping[str, Any] | None = None, *,
                 clock: Clock | None = None, config_dir: str | None = None, **_: Any):
        self.name = name
        self.settings, self.scopes = parse_settings(name, dict(settings or {}))
        self.clock = clock or SystemClock()
        self._config_dir = Path(config_dir) if config_dir else Path.cwd()
        self._boto3 = import_optional("boto3", "eks")
        self._botocore_session = import_optional("botocore.session", "eks")
        self._config = import_optional("botocore.config", "eks").Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=self.settings.connectTimeoutSeconds, read_timeout=self.settings.readTimeoutSeconds,
            # botocore keeps 10 connections per client unless told (Config max_pool_connections, boto/botocore
            # PR 1026: "a noticeable difference whenever num_threads > max_pool_connection"); one client serves
            # every worker of its account+region, so it gets as many connections as there are workers
            max_pool_connections=max(10, self.settings.apiConcurrency), user_agent_appid="fleet")
        self._sessions: dict[int, tuple[Any, datetime | None]] = {}
        self._clients: dict[tuple[int, str, str], Any] = {}
        self._client_lock = threading.Lock()   # sessions and clients are made once, shared by the pool
        # bounded concurrency and a token bucket per account+region, on this provider's clock (fleet.ratelimit,
        # docs/scale.md)
        self.limiter = ScopeLimiter(name, self.settings.apiRatePerSecond, self.settings.apiBurst,
                                    concurrency=self.settings.apiConcurrency, clock=self.clock)
        # incremental discovery: (scope index, region, name) -> (described at, cluster, node groups)
        self._described: dict[tuple[int, str, str], tuple[datetime, dict[str, Any], list[Any]]] = {}
        self._minors: dict[tuple[int, str], tuple[datetime, list[str], dict[str, dict[str, Any]]]] = {}

    # ---- SDK plumbing -----------------------------------------------------------------------------------
    def _new_session(self, profile: str | None = None, **credentials: str) -> Any:
        bs = self._botocore_session.Session(profile=profile)
        bs.register_component("data_loader", _data_loader())
        if self.settings.credentialsFile:
            bs.set_config_variable("credentials_file", str(self._config_dir / self.settings.credentialsFile))
        return self._boto3.Session(botocore_session=bs, **credentials)

    def _base_session(self, scope: Scope) -> Any:
        return self._new_session(scope.profile)

    def _session(self, scope: Scope) -> Any:
        key = self.scopes.index(scope)
        cached = self._sessions.get(key)
        now = self.clock.now()
        if cached is not None and (cached[1] is None or now < cached[1]):
            return cached[0]
        base = self._base_session(scope)
        refresh_at = None
        session = base
        if scope.role_arn:
            sts = base.client("sts", region_name=scope.regions[0], config=self._config,
                              endpoint_url=self.settings.stsEndpoint or self.settings.endpoint)
            kwargs: dict[str, Any] = {"RoleArn": scope.role_arn, "RoleSessionName": f"fleet-{self.name}"[:64],
                                      "DurationSeconds": self.settings.roleSessionSeconds}
            if scope.external_id:
                kwargs["ExternalId"] = scope.external_id
            creds = self._call("AssumeRole", lambda: sts.assume_role(**kwargs))["Credentials"]
            session = self._new_session(aws_access_key_id=creds["AccessKeyId"],
                                        aws_secret_access_key=creds["SecretAccessKey"],
                                        aws_session_token=creds["SessionToken"])
            # refresh on our own clock, well before the role session ends
            refresh_at = now + timedelta(seconds=self.settings.roleSessionSeconds * 0.75)
            log.info("assumed role", extra={"provider": self.name, "account": scope.alias or "default"})
        self._sessions[key] = (session, refresh_at)
        self._clients = {k: v for k, v in self._clients.items() if k[0] != key}
        return session

    def _client(self, scope: Scope, service: str, region: str) -> Any:
        # credentials problems (unknown profile, no credentials) surface here: map them like any SDK error
        with self._client_lock:
            return self._call(f"{service} client", lambda: self._make_client(scope, service, region))

    def _make_client(self, scope: Scope, service: str, region: str) -> Any:
        session = self._session(scope)
        key = (self.scopes.index(scope), service, region)
        if key not in self._clients:
            endpoint = {"eks": self.settings.endpoint,
                        "ssm": self.settings.ssmEndpoint or self.settings.endpoint}[service]
            self._clients[key] = session.client(service, region_name=region, endpoint_url=endpoint,
                                                config=self._config)
        return self._clients[key]

    def _call(self, action: str, fn: Callable[[], Any]) -> Any:
        """Every SDK call goes through here: SDK exceptions become fleet errors (errors.translate)."""
        try:
            return fn()
        except Exception as exc:  # translated at the boundary, re-raised typed
            raise translate(exc, provider=self.name, operation=action) from exc

    def _eks(self, scope: Scope, region: str, action: str, **kwargs: Any) -> Any:
        client = self._client(scope, "eks", region)
        return self._call(action, lambda: getattr(client, action)(**kwargs))

    def _pages(self, scope: Scope, region: str, action: str, key: str, **kwargs: Any) -> list[Any]:
        out: list[Any] = []
        token: str | None = None
        while True:
            page = self._eks(scope, region, action, **kwargs, **({"nextToken": token} if token else {}))
            out += page.get(key, [])
            token = page.get("nextToken")
            if not token:
                return out

    def _where(self, cluster: Cluster) -> tuple[Scope, str]:
        alias, region = split_location(cluster.location)
        for scope in self.scopes:
            if scope.alias == alias and region in scope.regions:
                return scope, region
        raise PermanentProviderError(f"cluster {cluster.id}: location {cluster.location!r} is not in this "
                                     "provider's accounts/regions", provider=self.name, code="NotInScope")

    # ---- reads ------------------------------------------------------------------------------------------
    def _offered_minors(self, scope: Scope, region: str) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """Cluster versions AWS supports now (standard or extended support), ascending."""
        info = {v["clusterVersion"]: v for v in self._pages(scope, region, "describe_cluster_versions",
                                                             "clusterVersions")
                if v.get("versionStatus", "STANDARD_SUPPORT") != "UNSUPPORTED"}
        return sorted(info, key=parse_version), info

    def _releases(self, scope: Scope, region: str, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """(amiType, minor) -> recommended AMI release, from SSM public parameters (10 names per call)."""
        names = {SSM_RELEASE_PATHS[t].format(v=m): (t, m) for t, m in sorted(wanted) if t in SSM_RELEASE_PATHS}
        found: dict[tuple[str, str], str] = {}
        if not names:
            return found
        ssm = self._client(scope, "ssm", region)
        todo = sorted(names)
        for i in range(0, len(todo), 10):
            chunk = todo[i:i + 10]
            resp = self.limiter.call(scope.location(region),
                                     lambda: self._call("GetParameters", lambda: ssm.get_parameters(Names=chunk)))
            for p in resp.get("Parameters", []):
                found[names[p["Name"]]] = p["Value"]
        return found

    def _pool_offers(self, ngs: list[Mapping[str, Any]], minors: list[str],
                     releases: dict[tuple[str, str], str]) -> dict[str, tuple[str, ...]]:
        out: dict[str, tuple[str, ...]] = {}
        for ng in ngs:
            cur = parse_version(str(ng.get("version")))
            later = [m for m in minors if parse_version(m).minor_key >= cur.minor_key]
            if _uses_releases(ng):
                vals = {releases[(ng["amiType"], m)] for m in later if (ng["amiType"], m) in releases}
            else:
                vals = set(later)
            out[ng["nodegroupName"]] = tuple(sorted(vals, key=parse_version))
        return out

    @staticmethod
    def _wanted(ngs: list[Mapping[str, Any]], minors: list[str]) -> set[tuple[str, str]]:
        return {(ng["amiType"], m) for ng in ngs if _uses_releases(ng)
                for m in minors if parse_version(m).minor_key >= parse_version(str(ng["version"])).minor_key}

    def _scoped(self, calls: list[tuple[Scope, str, Callable[[], Any]]]) -> list[Any]:
        """Run SDK calls through the limiter (one bucket per account+region); the first error is raised."""
        out = self.limiter.run([(scope.location(region), fn) for scope, region, fn in calls])
        for r in out:
            if isinstance(r, BaseException):
                raise r
        return out

    def _offered(self, scope: Scope, region: str) -> tuple[list[str], dict[str, dict[str, Any]]]:
        """Offered minors of a region, cached for ``describeEverySeconds`` (offers are per region on EKS)."""
        key, now = (self.scopes.index(scope), region), self.clock.now()
        hit = self._minors.get(key)
        ttl = timedelta(seconds=self.settings.describeEverySeconds)
        if hit is not None and ttl and timedelta(0) <= now - hit[0] < ttl:
            return hit[1], hit[2]
        minors, info = self.limiter.call(scope.location(region), lambda: self._offered_minors(scope, region))
        self._minors[key] = (now, minors, info)
        return minors, info

    def _due(self, key: tuple[int, str, str], now: datetime) -> bool:
        """New, busy (cluster or node group not ACTIVE) and stale clusters are described again. A cluster is
        stale at ``describeEverySeconds``, or from half of it once it passes its own slot of the period (a
        stable hash of the cluster): a fleet described at once at start-up is re-described spread over the
        period, not all again in one discovery each period (docs/scale.md)."""
        hit = self._described.get(key)
        ttl = self.settings.describeEverySeconds
        if hit is None or not ttl:
            return True
        at, c, ngs = hit
        busy = c.get("status") != "ACTIVE" or any(ng.get("status") != "ACTIVE" for ng in ngs)
        age = (now - at).total_seconds()
        if busy or age < 0 or age >= ttl:
            return True
        if age < ttl / 2:
            return False
        phase = int.from_bytes(hashlib.sha256(repr(key).encode()).digest()[:8], "big") / 2**64 * ttl
        return math.floor((now.timestamp() + phase) / ttl) != math.floor((at.timestamp() + phase) / ttl)

    def _describe_all(self, names: list[tuple[Scope, str, str]]) -> list[tuple[dict[str, Any], list[Any]]]:
        """DescribeCluster, ListNodegroups and DescribeNodegroup for ``(scope, region, name)``, each stage
        concurrently across every account and region (each scope paced by its own bucket)."""
        P = functools.partial
        clusters = self._scoped([(s, r, P(self._eks, s, r, "describe_cluster", name=n)) for s, r, n in names])
        ng_names = self._scoped([(s, r, P(self._pages, s, r, "list_nodegroups", "nodegroups", clusterName=n))
                                 for s, r, n in names])
        pairs = [(i, g) for i, gs in enumerate(ng_names) for g in gs]
        ngs = self._scoped([(names[i][0], names[i][1], P(self._eks, names[i][0], names[i][1], "describe_nodegroup",
                                                         clusterName=names[i][2], nodegroupName=g)) for i, g in pairs])
        by_cluster: list[list[Any]] = [[] for _ in names]
        for (i, _), ng in zip(pairs, ngs, strict=True):
            by_cluster[i].append(ng["nodegroup"])
        return [(c["cluster"], by_cluster[i]) for i, c in enumerate(clusters)]

    def discover(self) -> list[Cluster]:
        """List every account+region (concurrently), then describe the clusters that are new, busy or due
        (all of them unless ``describeEverySeconds`` is set), across every region at once: docs/scale.md."""
        where = [(scope, region) for scope in self.scopes for region in scope.regions]
        listed = self._scoped([(s, r, functools.partial(self._pages, s, r, "list_clusters", "clusters")) for s, r in where])
        now = self.clock.now()
        due: list[tuple[Scope, str, str]] = []
        for (scope, region), names in zip(where, listed, strict=True):
            idx, keep = self.scopes.index(scope), set(names)
            for key in [k for k in self._described if k[:2] == (idx, region) and k[2] not in keep]:
                del self._described[key]      # deleted clusters are forgotten
            due += [(scope, region, n) for n in names if self._due((idx, region, n), now)]
        for (scope, region, n), (c, ngs) in zip(due, self._describe_all(due), strict=True):
            self._described[(self.scopes.index(scope), region, n)] = (now, c, ngs)
        out: list[Cluster] = []
        for (scope, region), names in zip(where, listed, strict=True):
            if not names:
                continue
            idx = self.scopes.index(scope)
            minors, info = self._offered(scope, region)
            described = [self._described[(idx, region, n)][1:] for n in names]
            wanted = set().union(*(self._wanted(ngs, minors) for _, ngs in described))
            releases = self._releases(scope, region, wanted)
            for c, ngs in described:
                out.append(self._to_cluster(scope, region, c, ngs, minors, info, releases))
        return out

    def refresh(self, cluster: Cluster) -> Cluster | None:
        """One cluster as it is now (None: EKS no longer lists it): DescribeCluster and its node groups."""
        scope, region = self._where(cluster)
        try:
            ((c, ngs),) = self._describe_all([(scope, region, cluster.name)])
        except PermanentProviderError as exc:
            if exc.code in ("ResourceNotFoundException", "404"):
                return None
            raise
        self._described[(self.scopes.index(scope), region, cluster.name)] = (self.clock.now(), c, ngs)
        minors, info = self._offered(scope, region)
        releases = self._releases(scope, region, self._wanted(ngs, minors))
        return self._to_cluster(scope, region, c, ngs, minors, info, releases)

    def _to_cluster(self, scope: Scope, region: str, c: Mapping[str, Any], ngs: list[Mapping[str, Any]],
                    minors: list[str], info: Mapping[str, Mapping[str, Any]],
                    releases: dict[tuple[str, str], str]) -> Cluster:
        offers = self._pool_offers(ngs, minors, releases)
        pools = tuple(NodePool(ng["nodegroupName"], _pool_version(ng),
                               int((ng.get("scalingConfig") or {}).get("desiredSize") or 0),
                               offers.get(ng["nodegroupName"], ()),
                               healthy=not (ng.get("health") or {}).get("issues"),
                               upgrading=ng.get("status") == "UPDATING") for ng in ngs)
        version = str(c["version"])
        support = (c.get("upgradePolicy") or {}).get("supportType")
        vinfo = info.get(version, {})
        return Cluster(
            provider=self.name, provider_type=TYPE, location=scope.location(region), name=c["name"],
            control_plane=version, node_pools=pools, labels=dict(c.get("tags") or {}),
            available=tuple(m for m in minors if parse_version(m).minor_key >= parse_version(version).minor_key),
            auto_upgrade=AUTO_UPGRADE_STANDARD if support == "STANDARD" else None,
            healthy=c.get("status") in ("ACTIVE", "UPDATING") and not (c.get("health") or {}).get("issues"),
            upgrading=c.get("status") == "UPDATING" or any(p.upgrading for p in pools),
            extra={"region": region, "account": scope.alias or "default", "arn": c.get("arn"),
                   "platformVersion": c.get("platformVersion"), "supportType": support,
                   "versionStatus": vinfo.get("versionStatus"),
                   "amiTypes": {ng["nodegroupName"]: ng.get("amiType") for ng in ngs}},
            facts={"customAmiNodegroups": sorted(ng["nodegroupName"] for ng in ngs if _custom_ami(ng))})

    def offers(self, cluster: Cluster) -> VersionOffers:
        scope, region = self._where(cluster)
        minors, _ = self._offered(scope, region)
        ami_types = dict(cluster.extra.get("amiTypes") or {})
        ngs: list[Mapping[str, Any]] = []
        for pool in cluster.node_pools:
            if pool.name in ami_types:
                ngs.append({"nodegroupName": pool.name, "amiType": ami_types[pool.name],
                            "version": parse_version(pool.version).minor_str})
            else:
                ngs.append(self._eks(scope, region, "describe_nodegroup", clusterName=cluster.name,
                                     nodegroupName=pool.name)["nodegroup"])
        releases = self._releases(scope, region, self._wanted(ngs, minors))
        cur = parse_version(cluster.control_plane).minor_key
        return VersionOffers(tuple(m for m in minors if parse_version(m).minor_key >= cur),
                             self._pool_offers(ngs, minors, releases))

    def check_step(self, cluster: Cluster, step: Step) -> list[str]:
        return compute_update_config(step)[1]

    # ---- steps ------------------------------------------------------------------------------------------
    def _ref(self, cluster: Cluster, step: Step, update_id: str, nodegroup: str | None, target: str) -> OperationRef:
        return OperationRef(update_id, cluster.id, step.key,
                            {"cluster": cluster.name, "nodegroup": nodegroup, "location": cluster.location,
                             "target": target})

    def _in_progress(self, scope: Scope, region: str, cluster: str, nodegroup: str | None) -> dict[str, Any] | None:
        extra = {"nodegroupName": nodegroup} if nodegroup else {}
        ids = self._pages(scope, region, "list_updates", "updateIds", name=cluster, **extra)
        for uid in reversed(ids):
            u = self._eks(scope, region, "describe_update", name=cluster, updateId=uid, **extra)["update"]
            if u.get("status") == "InProgress":
                return u
        return None

    def _resume(self, scope: Scope, region: str, cluster: Cluster, step: Step, nodegroup: str | None,
                status: str, matches: Callable[[dict[str, Any]], bool]) -> OperationRef:
        """The resource is busy: return its InProgress update to the same target, or ask to retry later."""
        what = f"node group {nodegroup}" if nodegroup else "cluster"
        u = self._in_progress(scope, region, cluster.name, nodegroup)
        if u is not None and u.get("type") == "VersionUpdate" and matches(u):
            log.info("update already in progress", extra={"provider": self.name, "cluster": cluster.id, "operation": u["id"]})
            return self._ref(cluster, step, u["id"], nodegroup, step.to)
        detail = f"update {u['id']} ({u.get('type')})" if u else f"status {status}"
        raise TemporaryProviderError(f"{cluster.id}: {what} is busy: {detail}", provider=self.name,
                                     code="ResourceInUseException", retry_after=self.settings.pollIntervalSeconds)

    def start(self, cluster: Cluster, step: Step) -> OperationRef:
        try:
            target = parse_version(step.to)
        except InvalidVersion as exc:
            raise PermanentProviderError(f"{cluster.id}: {exc}", provider=self.name, code="InvalidVersion") from exc
        scope, region = self._where(cluster)
        if step.component is Component.CONTROL_PLANE:
            return self._start_control_plane(scope, region, cluster, step, target)
        return self._start_nodegroup(scope, region, cluster, step, target)

    def _start_control_plane(self, scope: Scope, region: str, cluster: Cluster, step: Step,
                             target: Version) -> OperationRef:
        version = target.minor_str
        c = self._eks(scope, region, "describe_cluster", name=cluster.name)["cluster"]
        _check_alive(cluster, None, str(c.get("status")), self.name)
        if c.get("status") in _BUSY:
            return self._resume(scope, region, cluster, step, None, str(c.get("status")),
                                lambda u: _param(u, "Version") == version)
        if parse_version(str(c["version"])).minor_key == target.minor_key:
            return self._ref(cluster, step, NOOP_PREFIX + step.key, None, version)
        force = force_active(step, self.clock.now())   # an operator override of the upgrade-blockers gate
        u = self._eks(scope, region, "update_cluster_version", name=cluster.name, version=version,
                      **({"force": True} if force else {}))["update"]
        log.info("control plane update started", extra={"provider": self.name, "cluster": cluster.id,
                                                         "operation": u["id"]})
        return self._ref(cluster, step, u["id"], None, version)

    def _start_nodegroup(self, scope: Scope, region: str, cluster: Cluster, step: Step,
                         target: Version) -> OperationRef:
        if not step.pool:
            raise PermanentProviderError(f"{cluster.id}: node-pool step without a pool", provider=self.name,
                                         code="InvalidStep")
        version = target.minor_str
        release = step.to if target.patch is not None else None
        ng = self._eks(scope, region, "describe_nodegroup", clusterName=cluster.name,
                       nodegroupName=step.pool)["nodegroup"]

        def same_target(u: dict[str, Any]) -> bool:
            return _param(u, "Version") in (None, version) and (release is None or _param(u, "ReleaseVersion") == release)

        _check_alive(cluster, step.pool, str(ng.get("status")), self.name)
        if _custom_ami(ng):
            # never sent: EKS refuses version/releaseVersion for custom-AMI node groups (rules.py [API-UNV])
            raise PermanentProviderError(f"{cluster.id}: " + CUSTOM_AMI_REASON.format(name=step.pool),
                                         provider=self.name, code="CustomAmiNodegroup")
        if ng.get("status") in _BUSY:
            return self._resume(scope, region, cluster, step, step.pool, str(ng.get("status")), same_target)
        at_target = ng.get("releaseVersion") == release if release else str(ng.get("version")) == version
        if at_target:
            return self._ref(cluster, step, NOOP_PREFIX + step.key, step.pool, step.to)
        desired, _ = compute_update_config(step)
        if desired and not config_matches(ng.get("updateConfig"), desired):
            u = self._eks(scope, region, "update_nodegroup_config", clusterName=cluster.name,
                          nodegroupName=step.pool, updateConfig=desired)["update"]
            log.info("node group updateConfig set", extra={"provider": self.name, "cluster": cluster.id, "operation": u["id"],
                                                            "reason": str(desired)})
            if u.get("status") == "InProgress":
                raise TemporaryProviderError(f"{cluster.id}: node group {step.pool} updateConfig is being "
                                             "applied; the version update follows", provider=self.name,
                                             code="ResourceInUseException",
                                             retry_after=self.settings.pollIntervalSeconds)
        kwargs: dict[str, Any] = {"clusterName": cluster.name, "nodegroupName": step.pool, "version": version}
        if release:
            kwargs["releaseVersion"] = release
        u = self._eks(scope, region, "update_nodegroup_version", **kwargs)["update"]
        log.info("node group update started", extra={"provider": self.name, "cluster": cluster.id,
                                                      "operation": u["id"]})
        return self._ref(cluster, step, u["id"], step.pool, step.to)

    def poll(self, cluster: Cluster, op: OperationRef) -> OperationStatus:
        if op.id.startswith(NOOP_PREFIX):
            return OperationStatus(OperationState.SUCCEEDED, "already at the target version", 1.0)
        scope, region = self._where(cluster)
        ng = op.data.get("nodegroup")
        try:
            u = self._eks(scope, region, "describe_update", name=op.data.get("cluster", cluster.name),
                          updateId=op.id, **({"nodegroupName": ng} if ng else {}))["update"]
        except PermanentProviderError as err:   # DescribeUpdate: ResourceNotFoundException (botocore's model)
            if err.code == "ResourceNotFoundException":
                raise OperationNotFound(f"update {op.id} is no longer known: {err}", provider=self.name,
                                        code=err.code) from err
            raise
        status = u.get("status")
        if status == "Successful":
            return OperationStatus(OperationState.SUCCEEDED, f"update {op.id} successful", 1.0)
        if status in ("Failed", "Cancelled"):
            errors = "; ".join(f"{e.get('errorCode')}: {e.get('errorMessage')}" for e in u.get("errors") or [])
            return OperationStatus(OperationState.FAILED, f"update {op.id} {status.lower()}"
                                   + (f": {errors}" if errors else ""))
        return OperationStatus(OperationState.RUNNING, f"update {op.id} {status}",
                               poll_after=self.settings.pollIntervalSeconds)


    # ---- safety gates (fleet.provider: BuiltinCheck; docs/gates-providers.md) --------------------------------
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
        """None: the EKS API (botocore service-2.json, API 2017-11-01) has no operation that rolls a control
        plane or a node group back, and UpdateNodegroupVersion says "You cannot roll back a node group to an
        earlier Kubernetes version or AMI version" (docs/gates-providers.md)."""
        return None

    def _check_blockers(self, cluster: Cluster, step: Step) -> CheckOutcome:
        minor = parse_version(step.to).minor_str
        if step.component is not Component.CONTROL_PLANE:
            return gates.not_for_nodegroups(minor)
        scope, region = self._where(cluster)
        flt = {"categories": [gates.UPGRADE_READINESS], "kubernetesVersions": [minor], "statuses": ["ERROR"]}
        found = self._pages(scope, region, "list_insights", "insights", clusterName=cluster.name, filter=flt)
        # the filter is the server's; keep only what it asked for, should an answer carry more
        errors = [i for i in found if (i.get("insightStatus") or {}).get("status") == "ERROR"
                  and i.get("category") in (None, gates.UPGRADE_READINESS)]
        described = [self._eks(scope, region, "describe_insight", clusterName=cluster.name, id=i["id"])["insight"]
                     for i in errors[:gates.MAX_DESCRIBED]]
        return gates.blockers(minor, described, len(errors))

    def _check_health(self, cluster: Cluster) -> CheckOutcome:
        scope, region = self._where(cluster)
        c = self._eks(scope, region, "describe_cluster", name=cluster.name)["cluster"]
        ngs = [self._eks(scope, region, "describe_nodegroup", clusterName=cluster.name, nodegroupName=n)["nodegroup"]
               for n in self._pages(scope, region, "list_nodegroups", "nodegroups", clusterName=cluster.name)]
        return gates.cluster_health(c, ngs)

    def _check_ready(self, cluster: Cluster, step: Step) -> CheckOutcome:
        scope, region = self._where(cluster)
        target = parse_version(step.to)
        if step.component is Component.CONTROL_PLANE or not step.pool:
            c = self._eks(scope, region, "describe_cluster", name=cluster.name)["cluster"]
            return gates.control_plane_ready(c, target.minor_str)
        ng = self._eks(scope, region, "describe_nodegroup", clusterName=cluster.name,
                       nodegroupName=step.pool)["nodegroup"]
        return gates.nodegroup_ready(ng, target.minor_str, step.to if target.patch is not None else None)


def _check_alive(cluster: Cluster, nodegroup: str | None, status: str, provider: str) -> None:
    if status in _GONE:
        what = f"node group {nodegroup}" if nodegroup else "cluster"
        raise PermanentProviderError(f"{cluster.id}: {what} is {status}", provider=provider, code=status)


def _param(update: Mapping[str, Any], kind: str) -> str | None:
    return next((p.get("value") for p in update.get("params") or [] if p.get("type") == kind), None)
