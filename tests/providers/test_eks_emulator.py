"""EksEmulator behaviour, driven by plain boto3 clients over HTTP (no adapter)."""

from __future__ import annotations

import functools

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ReadTimeoutError

from fleet.clock import FakeClock
from providers.eks.emulator.server import EksEmulator, NodegroupSpec
from tests.providers.harness_eks import ami_releases

ONE_SHOT = Config(retries={"total_max_attempts": 1}, read_timeout=5, connect_timeout=2)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def em(clock):
    emulator = EksEmulator(clock, timeout_delay_s=0.6)
    emulator.start()
    for minor in ("1.28", "1.29", "1.30", "1.31"):
        emulator.add_version(minor, status="UNSUPPORTED" if minor == "1.28" else "STANDARD_SUPPORT")
        emulator.add_ami_releases(minor, ami_releases(minor))
    emulator.add_cluster("c1", "1.29", {"ng1": NodegroupSpec("1.29", nodes=4), "ng2": "1.29"})
    yield emulator
    emulator.stop()


@functools.cache
def _session() -> boto3.Session:
    return boto3.Session(aws_access_key_id="AKIDTEST", aws_secret_access_key="not-a-secret")


def _client(em, service="eks", config=ONE_SHOT):
    return _session().client(service, region_name="us-east-1", endpoint_url=em.url, config=config)


@pytest.fixture
def eks(em):
    return _client(em)


def _code(info) -> tuple[str, int]:
    r = info.value.response
    return r["Error"]["Code"], r["ResponseMetadata"]["HTTPStatusCode"]


def test_control_plane_update_progresses_only_with_virtual_time(em, eks, clock):
    u = eks.update_cluster_version(name="c1", version="1.30")["update"]
    assert u["status"] == "InProgress" and u["type"] == "VersionUpdate"
    assert {"type": "Version", "value": "1.30"} in u["params"]
    c = eks.describe_cluster(name="c1")["cluster"]
    assert (c["version"], c["status"]) == ("1.29", "UPDATING")
    clock.advance(em.cp_update_seconds - 1)
    assert eks.describe_update(name="c1", updateId=u["id"])["update"]["status"] == "InProgress"
    assert eks.describe_cluster(name="c1")["cluster"]["version"] == "1.29"
    clock.advance(1)
    assert eks.describe_update(name="c1", updateId=u["id"])["update"]["status"] == "Successful"
    c = eks.describe_cluster(name="c1")["cluster"]
    assert (c["version"], c["status"]) == ("1.30", "ACTIVE")
    assert eks.list_updates(name="c1")["updateIds"] == [u["id"]]
    assert [(r.kind, r.version) for r in em.upgrade_log] == [("cluster", "1.30")]


def test_second_update_is_refused_while_one_runs(em, eks, clock):
    eks.update_cluster_version(name="c1", version="1.30")
    for call in (lambda: eks.update_cluster_version(name="c1", version="1.30"),
                 lambda: eks.update_nodegroup_version(clusterName="c1", nodegroupName="ng1"),
                 lambda: eks.update_nodegroup_config(clusterName="c1", nodegroupName="ng1",
                                                     updateConfig={"maxUnavailable": 2})):
        with pytest.raises(ClientError) as info:
            call()
        assert _code(info) == ("ResourceInUseException", 409)
    assert len(em.upgrade_log) == 1
    clock.advance(em.cp_update_seconds)
    eks.update_nodegroup_version(clusterName="c1", nodegroupName="ng1", version="1.30")
    with pytest.raises(ClientError) as info:            # the same node group is busy now
        eks.update_nodegroup_version(clusterName="c1", nodegroupName="ng1", version="1.30")
    assert _code(info)[0] == "ResourceInUseException"
    eks.update_nodegroup_version(clusterName="c1", nodegroupName="ng2", version="1.30")   # another one may go


@pytest.mark.parametrize("target,code", [
    ("1.31", "InvalidParameterException"),       # two minors at once
    ("1.29", "InvalidParameterException"),       # already there
    ("1.28", "InvalidParameterException"),       # downgrade / unsupported
    ("1.99", "InvalidParameterException"),       # unknown
])
def test_control_plane_moves_one_supported_minor_at_a_time(em, eks, target, code):
    with pytest.raises(ClientError) as info:
        eks.update_cluster_version(name="c1", version=target)
    assert _code(info) == (code, 400)
    assert em.upgrade_log == []


