"""The simulated provider's own rules (the contract suite covers the rest)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from fleet.clock import FakeClock
from fleet.errors import PermanentProviderError
from fleet.provider import Cluster, Component, NodePool, Step
from providers.sim.adapter import SimProvider
from providers.sim.world import SimWorld


def _provider() -> tuple[SimProvider, Cluster]:
    clock = FakeClock(datetime(2026, 3, 2, tzinfo=UTC))
    world = SimWorld(clock)
    # the control plane runs 1.29.3, which is no longer offered; its pool is behind on 1.28.9
    world.add(Cluster(provider="sim", location="lab", name="a", control_plane="1.29.3",
                      node_pools=(NodePool("np", "1.28.9", 2),), available=("1.29.8", "1.30.4")))
    p = SimProvider("sim", clock=clock, world=world)
    return p, p.discover()[0]


def _pool_step(to: str) -> Step:
    return Step(component=Component.NODE_POOL, from_="1.28.9", to=to, pool="np",
                max_surge=1, max_unavailable=0)


def test_a_pool_may_join_its_control_plane_version_even_when_unoffered():
    p, c = _provider()
    assert p.start(c, _pool_step("1.29.3")).id


@pytest.mark.parametrize("to", ["1.29.2", "1.29.8"])
def test_a_pool_may_not_run_an_unoffered_or_newer_version(to):
    p, c = _provider()
    with pytest.raises(PermanentProviderError):
        p.start(c, _pool_step(to))
