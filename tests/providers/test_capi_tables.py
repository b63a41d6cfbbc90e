"""Table tests of the Cluster API provider's pure parts: settings, error mapping, budget translation and
check_step warnings, patches per API version, template copies, GitOps (auto-upgrade) flagging."""

from __future__ import annotations

import pytest
import urllib3.exceptions
from kubernetes.client import exceptions as kx
from kubernetes.config.config_exception import ConfigException
from pydantic import BaseModel
from pydantic import ValidationError as PydanticValidationError

from fleet.errors import PermanentProviderError, ProviderError, TemporaryProviderError, ThrottledError
from fleet.provider import BlueGreen, Component, Step
from providers.capi.budget import compute_kcp_surge, compute_pool_knobs, compute_warnings
from providers.capi.errors import translate
from providers.capi.objects import (
    KcpView,
    MdView,
    PoolKnobs,
    Ref,
    compute_kcp_patch,
    compute_md_patch,
    compute_rollout,
    compute_template_copy,
    failed_machines,
    observe_gitops,
)
from providers.capi.settings import parse_settings

MC = [{"kubeconfig": "k"}]

# ---- settings ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw,bad", [
    ({}, "managementClusters"),
    ({"managementClusters": []}, "managementClusters"),
    ({"managementClusters": MC, "bogus": 1}, "bogus"),
    ({"management_clusters": MC}, "management_clusters"),                      # camelCase keys only
    ({"managementClusters": [{"kubeconfig": "k", "contxt": "x"}]}, "managementClusters.0.contxt"),
    ({"managementClusters": MC, "images": {"OCIMachineTemplate": {"latest": "img"}}}, "images"),
    ({"managementClusters": MC, "images": {"FooMachineTemplate": {"v1.30.1": "img"}}}, "imageFields.FooMachineTemplate"),
    ({"managementClusters": MC, "controlPlaneMaxSurge": 2}, "controlPlaneMaxSurge"),
    ({"managementClusters": [{"kubeconfig": "k", "context": "a"}, {"kubeconfig": "j", "context": "a"}]}, "unique"),
])
def test_bad_settings_name_the_key(raw, bad):
    with pytest.raises(ValueError) as info:
        parse_settings(raw)
    assert bad in str(info.value)


def test_settings_normalise_versions_and_know_image_fields():
    s = parse_settings({"managementClusters": MC, "images": {"OCIMachineTemplate": {"1.30.4": "a"},
                                                             "MyTemplate": {"v1.30.4": "b"}},
                        "imageFields": {"MyTemplate": "spec.template.spec.img"}})
    assert s.images["OCIMachineTemplate"] == {"v1.30.4": "a"}
    assert s.image_field("OCIMachineTemplate") == "spec.template.spec.imageId"
    assert s.image_field("DevMachineTemplate") == "spec.template.spec.backend.docker.customImage"
    assert s.image_field("MyTemplate") == "spec.template.spec.img"


# ---- error mapping -----------------------------------------------------------------------------------------

API_EXCEPTION_STATUS = {kx.ApiException: 418, kx.BadRequestException: 400, kx.UnauthorizedException: 401,
                        kx.ForbiddenException: 403, kx.NotFoundException: 404, kx.ConflictException: 409,
                        kx.UnprocessableEntityException: 422, kx.ServiceException: 503}
TEMPORARY_TYPES = (kx.ConflictException, kx.ServiceException)


def _sdk_error_types() -> list[type]:
    return [c for c in vars(kx).values() if isinstance(c, type) and issubclass(c, kx.OpenApiException)]


@pytest.mark.parametrize("cls", _sdk_error_types(), ids=lambda c: c.__name__)
def test_every_kubernetes_client_error_type_is_mapped(cls):
    if issubclass(cls, kx.ApiException):
        assert cls in API_EXCEPTION_STATUS, f"{cls.__name__} is new: decide how it maps"
        exc = cls(status=API_EXCEPTION_STATUS[cls], reason="x")
        want = TemporaryProviderError if cls in TEMPORARY_TYPES else PermanentProviderError
    else:
        exc = cls("bad argument")
        want = PermanentProviderError
    err = translate(exc, provider="capi", operation="op")
    assert type(err) is want


def _urllib3_error_types() -> list[type]:
    return [c for c in vars(urllib3.exceptions).values()
            if isinstance(c, type) and issubclass(c, urllib3.exceptions.HTTPError)]


@pytest.mark.parametrize("cls", _urllib3_error_types(), ids=lambda c: c.__name__)
def test_every_urllib3_error_type_is_mapped(cls):
    exc = cls.__new__(cls)
    exc.args = ("boom",)
    err = translate(exc, provider="capi", operation="op")
    want = PermanentProviderError if issubclass(cls, urllib3.exceptions.SSLError) else TemporaryProviderError
    assert type(err) is want