def test_node_groups_must_match_before_the_next_minor(em, eks, clock):
    eks.update_cluster_version(name="c1", version="1.30")
    clock.advance(em.cp_update_seconds)
    with pytest.raises(ClientError) as info:
        eks.update_cluster_version(name="c1", version="1.31")
    # the code and text real EKS answers (providers/eks/emulator/checks.py [API-UCV])
    assert _code(info) == ("InvalidParameterException", 400)
    assert info.value.response["Error"]["Message"] == \
        "Nodegroups ng1, ng2 must be updated to match cluster version 1.30 before updating cluster version"
    with pytest.raises(ClientError) as info:            # a node group may not pass its control plane
        eks.update_nodegroup_version(clusterName="c1", nodegroupName="ng1", version="1.31")
    assert _code(info) == ("InvalidParameterException", 400)
    with pytest.raises(ClientError) as info:
        eks.update_nodegroup_version(clusterName="c1", nodegroupName="ng1", version="1.30",
                                     releaseVersion="1.30.9-20990101")
    assert _code(info) == ("InvalidParameterException", 400)


def test_nodegroup_update_uses_the_recorded_budget(em, eks, clock):
    cfg = eks.update_nodegroup_config(clusterName="c1", nodegroupName="ng1",
                                      updateConfig={"maxUnavailablePercentage": 50, "updateStrategy": "MINIMAL"})
    assert cfg["update"]["type"] == "ConfigUpdate" and cfg["update"]["status"] == "Successful"
    assert eks.describe_update(name="c1", updateId=cfg["update"]["id"], nodegroupName="ng1")["update"]["status"] \
        == "Successful"
    assert em.config_log[-1]["updateConfig"] == {"maxUnavailablePercentage": 50, "updateStrategy": "MINIMAL"}
    ng = eks.describe_nodegroup(clusterName="c1", nodegroupName="ng1")["nodegroup"]
    assert ng["updateConfig"] == {"maxUnavailablePercentage": 50, "updateStrategy": "MINIMAL"}
    u = eks.update_nodegroup_version(clusterName="c1", nodegroupName="ng1", releaseVersion="1.29.3-20240312")["update"]
    assert {"type": "ReleaseVersion", "value": "1.29.3-20240312"} in u["params"]
    # 4 nodes, 50% at a time: two rounds of node_update_seconds
    clock.advance(2 * em.node_update_seconds - 1)
    assert eks.describe_update(name="c1", updateId=u["id"], nodegroupName="ng1")["update"]["status"] == "InProgress"
    clock.advance(1)
    assert eks.describe_update(name="c1", updateId=u["id"], nodegroupName="ng1")["update"]["status"] == "Successful"
    ng = eks.describe_nodegroup(clusterName="c1", nodegroupName="ng1")["nodegroup"]
    assert (ng["version"], ng["releaseVersion"], ng["status"]) == ("1.29", "1.29.3-20240312", "ACTIVE")
    log = em.upgrade_log[-1]
    assert (log.kind, log.nodegroup, log.update_config) == ("nodegroup", "ng1", ng["updateConfig"])
    assert eks.list_updates(name="c1", nodegroupName="ng1")["updateIds"] == [cfg["update"]["id"], u["id"]]
    with pytest.raises(ClientError) as info:            # no rolling back to an older AMI release
        eks.update_nodegroup_version(clusterName="c1", nodegroupName="ng1", releaseVersion="1.29.0-20240105")
    assert _code(info) == ("InvalidParameterException", 400)


@pytest.mark.parametrize("update_config", [
    {"maxUnavailable": 1, "maxUnavailablePercentage": 10}, {"maxUnavailable": 0}, {"maxUnavailable": 101},
    {"maxUnavailablePercentage": 0}, {"updateStrategy": "BLUE_GREEN"},
])
def test_update_config_is_validated_like_eks(em, update_config):
    # botocore checks some of these itself; switch that off so the emulator's own checks are exercised
    eks = _client(em, config=Config(retries={"total_max_attempts": 1}, parameter_validation=False))
    with pytest.raises(ClientError) as info:
        eks.update_nodegroup_config(clusterName="c1", nodegroupName="ng1", updateConfig=update_config)
    assert _code(info) == ("InvalidParameterException", 400)


@pytest.mark.parametrize("fault,code,status,retry_after", [
    ("throttle", "ThrottlingException", 429, "2"),
    ("server-error", "ServiceUnavailableException", 503, "2"),
    ("server-exception", "ServerException", 500, None),
    ("forbidden", "AccessDeniedException", 403, None),
])
def test_faults_are_one_shot_and_eks_shaped(em, eks, fault, code, status, retry_after):
    em.inject(fault)
    with pytest.raises(ClientError) as info:
        eks.describe_cluster(name="c1")
    assert _code(info) == (code, status)
    assert info.value.response["ResponseMetadata"]["HTTPHeaders"].get("retry-after") == retry_after
    assert eks.describe_cluster(name="c1")["cluster"]["name"] == "c1"


