"""Compliance: classify every cluster of a Plan at an instant, against the lifecycle data. Pure (no I/O).

A cluster has one **compliance status** (what it runs, against its policy and the support calendar) and,
independently, one **upgrade state** (what `fleet` is doing about it). Neither hides the other: a cluster
past end of extended support whose upgrade is blocked is ``end-of-extended-support`` *and* ``blocked``.

Compliance status; when several apply, the first in PRECEDENCE wins:

 1. ``end-of-extended-support``  its control-plane minor is past every support its provider offers
                                 (for calendars without extended support: past end of standard support)
 2. ``end-of-standard-support``  past end of standard support (in extended support, or extended unknown)
 3. ``skew-violation``           a node pool is newer than the control plane or more minors behind it than
                                 the kubelet skew allows (3 from 1.28, 2 before)
 4. ``unmanaged``                no policy selects it
 5. ``behind-minor``             the control plane or a node pool is on a minor below the policy's target
 6. ``behind-patch``             only patch steps (control plane or pools) separate it from the target
 7. ``compliant``                at (or ahead of) its target (or no target could be computed: see its
                                 upgrade state, ``blocked``)

Upgrade state (UPGRADE_STATES; the first that applies):

 ``failed``            its latest run membership failed (a person must look)
 ``upgrading``         its latest run membership is active (an operation is in flight)
 ``blocked``           the planner or the run cannot move it: no path, target not offered, a priority tie,
                       an unreadable version, a blocked node pool
 ``waiting-approval``  its wave in the run waits for a person's approval (``fleet approve``)
 ``waiting-gate``      its pre-flight gates block it now (docs/gates.md)
 ``waiting-window``    it needs an upgrade and the next maintenance window opens later
 ``pending``           it needs an upgrade and may start (waiting for a slot, its wave or the next tick)
 ``none``              nothing to do

A support date is the first day without that support: a minor leaves standard support at 00:00 UTC on its
``endOfStandardSupport`` date, so "days to end of standard support" is ``date - at.date()`` and the status
flips when it reaches 0. A provider or minor missing from the lifecycle data has unknown support (null days),
never a guessed one, and cannot be classified end-of-*-support.

At risk (compute_risk) means: the cluster will be out of standard support before `fleet` can move it off its
minor. A cluster already on the newest minor its provider offers is never "at risk" (nothing newer exists
to move to): it is listed apart, "on the newest offered version, support ends on D" (compute_newest).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol

from fleet.clock import utc
from fleet.planning.plan import ClusterPlan, Plan
from fleet.planning.windows import Interval
from fleet.reports.lifecycle import Lifecycle, Support
from fleet.versions import InvalidVersion, Version, max_kubelet_skew, parse_version

PRECEDENCE = ("end-of-extended-support", "end-of-standard-support", "skew-violation", "unmanaged", "behind-minor",
              "behind-patch", "compliant")
STATUSES = ("compliant", "behind-patch", "behind-minor", "skew-violation", "end-of-standard-support",
            "end-of-extended-support", "unmanaged")
UPGRADE_STATES = ("failed", "upgrading", "blocked", "waiting-approval", "waiting-gate", "waiting-window", "pending",
                  "none")
SUPPORT_STATES = ("standard", "extended", "past-standard", "unsupported", "unknown")
RISK_REASONS = (
    "completes-after-end-of-extended-support",  # forecast: done after the end of every support
    "completes-after-end-of-standard-support",  # forecast: done after the end of standard support
    "not-done-within-horizon",                  # forecast computed: the upgrade does not finish within it
    "starts-after-end-of-standard-support",     # no forecast: the next window opens after the end of support
    "no-window",                                # needs an upgrade, but no maintenance window allows it
    "past-end-of-standard-support",             # no forecast: already out of standard support, still moving
    "blocked",                                  # blocked or failed: fleet cannot move it without a person
    "no-upgrade-planned",                       # a newer minor is offered but its policy keeps it here
)
DEFAULT_HORIZON = timedelta(days=365)
_MEMBERSHIP_STATE = {"active": "upgrading", "failed": "failed", "blocked": "blocked", "blocked-by-gate": "waiting-gate"}


# ---- the forecast interface the report reads (fleet.reports.forecast provides it) -----------------------

class ClusterForecastLike(Protocol):
    @property
    def completion(self) -> datetime | None: ...

    @property
    def wave(self) -> str | None: ...


class ForecastLike(Protocol):
    @property
    def clusters(self) -> Mapping[str, Any]: ...

    @property
    def fleet_done(self) -> datetime | None: ...

    @property
    def waves(self) -> Mapping[str, tuple[datetime | None, datetime | None]]: ...


# ---- results -------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Membership:
    """A cluster's row in its latest run (state store ``run_clusters``)."""

    run_id: str
    status: str             # pending | active | done | failed | blocked | blocked-by-gate
    message: str = ""
    waiting: str | None = None  # "approval": a pending member whose wave waits for a person's approval


