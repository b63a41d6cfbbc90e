from __future__ import annotations

from datetime import timedelta

from fleet.clock import FakeClock
from fleet.provider import Cluster, NodePool
from providers.sim.adapter import SimProvider
from providers.sim.world import Faults, SimWorld


class SimHarness:
    type = "sim"

    def __init__(self) -> None:
        self.clock = FakeClock()
        self.world = SimWorld(self.clock, faults=Faults())
        self._next_fault: str | None = None

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def provider(self) -> SimProvider:
        return _FaultySim(self, name="sim", clock=self.clock, world=self.world)

    def seed(self, name, control_plane, pools, available):  # noqa: ANN001, ANN201
        self.world.add(Cluster(provider="sim", location="local", name=name, control_plane=control_plane,
                               node_pools=tuple(NodePool(n, v, 3) for n, v in pools.items()),
                               available=tuple(available)))
        return f"sim/local/{name}"

    def finish_operations(self) -> None:
        self.clock.advance(timedelta(days=1))

    def upgrade_calls(self, cluster_id: str) -> int:
        return sum(1 for cid, _ in self.world.upgrade_log if cid == cluster_id)

    def inject(self, fault: str) -> None:
        if fault == "fail-operation":
            self.world.faults.step_failure_rate = 1.0
        else:
            self._next_fault = fault

    def versions(self) -> tuple[str, str, str]:
        return ("1.29.2", "1.29.8", "1.30.4")


class _FaultySim(SimProvider):
    """The sim's own fault injection is probabilistic; the harness adds one-shot faults for the suite."""

    def __init__(self, harness: SimHarness, **kw):  # noqa: ANN003
        super().__init__(**kw)
        self._h = harness

    def _call(self, method: str) -> None:
        fault, self._h._next_fault = self._h._next_fault, None
        from fleet.errors import PermanentProviderError, TemporaryProviderError
        if fault == "throttle":
            raise TemporaryProviderError("throttled", provider=self.name, code="429", retry_after=7.0)
        if fault == "server-error":
            raise TemporaryProviderError("server error", provider=self.name, code="500")
        if fault == "forbidden":
            raise PermanentProviderError("forbidden", provider=self.name, code="403")
        super()._call(method)


def make_harness() -> SimHarness:
    return SimHarness()
