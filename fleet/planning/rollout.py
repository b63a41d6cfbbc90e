"""Version qualification across the stages of a fleet rollout (``kind: RolloutStrategy``). Pure: data in
(the rollout, each cluster's stage and version, the journal's step history, approvals, ``now``), decisions out.

Rules (docs/rollout.md):

* A cluster belongs to the first stage whose selector matches it; a cluster no stage matches is in the
  implicit last stage ``unstaged`` (``unmatched: last``) or outside the rollout (``unmatched: unordered``).
* Versions are compared by Kubernetes major.minor.patch whatever the provider's spelling: ``1.31.4-gke.100``,
  ``v1.31.4`` and ``1.31.4`` are one release; ``1.31`` (EKS) stands for every patch of 1.31. With
  ``match: minor`` only the minor counts (clouds whose patch releases differ qualify each other by minor).
* A cluster *has run* version V when its control plane is at V's release or newer. It reached V at the end
  of the last successful step that moved one of its components from below V to V or beyond (the latest such
  step in the journal); a cluster that was at V before the journal knew it counts as having run V since
  before the soak.
* V may start in stage *i* when every earlier stage has *qualified* V and, when stage *i* requires approval,
  a person approved (stage *i*, V). Stage *j* qualifies V when every cluster it holds has run V, has no open
  step crossing V, and the last of them reached V at least ``soak`` ago, and no cluster of stage *j* has a
  failed step or gate on V (unless forgiven, below). An empty stage qualifies everything at once.
* A failure of V in stage *j* (a failed step to V's release, or a member whose target is V that failed, a
  failed gate included) stops V for every later stage until a person approves (stage *j+1*, V): an approval
  given at time *t* forgives the failures before *t*, upstream and in the approved stage itself, and the
  clusters that failed no longer need to have run V. A fix version W qualifies on its own: V's failure
  never holds W back.
* Stage *i*'s failure budget: once ``maxFailures`` clusters of stage *i* failed on V (after the last
  approval of (stage *i*, V)), the stage starts V on no further cluster until approved again.
* Stage *i*'s ``maxConcurrentClusters`` counts the clusters of the stage upgrading at once across every run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from fleet.clock import iso
from fleet.planning.plan import ClusterPlan, Plan
from fleet.policy.rollout import UNSTAGED, RolloutStrategy
from fleet.versions import InvalidVersion, Version, parse_version

__all__ = ["Approval", "HistoryStep", "Qualifier", "StageVerdict", "compute_qualifier", "compute_stage_index",
           "annotate_plan", "has_run", "release_of"]


@dataclass(frozen=True, slots=True)
class HistoryStep:
    """One journaled step (or a failed member, ``from_`` empty) as qualification needs it."""
    cluster_id: str
    to: str
    from_: str
    state: str                  # succeeded | failed | open
    at: datetime | None         # when it finished (succeeded/failed); None for open steps


@dataclass(frozen=True, slots=True)
class Approval:
    """A person's approval of a version for a stage (fleet.execution.commands.approve_promotion)."""
    stage: str
    version: str                # the release, major.minor.patch (or major.minor)
    at: datetime
    by: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "version": self.version, "at": iso(self.at), "by": self.by}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Approval:
        return cls(str(d["stage"]), str(d["version"]), datetime.fromisoformat(str(d["at"])), str(d.get("by", "")))


@dataclass(frozen=True, slots=True)
class StageVerdict:
    may_start: bool
    reason: str = ""            # what it waits for, when it may not start
    wake: datetime | None = None    # when it may start by itself (a soak ending)


_OK = StageVerdict(True)


def release_of(text: str) -> str | None:
    """A version's release as ``major.minor.patch`` (``major.minor`` when spelled so); None when unreadable."""
    try:
        return parse_version(text).canonical
    except InvalidVersion:
        return None


def has_run(current: Version, v: Version) -> bool:
    """A component at ``current`` has run ``v``'s release: same release or newer, by major.minor.patch (a
    missing patch on either side matches any patch of the minor)."""
    if current.minor_key != v.minor_key:
        return current.minor_key > v.minor_key
    return current.patch is None or v.patch is None or current.patch >= v.patch


def _crosses(step: HistoryStep, v: Version) -> bool:
    try:
        to = parse_version(step.to)
    except InvalidVersion:
        return False
    if not has_run(to, v):
        return False
    try:
        return not has_run(parse_version(step.from_), v)
    except InvalidVersion:
        return True


def _same_release(text: str, v: Version) -> bool:
    try:
        t = parse_version(text)
    except InvalidVersion:
        return False
    return t.same_release(v) and v.same_release(t)


def _matched(v: Version, rollout: RolloutStrategy) -> Version:
    """``v`` as qualification compares it: with ``match: minor``, its minor (any patch of it)."""
    return Version(v.major, v.minor, None) if rollout.spec.match == "minor" else v


