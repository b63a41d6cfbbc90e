"""The Cluster API emulator, driven through the official kubernetes client: discovery, CRUD semantics,
schema and webhook validation, Leases, simulated controllers over virtual time, faults."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from kubernetes import client

from fleet.clock import FakeClock
from providers.capi.emulator.server import CapiEmulator

TOKEN = "emulator-token"
CAPI, CP, INFRA = "cluster.x-k8s.io", "controlplane.cluster.x-k8s.io", "infrastructure.cluster.x-k8s.io"
KCP_PLURAL, MD_PLURAL = "kubeadmcontrolplanes", "machinedeployments"


@pytest.fixture(params=["v1beta1", "v1beta2"])
def emu(request):
    e = CapiEmulator(FakeClock(), capi_version=request.param, token=TOKEN).start()
    e.add_cluster("c1", "v1.29.2", cp_replicas=3, pools={"md-0": 3})
    yield e
    e.stop()


def api(emu: CapiEmulator, token: str = TOKEN) -> client.ApiClient:
    cfg = client.Configuration(host=emu.url)
    cfg.api_key = {"BearerToken": token}
    cfg.api_key_prefix = {"BearerToken": "Bearer"}
    cfg.retries = 0
    return client.ApiClient(cfg)


def custom(emu: CapiEmulator) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(api(emu))


def body(exc: client.ApiException) -> dict:
    return json.loads(exc.body)


def advance(emu: CapiEmulator, seconds: float) -> None:
    emu.clock.advance(timedelta(seconds=seconds))
    emu.tick()


def kcp_patch(emu: CapiEmulator, patch: dict) -> dict:
    return custom(emu).patch_namespaced_custom_object(CP, emu.capi_version, "default", KCP_PLURAL,
                                                      "c1-control-plane", patch)


# ---- discovery ---------------------------------------------------------------------------------------------

def test_discovery_serves_one_capi_version_and_leases(emu):
    groups = {g.name: g for g in client.ApisApi(api(emu)).get_api_versions().groups}
    assert set(groups) == {CAPI, CP, INFRA, "coordination.k8s.io"}
    assert [v.version for v in groups[CAPI].versions] == [emu.capi_version]
    assert groups[CAPI].preferred_version.version == emu.capi_version
    assert client.CoreApi(api(emu)).get_api_versions().versions == ["v1"]
    res = custom(emu).get_api_resources(CAPI, emu.capi_version)
    names = {r.name: r for r in res.resources}
    assert names["machinedeployments"].kind == "MachineDeployment" and "machinedeployments/status" in names
    assert "md" in names["machinedeployments"].short_names
    other = "v1beta2" if emu.capi_version == "v1beta1" else "v1beta1"
    with pytest.raises(client.ApiException) as info:
        custom(emu).list_namespaced_custom_object(CAPI, other, "default", "clusters")
    assert info.value.status == 404


def test_wrong_token_is_401(emu):
    with pytest.raises(client.ApiException) as info:
        client.ApisApi(api(emu, token="nope")).get_api_versions()
    assert info.value.status == 401


# ---- CRUD semantics ----------------------------------------------------------------------------------------

def _template(name: str, image: str = "ocid1.image.a") -> dict:
    return {"apiVersion": f"{INFRA}/v1beta2", "kind": "OCIMachineTemplate",
            "metadata": {"name": name, "labels": {"team": "a"}},
            "spec": {"template": {"spec": {"imageId": image, "shape": "VM.Standard.E4.Flex"}}}}


def test_create_get_conflicts_replace_delete(emu):
    co = custom(emu)
    created = co.create_namespaced_custom_object(INFRA, "v1beta2", "default", "ocimachinetemplates", _template("t1"))
    meta = dict(created["metadata"])
    assert meta["uid"] and meta["resourceVersion"] and meta["generation"] == 1 and meta["creationTimestamp"]
    with pytest.raises(client.ApiException) as info:
        co.create_namespaced_custom_object(INFRA, "v1beta2", "default", "ocimachinetemplates", _template("t1"))
    assert info.value.status == 409 and body(info.value)["reason"] == "AlreadyExists"
    # replace with the current resourceVersion works (labels only: the spec is immutable) ...
    created["metadata"]["labels"]["team"] = "b"
    replaced = co.replace_namespaced_custom_object(INFRA, "v1beta2", "default", "ocimachinetemplates", "t1", created)
    assert replaced["metadata"]["resourceVersion"] != meta["resourceVersion"]
    # ... a stale one is a 409 Conflict, a missing one a 422
    with pytest.raises(client.ApiException) as info:
        co.replace_namespaced_custom_object(INFRA, "v1beta2", "default", "ocimachinetemplates", "t1", created)
    assert info.value.status == 409 and body(info.value)["reason"] == "Conflict"
    del created["metadata"]["resourceVersion"]
    with pytest.raises(client.ApiException) as info:
        co.replace_namespaced_custom_object(INFRA, "v1beta2", "default", "ocimachinetemplates", "t1", created)
    assert info.value.status == 422
    # a merge patch carrying a stale resourceVersion is a precondition failure
    with pytest.raises(client.ApiException) as info:
        co.patch_namespaced_custom_object(INFRA, "v1beta2", "default", "ocimachinetemplates", "t1",
                                          {"metadata": {"resourceVersion": meta["resourceVersion"], "labels": {"x": "y"}}})
    assert info.value.status == 409
    co.delete_namespaced_custom_object(INFRA, "v1beta2", "default", "ocimachinetemplates", "t1")
    with pytest.raises(client.ApiException) as info:
        co.get_namespaced_custom_object(INFRA, "v1beta2", "default", "ocimachinetemplates", "t1")
    assert info.value.status == 404 and body(info.value)["reason"] == "NotFound"


def test_json_patch_generation_and_status_subresource(emu):
    co, v = custom(emu), emu.capi_version
    before = co.get_namespaced_custom_object(CAPI, v, "default", MD_PLURAL, "md-0")
    out = co.patch_namespaced_custom_object(CAPI, v, "default", MD_PLURAL, "md-0",
                                            [{"op": "test", "path": "/spec/replicas", "value": 3},
                                             {"op": "replace", "path": "/spec/replicas", "value": 4}],
                                            _content_type="application/json-patch+json")
    assert out["spec"]["replicas"] == 4 and out["metadata"]["generation"] == before["metadata"]["generation"] + 1
    with pytest.raises(client.ApiException) as info:                 # a failed "test" op changes nothing
        co.patch_namespaced_custom_object(CAPI, v, "default", MD_PLURAL, "md-0",
                                          [{"op": "test", "path": "/spec/replicas", "value": 3}],
                                          _content_type="application/json-patch+json")
    assert info.value.status == 422
    # status goes through /status only, and never bumps the generation
    out2 = co.patch_namespaced_custom_object(CAPI, v, "default", MD_PLURAL, "md-0", {"status": {"phase": "Failed"}})
    assert out2["status"]["phase"] != "Failed"
    out3 = co.patch_namespaced_custom_object_status(CAPI, v, "default", MD_PLURAL, "md-0", {"status": {"phase": "Failed"}})
    assert out3["status"]["phase"] == "Failed" and out3["metadata"]["generation"] == out["metadata"]["generation"]


def test_label_selectors(emu):
    emu.add_cluster("c2", "v1.29.2", cp_replicas=1, pools={"md-x": 1, "md-y": 2})
    co, v = custom(emu), emu.capi_version

    def names(sel: str) -> list[str]:
        return [o["metadata"]["name"] for o in co.list_namespaced_custom_object(CAPI, v, "default", MD_PLURAL,
                                                                                 label_selector=sel)["items"]]
    assert names("cluster.x-k8s.io/cluster-name=c2") == ["md-x", "md-y"]
    assert names("cluster.x-k8s.io/cluster-name!=c2") == ["md-0"]
    assert names("cluster.x-k8s.io/cluster-name in (c1, c2)") == ["md-0", "md-x", "md-y"]
    assert names("cluster.x-k8s.io/cluster-name,!topology.cluster.x-k8s.io/owned") == ["md-0", "md-x", "md-y"]
    assert names("topology.cluster.x-k8s.io/owned") == []
    machines = co.list_cluster_custom_object(CAPI, v, "machines", label_selector="cluster.x-k8s.io/deployment-name=md-y")
    assert len(machines["items"]) == 2


# ---- validation --------------------------------------------------------------------------------------------

def test_schema_errors_are_422_invalid_with_causes(emu):
    co, v = custom(emu), emu.capi_version
    with pytest.raises(client.ApiException) as info:
        kcp_patch(emu, {"spec": {"replicas": "three", "bogus": 1}})
    st = body(info.value)
    assert (st["kind"], st["status"], st["code"], st["reason"]) == ("Status", "Failure", 422, "Invalid")
    assert st["details"]["kind"] == "KubeadmControlPlane" and st["details"]["group"] == CP
    causes = {c["field"]: c["reason"] for c in st["details"]["causes"]}
    assert causes == {"spec.replicas": "FieldValueTypeInvalid", "spec.bogus": "FieldValueForbidden"}
    bad_md = {"apiVersion": f"{CAPI}/{v}", "kind": "MachineDeployment", "metadata": {"name": "bad"},
              "spec": {"clusterName": "c1", "selector": {}, "template": {"spec": {"clusterName": "c1"}}}}
    if v == "v1beta1":
        bad_md["spec"]["strategy"] = {"type": "Sideways"}
    else:
        bad_md["spec"]["rollout"] = {"strategy": {"type": "Sideways"}}
    with pytest.raises(client.ApiException) as info:
        co.create_namespaced_custom_object(CAPI, v, "default", MD_PLURAL, bad_md)
    reasons = {(c["field"], c["reason"]) for c in body(info.value)["details"]["causes"]}
    strategy = "spec.strategy.type" if v == "v1beta1" else "spec.rollout.strategy.type"
    assert (strategy, "FieldValueNotSupported") in reasons
    assert ("spec.template.spec.bootstrap", "FieldValueRequired") in reasons
    # fieldValidation=Ignore prunes unknown fields instead (the apiserver's non-strict mode)
    t = _template("pruned")
    t["spec"]["template"]["spec"]["notAField"] = True
    out = co.create_namespaced_custom_object(INFRA, "v1beta2", "default", "ocimachinetemplates", t,
                                             field_validation="Ignore")
    assert "notAField" not in out["spec"]["template"]["spec"]


def test_webhooks(emu):
    v = emu.capi_version
    surge = {"rolloutStrategy": {"rollingUpdate": {"maxSurge": 2}}} if v == "v1beta1" else \
        {"rollout": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 2}}}}
    with pytest.raises(client.ApiException) as info:
        kcp_patch(emu, {"spec": surge})
    assert "value must be 1 or 0" in body(info.value)["message"]
    with pytest.raises(client.ApiException) as info:
        kcp_patch(emu, {"spec": {"version": "v1.31.0"}})
    assert "cannot update Kubernetes version from v1.29.2 to v1.31.0" in body(info.value)["message"]
    assert kcp_patch(emu, {"spec": {"version": "1.30.1"}})["spec"]["version"] == "v1.30.1"     # v is defaulted
    name = "c1-md-0"
    with pytest.raises(client.ApiException) as info:
        custom(emu).patch_namespaced_custom_object(INFRA, "v1beta2", "default", "ocimachinetemplates", name,
                                                   {"spec": {"template": {"spec": {"imageId": "other"}}}})
    assert info.value.status == 422 and "immutable" in body(info.value)["message"]
    assert [(u.kind, u.from_version, u.to_version) for u in emu.upgrade_log] == [
        ("KubeadmControlPlane", "v1.29.2", "v1.30.1")]


def test_leases(emu):
    coord = client.CoordinationV1Api(api(emu))
    lease = client.V1Lease(metadata=client.V1ObjectMeta(name="fleet-leader"),
                           spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=15,
                                                   acquire_time=emu.clock.now(), renew_time=emu.clock.now()))
    created = coord.create_namespaced_lease("fleet", lease)
    assert created.spec.holder_identity == "a" and created.metadata.resource_version
    got = coord.read_namespaced_lease("fleet-leader", "fleet")
    got.spec.holder_identity = "b"
    got.spec.lease_transitions = 1
    replaced = coord.replace_namespaced_lease("fleet-leader", "fleet", got)
    assert replaced.spec.holder_identity == "b"
    got.spec.holder_identity = "c"                                  # stale resourceVersion: somebody else won
    with pytest.raises(client.ApiException) as info:
        coord.replace_namespaced_lease("fleet-leader", "fleet", got)
    assert info.value.status == 409
    with pytest.raises(client.ApiException) as info:
        coord.create_namespaced_lease("fleet", lease)
    assert info.value.status == 409


# ---- simulated controllers ---------------------------------------------------------------------------------

def _status(emu: CapiEmulator, kind: str, name: str) -> dict:
    return emu.get(kind, name)["status"]


def test_rollout_progresses_only_with_virtual_time(emu):
    v1 = emu.capi_version == "v1beta1"
    out = kcp_patch(emu, {"spec": {"version": "v1.30.1"}})
    gen = out["metadata"]["generation"]
    for _ in range(3):                                   # no virtual time passes: nothing happens
        st = _status(emu, "KubeadmControlPlane", "c1-control-plane")
        assert st["observedGeneration"] == gen - 1 and st["version"] == "v1.29.2"
    advance(emu, 2)                       # the controller noticed: maxSurge 1 -> one new (provisioning) Machine first
    st = _status(emu, "KubeadmControlPlane", "c1-control-plane")
    assert st["observedGeneration"] == gen and st["updatedReplicas" if v1 else "upToDateReplicas"] == 1
    assert st["readyReplicas"] == 3 and st["replicas"] == 4 and st["version"] == "v1.29.2"
    assert len(emu.machines(owner="c1-control-plane")) == 4
    advance(emu, 3600)
    st = _status(emu, "KubeadmControlPlane", "c1-control-plane")
    assert st["version"] == "v1.30.1" and st["replicas"] == 3
    assert st["updatedReplicas" if v1 else "upToDateReplicas"] == 3
    b = emu.budget("KubeadmControlPlane", "c1-control-plane")
    assert (b.max_surge, b.max_unavailable) == (1, 0)


def test_kcp_max_surge_zero_removes_first(emu):
    emu.add_cluster("c0", "v1.29.2", cp_replicas=3, pools={}, kcp_max_surge=0)
    custom(emu).patch_namespaced_custom_object(CP, emu.capi_version, "default", KCP_PLURAL, "c0-control-plane",
                                               {"spec": {"version": "v1.29.8"}})
    advance(emu, 2)
    assert len([m for m in emu.machines(owner="c0-control-plane") if m.deleting_since is None]) == 2
    advance(emu, 3600)
    b = emu.budget("KubeadmControlPlane", "c0-control-plane")
    assert (b.max_surge, b.max_unavailable) == (0, 1)
    assert {m.version for m in emu.machines(owner="c0-control-plane")} == {"v1.29.8"}


@pytest.mark.parametrize("surge,unavailable,want", [(1, 0, (1, 0)), (0, 1, (0, 1)), ("50%", "25%", (2, 1)),
                                                    (0, 0, (0, 1)), (4, 0, (4, 0))])
def test_machinedeployment_rollout_keeps_to_its_budget(emu, surge, unavailable, want):
    v = emu.capi_version
    emu.add_cluster("w", "v1.29.2", cp_replicas=1, pools={"md-w": 4})
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    spec: dict = {"template": {"spec": {"version": "v1.29.8"}}}
    spec.update({"strategy": strategy} if v == "v1beta1" else {"rollout": {"strategy": strategy}})
    custom(emu).patch_namespaced_custom_object(CAPI, v, "default", MD_PLURAL, "md-w", {"spec": spec})
    advance(emu, 4 * 3600)
    b = emu.budget("MachineDeployment", "md-w")
    assert (b.max_surge, b.max_unavailable) == want
    st = _status(emu, "MachineDeployment", "md-w")
    assert st["updatedReplicas" if v == "v1beta1" else "upToDateReplicas"] == 4 and st["availableReplicas"] == 4
    assert {m.version for m in emu.machines(owner="md-w")} == {"v1.29.8"}
    assert len(emu.list("MachineSet", selector="cluster.x-k8s.io/deployment-name=md-w")) == 1


def test_deleted_machine_is_replaced(emu):
    victim = emu.machines(owner="c1-control-plane")[0].name
    custom(emu).delete_namespaced_custom_object(CAPI, emu.capi_version, "default", "machines", victim)
    advance(emu, 3600)
    names = [m.name for m in emu.machines(owner="c1-control-plane")]
    assert len(names) == 3 and victim not in names


def test_topology_sequences_and_honours_hold_and_defer(emu):
    emu.add_cluster("cc", "v1.29.2", cp_replicas=1, topology=True, pools={"a": 1, "b": 1, "c": 1},
                    md_annotations={"a": {"topology.cluster.x-k8s.io/defer-upgrade": ""},
                                    "c": {"topology.cluster.x-k8s.io/hold-upgrade-sequence": ""}})
    custom(emu).patch_namespaced_custom_object(CAPI, emu.capi_version, "default", "clusters", "cc",
                                               {"spec": {"topology": {"version": "v1.30.1"}}})
    advance(emu, 2)
    versions = {m["metadata"]["name"]: m["spec"]["template"]["spec"]["version"]
                for m in emu.list("MachineDeployment", selector="cluster.x-k8s.io/cluster-name=cc")}
    assert set(versions.values()) == {"v1.29.2"}                 # control plane first
    advance(emu, 3 * 3600)
    assert emu.get("KubeadmControlPlane", "cc-control-plane")["spec"]["version"] == "v1.30.1"
    versions = {m["metadata"]["name"]: m["spec"]["template"]["spec"]["version"]
                for m in emu.list("MachineDeployment", selector="cluster.x-k8s.io/cluster-name=cc")}
    assert versions == {"cc-a": "v1.29.2", "cc-b": "v1.30.1", "cc-c": "v1.29.2"}      # a deferred, c held
    cond = [c for c in (_status(emu, "Cluster", "cc").get("conditions") or []) if c["type"] == "TopologyReconciled"]
    assert cond and cond[0]["status"] == "False"
    with pytest.raises(client.ApiException) as info:            # the Cluster webhook: one minor at a time
        custom(emu).patch_namespaced_custom_object(CAPI, emu.capi_version, "default", "clusters", "cc",
                                                   {"spec": {"topology": {"version": "v1.32.0"}}})
    assert info.value.status == 422


# ---- faults ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault,status,reason", [("throttle", 429, "TooManyRequests"),
                                                 ("server-error", 503, "ServiceUnavailable"),
                                                 ("internal-error", 500, "InternalError"),
                                                 ("forbidden", 403, "Forbidden")])
def test_api_faults_are_one_shot_status_errors(emu, fault, status, reason):
    co = custom(emu)
    emu.inject(fault)
    with pytest.raises(client.ApiException) as info:
        co.list_namespaced_custom_object(CAPI, emu.capi_version, "default", "clusters")
    assert info.value.status == status and body(info.value)["reason"] == reason
    if status in (429, 503):
        assert info.value.headers["Retry-After"] == "2"
        assert body(info.value)["details"]["retryAfterSeconds"] == 2
    assert co.list_namespaced_custom_object(CAPI, emu.capi_version, "default", "clusters")["items"]


def test_apf_throttle_answers_as_the_api_servers_filters(emu):
    """max-in-flight / API Priority and Fairness reject with plain text and Retry-After: 1 (maxinflight.go)."""
    co = custom(emu)
    emu.inject("apf-throttle")
    with pytest.raises(client.ApiException) as info:
        co.list_namespaced_custom_object(CAPI, emu.capi_version, "default", "clusters")
    exc = info.value
    assert exc.status == 429 and exc.headers["Retry-After"] == "1"
    assert exc.headers["Content-Type"].startswith("text/plain")
    text = exc.body.decode() if isinstance(exc.body, bytes) else exc.body
    assert text == "Too many requests, please try again later.\n"
    assert co.list_namespaced_custom_object(CAPI, emu.capi_version, "default", "clusters")["items"]


def test_machine_never_ready_stalls_and_machine_fails_reports(emu):
    v1 = emu.capi_version == "v1beta1"
    emu.inject("machine-never-ready", target="c1-control-plane")
    kcp_patch(emu, {"spec": {"version": "v1.30.1"}})
    advance(emu, 6 * 3600)
    st = _status(emu, "KubeadmControlPlane", "c1-control-plane")
    assert st["version"] == "v1.29.2" and st["updatedReplicas" if v1 else "upToDateReplicas"] == 1
    assert st["readyReplicas"] == 3 and st["replicas"] == 4
    stuck = [m for m in emu.machines(owner="c1-control-plane") if m.version == "v1.30.1"]
    assert len(stuck) == 1 and emu.get("Machine", stuck[0].name)["status"]["phase"] == "Provisioning"

    emu.inject("machine-fails", target="md-0")
    custom(emu).patch_namespaced_custom_object(CAPI, emu.capi_version, "default", MD_PLURAL, "md-0",
                                               {"spec": {"template": {"spec": {"version": "v1.29.8"}}}})
    advance(emu, 3600)
    failed = [emu.get("Machine", m.name) for m in emu.machines(owner="md-0") if m.version == "v1.29.8"]
    assert failed and failed[0]["status"]["phase"] == "Failed"
    st = failed[0]["status"]
    message = st["failureMessage"] if v1 else st["deprecated"]["v1beta1"]["failureMessage"]
    assert "out of capacity" in message
    assert emu.budget("MachineDeployment", "md-0").max_unavailable == 0       # old Machines kept serving