@dataclass(slots=True)
class ClusterCompliance:
    id: str
    provider: str
    provider_type: str
    name: str
    location: str
    labels: dict[str, str]
    control_plane: str
    pool_oldest: str | None
    pool_newest: str | None
    pool_count: int
    policy: str | None
    target: str | None
    plan_status: str
    status: str
    reasons: list[str]
    support: Support
    days_to_standard: int | None
    days_to_extended: int | None
    next_window: Interval | None
    wave: str | None
    forecast_completion: datetime | None = None
    at_risk: bool = False
    upgrade_state: str = "none"     # one of UPGRADE_STATES
    upgrade_reason: str = ""        # what it waits for / why it is blocked, in words
    newest_offered: str | None = None   # the newest control-plane version offered to it (None: offers unknown)


@dataclass(frozen=True, slots=True)
class Risk:
    cluster: str
    provider: str
    control_plane: str
    status: str
    reason: str                     # one of RISK_REASONS
    end_of_standard: date
    end_of_extended: date | None
    forecast_completion: datetime | None
    days_late: int | None           # completion after end of standard support, in days
    upgrade_state: str = "none"


@dataclass(frozen=True, slots=True)
class Freeze:
    """A policy's maintenance exclusion (no upgrades, or no minor upgrades, start inside it), in UTC."""

    policy: str
    name: str
    scope: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class NewestSupport:
    """A cluster on the newest minor its provider offers whose support ends within the horizon."""

    cluster: str
    provider: str
    control_plane: str
    end_of_standard: date
    end_of_extended: date | None


@dataclass(frozen=True, slots=True)
class VersionCount:
    minor: str
    clusters: int
    support: str                    # one of SUPPORT_STATES, at the report's instant


@dataclass(slots=True)
class ForecastSummary:
    fleet_done: datetime | None
    waves: list[tuple[str, datetime | None, datetime | None]]   # (name, first start, last finish)


@dataclass(slots=True)
class ComplianceReport:
    at: datetime
    lifecycle_as_of: date
    lifecycle_source: str
    horizon: timedelta
    clusters: list[ClusterCompliance]
    counts: dict[str, int]
    versions: dict[str, list[VersionCount]]
    risks: list[Risk]
    forecast: ForecastSummary | None
    notes: list[str] = field(default_factory=list)
    upgrade_counts: dict[str, int] = field(default_factory=dict)
    newest: list[NewestSupport] = field(default_factory=list)
    freezes: list[Freeze] = field(default_factory=list)

    @property
    def forecast_computed(self) -> bool:
        return self.forecast is not None

    @property
    def lifecycle_unknown(self) -> int:
        return sum(1 for c in self.clusters if not c.support.known)


# ---- classification ------------------------------------------------------------------------------------

def _parse(v: str) -> Version | None:
    try:
        return parse_version(v)
    except InvalidVersion:
        return None


def compute_pool_range(pools: Mapping[str, str]) -> tuple[str | None, str | None]:
    """Oldest and newest node-pool version (provider spellings); unreadable versions are left out."""
    parsed = [(v, raw) for raw in pools.values() if (v := _parse(raw)) is not None]
    if not parsed:
        return None, None
    return min(parsed, key=lambda t: t[0])[1], max(parsed, key=lambda t: t[0])[1]


def compute_skew_problems(control_plane: str, pools: Mapping[str, str]) -> list[str]:
    cp = _parse(control_plane)
    if cp is None:
        return []
    out = []
    limit = max_kubelet_skew(cp)
    for name, raw in sorted(pools.items()):
        pv = _parse(raw)
        if pv is None:
            continue
        if not pv.not_newer_than(cp):
            out.append(f"node pool {name} ({raw}) is newer than the control plane ({control_plane})")
        elif cp.minors_from(pv) > limit:
            out.append(f"node pool {name} ({raw}) is {cp.minors_from(pv)} minors behind the control plane "
                       f"({control_plane}); at most {limit} are allowed")
    return out


def _behind_minor(cp: ClusterPlan) -> bool:
    target = _parse(cp.target) if cp.target else None
    if target is None:
        return any(s.minor for s in cp.steps)
    versions = [cp.control_plane, *cp.node_pools.values()]
    return any(v is not None and v.minor_key < target.minor_key for v in map(_parse, versions))


