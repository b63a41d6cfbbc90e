"""An EKS emulator: boto3 sends real HTTP to it and gets EKS-shaped answers.

It is a :class:`providers.emulator_base.EmulatorServer` (request log, one-shot faults) whose own routes add
what moto 5.2.1 lacks, in front of moto's WSGI app (see ``moto_ext.py``), which answers everything else
(list/describe clusters and node groups, tags, STS AssumeRole):

==========================================================  ===========================================
``POST /clusters/{name}/updates``                           UpdateClusterVersion (one minor at a time)
``GET  /clusters/{name}/updates[?nodegroupName=]``          ListUpdates
``GET  /clusters/{name}/updates/{id}[?nodegroupName=]``     DescribeUpdate
``POST /clusters/{name}/node-groups/{ng}/update-version``   UpdateNodegroupVersion (version/releaseVersion)
``POST /clusters/{name}/node-groups/{ng}/update-config``    UpdateNodegroupConfig (records ``updateConfig``)
``GET  /cluster-versions``                                  DescribeClusterVersions
``POST /clusters/{name}/insights``                          ListInsights (filter: categories, versions, statuses)
``GET  /clusters/{name}/insights/{id}``                     DescribeInsight
``POST /`` ``X-Amz-Target: AmazonSSM.GetParameter[s]``       the EKS optimized AMI ``release_version`` params
==========================================================  ===========================================

Every EKS request (these routes and those moto answers) is first checked against EKS's service model from the
installed botocore (``model.py``); the version rules (one minor at a time, node groups matching before the next minor, custom-AMI
node groups refusing ``version``) live in ``checks.py`` with their sources (docs/fidelity/eks.md).

Updates are ``InProgress`` until their virtual duration has passed on the injected clock, then
``Successful`` (state changes only then) or ``Failed`` when ``inject("fail-update")`` was called. While an
update runs on a cluster or one of its node groups, another update is refused with 409
``ResourceInUseException``. Faults: ``throttle`` (429 ThrottlingException + Retry-After), ``server-error``
(503 ServiceUnavailableException), ``server-exception`` (500 ServerException), ``forbidden`` (403
AccessDeniedException), ``timeout``, ``fail-update``. ``upgrade_log`` lists the accepted version updates;
``config_log`` the ``updateConfig`` bodies received.
"""

from __future__ import annotations

import math
import re
import threading
import uuid
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, unquote

from fleet.clock import Clock, SystemClock
from providers.eks.emulator import checks, model
from providers.eks.emulator.moto_ext import MotoBackend
from providers.emulator_base import EmulatorServer, Request

DEFAULT_ACCOUNT = "123456789012"
_SSM_RELEASE = re.compile(r"^/aws/service/eks/optimized-ami/(\d+\.\d+)/.+/recommended/release_version$")
_MINOR = checks.MINOR
_FAULT_CODES = {"throttle": ("ThrottlingException", "Rate exceeded"),
                "server-error": ("ServiceUnavailableException", "Service unavailable, try again later"),
                "forbidden": ("AccessDeniedException", "User is not authorized to perform this action"),
                "not-found": ("ResourceNotFoundException", "Not found")}
_UNAVAILABLE_KEYS = ("maxUnavailable", "maxUnavailablePercentage")
_MODEL_PATH_NAMES = {"ng": "nodegroupName", "uid": "updateId"}   # route group -> the model's locationName
Reply = tuple[int, Any, dict[str, str] | None]


class EksError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class ClusterVersion:
    version: str                          # "1.30"
    version_status: str = "STANDARD_SUPPORT"
    patch: str = ""                       # kubernetesPatchVersion, e.g. "1.30.4"
    release_date: datetime | None = None
    end_of_standard: datetime | None = None
    end_of_extended: datetime | None = None
    default: bool = False


@dataclass
class NodegroupSpec:
    version: str                          # the Kubernetes minor, or an AMI release ("1.29.0-20240101")
    nodes: int = 3
    ami_type: str = "AL2023_x86_64_STANDARD"
    release_version: str | None = None
    update_config: dict[str, Any] | None = field(default_factory=lambda: {"maxUnavailable": 1})
    # the node group's own launch template ({"id", "name", "version"}); ami_type "CUSTOM" (its own AMI) needs one
    # and reports the AMI id as its releaseVersion, as EKS does
    launch_template: dict[str, str] | None = None