def compute_stage_index(rollout: RolloutStrategy, provider: str, provider_type: str, name: str, cluster_id: str,
                        labels: Mapping[str, str]) -> int | None:
    """The stage holding a cluster: the first stage whose selector matches; ``len(stages)`` (the implicit
    ``unstaged``) or None (``unmatched: unordered``) when none does."""
    for i, s in enumerate(rollout.spec.stages):
        if s.selector.matches(provider, provider_type, name, cluster_id, labels):
            return i
    return len(rollout.spec.stages) if rollout.spec.unmatched == "last" else None


@dataclass
class Qualifier:
    """Answers "may stage i start version V now?" for one ``now``, memoised per (stage, release)."""
    rollout: RolloutStrategy
    now: datetime
    members: list[list[str]]                        # stage index -> cluster ids, in order
    stage_of: dict[str, int | None]                 # cluster id -> stage index (None: outside the rollout)
    current: dict[str, Version]                     # cluster id -> control-plane version
    history: dict[str, list[HistoryStep]]           # cluster id -> its steps, in journal order
    approvals: dict[tuple[str, str], datetime]      # (stage, release) -> the latest approval's time
    _memo: dict[tuple[int, str], StageVerdict] = field(default_factory=dict)

    # ---- stages ------------------------------------------------------------------------------------
    @property
    def stage_names(self) -> list[str]:
        names = [s.name for s in self.rollout.spec.stages]
        return names + ([UNSTAGED] if self.rollout.spec.unmatched == "last" else [])

    def stage_name(self, index: int | None) -> str | None:
        return None if index is None else self.stage_names[index]

    def _soak(self, i: int) -> timedelta:
        stages = self.rollout.spec.stages
        return stages[i].soak if i < len(stages) else timedelta(0)

    def _approval_required(self, i: int) -> bool:
        stages = self.rollout.spec.stages
        return i < len(stages) and stages[i].approval == "required"

    def max_concurrent(self, i: int | None) -> int | None:
        stages = self.rollout.spec.stages
        return stages[i].max_concurrent_clusters if i is not None and i < len(stages) else None

    def _max_failures(self, i: int) -> int:
        stages = self.rollout.spec.stages
        return stages[i].max_failures if i < len(stages) else 1

    # ---- failures ----------------------------------------------------------------------------------
    def _failed_on(self, cid: str, v: Version, since: datetime | None) -> bool:
        """Cluster ``cid`` failed a step or gate on ``v``'s release (after ``since``, when given)."""
        for s in self.history.get(cid, ()):
            if s.state == "failed" and _same_release(s.to, v) and (since is None or s.at is None or s.at > since):
                return True
        return False

    # ---- qualification -----------------------------------------------------------------------------
    def _qualified_by(self, j: int, v: Version, release: str) -> StageVerdict:
        """Has stage ``j`` run ``v`` on every cluster, for its soak, without an unforgiven failure?"""
        name = self.stage_names[j]
        forgiven_at = self.approvals.get((self.stage_names[j + 1], release)) if j + 1 < len(self.stage_names) \
            else None
        last: datetime | None = None
        for cid in self.members[j]:
            if self._failed_on(cid, v, forgiven_at):
                nxt = self.stage_names[j + 1] if j + 1 < len(self.stage_names) else name
                return StageVerdict(False, f"{release} failed in stage {name} on {cid}: promotion stopped until "
                                           f"approved (fleet approve --stage {nxt} --version {release}) or a fix "
                                           "version qualifies")
            if forgiven_at is not None and self._failed_on(cid, v, None) and not has_run(self.current[cid], v):
                continue        # failed, forgiven: it need not have run v
            if not has_run(self.current[cid], v):
                return StageVerdict(False, f"waits for {release} to run on every cluster of stage {name} "
                                           f"({cid} runs {self.current[cid]})")
            reached, open_ = self._reached(cid, v)
            if open_:
                return StageVerdict(False, f"waits for {cid} (stage {name}) to finish its upgrade to {release}")
            if reached is not None and (last is None or reached > last):
                last = reached
        soak = self._soak(j)
        if last is not None and self.now < last + soak:
            ends = last + soak
            return StageVerdict(False, f"{release} soaks in stage {name} until {iso(ends)}", ends)
        return _OK

    def _reached(self, cid: str, v: Version) -> tuple[datetime | None, bool]:
        """When cluster ``cid`` last finished a step crossing ``v`` (None: before the journal), and whether a
        step crossing ``v`` is still open."""
        reached: datetime | None = None
        for s in self.history.get(cid, ()):
            if not _crosses(s, v):
                continue
            if s.state == "open":
                return reached, True
            if s.state == "succeeded" and s.at is not None and (reached is None or s.at > reached):
                reached = s.at
        return reached, False

    def verdict(self, i: int | None, version: str) -> StageVerdict:
        """May stage ``i`` start ``version`` on one more cluster now?"""
        if i is None:
            return _OK
        try:
            v = _matched(parse_version(version), self.rollout)
        except InvalidVersion:
            return StageVerdict(False, f"unreadable version {version!r}")
        release = v.canonical
        key = (i, release)
        hit = self._memo.get(key)
        if hit is None:
            hit = self._memo[key] = self._verdict(i, v, release)
        return hit

    def _verdict(self, i: int, v: Version, release: str) -> StageVerdict:
        name = self.stage_names[i]
        for j in range(i):
            q = self._qualified_by(j, v, release)
            if not q.may_start:
                return q
        approved_at = self.approvals.get((name, release))
        if self._approval_required(i) and approved_at is None:
            return StageVerdict(False, f"stage {name} needs approval for {release} "
                                       f"(fleet approve --stage {name} --version {release})")
        failed = [cid for cid in self.members[i] if self._failed_on(cid, v, approved_at)]
        if len(failed) >= self._max_failures(i):
            return StageVerdict(False, f"{release} failed on {len(failed)} cluster(s) of stage {name} (maxFailures "
                                       f"{self._max_failures(i)}): stopped until approved (fleet approve --stage "
                                       f"{name} --version {release})")
        return _OK

    def slots(self, i: int | None, active: Iterable[str]) -> int | None:
        """Free places under stage ``i``'s maxConcurrentClusters given the clusters upgrading now (None: no
        limit)."""
        limit = self.max_concurrent(i)
        if limit is None:
            return None
        return limit - sum(1 for cid in active if self.stage_of.get(cid) == i)

    def summary(self, versions: Iterable[str]) -> dict[str, Any]:
        """For display: the stages with their clusters, and per version, per stage, "qualified" (may start)
        or what it waits for."""
        out: dict[str, Any] = {"name": self.rollout.name, "stages": [], "versions": {}}
        for i, n in enumerate(self.stage_names):
            out["stages"].append({"name": n, "clusters": list(self.members[i])})
        rels = sorted({_matched(parse_version(r), self.rollout).canonical
                       for r in (release_of(v) for v in versions) if r is not None}, key=parse_version)
        for r in rels:
            out["versions"][r] = {n: (lambda vd: "may start" if vd.may_start else vd.reason)(self.verdict(i, r))
                                  for i, n in enumerate(self.stage_names)}
        return out


