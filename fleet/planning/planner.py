"""compute_plan: a pure function of (policies, observed clusters, offers, now) -> Plan.

No I/O, no clock: ``now`` is a parameter. Provider knob checks and the clouds' upgrade rules
(fleet.provider.UpgradeRules) come in as pure callables; the planner imports no provider.

How the rules shape a cluster's steps (docs/plan-format.md, "Cloud rules"):

- ``pool_skew``: how far a pool may trail the control plane (default: the kubelet skew policy); a pool that
  would fall further behind moves first.
- ``pool_minor_step``: a pool's catch-up is split into steps of at most that many minors.
- ``pools_match_before_cp_minor`` (and ``nodePools.upgrade: lockstep``): before every control-plane minor
  step, every pool is brought to the control plane's minor. A plan that starts with pools behind (e.g. a
  re-plan after a control-plane step) therefore starts with their catch-up: the plan from any intermediate
  state is the remainder of the original plan.
- ``pools_follow_control_plane`` (or ``Cluster.pools_follow_control_plane``): control-plane steps only.
- ``blocked_pools``: a blocked pool that needs any step blocks the whole cluster with the pool's reason
  (nothing is started on it: a run that cannot finish is not begun).
- ``strategies`` / ``knobs``: a strategy or knob the policy sets that the cloud lacks is a warning, and the
  step does not carry it (the strategy falls back to surge).
- ``max_minor``: a target beyond it blocks the cluster with the reason.
- ``allowed_versions``: the control plane's offers are filtered to them.

Per-pool overrides (``nodePools.overrides``): each pool is planned with its own settings (the first override
selecting it, by name glob or pool labels, laid over the policy's); its steps carry them (``pool_spec``) and
the rules above apply per pool (a strategy or knob the cloud lacks is a warning naming the pool).
``maintenance.timezone: cluster``: the next window is computed in the cluster's own zone
(fleet.planning.zones); a cluster whose zone is unknown is blocked with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from fleet import budget
from fleet.errors import PlanningError
from fleet.planning.budgets import resolve_fenceposts
from fleet.planning.paths import PATHS, NoPath, check_path
from fleet.planning.plan import ClusterPlan, Plan, PlannedStep, step_for_provider
from fleet.planning.windows import Interval, Schedule
from fleet.planning.zones import TIMEZONE_LABEL, cluster_zone
from fleet.policy.models import CLUSTER_TIMEZONE, NodePoolsSpec, UpgradePolicy
from fleet.provider import DEFAULT_RULES, Cluster, Component, PoolStrategy, Step, UpgradeRules, VersionOffers
from fleet.versions import InvalidVersion, Version, max_kubelet_skew, newest_of_minor, parse_version

StepChecker = Callable[[Cluster, Step], list[str]]
RulesFn = Callable[[Cluster], UpgradeRules]
# the knobs of ``nodePools`` a cloud may or may not honour (UpgradeRules.knobs), by policy spelling
KNOB_FIELDS = {"maxSurge": "max_surge", "maxUnavailable": "max_unavailable", "drainTimeout": "drain_timeout",
               "nodeSoak": "node_soak"}
DEFAULT_WAVE = "default"


class Blocked(Exception):
    """This cluster cannot be planned; the message is the reason shown to the user."""


@dataclass(frozen=True, slots=True)
class _Compiled:
    policy: UpgradePolicy
    schedule: Schedule          # in the policy's zone (UTC for ``timezone: cluster``: see schedule_in)
    by_zone: dict[str, Schedule] = field(default_factory=dict)

    @property
    def cluster_zones(self) -> bool:
        return self.policy.spec.maintenance.timezone == CLUSTER_TIMEZONE

    def zone_of(self, location: str, labels: Mapping[str, str]) -> str:
        """The zone a cluster's windows are read in. Raises Blocked when it is its own and unknown."""
        if not self.cluster_zones:
            return self.policy.spec.maintenance.timezone
        zone = cluster_zone(location, labels)
        if zone is None:
            why = (f"its label {TIMEZONE_LABEL} names no IANA zone" if labels.get(TIMEZONE_LABEL)
                   else f"no time zone is known for its region {location!r}")
            raise Blocked(f"timezone: cluster: {why}; set the cluster label {TIMEZONE_LABEL} (e.g. Europe/Berlin)")
        return zone

    def schedule_in(self, zone: str | None) -> Schedule:
        """The schedule in ``zone`` (a cluster's own, for ``timezone: cluster``), compiled once per zone."""
        if not self.cluster_zones or zone is None:
            return self.schedule
        sched = self.by_zone.get(zone)
        if sched is None:
            sched = self.by_zone[zone] = Schedule.from_maintenance(self.policy.spec.maintenance, zone)
        return sched