@dataclass
class Update:
    id: str
    account: str
    region: str
    cluster: str
    nodegroup: str | None
    type: str
    params: list[dict[str, str]]
    created_at: datetime
    duration_s: float
    target: dict[str, Any]
    fail: bool = False
    status: str = "InProgress"
    errors: list[dict[str, Any]] = field(default_factory=list)
    token: str | None = None

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "type": self.type, "params": self.params,
                "createdAt": self.created_at.timestamp(), "errors": self.errors}


@dataclass
class Insight:
    """One cluster insight (botocore service-2.json ``Insight``: category UPGRADE_READINESS | MISCONFIGURATION,
    kubernetesVersion "the Kubernetes minor version associated with an insight", insightStatus PASSING | WARNING
    | ERROR | UNKNOWN)."""
    id: str
    name: str
    kubernetes_version: str
    status: str = "ERROR"
    reason: str = ""
    category: str = "UPGRADE_READINESS"
    description: str = ""
    recommendation: str = ""
    resources: list[str] = field(default_factory=list)     # kubernetesResourceUri of the affected resources
    refreshed_at: datetime | None = None

    def summary(self) -> dict[str, Any]:
        when = self.refreshed_at.timestamp() if self.refreshed_at else None
        return {"id": self.id, "name": self.name, "category": self.category,
                "kubernetesVersion": self.kubernetes_version, "description": self.description,
                "insightStatus": {"status": self.status, "reason": self.reason},
                **({"lastRefreshTime": when, "lastTransitionTime": when} if when else {})}

    def detail(self) -> dict[str, Any]:
        return {**self.summary(), "recommendation": self.recommendation,
                "resources": [{"kubernetesResourceUri": r, "insightStatus": {"status": self.status,
                                                                            "reason": self.reason}}
                              for r in self.resources]}


@dataclass(frozen=True)
class UpgradeRequest:
    """One accepted UpdateClusterVersion / UpdateNodegroupVersion (the emulator's own log)."""
    kind: str                             # "cluster" | "nodegroup"
    account: str
    region: str
    cluster: str
    nodegroup: str | None
    version: str | None
    release_version: str | None
    update_id: str
    update_config: dict[str, Any] | None  # the node group's updateConfig in force when the update was accepted


_minor = checks.minor


def _hdr(req: Request, name: str) -> str:
    low = name.lower()
    return next((v for k, v in req.headers.items() if k.lower() == low), "")


def _error_body(fault: str, status: int) -> dict[str, str]:
    code, msg = _FAULT_CODES.get(fault, ("ServerException", "Internal server error"))
    return {"code": code, "__type": code, "message": msg}