# 429 is the API server's throttle (API Priority and Fairness, --max-requests-inflight: 429 + Retry-After,
# kubernetes.io/docs/concepts/cluster-administration/flow-control/); a 5xx is temporary, not a throttle
@pytest.mark.parametrize("status,want", [
    (0, TemporaryProviderError), (400, PermanentProviderError), (401, PermanentProviderError),
    (403, PermanentProviderError), (404, PermanentProviderError), (405, PermanentProviderError),
    (408, TemporaryProviderError), (409, TemporaryProviderError), (410, TemporaryProviderError),
    (415, PermanentProviderError), (422, PermanentProviderError), (429, ThrottledError),
    (500, TemporaryProviderError), (502, TemporaryProviderError), (503, TemporaryProviderError),
    (504, TemporaryProviderError)])
def test_status_codes(status, want):
    err = translate(kx.ApiException(status=status, reason="r"), provider="capi", operation="op")
    assert type(err) is want and err.code == str(status)


def test_other_errors_and_retry_after():
    assert type(translate(ConfigException("no context"), provider="capi", operation="op")) is PermanentProviderError
    assert type(translate(ConnectionRefusedError(), provider="capi", operation="op")) is TemporaryProviderError
    assert type(translate(TimeoutError(), provider="capi", operation="op")) is TemporaryProviderError

    class M(BaseModel):
        x: int
    with pytest.raises(PydanticValidationError) as info:
        M(x="nope")
    assert type(translate(info.value, provider="capi", operation="op")) is PermanentProviderError
    assert translate(KeyError("not an SDK error"), provider="capi", operation="op") is None

    exc = kx.ApiException(status=429, reason="TooManyRequests")
    exc.headers = {"Retry-After": "7"}
    exc.body = '{"kind":"Status","message":"slow down","reason":"TooManyRequests","details":{"retryAfterSeconds":3}}'
    err = translate(exc, provider="capi", operation="list clusters")
    assert isinstance(err, TemporaryProviderError) and err.retry_after == 7.0 and "slow down" in str(err)
    exc.headers = {}
    assert translate(exc, provider="capi", operation="op").retry_after == 3.0
    exc.body = None
    assert translate(exc, provider="capi", operation="op").retry_after == 5.0          # a default, so the engine backs off
    assert isinstance(translate(exc, provider="capi", operation="op"), ProviderError)


# ---- budgets and warnings ----------------------------------------------------------------------------------

def _step(component=Component.NODE_POOL, **kw) -> Step:
    base = {"to": "v1.30.4", "from_": "v1.29.2", "pool": "md-0" if component is Component.NODE_POOL else None}
    return Step(component, **{**base, **kw})


@pytest.mark.parametrize("kw,default,want,warns", [
    ({}, None, None, 0),
    ({}, 0, 0, 0),
    ({"max_surge": 0}, 1, 0, 0),
    ({"max_surge": 1}, None, 1, 0),
    ({"max_surge": 3}, None, 1, 1),                     # KCP: 0 or 1 only
    ({"max_surge": 1, "max_unavailable": 2}, None, 1, 1),
    ({"strategy": "blue-green"}, None, None, 1),
])
def test_kcp_surge_translation(kw, default, want, warns):
    surge, warnings = compute_kcp_surge(_step(Component.CONTROL_PLANE, **kw), default)
    assert surge == want and len(warnings) == warns


@pytest.mark.parametrize("kw,want,warns", [
    ({}, PoolKnobs(), 0),
    ({"max_surge": 1, "max_unavailable": 0, "max_surge_spec": "1", "max_unavailable_spec": "0"}, PoolKnobs(1, 0), 0),
    ({"max_surge": 1, "max_unavailable": 0, "max_surge_spec": "25%", "max_unavailable_spec": "0"},
     PoolKnobs("25%", 0), 0),                                       # CAPI rounds percentages like the policy
    ({"max_surge": 0, "max_unavailable": 2, "max_unavailable_spec": "50%"}, PoolKnobs(0, "50%"), 0),
    ({"node_soak_seconds": 120, "drain_timeout_seconds": 900}, PoolKnobs(None, None, 120, 900), 0),
    ({"strategy": "blue-green", "blue_green": BlueGreen(batch_node_count=1, batch_soak_seconds=60)},
     PoolKnobs("100%", 0), 1),
])
def test_pool_knob_translation(kw, want, warns):
    knobs, warnings = compute_pool_knobs(_step(**kw))
    assert knobs == want and len(warnings) == warns


