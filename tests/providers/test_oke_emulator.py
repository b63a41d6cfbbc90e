"""The OKE emulator, driven through the real oci SDK (ContainerEngineClient over http to 127.0.0.1)."""

from __future__ import annotations

from datetime import timedelta

import oci
import pytest
from oci.container_engine import models as m

from providers.oke.emulator.server import DEFAULT_COMPARTMENT as COMP
from providers.oke.emulator.server import OkeEmulator
from tests.providers.harness_oke import OkeHarness, oke_auth

VERSIONS = ["v1.30.1", "v1.30.10", "v1.31.1", "v1.31.10", "v1.32.1"]


@pytest.fixture
def h():
    harness = OkeHarness()
    harness.start()
    yield harness
    harness.stop()


def client(emu: OkeEmulator, region: str = "us-ashburn-1", **kw) -> oci.container_engine.ContainerEngineClient:
    a = oke_auth()
    cfg = {"tenancy": a["tenancy"], "user": a["user"], "fingerprint": a["fingerprint"], "region": region,
           "key_content": a["privateKey"]}
    signer = oci.signer.Signer(a["tenancy"], a["user"], a["fingerprint"], None, private_key_content=a["privateKey"])
    return oci.container_engine.ContainerEngineClient(
        cfg, signer=signer, service_endpoint=emu.endpoint.replace("{region}", region),
        retry_strategy=oci.retry.NoneRetryStrategy(),
        circuit_breaker_strategy=oci.circuit_breaker.NoCircuitBreakerStrategy(), **kw)


def _cycling(surge="1", unavailable="0", enabled=True) -> m.UpdateNodePoolDetails:
    return m.UpdateNodePoolDetails(kubernetes_version="v1.31.1", node_pool_cycling_details=m.NodePoolCyclingDetails(
        is_node_cycling_enabled=enabled, maximum_surge=surge, maximum_unavailable=unavailable))


@pytest.mark.parametrize("body,why", [
    ({"kubernetesVersionX": "v1"}, "kubernetesVersionX"),                                  # not in the model
    ({"kubernetesVersion": 131}, "kubernetesVersion: must be of type str"),                 # wrong JSON type
    ({"nodePoolCyclingDetails": {"isNodeCyclingEnabled": "yes"}}, "isNodeCyclingEnabled"),  # bool expected
    ({"nodePoolCyclingDetails": {"maximumSurge": 1}}, "maximumSurge"),                      # OKE takes strings
    ({"nodePoolCyclingDetails": {"surge": "1"}}, "nodePoolCyclingDetails.surge"),           # nested model
    ({"nodeEvictionNodePoolSettings": {"graceDuration": "PT5M"}}, "graceDuration"),
    ({"networkLaunchType": "FAST"}, "network_launch_type"),                                 # enum (SDK setter)
    ({"freeformTags": {"a": 1}}, "freeformTags.a"),                                         # dict(str, str)
])
def test_node_pool_bodies_are_checked_against_the_sdk_models(h, body, why):
    import requests
    e = h.emulator
    cid = e.add_cluster("raw", "v1.30.1", {"p": "v1.30.1"}, available=VERSIONS)
    pid = next(iter(e.clusters[cid].pools))
    e.require_signature = False
    r = requests.put(f"{e.url}/20180222/nodePools/{pid}", json=body, timeout=5)
    assert r.status_code == 400 and r.json()["code"] == "InvalidParameter" and why in r.json()["message"]
    assert e.upgrade_log == []


def test_cluster_bodies_are_checked_against_the_sdk_models(h):
    import requests
    e = h.emulator
    cid = e.add_cluster("raw", "v1.30.1", {}, available=VERSIONS)
    e.require_signature = False
    r = requests.put(f"{e.url}/20180222/clusters/{cid}", json={"type": "GIANT_CLUSTER"}, timeout=5)
    assert r.status_code == 400 and "type" in r.json()["message"]
    r = requests.put(f"{e.url}/20180222/clusters/{cid}", json={"kubernetesVersion": "v1.31.1",
                                                               "freeformTags": {"k": "v"}}, timeout=5)
    assert r.status_code == 202


def test_what_the_adapter_sends_passes_the_sdk_model_check(h):
    e = h.emulator
    cid = e.add_cluster("ok", "v1.31.1", {"p": "v1.30.1"}, available=VERSIONS)
    pid = next(iter(e.clusters[cid].pools))
    details = _cycling("25%", "1")
    details.node_eviction_node_pool_settings = m.NodeEvictionNodePoolSettings(eviction_grace_duration="PT5M")
    details.freeform_tags = {"fleet-upgrade-target": "v1.31.1"}
    assert client(e).update_node_pool(pid, details).status == 202


