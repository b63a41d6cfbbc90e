"""The shared contract suite again, for the Cluster API kinds of issue #20: kubeadm clusters whose node pools
are MachinePools (DevMachinePool), and clusters with managed control planes and MachinePools — CAPA
AWSManagedControlPlane + AWSManagedMachinePool (EKS), CAPOCI OCIManagedControlPlane + OCIManagedMachinePool
(OKE), CAPZ AzureManagedControlPlane + AzureManagedMachinePool (AKS), CAPG GCPManagedControlPlane +
GCPManagedMachinePool (GKE) — and bring-your-own-host kubeadm clusters (ByoMachineTemplate +
K8sInstallerConfigTemplate), on CAPI v1beta2 and v1beta1 management clusters."""

from __future__ import annotations

import pytest

from tests.providers import test_contract as contract
from tests.providers.harness import KitHarness

CONTRACT_TESTS = [name for name in dir(contract) if name.startswith("test_")]
globals().update({name: getattr(contract, name) for name in CONTRACT_TESTS})


@pytest.fixture(params=["machinepool-v1beta2", "machinepool-v1beta1", "eks-v1beta2", "oke-v1beta2", "aks-v1beta2",
                        "gke-v1beta2", "eks-v1beta1", "oke-v1beta1", "byoh-v1beta2", "byoh-v1beta1"])
def h(request):
    flavour, _, version = request.param.partition("-")
    infra = {"machinepool": "DevMachineTemplate", "byoh": "ByoMachineTemplate"}.get(flavour, "OCIMachineTemplate")
    harness = KitHarness("capi", capi_version=version, flavour="kubeadm" if flavour == "byoh" else flavour,
                         infra_kind=infra)
    harness.start()
    yield harness
    harness.stop()


def test_contract_tests_were_imported():
    assert len(CONTRACT_TESTS) >= 9