class EksEmulator:
    """EKS upgrade operations over virtual time. ``start()``/``stop()`` (or ``with``), ``.url``, seeding
    (``add_version``, ``add_ami_releases``, ``add_cluster``), ``inject(fault)``, ``upgrade_log``."""

    def __init__(self, clock: Clock | None = None, *, cp_update_seconds: float = 600.0,
                 node_update_seconds: float = 300.0, config_update_seconds: float = 0.0,
                 retry_after: int = 2, timeout_delay_s: float = 3.0, port: int = 0):
        self.clock = clock or SystemClock()
        self.cp_update_seconds = cp_update_seconds
        self.node_update_seconds = node_update_seconds
        self.config_update_seconds = config_update_seconds
        self.versions: dict[str, ClusterVersion] = {}
        self.ami_releases: dict[str, list[str]] = {}
        self.updates: dict[str, Update] = {}
        self.upgrade_log: list[UpgradeRequest] = []
        self.config_log: list[dict[str, Any]] = []
        self.insights: dict[tuple[str, str, str], dict[str, Insight]] = {}   # (account, region, cluster) -> id -> it
        self._fail_next = 0
        self._started = False
        self._lock = threading.RLock()
        self._moto = MotoBackend()
        # (method, path, handler, the EKS operation whose input the model validates: a name, "*" to find it by the
        # model's HTTP bindings, None for the SSM/STS root)
        routes = [
            ("POST", r"/clusters/(?P<name>[^/]+)/updates", self._update_cluster_version, "UpdateClusterVersion"),
            ("GET", r"/clusters/(?P<name>[^/]+)/updates", self._list_updates, "ListUpdates"),
            ("GET", r"/clusters/(?P<name>[^/]+)/updates/(?P<uid>[^/]+)", self._describe_update, "DescribeUpdate"),
            ("POST", r"/clusters/(?P<name>[^/]+)/node-groups/(?P<ng>[^/]+)/update-version",
             self._update_nodegroup_version, "UpdateNodegroupVersion"),
            ("POST", r"/clusters/(?P<name>[^/]+)/node-groups/(?P<ng>[^/]+)/update-config",
             self._update_nodegroup_config, "UpdateNodegroupConfig"),
            ("GET", r"/cluster-versions", self._describe_cluster_versions, "DescribeClusterVersions"),
            ("POST", r"/clusters/(?P<name>[^/]+)/insights", self._list_insights, "ListInsights"),
            ("GET", r"/clusters/(?P<name>[^/]+)/insights/(?P<id>[^/]+)", self._describe_insight, "DescribeInsight"),
            ("POST", r"/", self._root_post, None),
        ] + [(m, r"/.*", self._forward, "*") for m in ("GET", "POST", "PUT", "DELETE")]   # "*": found by path
        self.server = EmulatorServer([(m, p, self._guard(h, op)) for m, p, h, op in routes], error_body=_error_body,
                                     port=port, retry_after=retry_after, timeout_delay_s=timeout_delay_s)
        self.url = self.server.url

    # ---- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> Self:
        try:
            self._moto.open()
        except RuntimeError:
            self.server.httpd.server_close()
            raise
        self.server.start()
        self._started = True
        return self

    def stop(self) -> None:
        if self._started:
            self._started = False
            self.server.stop()
            self._moto.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def requests(self) -> list[Request]:
        return self.server.log

    def adapter_settings(self, credentials_dir: str | Path, regions: tuple[str, ...] = ("us-east-1",),
                         profile: str = "eks-emulator") -> dict[str, Any]:
        """EksProvider settings pointing at this emulator; writes a throwaway credentials file (fake keys:
        the emulator checks no signatures) so the adapter never reads the user's real AWS credentials."""
        path = Path(credentials_dir) / "eks-emulator-credentials"
        path.write_text(f"[{profile}]\naws_access_key_id = AKIDEMULATOR\naws_secret_access_key = not-a-secret\n")
        return {"regions": list(regions), "endpoint": self.url, "profile": profile, "credentialsFile": str(path)}

    # ---- seeding ---------------------------------------------------------------------------------------
    def add_version(self, version: str, *, status: str = "STANDARD_SUPPORT", patch: str = "",
                    release_date: datetime | None = None, end_of_standard: datetime | None = None,
                    end_of_extended: datetime | None = None, default: bool = False) -> None:
        if not _MINOR.match(version):
            raise ValueError(f"EKS cluster versions are minors like '1.30', not {version!r}")
        with self._lock:
            self.versions[version] = ClusterVersion(version, status, patch or f"{version}.0", release_date,
                                                    end_of_standard, end_of_extended, default)

    def add_ami_releases(self, version: str, releases: list[str]) -> None:
        """EKS optimized AMI release versions (``1.30.4-20240917``) of a minor; the newest is 'recommended'."""
        with self._lock:
            known = self.ami_releases.setdefault(version, [])
            for r in releases:
                if not r.startswith(version + "."):
                    raise ValueError(f"release {r!r} is not of Kubernetes {version}")
                if r not in known:
                    known.append(r)
            known.sort(key=_release_key)

    def add_cluster(self, name: str, version: str,
                    nodegroups: Mapping[str, NodegroupSpec | str | Mapping[str, Any]] | None = None, *,
                    region: str = "us-east-1", account: str = DEFAULT_ACCOUNT, support_type: str = "EXTENDED",
                    tags: dict[str, str] | None = None) -> None:
        with self._lock:
            self._moto.create_cluster(account, region, name, version, tags=dict(tags or {}),
                                      support_type=support_type)
            for ng_name, spec in (nodegroups or {}).items():
                spec = (spec if isinstance(spec, NodegroupSpec) else NodegroupSpec(spec) if isinstance(spec, str)
                        else NodegroupSpec(**spec))
                minor = ".".join(spec.version.split(".")[:2])
                release = spec.release_version or (spec.version if spec.version != minor else None)
                lt = dict(spec.launch_template) if spec.launch_template else None
                if spec.ami_type == checks.CUSTOM:
                    release = release or "ami-0123456789abcdef0"
                    lt = lt or {"id": f"lt-{zlib.crc32(ng_name.encode()):017x}", "name": f"{ng_name}-lt", "version": "1"}
                elif release is None and self.ami_releases.get(minor):
                    release = self.ami_releases[minor][0]
                self._moto.create_nodegroup(account, region, name, ng_name, version=minor, release_version=release,
                                            nodes=spec.nodes, ami_type=spec.ami_type, launch_template=lt,
                                            update_config=dict(spec.update_config) if spec.update_config else None)

    def add_insight(self, cluster: str, insight: Insight, *, region: str = "us-east-1",
                    account: str = DEFAULT_ACCOUNT) -> None:
        """Seed (or replace) one insight of a cluster; ``remove_insight`` clears it (an operator fixed it)."""
        with self._lock:
            if insight.refreshed_at is None:
                insight.refreshed_at = self.clock.now()
            self.insights.setdefault((account, region, cluster), {})[insight.id] = insight

    def remove_insight(self, cluster: str, insight_id: str, *, region: str = "us-east-1",
                       account: str = DEFAULT_ACCOUNT) -> None:
        with self._lock:
            self.insights.get((account, region, cluster), {}).pop(insight_id, None)

    def set_health(self, cluster: str, nodegroup: str | None = None, *, issues: list[dict[str, Any]] | None = None,
                   status: str | None = None, region: str = "us-east-1", account: str = DEFAULT_ACCOUNT) -> None:
        """Test control: a cluster's or node group's ``status`` and ``health.issues`` (``[{code, message,
        resourceIds}]``, botocore ``Issue`` / ``ClusterIssue``), as DescribeCluster / DescribeNodegroup report."""
        with self._lock:
            obj = (self._moto.nodegroup(account, region, cluster, nodegroup) if nodegroup
                   else self._moto.cluster(account, region, cluster))
            if obj is None:
                raise KeyError(f"no {nodegroup or cluster} in {account}/{region}")
            if issues is not None:
                obj.health = {"issues": list(issues)}
            if status is not None:
                obj.status = status

    def inject(self, fault: str) -> None:
        """One-shot: the next request fails with ``fault``; ``fail-update``: the next accepted update fails."""
        if fault in ("fail-update", "fail-operation"):
            with self._lock:
                self._fail_next += 1
        else:
            self.server.inject(fault)

    def upgrade_calls(self, cluster: str, region: str | None = None, account: str | None = None) -> int:
        return sum(1 for u in self.upgrade_log if u.cluster == cluster and region in (None, u.region)
                   and account in (None, u.account))

    def cluster_version(self, cluster: str, region: str = "us-east-1", account: str = DEFAULT_ACCOUNT) -> str:
        with self._lock:
            self._settle()
            c = self._moto.cluster(account, region, cluster)
            if c is None:
                raise KeyError(f"no cluster {cluster} in {account}/{region}")
            return str(c.version)

    def nodegroup_state(self, cluster: str, nodegroup: str, region: str = "us-east-1",
                        account: str = DEFAULT_ACCOUNT) -> dict[str, Any]:
        with self._lock:
            self._settle()
            ng = self._moto.nodegroup(account, region, cluster, nodegroup)
            if ng is None:
                raise KeyError(f"no node group {nodegroup} in {cluster} ({account}/{region})")
            return {"version": ng.version, "releaseVersion": ng.release_version, "status": ng.status,
                    "updateConfig": ng.update_config}

    # ---- plumbing --------------------------------------------------------------------------------------
    def _guard(self, handler: Any, op: str | None) -> Any:
        def run(m: re.Match[str], body: Any, req: Request) -> Reply:
            with self._lock:
                self._settle()
                body = body if isinstance(body, dict) else {}
                try:
                    _check_model(op, m, body, req)
                    return handler(m, body, req)
                except (EksError, checks.Refused) as e:
                    return e.status, {"message": e.message}, {"x-amzn-ErrorType": e.code}
        return run

    def _scope(self, req: Request) -> tuple[str, str]:
        auth = _hdr(req, "Authorization")
        region = "us-east-1"
        if "Credential=" in auth:
            parts = auth.split("Credential=", 1)[1].split(",", 1)[0].split("/")
            if len(parts) >= 3:
                region = parts[2]
        return self._moto.account_for(req.headers), region

    def _forward(self, m: re.Match[str], body: Any, req: Request) -> Reply:
        out = self._moto.forward(req.method, req.path, req.query, req.headers, req.raw)
        return out.status, out.body, out.headers

    def _cluster(self, acct: str, region: str, name: str) -> Any:
        c = self._moto.cluster(acct, region, name)
        if c is None:
            raise EksError(404, "ResourceNotFoundException", f"No cluster found for name: {name}.")
        return c

    def _nodegroup(self, acct: str, region: str, cluster: str, name: str) -> Any:
        self._cluster(acct, region, cluster)
        ng = self._moto.nodegroup(acct, region, cluster, name)
        if ng is None:
            raise EksError(404, "ResourceNotFoundException", f"No node group found for name: {name}.")
        return ng

    def _running(self, acct: str, region: str, cluster: str, nodegroup: str | None = None) -> Update | None:
        """An InProgress update that blocks a new one: for the cluster, any update on it or its node groups;
        for a node group, one on that node group or on the cluster itself."""
        return next((u for u in self.updates.values() if u.status == "InProgress" and u.account == acct
                     and u.region == region and u.cluster == cluster
                     and (nodegroup is None or u.nodegroup in (None, nodegroup))), None)

    def _by_token(self, acct: str, region: str, cluster: str, ng: str | None, token: str | None) -> Update | None:
        if not token:
            return None
        return next((u for u in self.updates.values() if u.token == token and (u.account, u.region, u.cluster,
                     u.nodegroup) == (acct, region, cluster, ng)), None)

    def _new_update(self, acct: str, region: str, cluster: str, ng: str | None, kind: str,
                    params: list[dict[str, str]], duration: float, target: dict[str, Any], token: str | None,
                    fail: bool = False) -> Update:
        u = Update(str(uuid.uuid4()), acct, region, cluster, ng, kind, params, self.clock.now(), duration,
                   target, fail=fail, token=token)
        self.updates[u.id] = u
        return u

    def _take_failure(self) -> bool:
        if self._fail_next:
            self._fail_next -= 1
            return True
        return False

    def _settle(self) -> None:
        now = self.clock.now()
        for u in self.updates.values():
            if u.status == "InProgress" and now >= u.created_at + timedelta(seconds=u.duration_s):
                self._complete(u)

    def _complete(self, u: Update) -> None:
        c = self._moto.cluster(u.account, u.region, u.cluster)
        ng = self._moto.nodegroup(u.account, u.region, u.cluster, u.nodegroup) if u.nodegroup else None
        obj = ng if u.nodegroup else c
        if obj is None:                                   # deleted meanwhile
            u.status = "Cancelled"
            return
        obj.status = "ACTIVE"
        if u.fail:
            u.status = "Failed"
            code = "NodeCreationFailure" if ng is not None else "Unknown"
            u.errors = [{"errorCode": code, "errorMessage": "injected failure: the update did not complete",
                         "resourceIds": [u.nodegroup or u.cluster]}]
            return
        u.status = "Successful"
        t = u.target
        if ng is None:
            obj.version = t["version"]           # obj is the cluster here
            obj.platformVersion = "eks.1"
        else:
            if "updateConfig" in t:
                ng.update_config = t["updateConfig"]
            if t.get("version"):
                ng.version = t["version"]
            if t.get("releaseVersion"):
                ng.release_version = t["releaseVersion"]
            if t.get("launchTemplate"):
                ng.launch_template = t["launchTemplate"]

    # ---- EKS routes ------------------------------------------------------------------------------------
    def _update_cluster_version(self, m: re.Match[str], body: dict[str, Any], req: Request) -> Reply:
        acct, region = self._scope(req)
        name = m["name"]
        c = self._cluster(acct, region, name)
        token = body.get("clientRequestToken")
        if (old := self._by_token(acct, region, name, None, token)) is not None:
            return 200, {"update": old.public()}, None
        version = body.get("version")
        if not isinstance(version, str) or not version:
            raise EksError(400, "InvalidParameterException", "version is required")
        if self._running(acct, region, name) is not None:
            # ResourceInUseException (409 in the model's error trait) is listed for UpdateClusterVersion; when exactly
            # EKS refuses and its message are not documented (ours)
            raise EksError(409, "ResourceInUseException", f"An update is already in progress for cluster {name}")
        info = self.versions.get(version)
        checks.check_cluster_version(c, version, info is not None and info.version_status != "UNSUPPORTED")
        checks.check_upgrade_insights(name, version, list(self.insights.get((acct, region, name), {}).values()),
                                      body.get("force") is True)
        c.status = "UPDATING"
        u = self._new_update(acct, region, name, None, "VersionUpdate",
                             [{"type": "Version", "value": version}, {"type": "PlatformVersion", "value": "eks.1"}],
                             self.cp_update_seconds, {"version": version}, token, self._take_failure())
        self.upgrade_log.append(UpgradeRequest("cluster", acct, region, name, None, version, None, u.id, None))
        return 200, {"update": u.public()}, None

    def _update_nodegroup_version(self, m: re.Match[str], body: dict[str, Any], req: Request) -> Reply:
        acct, region = self._scope(req)
        name, ng_name = m["name"], m["ng"]
        ng = self._nodegroup(acct, region, name, ng_name)
        c = self._cluster(acct, region, name)
        token = body.get("clientRequestToken")
        if (old := self._by_token(acct, region, name, ng_name, token)) is not None:
            return 200, {"update": old.public()}, None
        if self._running(acct, region, name, ng_name) is not None:
            raise EksError(409, "ResourceInUseException",
                           f"An update is already in progress for cluster {name} or nodegroup {ng_name}")
        t = checks.check_nodegroup_version(c, ng, ng_name, body, self.ami_releases)
        version, release = t.version, t.release
        ng.status = "UPDATING"
        nodes = int((ng.scaling_config or {}).get("desiredSize") or 1)
        duration = self.node_update_seconds * math.ceil(nodes / _parallel(ng.update_config, nodes))
        params = [{"type": "Version", "value": version}] + (
            [{"type": "ReleaseVersion", "value": release}] if release else []) + (
            [{"type": "LaunchTemplateVersion", "value": t.launch_template.get("version", "")}]
            if t.launch_template else [])
        u = self._new_update(acct, region, name, ng_name, "VersionUpdate", params, duration,
                             {"version": version, "releaseVersion": release, "launchTemplate": t.launch_template},
                             token, self._take_failure())
        self.upgrade_log.append(UpgradeRequest("nodegroup", acct, region, name, ng_name, version, release, u.id,
                                               dict(ng.update_config) if ng.update_config else None))
        return 200, {"update": u.public()}, None

    def _update_nodegroup_config(self, m: re.Match[str], body: dict[str, Any], req: Request) -> Reply:
        acct, region = self._scope(req)
        name, ng_name = m["name"], m["ng"]
        ng = self._nodegroup(acct, region, name, ng_name)
        token = body.get("clientRequestToken")
        if (old := self._by_token(acct, region, name, ng_name, token)) is not None:
            return 200, {"update": old.public()}, None
        if self._running(acct, region, name, ng_name) is not None:
            raise EksError(409, "ResourceInUseException",
                           f"An update is already in progress for cluster {name} or nodegroup {ng_name}")
        cfg = body.get("updateConfig")
        target: dict[str, Any] = {}
        params: list[dict[str, str]] = []
        if cfg is not None:
            target["updateConfig"] = _merge_update_config(ng.update_config, cfg)
            self.config_log.append({"account": acct, "region": region, "cluster": name, "nodegroup": ng_name,
                                    "updateConfig": dict(cfg)})
            params = [{"type": k[0].upper() + k[1:], "value": str(v)} for k, v in cfg.items()]
        self._moto.apply_nodegroup_config(acct, region, name, ng_name, body)
        u = self._new_update(acct, region, name, ng_name, "ConfigUpdate", params, self.config_update_seconds,
                             target, token)
        if u.duration_s <= 0:
            self._complete(u)
        else:
            ng.status = "UPDATING"
        return 200, {"update": u.public()}, None

    def _describe_update(self, m: re.Match[str], body: dict[str, Any], req: Request) -> Reply:
        acct, region = self._scope(req)
        ng = req.param("nodegroupName")
        self._cluster(acct, region, m["name"])
        u = self.updates.get(m["uid"])
        if u is None or (u.account, u.region, u.cluster, u.nodegroup) != (acct, region, m["name"], ng):
            raise EksError(404, "ResourceNotFoundException", f"No update found for ID: {m['uid']}")
        return 200, {"update": u.public()}, None

    def _list_updates(self, m: re.Match[str], body: dict[str, Any], req: Request) -> Reply:
        acct, region = self._scope(req)
        ng = req.param("nodegroupName")
        if ng:
            self._nodegroup(acct, region, m["name"], ng)
        else:
            self._cluster(acct, region, m["name"])
        ids = [u.id for u in self.updates.values()
               if (u.account, u.region, u.cluster, u.nodegroup) == (acct, region, m["name"], ng)]
        start = int(req.param("nextToken") or 0)
        size = int(req.param("maxResults") or 100)
        page = ids[start:start + size]
        nxt = str(start + size) if start + size < len(ids) else None
        return 200, {"updateIds": page, "nextToken": nxt}, None

    def _describe_cluster_versions(self, m: re.Match[str], body: dict[str, Any], req: Request) -> Reply:
        q = parse_qs(req.query)
        wanted = set(q.get("clusterVersions", []))
        include_all = (q.get("includeAll") or ["false"])[0] == "true"
        status = set(q.get("versionStatus", []))
        out = []
        for v in sorted(self.versions.values(), key=lambda x: _minor(x.version), reverse=True):
            if wanted and v.version not in wanted:
                continue
            if status and v.version_status not in status:
                continue
            if not include_all and not wanted and not status and v.version_status == "UNSUPPORTED":
                continue
            if (q.get("defaultOnly") or ["false"])[0] == "true" and not v.default:
                continue
            out.append({
                "clusterVersion": v.version, "clusterType": "eks", "defaultPlatformVersion": "eks.1",
                "defaultVersion": v.default, "versionStatus": v.version_status,
                "status": v.version_status.lower().replace("_", "-"), "kubernetesPatchVersion": v.patch,
                **{k: d.timestamp() for k, d in (("releaseDate", v.release_date),
                                                 ("endOfStandardSupportDate", v.end_of_standard),
                                                 ("endOfExtendedSupportDate", v.end_of_extended)) if d}})
        return 200, {"clusterVersions": out}, None

    def _list_insights(self, m: re.Match[str], body: dict[str, Any], req: Request) -> Reply:
        """ListInsights: the filter's categories / kubernetesVersions / statuses each narrow the answer when
        given (InsightsFilter in service-2.json; "The default filter lists all categories and every status")."""
        acct, region = self._scope(req)
        self._cluster(acct, region, m["name"])
        flt = body.get("filter") or {}
        out = [i.summary() for i in self.insights.get((acct, region, m["name"]), {}).values()
               if (not flt.get("categories") or i.category in flt["categories"])
               and (not flt.get("kubernetesVersions") or i.kubernetes_version in flt["kubernetesVersions"])
               and (not flt.get("statuses") or i.status in flt["statuses"])]
        start = int(body.get("nextToken") or 0)
        size = int(body.get("maxResults") or 100)
        nxt = str(start + size) if start + size < len(out) else None
        return 200, {"insights": out[start:start + size], "nextToken": nxt}, None

    def _describe_insight(self, m: re.Match[str], body: dict[str, Any], req: Request) -> Reply:
        acct, region = self._scope(req)
        self._cluster(acct, region, m["name"])
        found = self.insights.get((acct, region, m["name"]), {}).get(m["id"])
        if found is None:
            raise EksError(404, "ResourceNotFoundException", f"No insight found for id: {m['id']}.")
        return 200, {"insight": found.detail()}, None

    # ---- SSM public parameters (the recommended AMI release of each minor) ----------------------------
    def _root_post(self, m: re.Match[str], body: dict[str, Any], req: Request) -> Reply:
        target = _hdr(req, "X-Amz-Target")
        asked = body.get("Names") if target == "AmazonSSM.GetParameters" else (
            [body.get("Name")] if target == "AmazonSSM.GetParameter" else None)
        names = [n for n in asked or [] if isinstance(n, str) and n.startswith("/aws/service/eks/")]
        if not names or len(names) != len(asked or []):
            return self._forward(m, body, req)
        _, region = self._scope(req)
        found, missing = [], []
        for n in names:
            mt = _SSM_RELEASE.match(n)
            rel = self.ami_releases.get(mt[1]) if mt else None
            if rel:
                found.append({"Name": n, "Type": "String", "Value": rel[-1], "Version": len(rel),
                              "DataType": "text", "LastModifiedDate": self.clock.now().timestamp(),
                              "ARN": f"arn:aws:ssm:{region}::parameter{n}"})
            else:
                missing.append(n)
        if target == "AmazonSSM.GetParameters":
            return 200, {"Parameters": found, "InvalidParameters": missing}, None
        if not found:
            return 400, {"__type": "ParameterNotFound", "message": f"Parameter {names[0]} not found."}, None
        return 200, {"Parameter": found[0]}, None


