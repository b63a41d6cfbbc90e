"""Building blocks for HA tests: fleets on the sim provider with leader election, and electors to drive."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from fleet.clock import FakeClock
from fleet.daemon.leader import make_elector
from fleet.daemon.service import Daemon
from fleet.policy.models import LeaderElectionConfig
from fleet.runtime import build_runtime
from tests.integration.fleetfiles import free_port, write_fleet

LEASE = timedelta(seconds=30)


def ha_fleet(d: Path, *, n: int = 3, state: str, lease: str = "30s", backend: str = "database",
             replicas: int = 2, token: str = "s3cr3t-canary-token", extra: str = "", **kw) -> list[Path]:
    """One fleet (one sim stateFile, one state store) and one FleetConfig per replica (each its own port)."""
    cfg = write_fleet(d, n=n, state=f'"{state}"', token=token, **kw)
    text = cfg.read_text() + f"  leaderElection:\n    backend: {backend}\n    leaseDuration: {lease}\n" + extra
    out = []
    for i in range(replicas):
        p = d / f"fleet-{i}.yaml"
        p.write_text(re.sub(r"listen: 127\.0\.0\.1:\d+", f"listen: 127.0.0.1:{free_port()}", text))
        out.append(p)
    return out


def port_of(cfg: Path) -> int:
    m = re.search(r"listen: 127\.0\.0\.1:(\d+)", cfg.read_text())
    assert m
    return int(m.group(1))


def replica(cfg: Path, clock: FakeClock, name: str, state_url: str, lease: timedelta = LEASE) -> Daemon:
    """An in-process daemon with a database lease, driven by hand (elector.step(), daemon.tick())."""
    rt = build_runtime(cfg, clock, actor=name, state_url=state_url)
    el = make_elector(rt, LeaderElectionConfig.model_validate(
        {"backend": "database", "leaseDuration": f"{lease.total_seconds():g}s"}), identity=name)
    return Daemon(rt, clock, leader=el)
