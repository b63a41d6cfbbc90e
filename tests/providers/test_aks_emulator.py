"""The AKS emulator on its own, over raw HTTP: virtual time, refusals, faults, shapes (read with SDK models)."""

from __future__ import annotations

import http.client
import json
from datetime import timedelta
from urllib.parse import urlparse

import azure.mgmt.containerservice  # noqa: F401  (the SDK must be installed: pip install -e ".[dev]")
import pytest
from azure.mgmt.containerservice import models as m

from fleet.clock import FakeClock
from providers.aks.emulator.server import AksEmulator

SUB = "00000000-0000-0000-0000-000000000000"
API = "api-version=2026-08-01"
MC = f"/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters"
VERSIONS = ["1.29.2", "1.29.8", "1.30.4", "1.31.1"]


@pytest.fixture
def emu():
    clock = FakeClock()
    e = AksEmulator(clock).start()
    e.add_cluster("c1", "1.29.2", {"sys": "1.29.2", "user": "1.29.2"}, VERSIONS)
    e.add_cluster("c2", "1.30.4", {"sys": "1.29.2", "user": "1.29.2"}, VERSIONS)   # pools behind
    yield e
    e.stop()


def call(emu: AksEmulator, method: str, path: str, body: object = None, *, auth: bool = True,
         query: str | None = API) -> tuple[int, object, dict[str, str]]:
    u = urlparse(path if path.startswith("http") else emu.url + path)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    q = u.query or query
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "Bearer test"
    try:
        conn.request(method, u.path + (f"?{q}" if q else ""), json.dumps(body) if body is not None else None, headers)
        resp = conn.getresponse()
        raw = resp.read()
        return resp.status, (json.loads(raw) if raw else None), dict(resp.getheaders())
    finally:
        conn.close()


def put_cp(emu: AksEmulator, to: str, name: str = "c1") -> tuple[int, object, dict[str, str]]:
    _, body, _ = call(emu, "GET", f"{MC}/{name}")
    body["properties"]["kubernetesVersion"] = to
    return call(emu, "PUT", f"{MC}/{name}", body)


def put_pool(emu: AksEmulator, pool: str, to: str, settings: dict | None = None, cluster: str = "c2"):
    body = {"properties": {"orchestratorVersion": to, "count": 3}}
    if settings is not None:
        body["properties"]["upgradeSettings"] = settings
    return call(emu, "PUT", f"{MC}/{cluster}/agentPools/{pool}", body)


def test_operation_progresses_only_with_virtual_time(emu):
    status, body, headers = put_cp(emu, "1.30.4")
    assert status == 200
    mc = m.ManagedCluster(body)
    assert mc.properties.provisioning_state == "Upgrading"
    assert (mc.properties.kubernetes_version, mc.properties.current_kubernetes_version) == ("1.30.4", "1.29.2")
    op_url, result_url = headers["Azure-AsyncOperation"], headers["Location"]
    assert "/locations/westeurope/operations/" in op_url and "api-version=" in op_url
    for _ in range(3):   # real requests, no virtual time: nothing moves
        assert call(emu, "GET", op_url)[1]["status"] == "InProgress"
        assert call(emu, "GET", result_url)[0] == 202
        assert m.ManagedCluster(call(emu, "GET", f"{MC}/c1")[1]).properties.current_kubernetes_version == "1.29.2"
    emu.clock.advance(timedelta(minutes=9))
    assert call(emu, "GET", op_url)[1]["status"] == "InProgress"
    emu.clock.advance(timedelta(minutes=1))
    done = call(emu, "GET", op_url)[1]
    assert done["status"] == "Succeeded" and done["endTime"]
    assert call(emu, "GET", result_url)[0] == 204
    mc = m.ManagedCluster(call(emu, "GET", f"{MC}/c1")[1])
    assert mc.properties.provisioning_state == "Succeeded"
    assert mc.properties.current_kubernetes_version == "1.30.4"
    # the pools were sent unchanged, so only the control plane moved
    assert {p.current_orchestrator_version for p in mc.properties.agent_pool_profiles} == {"1.29.2"}