def test_failing_update(em, eks, clock):
    em.inject("fail-update")
    u = eks.update_cluster_version(name="c1", version="1.30")["update"]
    clock.advance(em.cp_update_seconds)
    done = eks.describe_update(name="c1", updateId=u["id"])["update"]
    assert done["status"] == "Failed" and done["errors"][0]["errorCode"]
    c = eks.describe_cluster(name="c1")["cluster"]
    assert (c["version"], c["status"]) == ("1.29", "ACTIVE")
    u2 = eks.update_cluster_version(name="c1", version="1.30")["update"]     # the fault was one-shot
    clock.advance(em.cp_update_seconds)
    assert eks.describe_update(name="c1", updateId=u2["id"])["update"]["status"] == "Successful"


def test_timeout_fault(em):
    em.inject("timeout")
    slow = _client(em, config=Config(retries={"total_max_attempts": 1}, read_timeout=0.2, connect_timeout=1))
    with pytest.raises(ReadTimeoutError):
        slow.describe_cluster(name="c1")


def test_client_request_token_returns_the_same_update(em, eks):
    a = eks.update_cluster_version(name="c1", version="1.30", clientRequestToken="tok-1")["update"]
    b = eks.update_cluster_version(name="c1", version="1.30", clientRequestToken="tok-1")["update"]
    assert a["id"] == b["id"] and len(em.upgrade_log) == 1


def test_unknown_things_are_404(em, eks):
    for call in (lambda: eks.describe_update(name="c1", updateId="nope"),
                 lambda: eks.update_cluster_version(name="ghost", version="1.30"),
                 lambda: eks.update_nodegroup_version(clusterName="c1", nodegroupName="ghost"),
                 lambda: eks.list_updates(name="ghost")):
        with pytest.raises(ClientError) as info:
            call()
        assert _code(info) == ("ResourceNotFoundException", 404)


def test_list_updates_paginates(em, eks, clock):
    ids = []
    for _ in range(3):
        u = eks.update_nodegroup_config(clusterName="c1", nodegroupName="ng2", updateConfig={"maxUnavailable": 2})
        ids.append(u["update"]["id"])
    page = eks.list_updates(name="c1", nodegroupName="ng2", maxResults=2)
    assert page["updateIds"] == ids[:2]
    assert eks.list_updates(name="c1", nodegroupName="ng2", nextToken=page["nextToken"])["updateIds"] == ids[2:]


def test_describe_cluster_versions(em, eks):
    shown = [v["clusterVersion"] for v in eks.describe_cluster_versions()["clusterVersions"]]
    assert shown == ["1.31", "1.30", "1.29"]                    # UNSUPPORTED hidden by default
    every = eks.describe_cluster_versions(includeAll=True)["clusterVersions"]
    assert {v["clusterVersion"]: v["versionStatus"] for v in every}["1.28"] == "UNSUPPORTED"
    one = eks.describe_cluster_versions(clusterVersions=["1.30"])["clusterVersions"]
    assert [v["kubernetesPatchVersion"] for v in one] == ["1.30.0"]


def test_ssm_recommended_release_parameters(em):
    ssm = _client(em, "ssm")
    base = "/aws/service/eks/optimized-ami/{}/amazon-linux-2023/x86_64/standard/recommended/release_version"
    out = ssm.get_parameters(Names=[base.format("1.30"), base.format("1.40")])
    assert [p["Value"] for p in out["Parameters"]] == ["1.30.3-20240312"]
    assert out["InvalidParameters"] == [base.format("1.40")]
    with pytest.raises(ClientError) as info:
        ssm.get_parameter(Name=base.format("1.40"))
    assert _code(info) == ("ParameterNotFound", 400)


def test_support_type_is_reported(em, eks):
    em.add_cluster("std", "1.30", support_type="STANDARD")
    assert eks.describe_cluster(name="std")["cluster"]["upgradePolicy"] == {"supportType": "STANDARD"}
    assert eks.describe_cluster(name="c1")["cluster"]["upgradePolicy"] == {"supportType": "EXTENDED"}


def test_one_emulator_per_process(em, clock):
    other = EksEmulator(clock)
    with pytest.raises(RuntimeError):
        other.start()
    other.stop()                                       # harmless: it never started


# ---- custom AMIs (providers/eks/emulator/checks.py [API-UNV], [UG-LT]) -------------------------------------
@pytest.fixture
def custom(em):
    em.add_cluster("lt", "1.29", {"custom": NodegroupSpec("1.29", ami_type="CUSTOM",
                                                          launch_template={"id": "lt-0abc", "name": "gpu-lt",
                                                                           "version": "1"}),
                                  "plain": "1.29"})
    return em


def _refused(call) -> tuple[str, int, str]:
    with pytest.raises(ClientError) as info:
        call()
    return (*_code(info), info.value.response["Error"]["Message"])