def compile_policies(policies: Sequence[UpgradePolicy]) -> list[_Compiled]:
    return [_Compiled(p, Schedule.from_maintenance(p.spec.maintenance)) for p in policies]


def _parse_all(values: Sequence[str]) -> list[Version]:
    out = []
    for v in values:
        try:
            out.append(parse_version(v))
        except InvalidVersion:
            continue
    return out


class _Offered:
    """One tuple of offered spellings, parsed once: in the order given, and per minor newest first."""

    __slots__ = ("by_minor", "versions")

    def __init__(self, values: Sequence[str]):
        self.versions = _parse_all(values)
        by_minor: dict[tuple[int, int], list[Version]] = {}
        for v in self.versions:
            by_minor.setdefault(v.minor_key, []).append(v)
        for vs in by_minor.values():
            vs.sort(reverse=True)  # stable: equal versions keep the order given (the first one wins)
        self.by_minor = by_minor


_TargetAndPath = tuple[Version | None, list[Version] | None, tuple[type[Exception], str] | None]


class _Memo:
    """What many clusters share within one planning pass (one ``now``): parsed offers; target and path per
    (policy target, path kind, offers, current version); the next allowed window per (policy, minor step)."""

    def __init__(self) -> None:
        self.offered: dict[tuple[str, ...], _Offered] = {}
        self.targets: dict[tuple[str, str, int, str], _TargetAndPath] = {}
        self.windows: dict[tuple[int, bool], Interval | None] = {}
        self._keep: list[Schedule] = []     # the schedules keyed by id() above stay alive while memoised
        self._now: datetime | None = None

    def at(self, now: datetime) -> _Memo:
        """Reuse this memo for a pass at ``now``: offers and paths do not depend on time and are kept, the
        windows are forgotten when ``now`` moved."""
        if now != self._now:
            self.windows.clear()
            self._keep.clear()
            self._now = now
        return self

    def parse(self, values: Sequence[str]) -> _Offered:
        key = values if isinstance(values, tuple) else tuple(values)
        o = self.offered.get(key)
        if o is None:
            o = self.offered[key] = _Offered(key)
        return o

    def target_and_path(self, policy: UpgradePolicy, offered: _Offered, current: Version) -> _TargetAndPath:
        """(target, path, error): path is None when the cluster is ahead; error is (Blocked|NoPath, reason)."""
        spec, kind = policy.spec.target.version, policy.spec.path
        key = (spec, kind, id(offered), current.raw)  # ``offered`` lives as long as the memo: ids are stable
        hit = self.targets.get(key)
        if hit is None:
            target: Version | None = None
            path: list[Version] | None = None
            err: tuple[type[Exception], str] | None = None
            try:
                target = resolve_target(spec, offered.versions, current)
                if not (target < current and not target.same_release(current)):
                    path = PATHS[kind](current, target, offered.versions) if target > current else []
                    check_path(current, path, target)
            except (Blocked, NoPath) as exc:
                err = (type(exc), str(exc))
            hit = self.targets[key] = (target, path, err)
        return hit

    def next_allowed(self, schedule: Schedule, now: datetime, minor: bool) -> Interval | None:
        key = (id(schedule), minor)
        if key not in self.windows:
            self._keep.append(schedule)
            self.windows[key] = schedule.next_allowed(now, minor)
        return self.windows[key]


def resolve_target(spec: str, offered: list[Version], current: Version) -> Version:
    """The version a target spelling means for this cluster. Raises Blocked when nothing satisfies it."""
    candidates = offered + [current]
    if spec == "latest":
        return max(candidates)
    if spec == "latest-1":
        top = max(candidates).minor_key
        below = (top[0], top[1] - 1)
        v = newest_of_minor(candidates, below)
        if v is None:
            raise Blocked(f"target latest-1: no offered version of {below[0]}.{below[1]}")
        return v
    want = parse_version(spec)
    if want.patch is None:
        v = newest_of_minor(candidates, want.minor_key)
        if v is None:
            if current.minor_key > want.minor_key:
                return want  # the caller sees the cluster is ahead
            raise Blocked(f"target {spec}: no offered version of {want.minor_str}")
        return v
    if current > want and not current.same_release(want):
        return want
    exact = [v for v in candidates if v.same_release(want)]
    if not exact:
        raise Blocked(f"target {spec} is not offered (offered: {', '.join(str(v) for v in sorted(offered)) or 'none'})")
    spelled = [v for v in exact if v.raw == spec]
    return spelled[0] if spelled else max(exact)


