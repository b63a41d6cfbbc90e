"""Leader election on a Kubernetes Lease (coordination.k8s.io/v1) through the official client, against the
Cluster API emulator's kube-apiserver; the epoch (leaseTransitions) is written through to the store's lease
row so the store fence holds."""

from __future__ import annotations

from datetime import timedelta

import pytest
from kubernetes import client

from fleet.clock import FakeClock
from fleet.daemon.leader import NO_EPOCH, lease_row, make_elector
from fleet.daemon.lease_k8s import KubernetesLease, coordination_api
from fleet.errors import FencedError
from fleet.policy.models import LeaderElectionConfig
from fleet.runtime import build_runtime
from fleet.state.store import SqlStore as Store
from providers.capi.emulator.server import CapiEmulator
from tests.execution.helpers import START
from tests.ha.helpers import ha_fleet
from tests.providers.harness_capi import write_kubeconfig

TOKEN = "lease-test-token"
LEASE = timedelta(seconds=15)
NS = "fleet-system"


@pytest.fixture
def emu():
    e = CapiEmulator(FakeClock(START), token=TOKEN).start()
    yield e
    e.stop()


def coord(emu: CapiEmulator) -> client.CoordinationV1Api:
    cfg = client.Configuration(host=emu.url)
    cfg.api_key = {"BearerToken": TOKEN}
    cfg.api_key_prefix = {"BearerToken": "Bearer"}
    cfg.retries = 0
    return client.CoordinationV1Api(client.ApiClient(cfg))


def elector(emu, url: str, name: str) -> KubernetesLease:
    return KubernetesLease(coord(emu), NS, "fleet-leader", name, LEASE, emu.clock, store=Store(url))


def test_lease_acquire_renew_takeover_fence_release(emu, store_url):
    clock: FakeClock = emu.clock
    a, b = elector(emu, store_url, "A"), elector(emu, store_url, "B")
    assert a.step() is True and b.step() is False
    lease = emu.get("Lease", "fleet-leader", NS)["spec"]
    assert lease["holderIdentity"] == "A" and lease["leaseDurationSeconds"] == 15
    assert lease["leaseTransitions"] == 0 and lease["acquireTime"] and lease["renewTime"]
    assert a.epoch == 0 and lease_row(a.store, "fleet-leader")["epoch"] == 0     # written through
    with a.store.write("leader write"):                                        # the fence admits A
        pass
    for _ in range(4):                                                          # A renews; B waits
        clock.advance(LEASE / 3)
        assert a.step() and not b.step()
    renewed = emu.get("Lease", "fleet-leader", NS)["spec"]
    assert renewed["renewTime"] != lease["renewTime"] and renewed["acquireTime"] == lease["acquireTime"]
    # kill -9: A stops renewing; B takes over within two lease durations of A's last renewal
    a.abandon()
    last = clock.now()
    while not b.step():
        clock.advance(LEASE / 6)
        assert clock.now() - last <= 2 * LEASE
    spec = emu.get("Lease", "fleet-leader", NS)["spec"]
    assert spec["holderIdentity"] == "B" and spec["leaseTransitions"] == 1 and b.epoch == 1
    assert lease_row(b.store, "fleet-leader")["epoch"] == 1
    with pytest.raises(FencedError):                                            # A's late write is refused
        with a.store.write("stale write"):
            pass
    assert a.step() is False and a.store.fence == ("fleet-leader", NO_EPOCH)
    # release: the holder is emptied and the standby takes over at once, one more transition
    b.release()
    assert emu.get("Lease", "fleet-leader", NS)["spec"]["holderIdentity"] in ("", None)
    assert a.step() is True and a.epoch == 2
    assert emu.get("Lease", "fleet-leader", NS)["spec"]["leaseTransitions"] == 2


def test_racing_replicas_one_wins_by_resource_version(emu, tmp_path):
    """Two replicas that read the same expired Lease both try to PUT it: the resourceVersion admits one."""
    url = f"sqlite:///{tmp_path}/s.db"
    a, b, c = (elector(emu, url, n) for n in "ABC")
    assert a.step()
    assert not b.step() and not c.step()             # both observe A's record now
    a.abandon()
    emu.clock.advance(LEASE + timedelta(seconds=1))
    won = [b.step(), c.step()]
    assert sorted(won) == [False, True]
    assert emu.get("Lease", "fleet-leader", NS)["spec"]["leaseTransitions"] == 1


def test_recreated_lease_is_raised_above_the_store_epoch(emu, tmp_path):
    """A Lease deleted and re-created restarts leaseTransitions at 0; the store's row says 1. The new holder
    raises the Lease above the row before acting, so the fence still orders the holders."""
    url = f"sqlite:///{tmp_path}/s.db"
    a, b = elector(emu, url, "A"), elector(emu, url, "B")
    assert a.step() and not b.step()
    a.release()
    assert b.step() and b.epoch == 1
    b.abandon()
    coord(emu).delete_namespaced_lease("fleet-leader", NS)
    assert a.step() is True
    assert a.epoch == 2 and emu.get("Lease", "fleet-leader", NS)["spec"]["leaseTransitions"] == 2
    assert lease_row(a.store, "fleet-leader")["epoch"] == 2
    with pytest.raises(FencedError):
        with b.store.write("stale"):
            pass


def test_make_elector_reads_the_kubeconfig_next_to_the_config(emu, tmp_path):
    write_kubeconfig(tmp_path / "kubeconfig", {"mgmt": emu.url}, token=TOKEN)
    cfg, = ha_fleet(tmp_path, n=1, state=f"sqlite:///{tmp_path}/s.db", replicas=1)
    rt = build_runtime(cfg, emu.clock)
    le = LeaderElectionConfig.model_validate({"backend": "kubernetes", "namespace": NS, "kubeconfig": "kubeconfig",
                                              "context": "mgmt", "leaseDuration": "15s"})
    el = make_elector(rt, le, identity="X")
    assert isinstance(el, KubernetesLease) and el.step() and el.epoch == 0
    assert emu.get("Lease", "fleet-leader", NS)["spec"]["holderIdentity"] == "X"
    assert rt.engine.epoch == 0 and rt.store.fence == ("fleet-leader", 0)
    assert coordination_api(tmp_path / "kubeconfig", "mgmt").api_client.configuration.host == emu.url
    rt.store.close()
