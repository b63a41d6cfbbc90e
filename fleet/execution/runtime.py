"""Build a running fleet from a FleetConfig: state store, provider instances, policies, engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from fleet.clock import Clock, SystemClock
from fleet.errors import InputError, Problem, ProviderNotFound
from fleet.execution.engine import Engine
from fleet.planning.plan import Plan
from fleet.policy.loader import load_config, load_policies, resolve_path
from fleet.policy.models import FleetConfig, UpgradePolicy
from fleet.provider import Cluster, Provider, VersionOffers, create_provider
from fleet.state.store import SqlStore as Store  # the SQL store (fleet.state.store.Store is now the protocol)


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
    providers: dict[str, Provider] = {}
    problems: list[Problem] = []
    for i, pc in enumerate(config.spec.providers):
        try:
            providers[pc.name] = create_provider(pc.type, pc.name, pc.settings, clock=clock,
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


def build_runtime(config_file: str | Path, clock: Clock | None = None, *, actor: str = "engine",
                  state_url: str | None = None, **engine_kw: Any) -> Runtime:
    config_file = Path(config_file)
    clock = clock or SystemClock()
    config = load_config(config_file)
    policies_path = resolve_path(config_file, config.spec.policies)
    load_policies(policies_path)  # validate now: bad policies stop start-up with file:line errors
    providers = build_providers(config_file, config, clock)
    store = Store(state_url or resolve_state_url(config_file, config.spec.state.url))
    def rt_policies() -> list[UpgradePolicy]:
        return load_policies(policies_path)

    engine = Engine(store, providers, rt_policies, clock, reconcile_interval=config.spec.reconcile_interval,
                    actor=actor, **engine_kw)
    return Runtime(config_file, config, store, providers, engine, policies_path)


@dataclass
class LiveFleet:
    """The fleet as a FleetConfig's providers see it now, planned (nothing is changed)."""
    config: FleetConfig
    policies: list[UpgradePolicy]
    clusters: list[Cluster]
    offers: Callable[[Cluster], VersionOffers | None]   # asked once per cluster; plan and forecast share them
    plan: Plan
    errors: dict[str, str]                               # provider -> why it could not be read


def observe_live(config_file: str | Path, now: datetime) -> LiveFleet:
    from fleet.clock import FakeClock
    from fleet.execution.observe import Observer
    from fleet.planning.planner import compute_plan
    config_file = Path(config_file)
    config = load_config(config_file)
    policies = load_policies(resolve_path(config_file, config.spec.policies))
    providers = build_providers(config_file, config, FakeClock(now))
    observer = Observer(providers)
    obs = observer.observe_fleet(now)
    clusters = list(obs.clusters.values())
    by_id = {c.id: observer.offers_for(c, now) for c in clusters}

    def offers(c: Cluster) -> VersionOffers | None:
        return by_id.get(c.id)
    checkers = {n: p.check_step for n, p in providers.items() if hasattr(p, "check_step")}
    plan = compute_plan(policies, clusters, offers, now, checkers)
    return LiveFleet(config, policies, clusters, offers, plan, dict(obs.errors))


def live_plan(config_file: str | Path, now: datetime) -> Plan:
    """`fleet plan --config`: plan against live discovery (nothing is changed)."""
    return observe_live(config_file, now).plan