def _pool_version_for(cp: Version, pool_offered: _Offered | None) -> Version:
    """The version a pool moves to when following a control plane at ``cp``: the newest offered node version
    of its minor not newer than it (the control plane's own version when no node versions are offered)."""
    if pool_offered is None or not pool_offered.versions:
        return cp
    for v in pool_offered.by_minor.get(cp.minor_key, ()):
        if v.not_newer_than(cp):
            return v
    raise Blocked(f"no node version offered for {cp.minor_str}")


def _skew(rules: UpgradeRules, cp: Version) -> int:
    """How many minors a pool may trail a control plane at ``cp`` (the cloud's rule, else kubelet skew)."""
    return rules.pool_skew if rules.pool_skew is not None else max_kubelet_skew(cp)


class _Steps:
    """The step list of one cluster being built, with each pool's version as the steps so far leave it."""

    def __init__(self, spec: NodePoolsSpec, rules: UpgradeRules, cp_offered: _Offered) -> None:
        self.spec = spec
        self.rules = rules
        self.cp_offered = cp_offered
        self.steps: list[PlannedStep] = []
        self.pools: dict[str, Version] = {}
        self.pool_offers: dict[str, _Offered | None] = {}
        self.nodes: dict[str, int] = {}
        self.specs: dict[str, NodePoolsSpec] = {}       # a pool's own settings (per-pool overrides)
        self._budgets: dict[str, tuple[int | None, int | None]] = {}
        self.knobs = frozenset(k for k in KNOB_FIELDS if k in rules.knobs)

    def _spec(self, name: str) -> NodePoolsSpec:
        return self.specs.get(name, self.spec)

    def _budget(self, name: str) -> tuple[int | None, int | None]:
        """The pool's (surge, unavailable); a knob the cloud lacks counts as 0 and is not carried (None)."""
        if name not in self._budgets:
            spec = self._spec(name)
            has_surge, has_unavail = "maxSurge" in self.knobs, "maxUnavailable" in self.knobs
            surge, unavail = resolve_fenceposts(spec.max_surge if has_surge else 0,
                                                spec.max_unavailable if has_unavail else 0, self.nodes[name])
            self._budgets[name] = (surge if has_surge else None, unavail if has_unavail else None)
        return self._budgets[name]

    def _append(self, name: str, frm: Version, to: Version) -> None:
        surge, unavail = self._budget(name)
        own = self.specs.get(name)
        self.steps.append(PlannedStep(Component.NODE_POOL, str(to), str(frm), name, surge, unavail,
                                      minor=to.minor_key != frm.minor_key,
                                      strategy=_strategy(self._spec(name), self.rules), knobs=self.knobs,
                                      pool_spec=own))
        self.pools[name] = to

    def _of_minor(self, name: str, minor_key: tuple[int, int]) -> Version:
        """The newest version of an intermediate minor for pool ``name`` (its own offers, else the control
        plane's: the control plane passed through that minor)."""
        own = self.pool_offers[name]
        src = own if own is not None and own.versions else self.cp_offered
        vs = src.by_minor.get(minor_key)
        if not vs:
            raise Blocked(f"node pool {name}: no node version offered for {minor_key[0]}.{minor_key[1]}")
        return vs[0]

    def pool_step(self, name: str, to: Version) -> None:
        """Move pool ``name`` to ``to`` (nothing when it is there or beyond), in steps of at most
        ``pool_minor_step`` minors. Raises Blocked when the cloud's rules block the pool."""
        frm = self.pools[name]
        if not to > frm:
            return
        if name in self.rules.blocked_pools:
            raise Blocked(f"node pool {name}: {self.rules.blocked_pools[name]}")
        step = self.rules.pool_minor_step
        while step and to.minors_from(frm) > step:
            mid = self._of_minor(name, (frm.major, frm.minor + step))
            self._append(name, frm, mid)
            frm = mid
        self._append(name, frm, to)

    def pool_follow(self, name: str, cp: Version) -> None:
        """Move pool ``name`` to the node version that follows a control plane at ``cp``."""
        self.pool_step(name, _pool_version_for(cp, self.pool_offers[name]))

    def pool_within_skew(self, name: str, cp: Version, of: Version) -> None:
        """Bring pool ``name`` within the skew limit of a control plane at ``of`` (the control plane is at
        ``cp`` now). With the default rules it follows the control plane in one step; when the cloud limits
        a pool's step (``pool_minor_step``) it moves only as far as the limit needs, so the plan from any
        state it passes through is the rest of this one."""
        if not self.rules.pool_minor_step:
            self.pool_follow(name, cp)
            return
        need = (of.major, of.minor - _skew(self.rules, of))
        if need >= cp.minor_key:
            self.pool_follow(name, cp)
        elif need > self.pools[name].minor_key:
            self.pool_step(name, self._of_minor(name, need))

    def cp_step(self, frm: Version, to: Version) -> None:
        self.steps.append(PlannedStep(Component.CONTROL_PLANE, str(to), str(frm), minor=to.minor_key != frm.minor_key))


