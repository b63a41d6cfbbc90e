"""Simulated Cluster API controllers over virtual time.

Each call to ``advance(now)`` replays every event up to ``now`` (a Machine becoming ready or available, a
deletion finishing, a controller noticing a new generation) and lets the controllers act at each instant:

- KubeadmControlPlane: one Machine at a time; with ``maxSurge`` 1 it creates a new Machine, waits until it
  is ready, then deletes the oldest outdated one; with ``maxSurge`` 0 it deletes first. It never acts while
  a Machine is provisioning, deleting or failed (a failed Machine stalls the rollout, as without a
  MachineHealthCheck).
- MachineDeployment / MachineSet: the Deployment algorithm CAPI uses (``mdutil``): new MachineSet scaled up
  within ``replicas + maxSurge``, old ones scaled down while ``available >= replicas - maxUnavailable``
  (unhealthy first); percentages resolve like ``mdutil.ResolveFenceposts`` (surge up, unavailable down,
  both 0 -> unavailable 1). ``OnDelete`` only replaces Machines somebody deleted.
- Managed topology (``Cluster.spec.topology``): control plane first, then MachineDeployments one by one in
  ``workers`` order, honouring ``hold-upgrade-sequence`` and ``defer-upgrade``.

The largest number of Machines ever surged / unavailable per KCP and MachineDeployment is kept in
``budget`` so tests can check that rollouts stayed within their budget.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from fleet.clock import Clock
from providers.capi.emulator.schema import ResourceType
from providers.capi.emulator.store import ObjectStore, StatusError, clone

LABEL_CLUSTER = "cluster.x-k8s.io/cluster-name"
LABEL_CP = "cluster.x-k8s.io/control-plane"
LABEL_CP_NAME = "cluster.x-k8s.io/control-plane-name"
LABEL_MD = "cluster.x-k8s.io/deployment-name"
LABEL_MS = "cluster.x-k8s.io/set-name"
LABEL_HASH = "machine-template-hash"
LABEL_TOPO_MD = "topology.cluster.x-k8s.io/deployment-name"
ANN_HOLD = "topology.cluster.x-k8s.io/hold-upgrade-sequence"
ANN_DEFER = "topology.cluster.x-k8s.io/defer-upgrade"
ANN_PAUSED = "cluster.x-k8s.io/paused"

Obj = dict[str, Any]


@dataclass
class Timings:
    controller_delay: float = 1.0     # seconds before a controller observes a new generation
    provision: float = 180.0          # Machine creation -> node ready
    delete: float = 30.0              # drain + delete


@dataclass
class SimMachine:
    name: str
    namespace: str
    cluster: str
    owner_kind: str                   # KubeadmControlPlane | MachineSet
    owner: str
    deployment: str | None
    version: str
    template_kind: str
    template: str
    infra_group: str
    created: datetime
    ready_at: datetime | None = None
    failed_at: datetime | None = None
    failure: str | None = None
    deleting_since: datetime | None = None
    gone_at: datetime | None = None

    def ready(self, t: datetime) -> bool:
        return self.deleting_since is None and self.ready_at is not None and self.ready_at <= t

    def failed(self, t: datetime) -> bool:
        return self.failed_at is not None and self.failed_at <= t

    def available(self, t: datetime, min_ready: float) -> bool:
        return self.ready(t) and self.ready_at is not None and self.ready_at + timedelta(seconds=min_ready) <= t

    def phase(self, t: datetime) -> str:
        if self.deleting_since is not None:
            return "Deleting"
        if self.failed(t):
            return "Failed"
        return "Running" if self.ready(t) else "Provisioning"


@dataclass
class SimMachineSet:
    name: str
    namespace: str
    cluster: str
    deployment: str
    hash: str
    template: Obj                     # the MachineDeployment's spec.template at creation
    created: datetime
    replicas: int = 0


@dataclass
class Budget:
    max_surge: int = 0
    max_unavailable: int = 0
    samples: int = 0


def resolve_int_or_percent(value: Any, total: int, round_up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        exact = int(value[:-1]) * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return int(value)


def version_key(v: str) -> tuple[int, ...]:
    core = v.lstrip("v").split("-")[0].split("+")[0]
    return tuple(int(x) for x in core.split(".") if x.isdigit())


def _get(obj: Any, *path: str, default: Any = None) -> Any:
    for p in path:
        if not isinstance(obj, dict) or p not in obj:
            return default
        obj = obj[p]
    return obj


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:10]


class Controllers:
    """The CAPI controllers of one emulated management cluster (``capi_version``: v1beta1 or v1beta2)."""

    def __init__(self, store: ObjectStore, types: dict[str, ResourceType], clock: Clock, capi_version: str,
                 timings: Timings | None = None, render: Callable[[Controllers], None] | None = None):
        self.store, self.types, self.clock, self.v = store, types, clock, capi_version
        self.render = render     # writes the simulated state back as API objects (render.Renderer, given by
                                 # the emulator so that rendering and controllers do not import each other)
        self.timings = timings or Timings()
        self.t = clock.now()
        self.machines: dict[tuple[str, str], SimMachine] = {}
        self.machinesets: dict[tuple[str, str], SimMachineSet] = {}
        self.budget: dict[tuple[str, str, str], Budget] = {}
        # test control: (kind, namespace, name, condition type) -> (ok, reason, message) forced on the rendered
        # condition (what the real controllers would observe: an unhealthy etcd member, a NotReady node)
        self.condition_overrides: dict[tuple[str, ...], tuple[bool, str, str]] = {}
        self.faults: list[tuple[str, str | None]] = []
        self._seen: dict[tuple[str, str, str], tuple[int, datetime]] = {}
        self._observed_gen: dict[tuple[str, str, str], int] = {}
        self.conds: dict[tuple[Any, ...], tuple[str, datetime]] = {}   # condition -> (status, since)
        self.topology_errors: dict[tuple[str, str], str] = {}
        self._n = 0
        # more simulated controllers (pools.PoolControllers): settle(t) -> changed, next_event(t) -> time | None
        self.plugins: list[Any] = []

    # ---- public ------------------------------------------------------------------------------------------
    def advance(self, now: datetime | None = None) -> None:
        """Run every event up to ``now`` (default: the clock)."""
        now = max(now or self.clock.now(), self.t)
        with self.store.lock:
            for _ in range(100_000):
                self._settle()
                nxt = self._next_event()
                if nxt is None or nxt > now:
                    break
                self.t = nxt
            self.t = now
            self._settle()

    def inject(self, fault: str, target: str | None = None) -> None:
        """``machine-never-ready`` or ``machine-fails``: applies to the next Machine created (for ``target``,
        a KubeadmControlPlane or MachineDeployment name, when given)."""
        self.faults.append((fault, target))

    def mark_observed(self, kind: str, ns: str, name: str, generation: int) -> None:
        """Seeded objects count as already reconciled."""
        self._seen[(kind, ns, name)] = (generation, self.t - timedelta(seconds=self.timings.controller_delay))

    def delete_machine(self, ns: str, name: str) -> None:
        m = self.machines.get((ns, name))
        if m is not None and m.deleting_since is None:
            self._delete(m)

    # ---- event loop --------------------------------------------------------------------------------------
    def _settle(self) -> None:
        for _ in range(50):
            self._expire()
            changed = self._topology()
            for kcp in self.store.peek_list(self.types["KubeadmControlPlane"]):
                changed |= self._kcp(kcp)
            for md in self.store.peek_list(self.types["MachineDeployment"]):
                changed |= self._md(md)
            changed |= self._machinesets()
            for plugin in self.plugins:
                changed |= plugin.settle(self.t)
            self._record_budgets()
            if not changed:
                break
        self._render()

    def _expire(self) -> None:
        for key, m in list(self.machines.items()):
            if m.gone_at is not None and m.gone_at <= self.t:
                del self.machines[key]
                try:
                    self.store.delete(self.types["Machine"], m.namespace, m.name)
                except StatusError:
                    pass

    def _next_event(self) -> datetime | None:
        times: list[datetime] = []
        for m in self.machines.values():
            times += [x for x in (m.ready_at, m.failed_at, m.gone_at) if x is not None]
            if m.ready_at is not None and m.deployment:
                times.append(m.ready_at + timedelta(seconds=self._min_ready(m)))
        times += [first + timedelta(seconds=self.timings.controller_delay) for _, first in self._seen.values()]
        times += [x for x in (p.next_event(self.t) for p in self.plugins) if x is not None]
        future = [x for x in times if x > self.t]
        return min(future) if future else None

    def _observed(self, kind: str, obj: Obj) -> bool:
        key = (kind, obj["metadata"]["namespace"], obj["metadata"]["name"])
        gen = obj["metadata"].get("generation", 1)
        seen = self._seen.get(key)
        if seen is None or seen[0] != gen:
            self._seen[key] = seen = (gen, self.t)
        if self.t >= seen[1] + timedelta(seconds=self.timings.controller_delay):
            self._observed_gen[key] = gen
            return True
        return False

    # ---- machines ----------------------------------------------------------------------------------------
    def _name(self, prefix: str) -> str:
        self._n += 1
        n, s = self._n, ""
        for _ in range(5):
            n, r = divmod(n, 36)
            s = "0123456789abcdefghijklmnopqrstuvwxyz"[r] + s
        return f"{prefix}-{s}"

    def create_machine(self, ns: str, cluster: str, owner_kind: str, owner: str, deployment: str | None,
                       version: str, ref: tuple[str, str, str], *, ready: bool = False) -> SimMachine:
        group, kind, template = ref
        m = SimMachine(self._name(owner), ns, cluster, owner_kind, owner, deployment, version, kind, template,
                       group, created=self.t)
        target = deployment or owner
        fault = next((f for f in self.faults if f[1] in (None, target)), None)
        if ready:
            m.ready_at = self.t
        elif fault is not None:
            self.faults.remove(fault)
            if fault[0] == "machine-fails":
                m.failed_at = self.t + timedelta(seconds=self.timings.provision)
                m.failure = "simulated: the infrastructure provider could not launch the instance (out of capacity)"
        else:
            m.ready_at = self.t + timedelta(seconds=self.timings.provision)
        self.machines[(ns, m.name)] = m
        return m

    def _delete(self, m: SimMachine) -> None:
        m.deleting_since = self.t
        m.gone_at = self.t + timedelta(seconds=self.timings.delete)

    def _min_ready(self, m: SimMachine) -> float:
        if not m.deployment:
            return 0.0
        md = self.store.peek(self.types["MachineDeployment"], m.namespace, m.deployment)
        return float(self._md_min_ready(md)) if md else 0.0

    # ---- version-specific field paths ----------------------------------------------------------------------
    def _ref(self, ref: Obj) -> tuple[str, str, str]:
        group = ref.get("apiGroup") or str(ref.get("apiVersion", "")).split("/")[0]
        return group, ref.get("kind", ""), ref.get("name", "")

    def _kcp_ref(self, kcp: Obj) -> tuple[str, str, str]:
        if self.v == "v1beta1":
            return self._ref(_get(kcp, "spec", "machineTemplate", "infrastructureRef", default={}))
        return self._ref(_get(kcp, "spec", "machineTemplate", "spec", "infrastructureRef", default={}))

    def _kcp_surge(self, kcp: Obj) -> int:
        path = ("rolloutStrategy",) if self.v == "v1beta1" else ("rollout", "strategy")
        value = _get(kcp, "spec", *path, "rollingUpdate", "maxSurge", default=1)
        return resolve_int_or_percent(value, kcp["spec"].get("replicas", 1), round_up=True)

    def _md_strategy(self, md: Obj) -> Obj:
        path = ("strategy",) if self.v == "v1beta1" else ("rollout", "strategy")
        return _get(md, "spec", *path, default={}) or {}

    def _md_min_ready(self, md: Obj) -> int:
        if self.v == "v1beta1":
            return int(_get(md, "spec", "minReadySeconds", default=0) or 0)
        return int(_get(md, "spec", "template", "spec", "minReadySeconds", default=0) or 0)

    def _cluster_name(self, obj: Obj) -> str:
        labels = obj["metadata"].get("labels") or {}
        if LABEL_CLUSTER in labels:
            return labels[LABEL_CLUSTER]
        if obj["spec"].get("clusterName"):
            return obj["spec"]["clusterName"]
        owners = [o["name"] for o in obj["metadata"].get("ownerReferences") or [] if o.get("kind") == "Cluster"]
        return owners[0] if owners else ""

    def _paused(self, obj: Obj, cluster: str) -> bool:
        if ANN_PAUSED in (obj["metadata"].get("annotations") or {}) or obj["spec"].get("paused"):
            return True
        c = self.store.peek(self.types["Cluster"], obj["metadata"]["namespace"], cluster)
        return bool(c and c["spec"].get("paused"))

    # ---- KubeadmControlPlane -----------------------------------------------------------------------------
    def _kcp_machines(self, ns: str, name: str) -> list[SimMachine]:
        return sorted((m for m in self.machines.values() if m.namespace == ns and m.owner_kind ==
                       "KubeadmControlPlane" and m.owner == name), key=lambda m: (m.created, m.name))

    def _kcp_uptodate(self, kcp: Obj, m: SimMachine) -> bool:
        return m.version == kcp["spec"]["version"] and (m.infra_group, m.template_kind, m.template) == self._kcp_ref(kcp)

    def _kcp(self, kcp: Obj) -> bool:
        ns, name = kcp["metadata"]["namespace"], kcp["metadata"]["name"]
        cluster = self._cluster_name(kcp)
        if not self._observed("KubeadmControlPlane", kcp) or self._paused(kcp, cluster):
            return False
        replicas = kcp["spec"].get("replicas", 1)
        surge = min(1, max(0, self._kcp_surge(kcp)))
        machines = self._kcp_machines(ns, name)
        active = [m for m in machines if m.deleting_since is None]
        if len(active) != len(machines) or any(not m.ready(self.t) for m in active):
            return False                        # one operation at a time, only on a healthy control plane
        outdated = [m for m in active if not self._kcp_uptodate(kcp, m)]
        if (outdated and len(active) < replicas + surge) or (not outdated and len(active) < replicas):
            self.create_machine(ns, cluster, "KubeadmControlPlane", name, None, kcp["spec"]["version"],
                                self._kcp_ref(kcp))
            return True
        if outdated or len(active) > replicas:
            self._delete((outdated or active)[0])
            return True
        return False

    def kcp_settled(self, kcp: Obj) -> bool:
        key = ("KubeadmControlPlane", kcp["metadata"]["namespace"], kcp["metadata"]["name"])
        machines = self._kcp_machines(*key[1:])
        return (self._observed_gen.get(key) == kcp["metadata"].get("generation")
                and len(machines) == kcp["spec"].get("replicas", 1)
                and all(m.ready(self.t) and self._kcp_uptodate(kcp, m) for m in machines))

    # ---- MachineDeployment / MachineSet ------------------------------------------------------------------
    def _md_hash(self, md: Obj) -> str:
        spec = md["spec"]["template"].get("spec", {})
        return _hash(spec.get("version"), self._ref(spec.get("infrastructureRef") or {}), spec.get("bootstrap"))

    def _sets(self, ns: str, md: str) -> list[SimMachineSet]:
        return sorted((s for s in self.machinesets.values() if s.namespace == ns and s.deployment == md),
                      key=lambda s: (s.created, s.name))

    def _set_machines(self, s: SimMachineSet, active_only: bool = True) -> list[SimMachine]:
        return sorted((m for m in self.machines.values() if m.namespace == s.namespace and m.owner_kind ==
                       "MachineSet" and m.owner == s.name and (m.deleting_since is None or not active_only)),
                      key=lambda m: (m.created, m.name))

    def _available(self, s: SimMachineSet, min_ready: int) -> int:
        return sum(1 for m in self._set_machines(s) if m.available(self.t, min_ready))

    def _md(self, md: Obj) -> bool:
        ns, name = md["metadata"]["namespace"], md["metadata"]["name"]
        cluster = md["spec"]["clusterName"]
        if not self._observed("MachineDeployment", md) or self._paused(md, cluster):
            return False
        replicas = md["spec"].get("replicas", 1)
        h = self._md_hash(md)
        sets = self._sets(ns, name)
        new = next((s for s in sets if s.hash == h), None)
        changed = False
        if new is None:
            new = SimMachineSet(f"{name}-{h[:5]}", ns, cluster, name, h, clone(md["spec"]["template"]),
                                created=self.t)
            self.machinesets[(ns, new.name)] = new
            changed = True
        old = [s for s in sets if s is not new]
        strategy = self._md_strategy(md)
        before = [(s.name, s.replicas) for s in sets + [new]]
        if strategy.get("type") == "OnDelete":
            for s in old:
                s.replicas = len(self._set_machines(s))
            new.replicas = max(0, replicas - sum(s.replicas for s in old))
        else:
            self._rolling(md, new, old, replicas, strategy)
        return changed or before != [(s.name, s.replicas) for s in sets + [new]]

    def _rolling(self, md: Obj, new: SimMachineSet, old: list[SimMachineSet], replicas: int, strategy: Obj) -> None:
        ru = strategy.get("rollingUpdate") or {}
        surge = resolve_int_or_percent(ru.get("maxSurge", 1), replicas, round_up=True)
        unavailable = resolve_int_or_percent(ru.get("maxUnavailable", 0), replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        min_ready = self._md_min_ready(md)
        # reconcileNewMachineSet
        total = new.replicas + sum(s.replicas for s in old)
        if new.replicas > replicas:
            new.replicas = replicas
        elif new.replicas < replicas:
            new.replicas += max(0, min(replicas + surge - total, replicas - new.replicas))
        # reconcileOldMachineSets
        all_count = new.replicas + sum(s.replicas for s in old)
        min_available = replicas - unavailable
        new_unavailable = new.replicas - self._available(new, min_ready)
        max_down = all_count - min_available - new_unavailable
        if max_down <= 0:
            return
        for s in old:                                   # unhealthy Machines first
            unhealthy = s.replicas - self._available(s, min_ready)
            if max_down <= 0 or s.replicas == 0 or unhealthy <= 0:
                continue
            d = min(max_down, unhealthy)
            s.replicas -= d
            max_down -= d
            self._sync_set(s, min_ready)
        down = sum(self._available(s, min_ready) for s in old + [new]) - min_available
        for s in old:
            if down <= 0:
                break
            d = min(s.replicas, down)
            s.replicas -= d
            down -= d

    def _sync_set(self, s: SimMachineSet, min_ready: int) -> bool:
        machines = self._set_machines(s)
        if len(machines) < s.replicas:
            spec = s.template.get("spec", {})
            for _ in range(s.replicas - len(machines)):
                self.create_machine(s.namespace, s.cluster, "MachineSet", s.name, s.deployment, spec.get("version", ""),
                                    self._ref(spec.get("infrastructureRef") or {}))
            return True
        if len(machines) > s.replicas:
            order = sorted(machines, key=lambda m: (m.available(self.t, min_ready), m.created, m.name))
            for m in order[:len(machines) - s.replicas]:
                self._delete(m)
            return True
        return False

    def _machinesets(self) -> bool:
        changed = False
        for s in list(self.machinesets.values()):
            md = self.store.peek(self.types["MachineDeployment"], s.namespace, s.deployment)
            if md is None:
                s.replicas = 0
            changed |= self._sync_set(s, self._md_min_ready(md) if md else 0)
            empty = s.replicas == 0 and not self._set_machines(s, active_only=False)
            if empty and (md is None or s.hash != self._md_hash(md)):
                del self.machinesets[(s.namespace, s.name)]
                try:
                    self.store.delete(self.types["MachineSet"], s.namespace, s.name)
                except StatusError:
                    pass
        return changed

    def md_settled(self, md: Obj) -> bool:
        ns, name = md["metadata"]["namespace"], md["metadata"]["name"]
        if self._observed_gen.get(("MachineDeployment", ns, name)) != md["metadata"].get("generation"):
            return False
        h, replicas, min_ready = self._md_hash(md), md["spec"].get("replicas", 1), self._md_min_ready(md)
        machines = [m for s in self._sets(ns, name) for m in self._set_machines(s, active_only=False)]
        return (len(machines) == replicas and all(m.available(self.t, min_ready) for m in machines)
                and all(self.machinesets[(ns, m.owner)].hash == h for m in machines))

    # ---- budgets -----------------------------------------------------------------------------------------
    def _record_budgets(self) -> None:
        for kcp in self.store.peek_list(self.types["KubeadmControlPlane"]):
            ns, name = kcp["metadata"]["namespace"], kcp["metadata"]["name"]
            active = [m for m in self._kcp_machines(ns, name) if m.deleting_since is None]
            self._sample(("KubeadmControlPlane", ns, name), kcp["spec"].get("replicas", 1), len(active),
                         sum(1 for m in active if m.ready(self.t)))
        for md in self.store.peek_list(self.types["MachineDeployment"]):
            ns, name = md["metadata"]["namespace"], md["metadata"]["name"]
            min_ready = self._md_min_ready(md)
            active = [m for s in self._sets(ns, name) for m in self._set_machines(s)]
            self._sample(("MachineDeployment", ns, name), md["spec"].get("replicas", 1), len(active),
                         sum(1 for m in active if m.available(self.t, min_ready)))

    def _sample(self, key: tuple[str, str, str], replicas: int, active: int, available: int) -> None:
        b = self.budget.setdefault(key, Budget())
        b.max_surge = max(b.max_surge, active - replicas)
        b.max_unavailable = max(b.max_unavailable, replicas - available)
        b.samples += 1

    # ---- managed topology --------------------------------------------------------------------------------
    def _topology(self) -> bool:
        changed = False
        for c in self.store.peek_list(self.types["Cluster"]):
            topo = c["spec"].get("topology")
            if not topo or c["spec"].get("paused") or not self._observed("Cluster", c):
                continue
            changed |= self._topology_step(c, topo)
        return changed

    def _topology_step(self, c: Obj, topo: Obj) -> bool:
        ns, version = c["metadata"]["namespace"], topo["version"]
        ref = c["spec"].get("controlPlaneRef") or {}
        kcp = self.store.peek(self.types["KubeadmControlPlane"], ns, ref.get("name", ""))
        if kcp is None:
            return False
        mds = {(m["metadata"].get("labels") or {}).get(LABEL_TOPO_MD): m
               for m in self.store.peek_list(self.types["MachineDeployment"], ns, f"{LABEL_CLUSTER}={c['metadata']['name']}")}
        rolling = not self.kcp_settled(kcp) or any(not self.md_settled(m) for m in mds.values())
        if kcp["spec"]["version"] != version:
            if rolling:
                return False
            return self._set_version("KubeadmControlPlane", kcp, ("spec", "version"), version, c)
        if not self.kcp_settled(kcp):
            return False
        for mdt in _get(topo, "workers", "machineDeployments", default=[]) or []:
            md = mds.get(mdt.get("name"))
            if md is None or md["spec"]["template"]["spec"].get("version") == version:
                continue
            ann = {**(_get(mdt, "metadata", "annotations", default={}) or {}),
                   **(md["metadata"].get("annotations") or {})}
            if ANN_DEFER in ann:
                continue
            if ANN_HOLD in ann or rolling:
                return False
            return self._set_version("MachineDeployment", md, ("spec", "template", "spec", "version"), version, c)
        return False

    def _set_version(self, kind: str, obj: Obj, path: tuple[str, ...], version: str, cluster: Obj) -> bool:
        obj = clone(obj)
        target = obj
        for p in path[:-1]:
            target = target[p]
        target[path[-1]] = version
        try:
            self.store.update(self.types[kind], obj["metadata"]["namespace"], obj["metadata"]["name"], obj,
                              check_rv=False)
        except StatusError as exc:
            self.topology_errors[(cluster["metadata"]["namespace"], cluster["metadata"]["name"])] = exc.message
            return False
        self.topology_errors.pop((cluster["metadata"]["namespace"], cluster["metadata"]["name"]), None)
        return True

    # ---- rendering -----------------------------------------------------------------------------------------
    def _render(self) -> None:
        if self.render is not None:
            self.render(self)
