"""The composition root: the one place that wires providers (found through their entry points), the state
store, the clock and the engine. The CLI (``fleet apply``, ``daemon``, ``status`` ...), the daemon, the demo
and the forecast build through here; nothing else constructs an Engine or opens a FleetConfig's store.

* :func:`build_runtime`: a FleetConfig's providers, store and engine on a clock (``fleet apply``, ``fleet
  daemon``, the demo's daemon).
* :func:`observe_live` / :func:`live_plan`: the fleet as the config's providers see it now, planned
  (``fleet plan --config``, ``fleet report --config``); nothing is changed.
* :func:`open_config_store`: the state store a FleetConfig names (``fleet status``, ``pause`` ...).
* :func:`build_engine`, :func:`open_state`, :func:`sim_provider_class`: the parts, for a simulation that
  wires its own fleet (the forecast: simulated providers on a throw-away store and a FakeClock).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fleet.clock import Clock, FakeClock, SystemClock
from fleet.errors import InputError, Problem, ProviderNotFound
from fleet.execution.engine import Engine
from fleet.execution.observe import Observer
from fleet.execution.storable import StorableFilter
from fleet.gitops.mode import wrap as wrap_gitops
from fleet.planning.plan import Plan
from fleet.planning.planner import compute_plan
from fleet.planning.rollout import annotate_plan, compute_qualifier
from fleet.policy.loader import load_config, load_policies, load_policy_set, resolve_path
from fleet.policy.models import FleetConfig, UpgradePolicy
from fleet.policy.rollout import RolloutStrategy
from fleet.provider import (
    Cluster,
    Provider,
    VersionOffers,
    create_provider,
    load_provider_class,
    provider_rules,
)
from fleet.state import Store as StateStore
from fleet.state import open_store
from fleet.state.store import SqlStore as Store  # the SQL store (fleet.state.store.Store is the protocol)


@dataclass
class Runtime:
    config_file: Path
    config: FleetConfig
    store: Store
    providers: dict[str, Provider]
    engine: Engine
    policies_path: Path

    def policies(self) -> list[UpgradePolicy]:
        return load_policies(self.policies_path)


def resolve_state_url(config_file: Path, url: str) -> str:
    """Relative SQLite paths are relative to the config file."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////"):
        rel = url[len("sqlite:///"):]
        if rel and rel != ":memory:":
            return "sqlite:///" + str(resolve_path(config_file, rel))
    return url


def build_providers(config_file: Path, config: FleetConfig, clock: Clock) -> dict[str, Provider]:
    """One provider instance per ``spec.providers`` entry; every bad entry is reported (file, field path)."""
    providers: dict[str, Provider] = {}
    problems: list[Problem] = []
    for i, pc in enumerate(config.spec.providers):
        try:
            providers[pc.name] = create_provider(pc.type, pc.name, pc.settings, clock=clock,
                                                 config_dir=str(config_file.resolve().parent))
            if pc.gitops is not None:       # steps become commits / pull requests (docs/gitops.md)
                providers[pc.name] = wrap_gitops(providers[pc.name], pc.gitops, provider_type=pc.type, clock=clock,
                                                 config_dir=str(config_file.resolve().parent))
        except ProviderNotFound as exc:
            problems.append(Problem(str(config_file), None, f"spec.providers[{i}].type", str(exc)))
        except (ValueError, TypeError) as exc:
            problems.append(Problem(str(config_file), None, f"spec.providers[{i}].settings", str(exc)))
        except InputError as exc:
            problems.extend(exc.problems)
    if problems:
        raise InputError(problems)
    return providers


def build_engine(store: StateStore, providers: Mapping[str, Provider], policies: Callable[[], Sequence[UpgradePolicy]],
                 clock: Clock, **engine_kw: Any) -> Engine:
    """The one Engine constructor call (keyword arguments: see Engine)."""
    return Engine(store, providers, policies, clock, **engine_kw)


def open_state(url: str) -> StateStore:
    """A state store by URL: ``memory://`` (throw-away, in process) or a SQLAlchemy URL (migrated)."""
    return open_store(url)


def sim_provider_class() -> Any:
    """The simulated provider's class, found through its entry point like any provider (its ``World`` holds
    the simulated clusters)."""
    return load_provider_class("sim")