def _strategy(spec: NodePoolsSpec, rules: UpgradeRules) -> str:
    """The pool strategy the steps carry: the policy's, or surge when the cloud lacks it."""
    if PoolStrategy(spec.strategy) in rules.strategies or not rules.strategies:
        return spec.strategy
    return PoolStrategy.SURGE.value if PoolStrategy.SURGE in rules.strategies else sorted(rules.strategies)[0].value


def _observe_pools(cluster: Cluster, spec: NodePoolsSpec, current: Version, offers: VersionOffers,
                   warnings: list[str], memo: _Memo, rules: UpgradeRules, cp_offered: _Offered) -> _Steps:
    """A step builder holding each pool's parsed version, offers and size (Blocked on an unreadable version)."""
    b = _Steps(spec, rules, cp_offered)
    for p in cluster.node_pools:
        try:
            pv = parse_version(p.version)
        except InvalidVersion:
            raise Blocked(f"node pool {p.name} reports an unreadable version {p.version!r}") from None
        if not pv.not_newer_than(current):
            warnings.append(f"node pool {p.name} ({p.version}) is newer than the control plane ({cluster.control_plane})")
        b.pools[p.name] = pv
        own = p.available or offers.node_pools.get(p.name) or offers.node_pools.get("*")
        b.pool_offers[p.name] = memo.parse(own) if own else None
        b.nodes[p.name] = p.nodes
        pool_spec = spec.for_pool(p.name, p.labels)
        if pool_spec is not spec:
            b.specs[p.name] = pool_spec
    return b


def _plan_pools_patch_first(b: _Steps, cp: Version) -> None:
    """Patch first for pools too: the newest node version of the current minor (e.g. EKS AMI releases).
    Optional: when no node version of the current minor is offered, the pools simply follow later."""
    for name in b.pools:
        try:
            target = _pool_version_for(cp, b.pool_offers[name])
        except Blocked:
            continue
        b.pool_step(name, target)


def _plan_control_plane_only(b: _Steps, cp_path: list[Version], current: Version) -> None:
    """Managed topology: one control-plane step per version of the path; the pools move with it."""
    prev = current
    for v in cp_path:
        b.cp_step(prev, v)
        prev = v


def _follows(cluster: Cluster, rules: UpgradeRules) -> bool:
    return cluster.pools_follow_control_plane or rules.pools_follow_control_plane


def _plan_pools_before(b: _Steps, cp: Version, v: Version, match: bool) -> None:
    """The pool steps a control-plane step ``cp`` -> ``v`` needs first: with ``match``, every pool reaches
    the control plane's minor before its next minor; any pool is brought within the skew limit of ``v``."""
    minor_step = v.minor_key != cp.minor_key
    for name, pv in list(b.pools.items()):
        if match and minor_step and pv.minor_key < cp.minor_key:
            b.pool_follow(name, cp)
        elif v.minors_from(pv) > _skew(b.rules, v):
            b.pool_within_skew(name, cp, v)