@pytest.mark.parametrize("cluster_type,shape", [("BASIC_CLUSTER", "VM.Standard.E4.Flex"),
                                                ("ENHANCED_CLUSTER", "BM.Standard.E5.192")])
def test_node_cycling_is_refused_on_basic_clusters_and_bare_metal(h, cluster_type, shape):
    """Oracle: cycling only on enhanced clusters, never with bare metal shapes (error code not published)."""
    e = h.emulator
    cid = e.add_cluster("nc", "v1.31.1", {"p": "v1.30.1"}, available=VERSIONS, cluster_type=cluster_type,
                        shapes={"p": shape})
    pid = next(iter(e.clusters[cid].pools))
    ce = client(e)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        ce.update_node_pool(pid, _cycling())
    assert info.value.status == 400 and info.value.code == "InvalidParameter"
    assert "cycling" in info.value.message and e.upgrade_log == []
    # without cycling OKE accepts the version change, but it reaches only nodes created later
    wr = ce.update_node_pool(pid, m.UpdateNodePoolDetails(kubernetes_version="v1.31.1")).headers["opc-work-request-id"]
    h.clock.advance(timedelta(hours=1))
    assert ce.get_work_request(wr).data.status == "SUCCEEDED"
    pool = ce.get_node_pool(pid).data
    assert pool.kubernetes_version == "v1.31.1" and pool.node_shape == shape
    assert {n.kubernetes_version for n in pool.nodes} == {"v1.30.1"}


def test_cycling_may_run_under_its_own_work_request(h):
    e = h.emulator
    e.cycling_work_request = True
    cid = e.add_cluster("cy", "v1.31.1", {"p": "v1.30.1"}, available=VERSIONS)
    pid = next(iter(e.clusters[cid].pools))
    ce = client(e)
    wr = ce.update_node_pool(pid, _cycling()).headers["opc-work-request-id"]
    h.clock.advance(timedelta(minutes=1))
    assert ce.get_work_request(wr).data.status == "SUCCEEDED"
    running = ce.list_work_requests(COMP, cluster_id=cid, resource_id=pid, resource_type="NODEPOOL",
                                    status=["ACCEPTED", "IN_PROGRESS"]).data
    assert [w.operation_type for w in running] == ["NODEPOOL_CYCLING"]
    pool = ce.get_node_pool(pid).data
    assert pool.lifecycle_state == "UPDATING" and {n.kubernetes_version for n in pool.nodes} == {"v1.30.1"}
    with pytest.raises(oci.exceptions.ServiceError) as info:        # one update at a time, cycling included
        ce.update_node_pool(pid, _cycling())
    assert info.value.status == 409
    h.clock.advance(timedelta(seconds=e.pending_seconds() + 1))
    assert ce.get_work_request(running[0].id).data.status == "SUCCEEDED"
    assert {n.kubernetes_version for n in ce.get_node_pool(pid).data.nodes} == {"v1.31.1"}


def test_response_shapes_use_only_sdk_model_fields(h):
    e = h.emulator
    cid = e.add_cluster("shapes", "v1.30.1", {"p": "v1.30.1"}, available=VERSIONS)
    ce = client(e)
    wr = ce.update_cluster(cid, m.UpdateClusterDetails(kubernetes_version="v1.31.1")).headers["opc-work-request-id"]
    c = e.clusters[cid]
    pool = next(iter(c.pools.values()))
    checks = [(e._cluster_json(c), m.Cluster), (e._cluster_json(c), m.ClusterSummary),
              (e._pool_json(pool, True), m.NodePool), (e._pool_json(pool, False), m.NodePoolSummary),
              (e._wr_json(e.work_requests[wr]), m.WorkRequest), (e._wr_json(e.work_requests[wr]), m.WorkRequestSummary)]
    for body, model in checks:
        assert set(body) <= set(model().attribute_map.values()), model.__name__
    assert set(pool.nodes[0]) <= set(m.Node().attribute_map.values())
    # and the SDK parses them into its models with the values intact
    got = ce.get_cluster(cid).data
    assert isinstance(got, m.Cluster) and got.lifecycle_state == "UPDATING" and got.kubernetes_version == "v1.30.1"
    assert isinstance(ce.get_work_request(wr).data.resources[0], m.WorkRequestResource)