def test_second_upgrade_while_one_runs_is_refused_like_aks(emu):
    assert put_cp(emu, "1.29.8")[0] == 200
    for status, body, _ in (put_cp(emu, "1.30.4"), put_pool(emu, "user", "1.29.8", cluster="c1"),
                                put_cp(emu, "1.29.8")):
        assert status == 409
        assert body["error"]["code"] == "OperationNotAllowed"
        assert "in progress" in body["error"]["message"]
    assert len(emu.upgrade_log) == 1
    emu.clock.advance(timedelta(hours=1))
    assert put_pool(emu, "user", "1.29.8", {"maxSurge": "1"}, cluster="c1")[0] == 200
    assert len(emu.upgrade_log) == 2


@pytest.mark.parametrize("fault,status,code", [
    ("throttle", 429, "TooManyRequests"),
    ("server-error", 503, "ServiceUnavailable"),
    ("forbidden", 403, "AuthorizationFailed"),
])
def test_http_faults_are_one_shot(emu, fault, status, code):
    emu.inject(fault)
    got, body, headers = call(emu, "GET", f"{MC}/c1")
    assert (got, body["error"]["code"]) == (status, code)
    if status in (429, 503):
        assert int(headers["Retry-After"]) > 0
    assert call(emu, "GET", f"{MC}/c1")[0] == 200


def test_fail_operation_fault(emu):
    emu.inject("fail-operation")
    _, _, headers = put_pool(emu, "user", "1.29.8")
    emu.clock.advance(timedelta(days=1))
    op = call(emu, "GET", headers["Azure-AsyncOperation"])[1]
    assert op["status"] == "Failed" and op["error"]["code"] == "UpgradeFailed"
    ap = m.AgentPool(call(emu, "GET", f"{MC}/c2/agentPools/user")[1])
    assert ap.properties.provisioning_state == "Failed"
    assert ap.properties.current_orchestrator_version == "1.29.2"
    # a retry is accepted and the fault does not repeat
    _, _, headers = put_pool(emu, "user", "1.29.8")
    emu.clock.advance(timedelta(days=1))
    assert call(emu, "GET", headers["Azure-AsyncOperation"])[1]["status"] == "Succeeded"


def test_api_version_and_bearer_are_required(emu):
    status, body, _ = call(emu, "GET", f"{MC}/c1", query=None)
    assert (status, body["error"]["code"]) == (400, "MissingApiVersionParameter")
    status, body, _ = call(emu, "GET", f"{MC}/c1", auth=False)
    assert (status, body["error"]["code"]) == (401, "AuthenticationFailed")
    assert call(emu, "GET", "/subscriptions/other/providers/Microsoft.ContainerService/managedClusters")[0] == 404
    assert call(emu, "GET", f"{MC}/nope")[1]["error"]["code"] == "ResourceNotFound"


def test_upgrade_profiles_read_with_sdk_models(emu):
    prof = m.ManagedClusterUpgradeProfile(call(emu, "GET", f"{MC}/c1/upgradeProfiles/default")[1])
    cp = prof.properties.control_plane_profile
    assert cp.kubernetes_version == "1.29.2"
    assert [u.kubernetes_version for u in cp.upgrades] == ["1.29.8", "1.30.4"]   # no minor skipping
    pool = m.AgentPoolUpgradeProfile(call(emu, "GET", f"{MC}/c1/agentPools/user/upgradeProfiles/default")[1])
    assert pool.properties.upgrades == []                                         # never above the control plane
    pools = m.AgentPool(call(emu, "GET", f"{MC}/c1/agentPools")[1]["value"][0])
    assert pools.properties.mode == "System"


@pytest.mark.parametrize("to,settings,code", [
    ("1.31.1", None, "AgentPoolUpgradeVersionNotAllowed"),      # 1.29 -> 1.31: two minors at once
    ("1.99.0", None, "AgentPoolK8sVersionNotSupported"),
    ("1.29.8", {"maxSurge": "lots"}, "InvalidParameter"),
    ("1.29.8", {"maxSurge": "1", "drainTimeoutInMinutes": 0}, "InvalidParameter"),      # spec: minimum 1
    ("1.29.8", {"maxSurge": "1", "drainTimeoutInMinutes": 1441}, "InvalidParameter"),   # spec: maximum 1440
    ("1.29.8", {"maxSurge": "1", "drainTimeoutInMinutes": "30"}, "InvalidParameter"),   # spec: an integer
    ("1.29.8", {"maxSurge": "1", "nodeSoakDurationInMinutes": 31}, "InvalidParameter"),
])
def test_pool_put_validation(emu, to, settings, code):
    status, body, _ = put_pool(emu, "user", to, settings)
    assert (status, body["error"]["code"]) == (400, code)
    assert emu.upgrade_log == []