def _plan_steps(cluster: Cluster, policy: UpgradePolicy, cp_path: list[Version], current: Version,
                offers: VersionOffers, warnings: list[str], memo: _Memo, rules: UpgradeRules,
                cp_offered: _Offered) -> list[PlannedStep]:
    b = _observe_pools(cluster, policy.spec.node_pools, current, offers, warnings, memo, rules, cp_offered)
    if _follows(cluster, rules):
        if cluster.node_pools:
            warnings.append("node pools follow the control plane (managed topology): one step moves all")
        _plan_control_plane_only(b, cp_path, current)
        return b.steps

    cp = current
    # pools already too far behind go first
    for name, pv in list(b.pools.items()):
        if cp.minors_from(pv) > _skew(rules, cp):
            b.pool_within_skew(name, cp, cp)
    lockstep = policy.spec.node_pools.upgrade == "lockstep"
    # pools reach the control plane's minor before its next minor: lockstep does it after every control-plane
    # step, and a plan that starts with pools behind (a re-plan after a control-plane step) does it first
    match = lockstep or rules.pools_match_before_cp_minor
    if lockstep and policy.spec.path == "patch-first-then-minor" and cp_path and cp_path[0].minor_key != cp.minor_key:
        _plan_pools_patch_first(b, cp)
    for v in cp_path:
        _plan_pools_before(b, cp, v, match)
        b.cp_step(cp, v)
        cp = v
        if lockstep:
            for name in b.pools:
                b.pool_follow(name, cp)
    for name in b.pools:  # pools end at the control plane's final version (lockstep: already there)
        b.pool_follow(name, cp)
    return b.steps


def _check_steps(current: Version, pools: Mapping[str, Version], steps: list[PlannedStep],
                 rules: UpgradeRules = DEFAULT_RULES) -> None:
    """Safety invariants of a whole step list (raise PlanningError: a bug, not user error)."""
    cp = current
    pv = dict(pools)
    for s in steps:
        to = parse_version(s.to)
        if s.component is Component.CONTROL_PLANE:
            if not to > cp or to.minors_from(cp) > 1:
                raise PlanningError(f"unsafe control-plane step {cp} → {to}")
            if rules.pools_match_before_cp_minor and to.minor_key != cp.minor_key:
                behind = [n for n, v in pv.items() if v.minor_key < cp.minor_key]
                if behind:
                    raise PlanningError(f"control-plane minor step {cp} → {to} with pools behind: {behind}")
            cp = to
            for name, v in pv.items():
                if cp.minors_from(v) > _skew(rules, cp):
                    raise PlanningError(f"pool {name} at {v} beyond the skew limit of {cp}")
        else:
            assert s.pool is not None
            if not to > pv[s.pool] or not to.not_newer_than(cp):
                raise PlanningError(f"unsafe node-pool step {s.pool}: {pv[s.pool]} → {to} under {cp}")
            if rules.pool_minor_step and to.minors_from(pv[s.pool]) > rules.pool_minor_step:
                raise PlanningError(f"node-pool step {s.pool}: {pv[s.pool]} → {to} moves too many minors")
            pv[s.pool] = to


def _match(cluster: Cluster, compiled: Sequence[_Compiled]) -> tuple[_Compiled | None, str | None]:
    best: list[_Compiled] = []
    for c in compiled:
        sel = c.policy.spec.selector
        if sel.matches(cluster.provider, cluster.provider_type, cluster.name, cluster.id, cluster.labels):
            if not best or c.policy.spec.priority > best[0].policy.spec.priority:
                best = [c]
            elif c.policy.spec.priority == best[0].policy.spec.priority:
                best.append(c)
    if not best:
        return None, None
    if len(best) > 1:
        names = " and ".join(repr(b.policy.name) for b in best)
        return None, f"policies {names} both select this cluster with priority {best[0].policy.spec.priority}"
    return best[0], None


def _wave(cluster: Cluster, policy: UpgradePolicy) -> tuple[str, int]:
    waves = policy.spec.rollout.waves
    for i, w in enumerate(waves):
        if w.selector.matches(cluster.provider, cluster.provider_type, cluster.name, cluster.id, cluster.labels):
            return w.name, i
    return DEFAULT_WAVE, len(waves)


def _unmanaged_plan(cluster: Cluster) -> ClusterPlan:
    """The plan of a cluster before a policy is applied: what it runs, no policy, ``unmanaged``."""
    cp = ClusterPlan(
        id=cluster.id, provider=cluster.provider, provider_type=cluster.provider_type, name=cluster.name,
        location=cluster.location, labels=dict(cluster.labels), policy=None, status="unmanaged",
        control_plane=cluster.control_plane, node_pools={p.name: p.version for p in cluster.node_pools},
        auto_upgrade=cluster.auto_upgrade,
    )
    if cluster.auto_upgrade:
        cp.warnings.append(f"the cloud's own auto-upgrade is on ({cluster.auto_upgrade}): two schedulers on one cluster")
    return cp


