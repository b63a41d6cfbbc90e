"""Plan equals execution (tests/integration/test_plan_equals_execution.py) for the Cluster API kinds of issue
#20: kubeadm clusters with MachinePools (DevMachinePool) and clusters with managed control planes and
MachinePools (CAPA EKS, CAPOCI OKE, CAPZ AKS, CAPG GKE), and bring-your-own-host clusters, on a v1beta2
management cluster."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_plan_equals_execution import (
    test_every_provider_path_pool_mode_and_budget_executes_its_plan as _table,
)
from tests.providers.harness import KitHarness

test_every_kind_path_pool_mode_and_budget_executes_its_plan = _table


@pytest.fixture(params=["machinepool", "eks", "oke", "aks", "gke", "byoh"])
def kit(request: pytest.FixtureRequest) -> Any:
    infra = {"machinepool": "DevMachineTemplate", "byoh": "ByoMachineTemplate"}.get(request.param, "OCIMachineTemplate")
    h = KitHarness("capi", capi_version="v1beta2", flavour="kubeadm" if request.param == "byoh" else request.param,
                   infra_kind=infra)
    h.start()
    yield h
    h.stop()
