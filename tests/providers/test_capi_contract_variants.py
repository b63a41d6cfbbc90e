"""The shared contract suite again, for the other flavours: management clusters that serve only CAPI v1beta1
(CAPI <= 1.10), and DevMachineTemplate infrastructure (the Docker test provider's ``customImage``)."""

from __future__ import annotations

import pytest

from tests.providers import test_contract as contract
from tests.providers.harness_capi import CapiHarness

CONTRACT_TESTS = [name for name in dir(contract) if name.startswith("test_")]
globals().update({name: getattr(contract, name) for name in CONTRACT_TESTS})


@pytest.fixture(params=["v1beta1-oci", "v1beta1-dev", "v1beta2-dev"])
def h(request):
    version, _, flavour = request.param.partition("-")
    harness = CapiHarness(version, "OCIMachineTemplate" if flavour == "oci" else "DevMachineTemplate")
    harness.start()
    yield harness
    harness.stop()


def test_contract_tests_were_imported():
    assert len(CONTRACT_TESTS) >= 9