def test_custom_ami_node_group_is_reported_like_eks(custom, eks):
    ng = eks.describe_nodegroup(clusterName="lt", nodegroupName="custom")["nodegroup"]
    assert ng["amiType"] == "CUSTOM" and ng["launchTemplate"] == {"id": "lt-0abc", "name": "gpu-lt", "version": "1"}
    assert ng["releaseVersion"].startswith("ami-")


def test_custom_ami_node_group_refuses_version_and_release(custom, eks, clock):
    eks.update_cluster_version(name="lt", version="1.30")
    clock.advance(custom.cp_update_seconds)
    lt = {"id": "lt-0abc", "version": "2"}
    assert _refused(lambda: eks.update_nodegroup_version(clusterName="lt", nodegroupName="custom", version="1.30")) \
        == ("InvalidParameterException", 400, "Launch template details can't be null for Custom ami type node group")
    assert _refused(lambda: eks.update_nodegroup_version(clusterName="lt", nodegroupName="custom", version="1.30",
                                                         launchTemplate=lt)) \
        == ("InvalidParameterException", 400, "You cannot specify the field kubernetesVersion when using custom AMIs.")
    code, status, _ = _refused(lambda: eks.update_nodegroup_version(
        clusterName="lt", nodegroupName="custom", releaseVersion="1.30.3-20240312", launchTemplate=lt))
    assert (code, status) == ("InvalidParameterException", 400)
    assert [u.nodegroup for u in custom.upgrade_log if u.kind == "nodegroup"] == []
    # the operator's way: a new launch template version (its AMI is theirs); version and release stay as reported
    u = eks.update_nodegroup_version(clusterName="lt", nodegroupName="custom", launchTemplate=lt)["update"]
    assert {"type": "LaunchTemplateVersion", "value": "2"} in u["params"]
    clock.advance(custom.node_update_seconds * 3)
    ng = eks.describe_nodegroup(clusterName="lt", nodegroupName="custom")["nodegroup"]
    assert ng["launchTemplate"]["version"] == "2" and ng["version"] == "1.29"


def test_launch_template_must_be_the_node_groups_own(custom, eks):
    code, _, _ = _refused(lambda: eks.update_nodegroup_version(clusterName="lt", nodegroupName="plain",
                                                               launchTemplate={"id": "lt-0abc", "version": "2"}))
    assert code == "InvalidParameterException"
    code, _, _ = _refused(lambda: eks.update_nodegroup_version(clusterName="lt", nodegroupName="custom",
                                                               launchTemplate={"id": "lt-other", "version": "2"}))
    assert code == "InvalidParameterException"
    assert custom.upgrade_log == []


# ---- requests against botocore's service model (providers/eks/emulator/model.py) --------------------------
def test_the_model_is_the_installed_botocore_one():
    from providers.eks.emulator import model

    assert model.api_version() == "2017-11-01"
    assert model.enum_values("NodegroupUpdateStrategies") == ("DEFAULT", "MINIMAL")
    assert model.shape("ListUpdatesRequestMaxResults")["max"] == 100


@pytest.mark.parametrize("call", [
    lambda c: c.list_updates(name="c1", maxResults=101),                                   # max 100
    lambda c: c.list_updates(name="c1", maxResults=0),                                     # min 1
    lambda c: c.update_nodegroup_config(clusterName="c1", nodegroupName="ng1",
                                        updateConfig={"maxUnavailable": "2"}),             # NonZeroInteger
    lambda c: c.update_nodegroup_config(clusterName="c1", nodegroupName="ng1",
                                        updateConfig={"maxUnavailablePercentage": 101}),   # PercentCapacity
    lambda c: c.update_nodegroup_config(clusterName="c1", nodegroupName="ng1",
                                        updateConfig={"updateStrategy": "SURGE"}),         # enum
    lambda c: c.update_nodegroup_version(clusterName="c1", nodegroupName="ng1", force="yes"),  # Boolean
    lambda c: c.update_cluster_version(name="c1"),                                         # version required
    lambda c: c.describe_cluster_versions(maxResults=101),                                 # max 100
    lambda c: c.describe_cluster_versions(versionStatus="GONE"),                           # enum
    lambda c: c.list_nodegroups(clusterName="c1", maxResults=101),                         # moto's route too
    lambda c: c.list_clusters(maxResults=0),
])
def test_requests_breaking_the_model_are_refused(em, call):
    unchecked = _client(em, config=Config(retries={"total_max_attempts": 1}, parameter_validation=False))
    with pytest.raises(ClientError) as info:
        call(unchecked)
    assert _code(info) == ("InvalidParameterException", 400)
    assert em.upgrade_log == [] and em.config_log == []