def classify_cluster(cp: ClusterPlan, support: Support, at: datetime,
                     membership: Membership | None = None) -> tuple[str, list[str]]:
    """The one compliance status of a planned cluster at ``at`` (see PRECEDENCE), with the reasons that apply.
    ``membership`` is accepted for symmetry with compute_upgrade_state and does not change the status."""
    del membership
    at = utc(at)
    found: dict[str, list[str]] = {}

    def add(status: str, reason: str) -> None:
        found.setdefault(status, []).append(reason)

    if support.known:
        d_std, d_ext = support.days_to_standard(at), support.days_to_extended(at)
        if d_ext is not None and d_ext <= 0:
            add("end-of-extended-support", f"{support.provider} {support.minor}: support ended {support.end_of_extended}")
        elif d_std is not None and d_std <= 0:
            ext = f"extended support until {support.end_of_extended}" if support.end_of_extended else "extended support unknown"
            add("end-of-standard-support",
                f"{support.provider} {support.minor}: standard support ended {support.end_of_standard}; {ext}")
    else:
        where = f"{support.provider or cp.provider_type or cp.provider} {support.minor or cp.control_plane}"
        found.setdefault("_notes", []).append(f"no lifecycle data for {where}: support unknown")
    for p in compute_skew_problems(cp.control_plane, cp.node_pools):
        add("skew-violation", p)
    if cp.status == "unmanaged":
        add("unmanaged", "; ".join(cp.reasons) or "no policy selects this cluster")
    elif cp.status in ("needs-upgrade", "blocked-by-gate"):
        add("behind-minor" if _behind_minor(cp) else "behind-patch", f"{len(cp.steps)} step(s) to {cp.target}")
    elif cp.status == "blocked":
        target = _parse(cp.target) if cp.target else None
        current = _parse(cp.control_plane)
        if target is not None and current is not None and current.minor_key < target.minor_key:
            add("behind-minor", f"below its target {cp.target}")
        else:
            add("compliant", "no upgrade could be planned (see its upgrade state)")
    else:
        add("compliant", "; ".join(cp.reasons) or f"at target {cp.target}")
    status = next(s for s in PRECEDENCE if s in found)
    reasons = [r for s in PRECEDENCE for r in found.get(s, [])] + found.get("_notes", [])
    return status, reasons


def compute_upgrade_state(cp: ClusterPlan, at: datetime, membership: Membership | None = None) -> tuple[str, str]:
    """What `fleet` is doing about the cluster (see UPGRADE_STATES), and why, in words."""
    at = utc(at)
    m = membership
    if m is not None and m.status in _MEMBERSHIP_STATE:
        state = _MEMBERSHIP_STATE[m.status]
        return state, f"run {m.run_id}: {m.status}" + (f": {m.message}" if m.message else "")
    if cp.status == "blocked":
        return "blocked", "; ".join(cp.reasons) or "blocked"
    if m is not None and m.status == "pending" and m.waiting == "approval":
        return "waiting-approval", f"run {m.run_id}: its wave waits for approval (fleet approve)"
    if cp.status == "blocked-by-gate":
        return "waiting-gate", cp.reasons[-1] if cp.reasons else "blocked by a pre-flight gate"
    if cp.status == "needs-upgrade" or (m is not None and m.status == "pending"):
        nw = cp.next_window
        if cp.status == "needs-upgrade" and nw is None:
            return "blocked", "no maintenance window allows the next step within the next 400 days"
        if nw is not None and utc(nw.start) > at:
            return "waiting-window", f"next window opens {nw.start.strftime('%Y-%m-%dT%H:%MZ')}"
        if cp.waits_for:
            return "pending", cp.waits_for
        return "pending", "may start now"
    return "none", ""


def compute_cluster(cp: ClusterPlan, lifecycle: Lifecycle, at: datetime, membership: Membership | None = None,
                    completion: datetime | None = None, wave: str | None = None,
                    newest_offered: str | None = None) -> ClusterCompliance:
    at = utc(at)
    support = lifecycle.support((cp.provider_type, cp.provider), cp.control_plane)
    status, reasons = classify_cluster(cp, support, at)
    state, why = compute_upgrade_state(cp, at, membership)
    oldest, newest = compute_pool_range(cp.node_pools)
    return ClusterCompliance(
        id=cp.id, provider=cp.provider, provider_type=cp.provider_type, name=cp.name, location=cp.location,
        labels=dict(cp.labels), control_plane=cp.control_plane, pool_oldest=oldest, pool_newest=newest,
        pool_count=len(cp.node_pools), policy=cp.policy, target=cp.target, plan_status=cp.status, status=status,
        reasons=reasons, support=support, days_to_standard=support.days_to_standard(at),
        days_to_extended=support.days_to_extended(at), next_window=cp.next_window, wave=wave or cp.wave,
        forecast_completion=completion, upgrade_state=state, upgrade_reason=why, newest_offered=newest_offered,
    )


