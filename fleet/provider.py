"""The provider contract: what every adapter implements, its value types, and the entry-point registry.

Adapters live in ``providers/<name>/`` and are found through the entry-point group ``fleet.providers``
(``name = "package.module:Class"``). Each imports only its own SDK; fleet never imports a cloud SDK.

Contract (see docs/ARCHITECTURE.md):

- ``discover()`` reads the clusters in the provider's scopes.
- ``refresh(cluster)`` (optional) re-reads one cluster (None: it is gone); the engine calls it right before a
  start and when verifying a finished step, between full discoveries (docs/scale.md). Without it, the
  provider is discovered in full instead (at most once per tick).
- ``offers(cluster)`` returns the versions the cloud says this cluster may move to.
- ``start(cluster, step)`` begins one step and returns an OperationRef. It is idempotent: when the
  cluster is already at, or already moving to, ``step.to`` it returns the existing operation (or a
  completed one) and issues nothing new.
- ``poll(cluster, op)`` reports an operation's state; it never blocks.
- ``check_step(cluster, step)`` returns warnings for knobs the provider cannot honour (pure).
- ``upgrade_rules(cluster)`` (classmethod, optional) returns the cloud's UpgradeRules for the cluster.
- Safety gates (optional, see docs/gates.md): ``supported_checks(cluster)`` names the built-in checks
  (BuiltinCheck) the provider evaluates through its SDK; ``run_check(cluster, check, step, params, now)``
  evaluates one and returns a CheckOutcome; ``rollback_support(cluster, step)`` (classmethod, pure) says
  whether and how a finished step can be rolled back; ``rollback(cluster, step, op)`` starts the rollback
  and returns an OperationRef polled like any other.

Errors: adapters raise fleet.errors.TemporaryProviderError / PermanentProviderError only.

Settings: a provider class declares ``settings_model``, the strict pydantic model of its ``settings``;
FleetConfig validates every ``spec.providers[]`` entry against it (``provider_settings_model``) and
``fleet schema config`` publishes it. Emulators of the providers are found the same way (fleet.emulator).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from fleet.errors import MissingExtraError, ProviderNotFound

ENTRY_POINT_GROUP = "fleet.providers"

if TYPE_CHECKING:
    from pydantic import BaseModel
SettingsT = TypeVar("SettingsT", bound="BaseModel")


@dataclass(frozen=True, slots=True)
class NodePool:
    name: str
    version: str
    nodes: int = 1
    available: tuple[str, ...] = ()   # versions offered to this pool (e.g. EKS AMI releases), if distinct
    healthy: bool = True
    upgrading: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)  # the pool's labels, where the provider has them


@dataclass(frozen=True, slots=True)
class Cluster:
    provider: str                   # provider instance name (as in FleetConfig; the type in inventories)
    location: str
    name: str
    control_plane: str
    node_pools: tuple[NodePool, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    id: str = ""
    provider_type: str = ""         # eks, gke, aks, oke, capi, kops, sim, or anything else
    available: tuple[str, ...] = ()  # versions offered to the control plane, when known at discovery
    auto_upgrade: str | None = None  # the cloud's own auto-upgrade setting, if on (e.g. 'REGULAR channel')
    healthy: bool = True
    upgrading: bool = False
    pools_follow_control_plane: bool = False  # managed topology: one step moves everything (CAPI ClusterClass)
    extra: Mapping[str, Any] = field(default_factory=dict)
    # per-cluster facts that change the cloud's upgrade rules (see UpgradeRules), discovered by the adapter or
    # stated in an inventory; keys are documented per provider (docs/fidelity.md)
    facts: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.id:
            object.__setattr__(self, "id", f"{self.provider}/{self.location}/{self.name}")
        if not self.provider_type:
            object.__setattr__(self, "provider_type", self.provider)

    def pool(self, name: str) -> NodePool | None:
        for p in self.node_pools:
            if p.name == name:
                return p
        return None


@dataclass(frozen=True, slots=True)
class VersionOffers:
    control_plane: tuple[str, ...] = ()
    node_pools: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # pool name -> versions

    def for_pool(self, pool: str) -> tuple[str, ...]:
        if pool in self.node_pools:
            return self.node_pools[pool]
        if "*" in self.node_pools:
            return self.node_pools["*"]
        return self.control_plane


class Component(StrEnum):
    CONTROL_PLANE = "control-plane"
    NODE_POOL = "node-pool"


@dataclass(frozen=True, slots=True)
class BlueGreen:
    batch_node_count: int | None = None
    batch_percentage: float | None = None   # 0..1
    batch_soak_seconds: int | None = None
    node_pool_soak_seconds: int | None = None


@dataclass(frozen=True, slots=True)
class Step:
    component: Component
    to: str
    from_: str
    pool: str | None = None
    max_surge: int | None = None
    max_unavailable: int | None = None
    strategy: str = "surge"                 # surge | blue-green
    blue_green: BlueGreen | None = None
    drain_timeout_seconds: int | None = None
    node_soak_seconds: int | None = None
    # the policy's literal knobs (e.g. "25%"), for providers that take percentages natively
    max_surge_spec: str | None = None
    max_unavailable_spec: str | None = None
    # ISO-8601 UTC instant until which the cloud's own upgrade blockers are overridden, set only while an
    # operator override of the ``upgrade-blockers`` gate is active for this cluster (AKS
    # upgradeSettings.overrideSettings {forceUpgrade: true, until}; EKS UpdateClusterVersion force=true)
    force_until: str | None = None
    # where the step comes from, set by the engine only on the Step it passes to ``start`` (never journaled):
    # "run=<id> policy=<name> plan=<step keys ...>" - GitOps mode writes it into the commit (docs/gitops.md)
    origin: str | None = None

    @property
    def key(self) -> str:
        target = "cp" if self.component is Component.CONTROL_PLANE else f"pool:{self.pool}"
        return f"{target}@{self.to}"


class OperationState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class OperationRef:
    id: str
    cluster_id: str
    step_key: str
    data: Mapping[str, Any] = field(default_factory=dict)  # adapter-private, JSON-serialisable


@dataclass(frozen=True, slots=True)
class OperationStatus:
    state: OperationState
    message: str = ""
    progress: float | None = None       # 0..1 when the cloud reports it
    poll_after: float | None = None     # seconds the adapter suggests before the next poll


class PoolStrategy(StrEnum):
    SURGE = "surge"
    BLUE_GREEN = "blue-green"


@dataclass(frozen=True)
class UpgradeRules:
    """A cloud's upgrade rules for one cluster, as the cloud's own documentation or API specification states
    them (each provider cites its sources in docs/fidelity.md). The planner applies them to live and
    offline plans alike, so a plan never contains a step the cloud would refuse.

    Providers return them from ``upgrade_rules(cluster)``, a classmethod: it must work on an inventory
    cluster (offline ``fleet plan``) as well as on a discovered one, reading per-cluster facts from
    ``Cluster.facts`` (documented per provider, e.g. GKE ``autopilot``, OKE ``clusterType``).
    """

    # how many minors a node pool may trail the control plane (the kubelet skew policy: 3 from 1.28, else 2)
    pool_skew: int | None = None            # None: the Kubernetes version skew policy
    # how many minors a node pool may move in one step (None: any, up to the control plane's)
    pool_minor_step: int | None = None
    # every node pool must be at the control plane's minor before the control plane's next minor (EKS)
    pools_match_before_cp_minor: bool = False
    # the nodes follow the control plane by themselves: no node-pool steps (GKE Autopilot, CAPI ClusterClass)
    pools_follow_control_plane: bool = False
    # node pools fleet cannot upgrade in place, with the reason (e.g. OKE BASIC clusters: a pool's version
    # change reaches only new nodes; EKS node groups with a custom AMI): their steps are planned as blocked,
    # never reported done
    blocked_pools: Mapping[str, str] = field(default_factory=dict)
    # the node-pool strategies this cloud has, and the policy knobs it honours
    strategies: frozenset[PoolStrategy] = frozenset({PoolStrategy.SURGE})
    # by their policy spelling, among ``maxSurge``, ``maxUnavailable``, ``drainTimeout``, ``nodeSoak``; a knob
    # the policy sets and the cloud lacks is a plan warning and is not carried into the steps
    knobs: frozenset[str] = frozenset({"maxSurge", "maxUnavailable", "drainTimeout", "nodeSoak"})
    # the newest control-plane minor this cluster can be moved to by fleet (e.g. kops refuses a Kubernetes
    # minor above its own: providers/kops/rules.py cites the source), with the reason; None: no such limit
    max_minor: tuple[int, int] | None = None
    max_minor_reason: str = ""
    # versions the control plane may move to when the cluster's definition restricts them
    # (CAPI ClusterClass ``spec.kubernetesVersions``); None: the provider's offers decide
    allowed_versions: tuple[str, ...] | None = None


DEFAULT_RULES = UpgradeRules()


# ---- safety gates: the provider side (fleet.gates evaluates policies' gates; docs/gates.md) -------------
class BuiltinCheck(StrEnum):
    """Checks a provider evaluates through its own SDK against its cloud (or emulator)."""
    # pre-flight: the cloud's own upgrade blockers for step.to (EKS upgrade insights with status ERROR for
    # the target minor; AKS deprecated-API usage block; a cloud's upgrade-readiness API where it has one)
    UPGRADE_BLOCKERS = "upgrade-blockers"
    # pre-flight: control plane and every node pool healthy (cloud status; CAPI conditions such as
    # EtcdClusterHealthy / ControlPlaneComponentsHealthy and Machines ready; ``kops validate cluster -o json``)
    CLUSTER_HEALTH = "cluster-health"
    # pre-flight, self-managed control planes: the newest etcd backup is younger than params["maxAgeSeconds"]
    ETCD_BACKUP = "etcd-backup"
    # post-step: every node of the step's component is Ready at step.to
    NODES_READY = "nodes-ready"


class CheckResult(StrEnum):
    PASS = "pass"
    FAIL = "fail"      # the condition does not hold: a pre-flight gate blocks, a post-step gate fails the step
    ERROR = "error"    # could not be evaluated (cloud error, timeout, unsupported): never counts as a pass


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    result: CheckResult
    reason: str = ""
    # what the check saw, JSON-serialisable and free of credentials (journaled, shown by status/history)
    evidence: Mapping[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.result is CheckResult.PASS


@dataclass(frozen=True, slots=True)
class RollbackSupport:
    """How a finished step can be rolled back on this cloud (documented per cloud in docs/gates.md)."""
    api: str                               # the cloud API that does it, e.g. "RollbackNodePoolUpgrade"
    within_seconds: int | None = None      # how long after the step the cloud allows it; None: no limit stated
    note: str = ""


def rules_for(provider_cls: Any, cluster: Cluster) -> UpgradeRules:
    """The upgrade rules of ``cluster`` under ``provider_cls`` (DEFAULT_RULES when it declares none)."""
    fn = getattr(provider_cls, "upgrade_rules", None)
    return fn(cluster) if callable(fn) else DEFAULT_RULES


def provider_rules(providers: Mapping[str, Any]) -> Callable[[Cluster], UpgradeRules]:
    """The rules function the planner takes, for provider instances by name (the engine's and a live
    plan's): each cluster gets the rules of the class of the provider that reports it."""
    def rules(cluster: Cluster) -> UpgradeRules:
        p = providers.get(cluster.provider)
        return DEFAULT_RULES if p is None else rules_for(type(p), cluster)
    return rules


def type_rules() -> Callable[[Cluster], UpgradeRules]:
    """The rules function for clusters known only by their provider type (an inventory, offline): the class
    of each type is loaded lazily through its entry point (rules need no SDK); a type that is not installed,
    or whose SDK extra is missing, gets DEFAULT_RULES."""
    classes: dict[str, Any] = {}

    def rules(cluster: Cluster) -> UpgradeRules:
        t = cluster.provider_type
        if t not in classes:
            try:
                classes[t] = load_provider_class(t)
            except (ProviderNotFound, MissingExtraError):
                classes[t] = None
        cls = classes[t]
        return DEFAULT_RULES if cls is None else rules_for(cls, cluster)
    return rules


@runtime_checkable
class Provider(Protocol):
    name: str

    def discover(self) -> list[Cluster]:
        """Every cluster this provider manages. Callers treat the list as read-only: a provider may return
        the very same list object again while nothing changed (the engine then skips re-indexing it)."""
        ...

    def offers(self, cluster: Cluster) -> VersionOffers: ...

    def start(self, cluster: Cluster, step: Step) -> OperationRef: ...

    def poll(self, cluster: Cluster, op: OperationRef) -> OperationStatus: ...

    def check_step(self, cluster: Cluster, step: Step) -> list[str]: ...

    # optional, a classmethod: ``upgrade_rules(cluster) -> UpgradeRules`` (see rules_for)


# ---- registry ------------------------------------------------------------------------------------------

_EXTRAS = {"eks": "eks", "gke": "gke", "aks": "aks", "oke": "oke", "capi": "capi", "kops": "kops"}


def known_provider_types() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def load_provider_class(type_name: str) -> type:
    """Find a provider class by its entry-point name; unknown names list the known ones."""
    matches = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == type_name]
    if not matches:
        known = ", ".join(known_provider_types()) or "(none installed)"
        raise ProviderNotFound(f"unknown provider type {type_name!r}; known types: {known}")
    try:
        cls = matches[0].load()
    except ModuleNotFoundError as exc:
        extra = _EXTRAS.get(type_name, type_name)
        raise MissingExtraError(
            f"provider {type_name!r} needs an SDK that is not installed ({exc.name}); "
            f"install it with: pip install 'fleet-upgrader[{extra}]'"
        ) from exc
    for attr in ("discover", "offers", "start", "poll"):
        if not callable(getattr(cls, attr, None)):
            raise ProviderNotFound(f"provider {type_name!r} ({matches[0].value}) does not implement {attr}()")
    return cls