def test_cluster_put_rules(emu):
    assert put_cp(emu, "1.31.1")[1]["error"]["code"] == "OperationNotAllowed"         # skips 1.30
    _, body, _ = call(emu, "GET", f"{MC}/c1")
    body["properties"]["kubernetesVersion"] = "1.29.8"
    for prof in body["properties"]["agentPoolProfiles"]:
        prof.pop("orchestratorVersion")                                                # unspecified pools follow
    assert call(emu, "PUT", f"{MC}/c1", body)[0] == 200
    emu.clock.advance(timedelta(days=1))
    mc = m.ManagedCluster(call(emu, "GET", f"{MC}/c1")[1])
    assert {p.current_orchestrator_version for p in mc.properties.agent_pool_profiles} == {"1.29.8"}


def test_auto_upgrade_channel_does_not_refuse_a_control_plane_only_upgrade(emu):
    # the emulator used to refuse this under NotAllAgentPoolOrchestratorVersionSpecifiedAndUnchanged, a code that
    # means something else (mixed orchestratorVersion values); no source says AKS refuses it
    emu.add_cluster("auto", "1.29.2", {"sys": "1.29.2"}, VERSIONS, upgrade_channel="stable")
    assert put_cp(emu, "1.29.8", name="auto")[0] == 200


def test_mixed_pool_versions_in_a_cluster_put_are_refused(emu):
    _, body, _ = call(emu, "GET", f"{MC}/c1")
    body["properties"]["kubernetesVersion"] = "1.29.8"
    body["properties"]["agentPoolProfiles"][0].pop("orchestratorVersion")   # one unspecified, one specified
    status, out, _ = call(emu, "PUT", f"{MC}/c1", body)
    assert (status, out["error"]["code"]) == (400, "NotAllAgentPoolOrchestratorVersionSpecifiedAndUnchanged")
    _, body, _ = call(emu, "GET", f"{MC}/c1")
    body["properties"]["agentPoolProfiles"][1]["orchestratorVersion"] = "1.29.8"   # changed, not to the CP's
    status, out, _ = call(emu, "PUT", f"{MC}/c1", body)
    assert (status, out["error"]["code"]) == (400, "NotAllAgentPoolOrchestratorVersionSpecifiedAndUnchanged")
    _, body, _ = call(emu, "GET", f"{MC}/c1")
    body["properties"]["kubernetesVersion"] = "1.29.8"
    body["properties"]["agentPoolProfiles"][1]["orchestratorVersion"] = "1.29.8"   # the same as the CP: allowed
    assert call(emu, "PUT", f"{MC}/c1", body)[0] == 200
    assert emu.upgrade_log[-1].kind == "managedCluster"


def test_pool_jump_of_more_than_one_minor_is_refused(emu):
    emu.add_cluster("old", "1.30.4", {"sys": "1.30.4", "user": "1.28.5"}, ["1.28.5", "1.29.2", "1.30.4"])
    status, body, _ = put_pool(emu, "user", "1.30.4", cluster="old")
    assert (status, body["error"]["code"]) == (400, "AgentPoolUpgradeVersionNotAllowed")
    assert "one minor version at a time" in body["error"]["message"]
    assert put_pool(emu, "user", "1.29.2", cluster="old")[0] == 200
    status, body, _ = put_pool(emu, "user", "1.30.4", cluster="c1")     # newer than c1's control plane 1.29.2
    assert (status, body["error"]["code"]) == (400, "NodePoolMcVersionIncompatible")


def test_control_plane_upgrade_that_leaves_a_pool_beyond_the_skew_is_refused(emu):
    emu.add_cluster("skew", "1.29.2", {"sys": "1.29.2", "user": "1.27.9"}, ["1.27.9", "1.29.2", "1.30.4"])
    status, body, _ = put_cp(emu, "1.30.4", name="skew")             # user would be three minors behind
    assert (status, body["error"]["code"]) == (400, "EmulatorUndocumentedNodePoolSkew")
    assert emu.upgrade_log == []