EXTRA = {"topology": False, "controlPlane": {"templateKind": "OCIMachineTemplate"},
         "machineDeployments": {"md-0": {"templateKind": "OCIMachineTemplate", "strategy": "RollingUpdate"},
                                "md-od": {"templateKind": "OCIMachineTemplate", "strategy": "OnDelete"},
                                "md-dev": {"templateKind": "DevMachineTemplate", "strategy": "RollingUpdate"}},
         "paused": [], "holdUpgradeSequence": [], "deferUpgrade": []}
IMAGES = {"OCIMachineTemplate": {"v1.30.4": "img", "v1.31.1": "img31"}}


@pytest.mark.parametrize("extra,step,expect", [
    (EXTRA, _step(Component.CONTROL_PLANE), []),
    (EXTRA, _step(Component.CONTROL_PLANE, max_surge=2), ["maxSurge 0 or 1 only"]),
    (EXTRA, _step(Component.CONTROL_PLANE, to="v1.32.0"), ["blocked: no image", "blocked: KubeadmControlPlane cannot skip"]),
    (EXTRA, _step(Component.CONTROL_PLANE, to="v1.31.1"), ["blocked: KubeadmControlPlane cannot skip"]),
    (EXTRA, _step(max_surge=1, max_unavailable=0), []),
    (EXTRA, _step(strategy="blue-green"), ["no blue-green strategy"]),
    (EXTRA, _step(pool="md-od"), ["OnDelete"]),
    (EXTRA, _step(pool="md-dev"), ["blocked: no image for DevMachineTemplate"]),
    (EXTRA, _step(pool="nope"), ["blocked: MachineDeployment nope not found"]),
    ({**EXTRA, "paused": ["Cluster c1"]}, _step(), ["Cluster c1 is paused"]),
    ({**EXTRA, "topology": True, "holdUpgradeSequence": ["b"], "deferUpgrade": ["a"],
      "machineDeployments": {"c-a": {"templateKind": "OCIMachineTemplate"}}}, _step(Component.CONTROL_PLANE),
     ["managed topology", "b has topology.cluster.x-k8s.io/hold-upgrade-sequence",
      "a has topology.cluster.x-k8s.io/defer-upgrade"]),
    ({**EXTRA, "topology": True, "machineDeployments": {}}, _step(pool="c-a"), ["managed topology", "only waits"]),
])
def test_check_step_warnings(extra, step, expect):
    warnings = compute_warnings(extra, step, IMAGES, None)
    assert len(warnings) == len(expect), warnings
    for w, e in zip(warnings, expect, strict=True):
        assert e in w


# ---- objects per API version -------------------------------------------------------------------------------

def _kcp(capi: str, **status) -> KcpView:
    spec = {"version": "v1.30.4", "replicas": 3}
    return KcpView(capi, {"metadata": {"name": "k", "namespace": "ns", "generation": 2, "resourceVersion": "9"},
                          "spec": spec, "status": {"observedGeneration": 2, "replicas": 3, "version": "v1.30.4",
                                                   **status}})