def over_budget_plan(cluster: Cluster, reason: str) -> ClusterPlan:
    """A cluster whose planning overran its own budget (fleet.budget.item): ``unknown`` for now, with why;
    planned again next time (nothing starts for it meanwhile)."""
    cp = _unmanaged_plan(cluster)
    cp.status = "unknown"
    cp.reasons = [reason]
    return cp


def _blocked(cp: ClusterPlan, reason: str) -> ClusterPlan:
    cp.status = "blocked"
    cp.reasons.append(reason)
    return cp


def _allowed(values: Sequence[str], rules: UpgradeRules) -> Sequence[str]:
    """The control plane's offers, restricted to the cluster's allowed versions when its rules name them."""
    if rules.allowed_versions is None:
        return values
    allowed = _parse_all(rules.allowed_versions)
    out = []
    for v in values:
        try:
            pv = parse_version(v)
        except InvalidVersion:
            continue
        if any(a.same_release(pv) and pv.same_release(a) for a in allowed):
            out.append(v)
    return tuple(out)


def _plan_target_and_steps(cp: ClusterPlan, cluster: Cluster, policy: UpgradePolicy, current: Version,
                           offers: VersionOffers, memo: _Memo, rules: UpgradeRules) -> None:
    """Set ``cp``'s target and steps (or mark it ``ahead``). Raises Blocked or NoPath with the reason."""
    raw = cluster.available or offers.control_plane
    offered = memo.parse(_allowed(raw, rules))
    if not offered.versions:
        if raw and rules.allowed_versions is not None:
            raise Blocked(f"none of the offered versions is allowed for this cluster "
                          f"(allowed: {', '.join(rules.allowed_versions) or 'none'})")
        raise Blocked("the provider offers no versions for this cluster")
    target, path, err = memo.target_and_path(policy, offered, current)
    if target is not None:
        cp.target = str(target)
    if err is not None:
        raise err[0](err[1])
    assert target is not None
    if path is None:
        cp.status = "ahead"
        cp.reasons.append(f"control plane {current} is newer than the target {target}; never downgraded")
        return
    if rules.max_minor is not None and path and target.minor_key > rules.max_minor:
        limit = f"{rules.max_minor[0]}.{rules.max_minor[1]}"
        raise Blocked(f"target {target} is beyond {limit}" + (f": {rules.max_minor_reason}" if rules.max_minor_reason
                                                              else ""))
    cp.steps = _plan_steps(cluster, policy, path, current, offers, cp.warnings, memo, rules, offered)
    # with a managed topology the pools move with the control plane: no separate skew to check
    pools = {} if _follows(cluster, rules) else {p.name: parse_version(p.version) for p in cluster.node_pools}
    _check_steps(current, pools, cp.steps, rules)


def _add_rule_warnings(cp: ClusterPlan, cluster: Cluster, policy: UpgradePolicy, rules: UpgradeRules) -> None:
    """Warn about what the policy asks for node pools that the cloud lacks (those are not carried into the
    steps); the same in offline and live plans, since both come from the rules."""
    pool_steps = [s for s in cp.steps if s.component is Component.NODE_POOL]
    if not pool_steps:
        return
    kind = cluster.provider_type
    seen: set[str] = set()
    for s in pool_steps:
        spec = s.pool_spec if s.pool_spec is not None else policy.spec.node_pools
        where = f" (node pool {s.pool})" if s.pool_spec is not None else ""
        found = []
        if rules.strategies and PoolStrategy(spec.strategy) not in rules.strategies:
            found.append(f"node-pool strategy {spec.strategy} is not available on {kind}: "
                         f"planned as {_strategy(spec, rules)}{where}")
        set_here = spec.model_fields_set
        for knob, attr in KNOB_FIELDS.items():
            if attr in set_here and knob not in rules.knobs:
                found.append(f"{knob} is not honoured by {kind}: left out of the node-pool steps{where}")
        for w in found:
            if w not in seen:
                seen.add(w)
                cp.warnings.append(w)


