"""The GKE emulator on its own, driven by the real SDK (REST) and by raw HTTP."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import timedelta

import google.api_core.exceptions as google_exc
import google.cloud.container_v1 as container_v1
import pytest
from google.auth.credentials import AnonymousCredentials

from fleet.clock import FakeClock
from providers.gke.emulator.server import GkeEmulator

V1, V2, V3 = "1.29.4-gke.1043002", "1.29.8-gke.1211000", "1.30.2-gke.1587003"
C = "projects/p/locations/europe-west1/clusters/c1"
NP = f"{C}/nodePools/np1"


@pytest.fixture
def env():
    clock = FakeClock()
    em = GkeEmulator(clock, master_seconds=600, node_seconds=100)
    em.server.timeout_delay_s = 0.2
    em.set_versions([V1, V2, V3], project="p")
    em.add_cluster("c1", V1, {"np1": V1, "np2": {"version": V1, "nodes": 2}}, project="p", location="europe-west1")
    em.start()
    client = container_v1.ClusterManagerClient(credentials=AnonymousCredentials(), transport="rest",
                                               client_options={"api_endpoint": em.url})
    yield clock, em, client
    em.stop()


def _pool_request(version: str, **settings) -> container_v1.UpdateNodePoolRequest:
    return container_v1.UpdateNodePoolRequest(name=NP, node_version=version, image_type="COS_CONTAINERD",
                                              upgrade_settings=container_v1.NodePool.UpgradeSettings(**settings))


def _raw(em: GkeEmulator, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(em.url + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_operations_progress_only_with_virtual_time(env):
    clock, _, client = env
    op = client.update_master(name=C, master_version=V3, retry=None)
    name = f"projects/p/locations/europe-west1/operations/{op.name}"
    assert op.status == container_v1.Operation.Status.RUNNING
    assert client.get_cluster(name=C, retry=None).status == container_v1.Cluster.Status.RECONCILING
    clock.advance(599)
    assert client.get_operation(name=name, retry=None).status == container_v1.Operation.Status.RUNNING
    assert client.get_cluster(name=C, retry=None).current_master_version == V1     # unchanged while running
    clock.advance(1)
    done = client.get_operation(name=name, retry=None)
    assert done.status == container_v1.Operation.Status.DONE and done.end_time
    cluster = client.get_cluster(name=C, retry=None)
    assert cluster.current_master_version == V3
    assert cluster.status == container_v1.Cluster.Status.RUNNING


def test_node_pool_duration_follows_the_budget(env):
    clock, _, client = env
    client.update_master(name=C, master_version=V3, retry=None)
    clock.advance(600)
    op = client.update_node_pool(request=_pool_request(V3, max_surge=3, max_unavailable=0), retry=None)
    assert {m.name: m.int_value for m in op.progress.metrics}["NODES_TOTAL"] == 3
    clock.advance(100)          # 3 nodes, 3 at once: one batch of 100 s
    pool = client.get_node_pool(name=NP, retry=None)
    assert pool.version == V3 and pool.status == container_v1.NodePool.Status.RUNNING
    assert pool.upgrade_settings.max_surge == 3


def test_second_upgrade_while_one_runs_is_refused(env):
    clock, em, client = env
    first = client.update_master(name=C, master_version=V2, retry=None)
    with pytest.raises(google_exc.BadRequest) as info:
        client.update_master(name=C, master_version=V3, retry=None)
    body = info.value.response.json()["error"]
    assert body["status"] == "FAILED_PRECONDITION" and first.name in body["message"]
    assert "is currently upgrading" in body["message"]
    with pytest.raises(google_exc.BadRequest):       # a node pool of the same cluster is refused too
        client.update_node_pool(request=_pool_request(V1, max_surge=1), retry=None)
    assert len(em.upgrade_log) == 1
    clock.advance(600)
    client.update_master(name=C, master_version=V3, retry=None)      # after it is done: accepted
    assert [e["version"] for e in em.upgrade_log] == [V2, V3]


@pytest.mark.parametrize("fault,exc,status", [
    ("throttle", google_exc.TooManyRequests, "RESOURCE_EXHAUSTED"),
    ("server-error", google_exc.ServiceUnavailable, "UNAVAILABLE"),
    ("forbidden", google_exc.Forbidden, "PERMISSION_DENIED"),
    ("not-found", google_exc.NotFound, "NOT_FOUND"),
])
def test_injected_faults_are_one_shot_and_shaped_like_gke(env, fault, exc, status):
    _, em, client = env
    em.inject(fault)
    with pytest.raises(exc) as info:
        client.get_server_config(name="projects/p/locations/europe-west1", retry=None)
    assert info.value.response.json()["error"]["status"] == status
    if fault == "throttle":
        assert info.value.response.headers["Retry-After"] == "2"
    assert client.get_server_config(name="projects/p/locations/europe-west1", retry=None).valid_master_versions


def test_timeout_fault_answers_late(env):
    _, em, client = env
    em.inject("timeout")
    with pytest.raises(Exception):  # noqa: B017 - requests' ReadTimeout; the adapter test checks the mapping
        client.get_cluster(name=C, retry=None, timeout=0.05)


def test_failed_operation_leaves_versions(env):
    clock, em, client = env
    em.inject("fail-operation")
    op = client.update_master(name=C, master_version=V2, retry=None)
    clock.advance(3600)
    done = client.get_operation(name=f"projects/p/locations/europe-west1/operations/{op.name}", retry=None)
    assert done.status == container_v1.Operation.Status.DONE
    assert done.error.code == 13 and "injected" in done.error.message
    assert client.get_cluster(name=C, retry=None).current_master_version == V1
    info = client.fetch_cluster_upgrade_info(name=C, retry=None)
    assert info.upgrade_details[0].state == container_v1.UpgradeDetails.State.FAILED


def test_upgrade_settings_are_recorded(env):
    clock, em, client = env
    client.update_node_pool(request=_pool_request(V1, max_surge=2, max_unavailable=1, strategy="SURGE"), retry=None)
    clock.advance(3600)
    client.update_master(name=C, master_version=V2, retry=None)
    clock.advance(600)
    client.update_node_pool(request=_pool_request(V2, strategy="BLUE_GREEN", blue_green_settings={
        "standard_rollout_policy": {"batch_percentage": 0.5, "batch_soak_duration": timedelta(seconds=60)},
        "node_pool_soak_duration": timedelta(seconds=300)}), retry=None)
    pool_entries = [e for e in em.upgrade_log if e["nodePool"] == "np1"]
    assert pool_entries[0]["upgradeSettings"] == {"maxSurge": 2, "maxUnavailable": 1, "strategy": "SURGE"}
    assert pool_entries[1]["upgradeSettings"] == {
        "strategy": "BLUE_GREEN", "blueGreenSettings": {
            "standardRolloutPolicy": {"batchPercentage": 0.5, "batchSoakDuration": "60s"},
            "nodePoolSoakDuration": "300s"}}
    # blue-green: green pool (100 s) + 2 batches x (100 s + 60 s soak) + 300 s pool soak = 720 s
    clock.advance(719)
    assert client.get_node_pool(name=NP, retry=None).version == V1
    clock.advance(1)
    assert client.get_node_pool(name=NP, retry=None).version == V2


@pytest.mark.parametrize("version,fragment", [
    ("1.99.0", "unsupported"),
    ("1.31.0-gke.1", "unsupported"),
    ("nonsense", "unsupported"),
])
def test_invalid_master_versions_are_refused(env, version, fragment):
    _, em, client = env
    with pytest.raises(google_exc.BadRequest) as info:
        client.update_master(name=C, master_version=version, retry=None)
    assert info.value.response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert fragment in info.value.message
    assert em.upgrade_log == []


def test_cloud_rules_minor_skip_node_newer_than_master_both_zero(env):
    _, em, client = env
    em.set_versions([V1, V3, "1.31.1-gke.1"], project="p")
    em.add_cluster("old", "1.29.4-gke.1043002", {"np1": V1}, project="p", location="europe-west1")
    with pytest.raises(google_exc.BadRequest, match="one minor"):
        client.update_master(name=C.replace("c1", "old"), master_version="1.31.1-gke.1", retry=None)
    with pytest.raises(google_exc.BadRequest, match="newer than the master"):
        client.update_node_pool(request=_pool_request(V3, max_surge=1), retry=None)
    with pytest.raises(google_exc.BadRequest, match="both be 0"):
        client.update_node_pool(request=_pool_request(V1, max_surge=0, max_unavailable=0), retry=None)
    assert client.update_master(name=C, master_version="1.30", retry=None).status   # GKE alias 1.X works
    assert em.upgrade_log[-1]["version"] == V3


def test_malformed_bodies_and_enum_encoding(env):
    _, em, _ = env
    status, body = _raw(em, "POST", f"/v1/{C}:updateMaster", {"masterVersion": V2, "bogusField": 1})
    assert status == 400 and body["error"]["status"] == "INVALID_ARGUMENT"
    status, body = _raw(em, "PUT", f"/v1/{NP}", {"nodeVersion": 129, "imageType": "COS_CONTAINERD"})
    assert status == 400
    status, body = _raw(em, "PUT", f"/v1/{NP}", {"nodeVersion": V1})             # imageType is required
    assert status == 400 and "image_type" in body["error"]["message"]
    status, body = _raw(em, "GET", f"/v1/{C}")
    assert status == 200 and body["status"] == "RUNNING"                           # strings by default
    status, body = _raw(em, "GET", f"/v1/{C}?%24alt=json%3Benum-encoding%3Dint")
    assert body["status"] == 2                                                     # ints when asked
    status, body = _raw(em, "GET", "/v1/projects/other/locations/-/clusters")
    assert status == 403 and body["error"]["status"] == "PERMISSION_DENIED"
    assert em.upgrade_log == []


def test_lists_and_upgrade_info(env):
    clock, em, client = env
    em.add_cluster("c2", V1, {"np1": V1}, project="p", location="us-east1-b", release_channel="REGULAR")
    assert {c.name for c in client.list_clusters(parent="projects/p/locations/-", retry=None).clusters} == {"c1", "c2"}
    assert [c.name for c in client.list_clusters(parent="projects/p/locations/us-east1-b",
                                                 retry=None).clusters] == ["c2"]
    op = client.update_master(name=C, master_version=V2, retry=None)
    info = client.fetch_cluster_upgrade_info(name=C, retry=None)
    assert info.upgrade_details[0].target_version == V2
    assert info.upgrade_details[0].state == container_v1.UpgradeDetails.State.RUNNING
    ops = client.list_operations(parent="projects/p/locations/europe-west1", retry=None).operations
    assert [o.name for o in ops] == [op.name] and ops[0].target_link.endswith(C)
    assert client.list_operations(parent="projects/p/locations/us-east1-b", retry=None).operations == []
    assert client.fetch_node_pool_upgrade_info(name=NP, retry=None).upgrade_details == []
    assert em.next_completion() == clock.now() + timedelta(seconds=600)


# ---- the discovery document (container.v1.json) ----------------------------------------------------------
@pytest.mark.parametrize("body,fragment", [
    ({"nodeVersion": V1, "imageType": "COS_CONTAINERD", "upgradeSettings": {"maxSurge": 1, "bogus": 2}},
     "Unknown name \"bogus\" at 'upgrade_settings': Cannot find field."),
    ({"nodeVersion": V1, "imageType": "COS_CONTAINERD", "upgradeSettings": {"maxSurge": "one"}},
     "Invalid value at 'upgrade_settings.max_surge' (TYPE_INT32), \"one\""),
    ({"nodeVersion": V1, "imageType": "COS_CONTAINERD", "upgradeSettings": {"strategy": "ROLLING"}},
     "Invalid value at 'upgrade_settings.strategy' (TYPE_ENUM), \"ROLLING\""),
    ({"nodeVersion": V1, "imageType": "COS_CONTAINERD", "nodeDrainConfig": {"pdbTimeoutDuration": "15 minutes"}},
     "Invalid value at 'node_drain_config.pdb_timeout_duration'"),
    ({"nodeVersion": V1, "imageType": "COS_CONTAINERD", "nodeDrainConfig": {"drainTimeout": "60s"}},
     "Unknown name \"drainTimeout\" at 'node_drain_config'"),
    ({"nodeVersion": V1, "imageType": "COS_CONTAINERD", "locations": "europe-west1-b"},
     "Invalid value at 'locations' (TYPE_REPEATED)"),
    ({"nodeVersion": V1, "imageType": "COS_CONTAINERD", "upgradeSettings": {
        "strategy": "BLUE_GREEN", "blueGreenSettings": {"standardRolloutPolicy": {"batchSoakDuration": 60}}}},
     "Invalid value at 'upgrade_settings.blue_green_settings.standard_rollout_policy.batch_soak_duration'"),
], ids=["unknown-nested", "int32-type", "enum-name", "duration", "unknown-drain-field", "array", "nested-duration"])
def test_node_pool_bodies_are_checked_against_the_discovery_document(env, body, fragment):
    _, em, _ = env
    status, answer = _raw(em, "PUT", f"/v1/{NP}", body)
    assert status == 400, answer
    assert answer["error"]["status"] == "INVALID_ARGUMENT" and answer["error"]["code"] == 400
    assert fragment in answer["error"]["message"], answer
    assert em.upgrade_log == []


def test_master_bodies_are_checked_and_the_sdk_bodies_pass(env):
    _, em, client = env
    status, answer = _raw(em, "POST", f"/v1/{C}:updateMaster", {"masterVersion": V2, "desiredMasterVersion": V2})
    assert status == 400 and 'Unknown name "desiredMasterVersion"' in answer["error"]["message"]
    status, answer = _raw(em, "POST", f"/v1/{C}:updateMaster", {"masterVersion": 1.3})
    assert status == 400 and "(TYPE_STRING)" in answer["error"]["message"]
    # what the official SDK sends (enum numbers, durations, nested settings) is valid
    client.update_node_pool(request=container_v1.UpdateNodePoolRequest(
        name=NP, node_version=V1, image_type="COS_CONTAINERD",
        node_drain_config=container_v1.NodePool.NodeDrainConfig(pdb_timeout_duration=timedelta(minutes=15)),
        upgrade_settings=container_v1.NodePool.UpgradeSettings(
            strategy="BLUE_GREEN", blue_green_settings={"standard_rollout_policy": {
                "batch_percentage": 0.5, "batch_soak_duration": timedelta(seconds=30)}})), retry=None)
    assert em.upgrade_log[-1]["nodeDrainConfig"] == {"pdbTimeoutDuration": "900s"}


def test_validator_reads_the_shipped_extract():
    from providers.gke.emulator import discovery
    spec = json.loads(discovery.SPEC_FILE.read_text())
    assert spec["source"]["package"] == "google-api-python-client" and spec["source"]["license"] == "Apache-2.0"
    props = discovery.schemas()["NodeDrainConfig"]["properties"]
    assert set(props) == {"graceTerminationDuration", "pdbTimeoutDuration", "respectPdbDuringNodePoolDeletion"}
    discovery.validate("UpdateNodePoolRequest", {"node_version": V1, "image_type": "COS", "upgrade_settings": {
        "max_surge": "2", "strategy": 3}})                   # proto3 JSON: snake_case, int64-style strings, enum ints
    with pytest.raises(discovery.SpecViolation, match="TYPE_BOOL"):
        discovery.validate("UpdateNodePoolRequest", {"nodeDrainConfig": {"respectPdbDuringNodePoolDeletion": "yes"}})


# ---- Autopilot ---------------------------------------------------------------------------------------------
def test_autopilot_node_pools_are_refused_and_nodes_follow_the_control_plane(env):
    clock, em, client = env
    em.add_cluster("auto", V1, {"default-pool": V1}, project="p", location="europe-west1", autopilot=True)
    ac = C.replace("c1", "auto")
    got = client.get_cluster(name=ac, retry=None)
    assert got.autopilot.enabled and got.release_channel.channel.name == "REGULAR"
    for call in (lambda: client.list_node_pools(parent=ac, retry=None),
                 lambda: client.get_node_pool(name=f"{ac}/nodePools/default-pool", retry=None),
                 lambda: client.fetch_node_pool_upgrade_info(name=f"{ac}/nodePools/default-pool", retry=None),
                 lambda: client.update_node_pool(request=container_v1.UpdateNodePoolRequest(
                     name=f"{ac}/nodePools/default-pool", node_version=V1, image_type="COS_CONTAINERD"), retry=None)):
        with pytest.raises(google_exc.BadRequest) as info:
            call()
        assert info.value.message.endswith(": Autopilot node pools cannot be accessed or modified.")
        assert info.value.response.json()["error"]["status"] == "INVALID_ARGUMENT"
    assert em.upgrade_log == []
    client.update_master(name=ac, master_version=V2, retry=None)      # the control plane may be upgraded
    clock.advance(600)
    after = em.cluster("p", "europe-west1", "auto")
    assert after.current_master_version == V2 and [p.version for p in after.node_pools] == [V2]
    assert em.cluster("p", "europe-west1", "c1").node_pools[0].version == V1    # Standard: pools stay


# ---- node counts -------------------------------------------------------------------------------------------
def test_resize_changes_current_node_count_not_initial(env):
    clock, em, client = env
    assert client.get_cluster(name=C, retry=None).current_node_count == 5      # np1: 3, np2: 2 (one zone)
    em.resize("p", "europe-west1", "c1", "np1", 7)
    got = client.get_cluster(name=C, retry=None)
    assert got.current_node_count == 9 and got.node_pools[0].initial_node_count == 3
    op = client.update_node_pool(request=_pool_request(V1, max_surge=1), retry=None)
    name = f"projects/p/locations/europe-west1/operations/{op.name}"
    metrics = {m.name: m.int_value for m in client.get_operation(name=name, retry=None).progress.metrics}
    assert metrics["NODES_TOTAL"] == 7                                         # the pool's size now
    assert em.next_completion() == clock.now() + timedelta(seconds=700)       # 7 nodes, one at a time