# ---- risk ----------------------------------------------------------------------------------------------

def _start_of(d: date) -> datetime:
    return datetime.combine(d, time(0), UTC)


def on_newest_offered(c: ClusterCompliance) -> bool:
    """The control plane is on the newest minor offered to it (False when the offers are unknown)."""
    newest = _parse(c.newest_offered) if c.newest_offered else None
    current = _parse(c.control_plane)
    return newest is not None and current is not None and current.minor_key >= newest.minor_key


def _support_ends_within(c: ClusterCompliance, at: datetime, horizon: timedelta) -> bool:
    eos = c.support.end_of_standard
    return c.support.known and eos is not None and _start_of(eos) <= utc(at) + horizon


def compute_risk(c: ClusterCompliance, at: datetime, horizon: timedelta, *, forecast: bool = True) -> Risk | None:
    """A cluster is at risk when it will be out of standard support before `fleet` can move it off its minor:
    its minor leaves standard support within the horizon (or already has), a newer minor is offered (else
    see compute_newest), and

    - it is blocked or its run failed (nothing moves without a person): ``blocked``;
    - its policy keeps it on this minor (compliant at such a target, unmanaged): ``no-upgrade-planned``;
    - with a forecast (``forecast=True``): the forecast completes after the end of standard support (or of
      extended support), or not within the horizon;
    - without one, only what is certain: it is already past end of standard support, its next window opens
      after it, or no window allows the upgrade at all. A forecast is never claimed when none was made.

    Unknown support is never a risk (it is counted as unknown instead)."""
    eos = c.support.end_of_standard
    if eos is None or not _support_ends_within(c, at, horizon) or on_newest_offered(c):
        return None
    at = utc(at)
    eox = c.support.end_of_extended
    moving = c.plan_status in ("needs-upgrade", "blocked-by-gate") or c.upgrade_state in (
        "upgrading", "waiting-approval", "waiting-gate", "waiting-window", "pending")
    done = c.forecast_completion if forecast else None
    reason: str | None
    if c.upgrade_state in ("blocked", "failed"):
        reason = "no-window" if c.next_window is None and c.plan_status == "needs-upgrade" else "blocked"
    elif not moving:
        reason = "no-upgrade-planned"
    elif forecast:
        if done is None:
            reason = "not-done-within-horizon"
        elif eox is not None and done > _start_of(eox):
            reason = "completes-after-end-of-extended-support"
        elif done > _start_of(eos):
            reason = "completes-after-end-of-standard-support"
        else:
            reason = None
    elif _start_of(eos) <= at:
        reason = "past-end-of-standard-support"
    elif c.next_window is not None and utc(c.next_window.start) >= _start_of(eos):
        reason = "starts-after-end-of-standard-support"
    else:
        reason = None                       # may finish in time: only a forecast could tell
    if reason is None:
        return None
    late = None if done is None else (done.date() - eos).days
    return Risk(c.id, c.provider, c.control_plane, c.status, reason, eos, eox, done, late, c.upgrade_state)


def compute_newest(c: ClusterCompliance, at: datetime, horizon: timedelta) -> NewestSupport | None:
    """A cluster on the newest offered minor whose support ends within the horizon: nothing newer to move to."""
    eos = c.support.end_of_standard
    if eos is None or not _support_ends_within(c, at, horizon) or not on_newest_offered(c):
        return None
    return NewestSupport(c.id, c.provider, c.control_plane, eos, c.support.end_of_extended)


# ---- the whole report ----------------------------------------------------------------------------------

def _minor_key(m: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in m.split("."))
    except ValueError:
        return (1 << 30,)


def _support_state(s: Support, at: datetime) -> str:
    if not s.known:
        return "unknown"
    d_std, d_ext = s.days_to_standard(at), s.days_to_extended(at)
    if d_std is not None and d_std > 0:
        return "standard"
    if d_ext is not None and d_ext <= 0:
        return "unsupported"
    return "extended" if d_ext is not None else "past-standard"  # standard ended; extended unknown