def provider_settings_model(type_name: str) -> type[BaseModel] | None:
    """The strict settings model a provider type declares (its class's ``settings_model``), loaded lazily
    through its entry point; None when the type declares none or its SDK extra is not installed (creating
    the provider then names the extra to install)."""
    try:
        cls = load_provider_class(type_name)
    except MissingExtraError:
        return None
    model = getattr(cls, "settings_model", None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def create_provider(type_name: str, name: str, settings: Mapping[str, Any], **context: Any) -> Provider:
    """Instantiate a provider: ``Class(name=..., settings=..., **context)``; context carries e.g. the clock."""
    cls = load_provider_class(type_name)
    return cls(name=name, settings=dict(settings), **context)


def validate_settings(model: type[SettingsT], settings: Mapping[str, Any] | None, prefix: str, *,
                      root: str = "<settings>") -> SettingsT:
    """A provider's settings validated against its strict model; a bad key raises ValueError
    ``"<prefix>: <key.path>: <message>; ..."`` (``root`` names an error on the settings as a whole)."""
    from pydantic import ValidationError
    try:
        return model.model_validate(dict(settings or {}))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or root}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{prefix}: {problems}") from None


def import_optional(module: str, extra: str) -> Any:
    """Import an SDK module inside an adapter, naming the pip extra when it is missing."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        raise MissingExtraError(
            f"{module} is not installed; install it with: pip install 'fleet-upgrader[{extra}]'"
        ) from exc