def _add_checker_warnings(cp: ClusterPlan, cluster: Cluster, policy: UpgradePolicy, checker: StepChecker) -> None:
    """The provider's warnings about the planned steps (its knobs), each once, in step order."""
    seen: set[str] = set()
    for s in cp.steps:
        for w in checker(cluster, step_for_provider(s, policy.spec.node_pools)):  # a pool's own spec: in s
            if w not in seen:
                seen.add(w)
                cp.warnings.append(w)


def _rules_of(cluster: Cluster, rules: UpgradeRules | RulesFn | None) -> UpgradeRules:
    if rules is None:
        return DEFAULT_RULES
    return rules if isinstance(rules, UpgradeRules) else rules(cluster)


def compute_cluster_plan(cluster: Cluster, compiled: Sequence[_Compiled], offers: VersionOffers | None,
                         now: datetime, checker: StepChecker | None = None, *, forced: bool = False,
                         memo: _Memo | None = None, rules: UpgradeRules | RulesFn | None = None) -> ClusterPlan:
    """Plan one cluster. ``forced``: plan under ``compiled[0]`` whatever its selector says (a run's snapshot).
    ``memo``: results shared with the other clusters of the same planning pass (compute_plan passes one).
    ``rules``: the cloud's UpgradeRules for this cluster, or a function of the cluster giving them
    (fleet.provider.provider_rules); DEFAULT_RULES when None."""
    memo = memo or _Memo()
    cp = _unmanaged_plan(cluster)
    chosen, tie = (compiled[0], None) if forced else _match(cluster, compiled)
    if tie:
        return _blocked(cp, tie)
    if chosen is None:
        cp.reasons.append("no policy selects this cluster")
        return cp
    policy = chosen.policy
    cp.policy = policy.name
    cp.wave, cp.wave_index = _wave(cluster, policy)
    try:
        current = parse_version(cluster.control_plane)
    except InvalidVersion:
        return _blocked(cp, f"unreadable control-plane version {cluster.control_plane!r}")
    try:
        r = _rules_of(cluster, rules)
        _plan_target_and_steps(cp, cluster, policy, current, offers or VersionOffers(), memo, r)
    except (Blocked, NoPath) as exc:
        return _blocked(cp, str(exc))
    if cp.status == "ahead":
        return cp
    if not cp.steps:
        cp.status = "up-to-date"
        return cp
    try:
        zone = chosen.zone_of(cluster.location, cluster.labels)
        cp.timezone = zone if chosen.cluster_zones else None
    except Blocked as exc:
        cp.steps = []
        return _blocked(cp, str(exc))
    cp.status = "needs-upgrade"
    _add_rule_warnings(cp, cluster, policy, r)
    if checker is not None:
        _add_checker_warnings(cp, cluster, policy, checker)
    cp.next_window = memo.next_allowed(chosen.schedule_in(cp.timezone), now, cp.steps[0].minor)
    if cp.next_window is None:
        cp.reasons.append("no maintenance window allows the next step within the next 400 days")
    return cp


def compute_plan(policies: Sequence[UpgradePolicy], clusters: Sequence[Cluster],
                 offers: Mapping[str, VersionOffers] | Callable[[Cluster], VersionOffers | None],
                 now: datetime, checkers: Mapping[str, StepChecker] | None = None,
                 rules: RulesFn | Mapping[str, RulesFn] | None = None) -> Plan:
    """Plan every cluster. ``offers`` maps a provider name or type to fallback offers (or is a function of
    the cluster); ``checkers`` maps a provider name to its (pure) ``check_step``; ``rules`` gives each
    cluster's UpgradeRules (a function of the cluster, or a mapping provider name -> such a function)."""
    compiled = compile_policies(policies)
    memo = _Memo()
    out = []
    for c in clusters:
        with budget.item(f"cluster {c.id}") as item:   # past its own budget: this cluster alone is abandoned
            if callable(offers):
                o = offers(c)                          # may ask the cloud (the engine's observer)
            else:
                o = offers.get(c.provider) or offers.get(c.provider_type)
            budget.check("planning cluster", c.id)
            r = rules.get(c.provider) if isinstance(rules, Mapping) else rules
            cp = compute_cluster_plan(c, compiled, o, now, (checkers or {}).get(c.provider), memo=memo, rules=r)
        if item.exceeded is not None:
            cp = over_budget_plan(c, str(item.exceeded))
        out.append(cp)
    out.sort(key=lambda p: p.id)
    return Plan(now, out)
