"""The AKS emulator's state: clusters, pools, operations, the upgrade log, and ARM request validation."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

RP = "Microsoft.ContainerService"
_PCT_OR_INT = re.compile(r"^(\d+)(%?)$")
_FAULT_CODES = {"throttle": ("TooManyRequests", "The request is being throttled."),
                "server-error": ("ServiceUnavailable", "The service is temporarily unavailable."),
                "forbidden": ("AuthorizationFailed", ("The client does not have authorization to perform action "
                                                      "'Microsoft.ContainerService/managedClusters/read'.")),
                "not-found": ("ResourceNotFound", "The resource was not found.")}


class ArmError(Exception):
    def __init__(self, status: int, code: str, message: str, **extra: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.extra = extra              # further members of the error object (e.g. AKS's ``subcode``)


@dataclass
class DeprecatedApiUsage:
    """A recorded use of a Kubernetes API that ``removed_in`` (a minor, "1.26") no longer serves, as AKS's
    deprecated-API detection reports it ("usage has been detected on API <api>, and was recently seen at:
    <time>, which will be removed in <minor>", learn.microsoft.com/azure/aks/stop-cluster-upgrade-api-breaking-
    changes)."""
    api: str                        # e.g. flowcontrol.apiserver.k8s.io.prioritylevelconfigurations.v1beta1
    removed_in: str
    seen_at: datetime


@dataclass
class EmuPool:
    name: str
    version: str                    # currentOrchestratorVersion
    desired: str                    # orchestratorVersion
    count: int = 3
    mode: str = "User"
    vm_size: str = "Standard_D4s_v5"
    state: str = "Succeeded"
    upgrade_settings: dict[str, Any] = field(default_factory=dict)
    generation: int = 1             # the eTag (optimistic concurrency)
    power: str = "Running"          # powerState.code (Running | Stopped)


@dataclass
class EmuCluster:
    subscription: str
    resource_group: str
    name: str
    location: str
    version: str                    # currentKubernetesVersion
    desired: str                    # kubernetesVersion
    pools: dict[str, EmuPool]
    available: list[str]            # versions offered in the region (GA)
    preview: list[str] = field(default_factory=list)
    channel: str = "none"
    node_os_channel: str = "NodeImage"
    tags: dict[str, str] = field(default_factory=dict)
    state: str = "Succeeded"
    generation: int = 1
    power: str = "Running"          # powerState.code (Running | Stopped)
    cluster_upgrade_settings: dict[str, Any] = field(default_factory=dict)   # upgradeSettings as last PUT
    deprecated_api_usage: list[DeprecatedApiUsage] = field(default_factory=list)

    @property
    def etag(self) -> str:
        return f'"{self.generation}"'

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.subscription.lower(), self.resource_group.lower(), self.name.lower())

    @property
    def arm_id(self) -> str:
        return (f"/subscriptions/{self.subscription}/resourcegroups/{self.resource_group}/providers/{RP}"
                f"/managedClusters/{self.name}")


@dataclass
class EmuOperation:
    id: str
    cluster: tuple[str, str, str]
    kind: str                               # "managedCluster" | "agentPool"
    started: datetime
    duration: timedelta
    control_plane_to: str | None = None
    pools_to: dict[str, str] = field(default_factory=dict)
    fail: tuple[str, str] | None = None
    status: str = "InProgress"
    ended: datetime | None = None


@dataclass(frozen=True)
class UpgradeRecord:
    """One accepted mutating PUT (the emulator's own log, used to prove no duplicate upgrade was issued)."""

    subscription: str
    resource_group: str
    cluster: str
    location: str
    kind: str                               # "managedCluster" | "agentPool"
    pool: str | None
    to: str | None                          # kubernetesVersion / orchestratorVersion requested
    upgrade_settings: dict[str, Any]        # as received (agent pool PUTs)
    api_version: str | None
    operation_id: str
    at: str


def count_nodes(spec: Any, nodes: int) -> int:
    """AKS resolves both maxSurge and maxUnavailable percentages by rounding UP."""
    mt = _PCT_OR_INT.match(str(spec))
    if not mt:
        return 0
    n = int(mt.group(1))
    return math.ceil(n * nodes / 100) if mt.group(2) else n


def validate_upgrade_settings(s: dict[str, Any]) -> None:
    """maxSurge / maxUnavailable: "an integer (e.g. '5') or a percentage (e.g. '50%')" (the spec's
    AgentPoolUpgradeSettings descriptions; the numeric ranges of drainTimeoutInMinutes and
    nodeSoakDurationInMinutes are checked by spec.validate against the spec's minimum/maximum)."""
    for key in ("maxSurge", "maxUnavailable"):
        if key in s and s[key] is not None:
            mt = _PCT_OR_INT.match(str(s[key]))
            if not mt or (mt.group(2) and int(mt.group(1)) > 100):
                raise ArmError(400, "InvalidParameter", f"The value of parameter upgradeSettings.{key} is "
                               f"invalid: '{s[key]}' (an integer or a percentage up to 100%).")


def retry_hint(op: EmuOperation, now: datetime) -> int:
    remaining = (op.started + op.duration - now).total_seconds()
    return max(1, min(30, math.ceil(remaining)))


def fault_body(fault: str, status: int) -> dict[str, Any]:
    code, message = _FAULT_CODES.get(fault, ("InternalServerError", "An internal server error occurred."))
    return {"error": {"code": code, "message": message}}