def test_operations_progress_only_with_virtual_time(h):
    e, clock = h.emulator, h.clock
    cid = e.add_cluster("time", "v1.30.1", {"p": "v1.30.1"}, available=VERSIONS)
    ce = client(e)
    assert ce.get_cluster(cid).data.available_kubernetes_upgrades == ["v1.30.10", "v1.31.1", "v1.31.10"]
    resp = ce.update_cluster(cid, m.UpdateClusterDetails(kubernetes_version="v1.31.1"))
    assert resp.status == 202
    wr = resp.headers["opc-work-request-id"]
    assert ce.get_work_request(wr).data.status == "ACCEPTED"
    for _ in range(3):                                   # real time passing changes nothing
        assert ce.get_work_request(wr).data.status == "ACCEPTED"
    clock.advance(timedelta(seconds=30))
    assert ce.get_work_request(wr).data.status == "IN_PROGRESS"
    assert ce.get_cluster(cid).data.kubernetes_version == "v1.30.1"       # unchanged until completion
    clock.advance(timedelta(minutes=30))
    done = ce.get_work_request(wr).data
    assert done.status == "SUCCEEDED" and done.time_finished is not None
    c = ce.get_cluster(cid).data
    assert (c.kubernetes_version, c.lifecycle_state) == ("v1.31.1", "ACTIVE")
    assert c.available_kubernetes_upgrades == ["v1.31.10", "v1.32.1"]


def test_second_update_while_one_runs_is_refused(h):
    e = h.emulator
    cid = e.add_cluster("busy", "v1.30.1", {"p": "v1.30.1"}, available=VERSIONS)
    ce = client(e)
    ce.update_cluster(cid, m.UpdateClusterDetails(kubernetes_version="v1.31.1"))
    with pytest.raises(oci.exceptions.ServiceError) as info:
        ce.update_cluster(cid, m.UpdateClusterDetails(kubernetes_version="v1.30.10"))
    assert (info.value.status, info.value.code) == (409, "IncorrectState")
    pid = next(iter(e.clusters[cid].pools))
    with pytest.raises(oci.exceptions.ServiceError) as info:
        ce.update_node_pool(pid, _cycling())
    assert info.value.status == 409
    assert len(e.upgrade_log) == 1


def test_node_pool_cycling_records_knobs_and_replaces_nodes(h):
    e, clock = h.emulator, h.clock
    cid = e.add_cluster("cyc", "v1.31.1", {"p": "v1.30.1"}, available=VERSIONS, nodes=4)
    ce = client(e)
    pid = next(iter(e.clusters[cid].pools))
    old_nodes = {n.id for n in ce.get_node_pool(pid).data.nodes}
    details = _cycling("50%", "1")
    details.node_eviction_node_pool_settings = m.NodeEvictionNodePoolSettings(eviction_grace_duration="PT20M")
    ce.update_node_pool(pid, details)
    entry = e.upgrade_log[-1]
    assert entry["nodePoolCyclingDetails"] == {"isNodeCyclingEnabled": True, "maximumSurge": "50%",
                                               "maximumUnavailable": "1"}
    assert entry["nodeEvictionNodePoolSettings"] == {"evictionGraceDuration": "PT20M"}
    assert ce.get_node_pool(pid).data.kubernetes_version == "v1.30.1"
    clock.advance(timedelta(seconds=e.pending_seconds()))
    pool = ce.get_node_pool(pid).data
    assert pool.kubernetes_version == "v1.31.1" and pool.node_pool_cycling_details.maximum_surge == "50%"
    assert {n.kubernetes_version for n in pool.nodes} == {"v1.31.1"}
    assert not old_nodes & {n.id for n in pool.nodes}


@pytest.mark.parametrize("details,why", [
    (m.UpdateClusterDetails(kubernetes_version="v1.99.0"), "Invalid kubernetesVersion"),
    (m.UpdateClusterDetails(kubernetes_version="v1.32.1"), "Invalid kubernetesVersion"),   # two minors ahead
])
def test_invalid_cluster_versions_are_400(h, details, why):
    cid = h.emulator.add_cluster("bad", "v1.30.1", {}, available=VERSIONS)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        client(h.emulator).update_cluster(cid, details)
    assert info.value.status == 400 and why in info.value.message
    assert h.emulator.upgrade_log == []


@pytest.mark.parametrize("details,why", [
    (_cycling("0", "0"), "cannot both be 0"),
    (_cycling("7", "0"), "node pool size"),
    (_cycling("120%", "0"), "0% and 100%"),
    (_cycling("x", "0"), "integer or a percentage"),
    (m.UpdateNodePoolDetails(kubernetes_version="v1.32.1"), "newer than the control plane"),
    (m.UpdateNodePoolDetails(kubernetes_version="v1.29.1"), "Invalid kubernetesVersion"),
])
def test_invalid_node_pool_updates_are_400(h, details, why):
    cid = h.emulator.add_cluster("badpool", "v1.31.1", {"p": "v1.30.1"}, available=VERSIONS)
    pid = next(iter(h.emulator.clusters[cid].pools))
    with pytest.raises(oci.exceptions.ServiceError) as info:
        client(h.emulator).update_node_pool(pid, details)
    assert info.value.status == 400 and why in info.value.message