def test_every_put_body_is_validated_against_the_rest_spec(emu):
    status, body, _ = call(emu, "PUT", f"{MC}/c2/agentPools/user", {"properties": {"count": "three"}})
    assert (status, body["error"]["code"]) == (400, "InvalidParameter") and "properties.count" in body["error"]["message"]
    _, mc, _ = call(emu, "GET", f"{MC}/c1")
    mc["properties"]["agentPoolProfiles"][0]["upgradeSettings"] = {"drainTimeoutInMinutes": 0}
    status, body, _ = call(emu, "PUT", f"{MC}/c1", mc)
    assert (status, body["error"]["code"]) == (400, "InvalidParameter")
    assert "agentPoolProfiles[0].upgradeSettings.drainTimeoutInMinutes" in body["error"]["message"]
    _, mc, _ = call(emu, "GET", f"{MC}/c1")
    mc["properties"]["agentPoolProfiles"][0]["name"] = "Not_A_Pool_Name"          # spec: ^[a-z][a-z0-9]{0,11}$
    mc["properties"]["enableRBAC"] = "yes"                                         # spec: a boolean
    status, body, _ = call(emu, "PUT", f"{MC}/c1", mc)
    assert (status, body["error"]["code"]) == (400, "InvalidParameter")
    assert "agentPoolProfiles[0].name" in body["error"]["message"] and "enableRBAC" in body["error"]["message"]
    assert emu.upgrade_log == []


def test_pool_duration_follows_the_surge_it_received(emu):
    _, _, h1 = put_pool(emu, "user", "1.29.8", {"maxSurge": "100%", "nodeSoakDurationInMinutes": 0})
    emu.clock.advance(timedelta(minutes=4))                                            # one batch of 3
    assert call(emu, "GET", h1["Azure-AsyncOperation"])[1]["status"] == "Succeeded"
    _, _, h2 = put_pool(emu, "sys", "1.29.8", {"maxSurge": "1", "nodeSoakDurationInMinutes": 1})
    emu.clock.advance(timedelta(minutes=14))                                           # 3 batches x (4 + 1)
    assert call(emu, "GET", h2["Azure-AsyncOperation"])[1]["status"] == "InProgress"
    emu.clock.advance(timedelta(minutes=1))
    assert call(emu, "GET", h2["Azure-AsyncOperation"])[1]["status"] == "Succeeded"
    assert [r.upgrade_settings for r in emu.upgrade_log] == [
        {"maxSurge": "100%", "nodeSoakDurationInMinutes": 0}, {"maxSurge": "1", "nodeSoakDurationInMinutes": 1}]


def test_listing_pages_with_next_link(emu):
    for i in range(4):
        emu.add_cluster(f"extra{i}", "1.29.2", {"sys": "1.29.2"}, VERSIONS)
    names, url = [], f"/subscriptions/{SUB}/providers/Microsoft.ContainerService/managedClusters"
    while url:
        _, body, _ = call(emu, "GET", url)
        names += [m.ManagedCluster(v).name for v in body["value"]]
        url = body.get("nextLink")
    assert sorted(names) == ["c1", "c2", "extra0", "extra1", "extra2", "extra3"]


def test_stale_if_match_is_refused_with_412(emu):
    _, body, _ = call(emu, "GET", f"{MC}/c1")
    etag = m.ManagedCluster(body).e_tag
    assert etag
    assert put_pool(emu, "user", "1.30.4")[0] == 200          # another cluster: c1's eTag is untouched
    emu.clock.advance(timedelta(days=1))
    u = urlparse(emu.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=5)
    body["properties"]["kubernetesVersion"] = "1.29.8"
    headers = {"Authorization": "Bearer t", "Content-Type": "application/json", "If-Match": '"999"'}
    conn.request("PUT", f"{MC}/c1?{API}", json.dumps(body), headers)
    resp = conn.getresponse()
    assert (resp.status, json.loads(resp.read())["error"]["code"]) == (412, "PreconditionFailed")
    headers["If-Match"] = etag
    conn.request("PUT", f"{MC}/c1?{API}", json.dumps(body), headers)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    assert resp.status == 200
    assert m.ManagedCluster(call(emu, "GET", f"{MC}/c1")[1]).e_tag != etag