def _check_model(op: str | None, m: re.Match[str], body: dict[str, Any], req: Request) -> None:
    """The request against EKS's service model (model.py): ``op`` names the operation, ``"*"`` finds it by the
    model's HTTP bindings (requests moto answers; SSM/STS requests match none and are not checked)."""
    if op is None:
        return
    if op == "*":
        found = model.match(req.method, unquote(req.path))
        if found is None:
            return
        op, path = found
    else:
        path = {_MODEL_PATH_NAMES.get(k, k): unquote(v) for k, v in m.groupdict().items()}
    try:
        model.validate(op, path, req.query, body)
    except model.ModelViolation as exc:
        raise EksError(400, "InvalidParameterException", str(exc)) from exc


_release_key = checks.release_key


def _parallel(cfg: dict[str, Any] | None, nodes: int) -> int:
    """How many nodes EKS updates at once under ``updateConfig`` (default 1)."""
    cfg = cfg or {}
    if cfg.get("maxUnavailable"):
        return max(1, int(cfg["maxUnavailable"]))
    if cfg.get("maxUnavailablePercentage"):
        return max(1, math.floor(nodes * int(cfg["maxUnavailablePercentage"]) / 100))
    return 1


def _merge_update_config(current: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """EKS takes maxUnavailable OR maxUnavailablePercentage (1..100); updateStrategy DEFAULT | MINIMAL
    (NodegroupUpdateConfig in botocore's EKS model; model.py checks the ranges and the enum first).
    NO SOURCE: refusing both in one request is this emulator's assumption (the model only says one of them "is
    required to have a value"); docs/fidelity/eks.md says so."""
    given = [k for k in _UNAVAILABLE_KEYS if new.get(k) is not None]
    if len(given) > 1:
        raise EksError(400, "InvalidParameterException",
                       "Only one of maxUnavailable and maxUnavailablePercentage may be specified")
    for k in given:
        if not isinstance(new[k], int) or not 1 <= new[k] <= 100:
            raise EksError(400, "InvalidParameterException", f"{k} must be between 1 and 100")
    strategy = new.get("updateStrategy")
    if strategy is not None and strategy not in ("DEFAULT", "MINIMAL"):
        raise EksError(400, "InvalidParameterException", f"Invalid updateStrategy {strategy}")
    out = dict(current or {})
    if given:
        for k in _UNAVAILABLE_KEYS:
            out.pop(k, None)
        out[given[0]] = new[given[0]]
    if strategy is not None:
        out["updateStrategy"] = strategy
    return out