@dataclass(frozen=True, slots=True)
class ClusterRef:
    """What qualification needs of a cluster (fleet.provider.Cluster has all of it)."""
    id: str
    provider: str
    provider_type: str
    name: str
    labels: Mapping[str, str]
    control_plane: str


def compute_qualifier(rollout: RolloutStrategy, clusters: Sequence[Any], history: Iterable[HistoryStep],
                      approvals: Iterable[Approval], now: datetime) -> Qualifier:
    """The Qualifier of the whole fleet (``clusters``: fleet.provider.Cluster or ClusterRef, every cluster
    discovered, whichever policy or shard manages it) at ``now``."""
    n = len(rollout.spec.stages) + (1 if rollout.spec.unmatched == "last" else 0)
    members: list[list[str]] = [[] for _ in range(n)]
    stage_of: dict[str, int | None] = {}
    current: dict[str, Version] = {}
    for c in sorted(clusters, key=lambda c: c.id):
        i = compute_stage_index(rollout, c.provider, c.provider_type, c.name, c.id, c.labels)
        stage_of[c.id] = i
        try:
            current[c.id] = parse_version(c.control_plane)
        except InvalidVersion:
            current[c.id] = Version(0, 0, 0, raw=c.control_plane)   # has run nothing
        if i is not None:
            members[i].append(c.id)
    by_cluster: dict[str, list[HistoryStep]] = {}
    for h in history:
        if h.cluster_id in stage_of:
            by_cluster.setdefault(h.cluster_id, []).append(h)
    latest: dict[tuple[str, str], datetime] = {}
    for a in approvals:
        try:
            rel = _matched(parse_version(a.version), rollout).canonical
        except InvalidVersion:
            continue
        key = (a.stage, rel)
        if key not in latest or a.at > latest[key]:
            latest[key] = a.at
    return Qualifier(rollout, now, members, stage_of, current, by_cluster, latest)


def annotate_plan(plan: Plan, q: Qualifier) -> None:
    """Each cluster's stage and what its next step waits for; the plan's per-version qualification."""
    versions: set[str] = set()
    for cp in plan.clusters:
        _annotate(cp, q)
        versions.update(s.to for s in cp.steps)
    plan.rollout = q.summary(versions)


def _annotate(cp: ClusterPlan, q: Qualifier) -> None:
    i = q.stage_of.get(cp.id)
    cp.stage = q.stage_name(i) if i is not None else "(unordered)"
    if cp.status == "needs-upgrade" and cp.steps:
        v = q.verdict(i, cp.steps[0].to)
        cp.waits_for = "" if v.may_start else v.reason