def test_unknown_properties_and_unsigned_requests_are_refused(h):
    import requests
    cid = h.emulator.add_cluster("raw", "v1.30.1", {}, available=VERSIONS)
    r = requests.put(f"{h.emulator.url}/20180222/clusters/{cid}", json={"kubernetesVersion": "v1.31.1"}, timeout=5)
    assert r.status_code == 401 and r.json()["code"] == "NotAuthenticated"
    h.emulator.require_signature = False
    r = requests.put(f"{h.emulator.url}/20180222/clusters/{cid}", json={"kubernetesVersionX": "v1"}, timeout=5)
    assert r.status_code == 400 and "kubernetesVersionX" in r.json()["message"]
    r = requests.put(f"{h.emulator.url}/20180222/clusters/{cid}", data="[1]", timeout=5,
                     headers={"Content-Type": "application/json"})
    assert r.status_code == 400


@pytest.mark.parametrize("fault,status,code", [("throttle", 429, "TooManyRequests"),
                                               ("server-error", 503, "ServiceUnavailable"),
                                               ("forbidden", 403, "NotAllowed"),
                                               ("not-found", 404, "NotAuthorizedOrNotFound")])
def test_one_shot_faults(h, fault, status, code):
    e = h.emulator
    e.add_cluster("f", "v1.30.1", {}, available=VERSIONS)
    ce = client(e)
    e.inject(fault)
    with pytest.raises(oci.exceptions.ServiceError) as info:
        ce.list_clusters(COMP)
    assert (info.value.status, info.value.code) == (status, code)
    if status in (429, 503):
        assert info.value.headers["Retry-After"] == "2"
    assert len(ce.list_clusters(COMP).data) == 1


def test_timeout_fault_exceeds_the_client_timeout(h):
    e = h.emulator
    e.server.timeout_delay_s = 1.0
    e.inject("timeout")
    with pytest.raises(oci.exceptions.RequestException):
        client(e, timeout=(1, 0.3)).list_clusters(COMP)


def test_fail_operation_ends_failed_with_errors_and_no_change(h):
    e, clock = h.emulator, h.clock
    cid = e.add_cluster("fail", "v1.30.1", {}, available=VERSIONS)
    ce = client(e)
    e.inject("fail-operation")
    wr = ce.update_cluster(cid, m.UpdateClusterDetails(kubernetes_version="v1.31.1")).headers["opc-work-request-id"]
    clock.advance(timedelta(hours=1))
    assert ce.get_work_request(wr).data.status == "FAILED"
    errors = ce.list_work_request_errors(COMP, wr).data
    assert errors and "emulated failure" in errors[0].message
    c = ce.get_cluster(cid).data
    assert (c.kubernetes_version, c.lifecycle_state) == ("v1.30.1", "ACTIVE")
    # the fault was one-shot: the retry succeeds
    wr2 = ce.update_cluster(cid, m.UpdateClusterDetails(kubernetes_version="v1.31.1")).headers["opc-work-request-id"]
    clock.advance(timedelta(hours=1))
    assert ce.get_work_request(wr2).data.status == "SUCCEEDED"


def test_regions_paging_options_and_work_request_filters(h):
    e = h.emulator
    for i in range(5):
        e.add_cluster(f"c{i}", "v1.30.1", {}, available=VERSIONS)
    fra = e.add_cluster("fra", "v1.30.1", {}, region="eu-frankfurt-1", available=VERSIONS)
    ce = client(e)
    got = oci.pagination.list_call_get_all_results(ce.list_clusters, COMP, limit=2).data
    assert sorted(c.name for c in got) == [f"c{i}" for i in range(5)]
    assert [c.id for c in client(e, "eu-frankfurt-1").list_clusters(COMP).data] == [fra]
    with pytest.raises(oci.exceptions.ServiceError) as info:
        ce.get_cluster(fra)                               # OCIDs are regional
    assert info.value.status == 404
    assert ce.get_cluster_options("all").data.kubernetes_versions == ["v1.30.10", "v1.31.10", "v1.32.1"]
    assert ce.get_cluster_options("all", should_list_all_patch_versions=True).data.kubernetes_versions == VERSIONS
    wr = ce.update_cluster(got[0].id, m.UpdateClusterDetails(kubernetes_version="v1.30.10"))
    running = ce.list_work_requests(COMP, cluster_id=got[0].id, status=["ACCEPTED", "IN_PROGRESS"]).data
    assert [w.id for w in running] == [wr.headers["opc-work-request-id"]]
    assert ce.list_work_requests(COMP, cluster_id=got[1].id).data == []