def compute_versions(clusters: list[ClusterCompliance], at: datetime) -> dict[str, list[VersionCount]]:
    """Control-plane minors per provider, with each minor's support state at ``at``."""
    counts: dict[str, dict[str, list[Any]]] = {}
    for c in clusters:
        minor = c.support.minor or "unreadable"
        slot = counts.setdefault(c.provider, {}).setdefault(minor, [0, c.support])
        slot[0] += 1
    return {prov: [VersionCount(m, n, _support_state(s, at)) for m, (n, s) in sorted(by.items(), key=lambda kv: _minor_key(kv[0]))]
            for prov, by in sorted(counts.items())}


def compute_report(plan: Plan, lifecycle: Lifecycle, at: datetime, *, forecast: ForecastLike | None = None,
                   memberships: Mapping[str, Membership] | None = None, horizon: timedelta = DEFAULT_HORIZON,
                   notes: list[str] | None = None, newest_offered: Mapping[str, str] | None = None,
                   policies: Any = ()) -> ComplianceReport:
    """``newest_offered``: cluster id -> the newest control-plane version offered to it (compute_newest_offered);
    a cluster missing from it is never taken to be on the newest version."""
    at = utc(at)
    memberships = memberships or {}
    newest_offered = newest_offered or {}
    fc = forecast.clusters if forecast is not None else {}
    clusters = []
    for cp in plan.clusters:
        f = fc.get(cp.id)
        clusters.append(compute_cluster(cp, lifecycle, at, memberships.get(cp.id),
                                        getattr(f, "completion", None), getattr(f, "wave", None),
                                        newest_offered.get(cp.id)))
    risks, newest = [], []
    for c in clusters:
        r = compute_risk(c, at, horizon, forecast=forecast is not None)
        if r is not None:
            c.at_risk = True
            risks.append(r)
        n = compute_newest(c, at, horizon)
        if n is not None:
            newest.append(n)
    risks.sort(key=lambda r: (r.end_of_standard, r.cluster))
    newest.sort(key=lambda n: (n.end_of_standard, n.cluster))
    counts = {s: 0 for s in STATUSES}
    upgrade_counts = {s: 0 for s in UPGRADE_STATES}
    for c in clusters:
        counts[c.status] += 1
        upgrade_counts[c.upgrade_state] += 1
    summary = None
    if forecast is not None:
        far = datetime.max.replace(tzinfo=UTC)
        waves = sorted(((n, s and utc(s), e and utc(e)) for n, (s, e) in forecast.waves.items()),
                       key=lambda w: (w[1] or far, w[0]))
        summary = ForecastSummary(utc(forecast.fleet_done) if forecast.fleet_done else None, waves)
    all_notes = list(notes or []) + list(dict.fromkeys(getattr(forecast, "notes", None) or []))
    age = (at.date() - lifecycle.as_of).days
    if age > 180:
        all_notes.append(f"the lifecycle data is {age} days old (as of {lifecycle.as_of}): "
                         "load a newer file with `fleet lifecycle load`")
    freezes = [f for f in compute_freezes(policies) if f.end > at and f.start < at + horizon]
    return ComplianceReport(at, lifecycle.as_of, lifecycle.source, horizon, clusters, counts,
                            compute_versions(clusters, at), risks, summary, all_notes, upgrade_counts, newest,
                            freezes)


def compute_freezes(policies: Any) -> list[Freeze]:
    """Every maintenance exclusion of ``policies`` (UpgradePolicy models), in UTC: a naive time is read in the
    policy's zone (UTC for ``timezone: cluster``, where each cluster has its own)."""
    from zoneinfo import ZoneInfo
    out = []
    for p in policies:
        m = p.spec.maintenance
        tz = ZoneInfo(m.timezone if m.timezone != "cluster" else "UTC")
        for i, ex in enumerate(m.exclusions):
            s, e = (utc(t.replace(tzinfo=tz) if t.tzinfo is None else t) for t in (ex.start, ex.end))
            if e > s:
                out.append(Freeze(p.name, ex.name or f"exclusion {i + 1}", ex.scope, s, e))
    return sorted(out, key=lambda f: (f.start, f.policy))


def compute_newest_offered(clusters: Any, offers: Any) -> dict[str, str]:
    """Cluster id -> the newest control-plane version offered to it: the cluster's own offers (discovery),
    else ``offers`` (a mapping by provider name or type, or a function of the cluster). Unreadable versions
    are skipped; a cluster with no readable offer is left out."""
    out: dict[str, str] = {}
    for c in clusters:
        raw: Any = c.available
        if not raw:
            o = offers(c) if callable(offers) else (offers.get(c.provider) or offers.get(c.provider_type))
            raw = o.control_plane if o is not None else ()
        parsed = [(v, r) for r in raw if (v := _parse(r)) is not None]
        if parsed:
            out[c.id] = max(parsed, key=lambda t: t[0])[1]
    return out