def open_config_store(config_file: Path) -> Store:
    """The state store a FleetConfig names (relative SQLite paths are relative to the file); a missing or
    empty one is created only when the config says ``spec.state.create: true``."""
    config = load_config(config_file)
    return Store(resolve_state_url(config_file, config.spec.state.url), create=config.spec.state.create)


def build_runtime(config_file: str | Path, clock: Clock | None = None, *, actor: str = "engine",
                  state_url: str | None = None, create: bool | None = True, **engine_kw: Any) -> Runtime:
    """A FleetConfig's providers, store and engine on ``clock`` (default: the wall clock). Bad policies or
    provider settings stop here with file:line errors (InputError).

    ``create``: may a missing or empty store be created? True (programmatic callers: the demo, tests), False
    (refuse, fleet.state.errors.StoreMissingError), None: as the config's ``spec.state.create`` says
    (``fleet apply`` and ``fleet daemon`` without ``--init``)."""
    config_file = Path(config_file)
    clock = clock or SystemClock()
    config = load_config(config_file)
    policies_path = resolve_path(config_file, config.spec.policies)
    load_policies(policies_path)  # validate now: bad policies stop start-up with file:line errors
    providers = build_providers(config_file, config, clock)
    store = Store(state_url or resolve_state_url(config_file, config.spec.state.url),
                  create=config.spec.state.create if create is None else create)

    loaded: dict[str, RolloutStrategy | None] = {}

    def rt_policies() -> list[UpgradePolicy]:
        policies, loaded["rollout"] = load_policy_set(policies_path)
        return policies

    engine_kw.setdefault("discovery_interval", config.spec.discovery_interval)
    engine = build_engine(store, providers, rt_policies, clock, reconcile_interval=config.spec.reconcile_interval,
                          actor=actor, rollout=lambda: loaded.get("rollout"), **engine_kw)
    return Runtime(config_file, config, store, providers, engine, policies_path)


def claim_engine(rt: Runtime, role: str, *, shard_index: int = 0, shard_count: int = 1, elected: bool = False) -> None:
    """Take the engine lock of ``rt``'s store for ``role`` (``fleet apply``, ``fleet daemon``) before it acts,
    or raise fleet.state.errors.StoreBusyError naming the engine that holds it (see fleet.state.engine_lock):
    exclusive unless several daemons legitimately share the store - replicas under leader election (the lease
    picks the one that acts) or the shards of a sharded fleet (each its own clusters)."""
    from fleet.state.engine_lock import describe_holder
    claims = [("engine", elected or shard_count > 1)]
    if shard_count > 1:
        claims.append((f"engine-shard-{shard_index}", elected))
    rt.store.lock_engine(describe_holder(role), claims)


@dataclass
class LiveFleet:
    """The fleet as a FleetConfig's providers see it now, planned (nothing is changed)."""
    config: FleetConfig
    policies: list[UpgradePolicy]
    clusters: list[Cluster]
    offers: Callable[[Cluster], VersionOffers | None]   # asked once per cluster; plan and forecast share them
    plan: Plan
    errors: dict[str, str]                               # provider -> why it could not be read
    rollout: RolloutStrategy | None = None               # the policies folder's fleet rollout, if any


def observe_live(config_file: str | Path, now: datetime) -> LiveFleet:
    config_file = Path(config_file)
    config = load_config(config_file)
    policies, rollout = load_policy_set(resolve_path(config_file, config.spec.policies))
    providers = build_providers(config_file, config, FakeClock(now))
    observer = Observer(providers)
    obs = observer.observe_fleet(now)
    clusters = list(obs.clusters.values())
    by_id = {c.id: observer.offers_for(c, now) for c in clusters}

    def offers(c: Cluster) -> VersionOffers | None:
        return by_id.get(c.id)
    checkers = {n: p.check_step for n, p in providers.items() if hasattr(p, "check_step")}
    plan = compute_plan(policies, clusters, offers, now, checkers, rules=provider_rules(providers))
    plan = StorableFilter().compute_storable_plan(plan)   # blocked as the engine would block them
    if rollout is not None:     # no state store is read here: qualification from the clusters' versions alone
        annotate_plan(plan, compute_qualifier(rollout, clusters, (), (), now))
    return LiveFleet(config, policies, clusters, offers, plan, dict(obs.errors), rollout)


def live_plan(config_file: str | Path, now: datetime) -> Plan:
    """`fleet plan --config`: plan against live discovery (nothing is changed)."""
    return observe_live(config_file, now).plan