def test_kcp_patch_paths_per_version():
    ref1 = Ref("infrastructure.cluster.x-k8s.io", "OCIMachineTemplate", "t2", "v1beta2")
    p1 = compute_kcp_patch(_kcp("v1beta1"), "v1.31.1", ref1.render("v1beta1"), 0)
    assert p1 == {"metadata": {"resourceVersion": "9"}, "spec": {
        "version": "v1.31.1",
        "machineTemplate": {"infrastructureRef": {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2",
                                                  "kind": "OCIMachineTemplate", "name": "t2"}},
        "rolloutStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0}}}}
    p2 = compute_kcp_patch(_kcp("v1beta2"), "v1.31.1", ref1.render("v1beta2"), None)
    assert p2["spec"] == {"version": "v1.31.1", "machineTemplate": {"spec": {"infrastructureRef": {
        "apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "OCIMachineTemplate", "name": "t2"}}}}


def test_md_patch_paths_per_version():
    md1 = MdView("v1beta1", {"metadata": {"resourceVersion": "3"}, "spec": {"strategy": {"type": "RollingUpdate"}}})
    knobs = PoolKnobs("25%", 0, 30, 600)
    p = compute_md_patch(md1, "v1.31.1", {"apiVersion": "x/v1", "kind": "K", "name": "n"}, knobs)
    assert p["spec"]["strategy"] == {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}}
    assert p["spec"]["minReadySeconds"] == 30 and p["spec"]["template"]["spec"]["nodeDrainTimeout"] == "600s"
    md2 = MdView("v1beta2", {"metadata": {"resourceVersion": "3"}, "spec": {}})
    p = compute_md_patch(md2, "v1.31.1", {"apiGroup": "x", "kind": "K", "name": "n"}, knobs)
    assert p["spec"]["rollout"]["strategy"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 0}
    assert p["spec"]["template"]["spec"]["minReadySeconds"] == 30
    assert p["spec"]["template"]["spec"]["deletion"] == {"nodeDrainTimeoutSeconds": 600}
    ondelete = MdView("v1beta2", {"metadata": {}, "spec": {"rollout": {"strategy": {"type": "OnDelete"}}}})
    assert "rollout" not in compute_md_patch(ondelete, "v1.31.1", {}, knobs)["spec"]


@pytest.mark.parametrize("capi,status,done", [
    ("v1beta1", {"updatedReplicas": 3, "readyReplicas": 3}, True),
    ("v1beta1", {"updatedReplicas": 2, "readyReplicas": 3}, False),
    ("v1beta1", {"updatedReplicas": 3, "readyReplicas": 3, "observedGeneration": 1}, False),
    ("v1beta1", {"updatedReplicas": 3, "readyReplicas": 3, "version": "v1.29.2"}, False),
    ("v1beta1", {"updatedReplicas": 3, "readyReplicas": 3, "replicas": 4}, False),
    ("v1beta2", {"upToDateReplicas": 3, "availableReplicas": 3}, True),
    ("v1beta2", {"upToDateReplicas": 3, "availableReplicas": 2}, False),
    ("v1beta2", {"updatedReplicas": 3, "readyReplicas": 3}, False),          # v1beta1 names mean nothing here
])
def test_rollout_done_reads_the_right_fields(capi, status, done):
    assert compute_rollout(_kcp(capi, **status), 2, "v1.30.4").done is done


def test_template_copy_strips_server_metadata_and_sets_the_image():
    tpl = {"apiVersion": "infrastructure.cluster.x-k8s.io/v1beta2", "kind": "OCIMachineTemplate",
           "metadata": {"name": "c1-control-plane", "namespace": "ns", "uid": "u", "resourceVersion": "5",
                        "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z", "managedFields": [{}],
                        "labels": {"cluster.x-k8s.io/cluster-name": "c1"},
                        "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}", "keep": "me"},
                        "ownerReferences": [{"kind": "Cluster", "name": "c1", "uid": "c", "apiVersion": "x/v1"},
                                            {"kind": "Other", "name": "o", "uid": "o", "apiVersion": "x/v1"}]},
           "spec": {"template": {"spec": {"imageId": "old", "shape": "s"}}}, "status": {"x": 1}}
    new = compute_template_copy(tpl, "v1.30.4", "new-image", "spec.template.spec.imageId")
    assert new["spec"] == {"template": {"spec": {"imageId": "new-image", "shape": "s"}}}
    assert tpl["spec"]["template"]["spec"]["imageId"] == "old"                  # the original is untouched
    meta = new["metadata"]
    assert set(meta) == {"name", "namespace", "labels", "annotations", "ownerReferences"}
    assert meta["name"].startswith("c1-control-plane-v1-30-4-") and len(meta["name"]) <= 63
    assert meta["annotations"]["keep"] == "me" and "kubectl.kubernetes.io/last-applied-configuration" not in meta["annotations"]
    assert [o["kind"] for o in meta["ownerReferences"]] == ["Cluster"]
    again = compute_template_copy({**new, "metadata": {**meta, "uid": "u2"}}, "v1.31.1", "img31",
                                  "spec.template.spec.imageId")
    assert again["metadata"]["name"].startswith("c1-control-plane-v1-31-1-")  # the base name is kept, not stacked
    assert compute_template_copy(tpl, "v1.30.4", "new-image", "spec.template.spec.imageId") == new   # stable


def test_gitops_flagging_and_failed_machines():
    assert observe_gitops({"metadata": {}}) is None
    flux = observe_gitops({"metadata": {"labels": {"kustomize.toolkit.fluxcd.io/name": "fleet-infra"}}})
    assert flux and "Flux Kustomization fleet-infra" in flux
    argo = observe_gitops({"metadata": {}}, {"metadata": {"annotations": {"argocd.argoproj.io/tracking-id": "app:x"}}})
    assert argo and "Argo CD" in argo
    machines = [{"metadata": {"name": "a"}, "status": {"phase": "Running"}},
                {"metadata": {"name": "b"}, "status": {"phase": "Failed", "failureMessage": "no capacity"}},
                {"metadata": {"name": "c"}, "status": {"deprecated": {"v1beta1": {"failureMessage": "quota"}}}}]
    assert failed_machines(machines) == ["b: no capacity", "c: quota"]


def test_missing_sdk_names_the_extra(monkeypatch):
    import sys

    from fleet.errors import MissingExtraError
    from providers.capi.adapter import CapiProvider
    monkeypatch.setitem(sys.modules, "kubernetes", None)          # as if the capi extra were not installed
    with pytest.raises(MissingExtraError) as info:
        CapiProvider("capi", {"managementClusters": MC})
    assert "fleet-upgrader[capi]" in str(info.value)
