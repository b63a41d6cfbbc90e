"""EksProvider against the EKS emulator: settings, discovery, offers, steps end to end, idempotency, faults."""

from __future__ import annotations

import json

import pytest

from fleet.errors import PermanentProviderError, TemporaryProviderError
from fleet.provider import Component, OperationState, Step
from fleet.versions import parse_version
from providers.eks.adapter import AUTO_UPGRADE_STANDARD, EksProvider
from providers.eks.emulator.server import NodegroupSpec
from tests.providers.harness_eks import EksHarness, ami_releases

MINORS = ("1.29", "1.30", "1.31")
ROLE = "arn:aws:iam::222222222222:role/fleet"


def _harness(**options):
    h = EksHarness(**options)
    h.start()
    for m in MINORS:
        h.emulator.add_version(m)
        h.emulator.add_ami_releases(m, ami_releases(m))
    return h


@pytest.fixture
def h():
    harness = _harness()
    yield harness
    harness.stop()


def _find(p, cid):
    return next(c for c in p.discover() if c.id == cid)


def _run(h, p, cid, step, limit=200):
    c = _find(p, cid)
    op = p.start(c, step)
    for _ in range(limit):
        st = p.poll(c, op)
        if st.state is not OperationState.RUNNING:
            return st
        h.clock.advance(st.poll_after or 60)
    raise AssertionError("operation never finished")


def _cp(c, to):
    return Step(Component.CONTROL_PLANE, to=to, from_=c.control_plane)


def _pool(c, pool, to, **budget):
    return Step(Component.NODE_POOL, to=to, from_=c.pool(pool).version, pool=pool, **budget)


# ---- settings ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("settings,bad", [
    ({"regions": ["us-east-1"], "regoins": ["x"]}, "regoins"),
    ({}, "regions"),
    ({"regions": ["us-east-1"], "accounts": [{"regions": ["eu-west-1"]}]}, "alias"),
    ({"accounts": [{"alias": "a", "regions": ["us-east-1"], "role": "x"}]}, "accounts.0.role"),
    ({"regions": ["us-east-1"], "roleArn": "not-an-arn"}, "roleArn"),
    ({"accounts": [{"alias": "a", "regions": []}]}, "accounts.0.regions"),
    ({"regions": ["us-east-1"], "readTimeoutSeconds": 0}, "readTimeoutSeconds"),
    ({"regions": ["us-east1"]}, "regions.0"),
    ({"regions": ["us-east-1"], "endpoint": "127.0.0.1:4566"}, "endpoint"),
])
def test_bad_settings_name_the_key(settings, bad):
    with pytest.raises(ValueError, match=bad):
        EksProvider("eks", settings)


# ---- discovery -----------------------------------------------------------------------------------------
def test_discover_reports_releases_offers_labels_and_auto_upgrade(h):
    h.emulator.add_cluster("std", "1.29", {"al": NodegroupSpec("1.29", nodes=4),
                                           "br": NodegroupSpec("1.29", ami_type="BOTTLEROCKET_x86_64",
                                                               release_version="1.20.1-7c3e9198")},
                           support_type="STANDARD", tags={"env": "prod"})
    h.emulator.add_cluster("ext", "1.30", support_type="EXTENDED")
    got = {c.name: c for c in h.provider().discover()}
    std, ext = got["std"], got["ext"]
    assert std.id == "eks/us-east-1/std" and std.provider_type == "eks"
    assert std.auto_upgrade == AUTO_UPGRADE_STANDARD and ext.auto_upgrade is None
    assert std.labels == {"env": "prod"} and std.available == MINORS and ext.available == ("1.30", "1.31")
    al, br = std.pool("al"), std.pool("br")
    assert (al.version, al.nodes) == ("1.29.0-20240105", 4)
    assert al.available == ("1.29.3-20240312", "1.30.3-20240312", "1.31.3-20240312")
    assert (br.version, br.available) == ("1.29", MINORS)      # Bottlerocket: no EKS AMI releases, minors only
    offers = h.provider().offers(std)
    assert offers.control_plane == MINORS and offers.for_pool("al") == al.available


def test_discovery_over_regions_and_an_assumed_role_account(h):
    em = h.emulator
    em.add_cluster("east", "1.29", {"ng": "1.29"}, region="us-east-1")
    em.add_cluster("west", "1.30", region="eu-west-1")
    em.add_cluster("prod-api", "1.29", {"ng": "1.29"}, region="us-east-1", account="222222222222")
    p = h.provider(regions=["us-east-1", "eu-west-1"],
                   accounts=[{"alias": "prod", "roleArn": ROLE, "profile": "fleet-test", "regions": ["us-east-1"]}])
    ids = sorted(c.id for c in p.discover())
    assert ids == ["eks/eu-west-1/west", "eks/prod:us-east-1/prod-api", "eks/us-east-1/east"]
    assume = [r for r in em.requests if b"Action=AssumeRole" in r.raw]
    assert len(assume) == 1 and b"222222222222" in assume[0].raw
    # steps go to the right account: the upgrade lands in 222222222222 only
    assert _run(h, p, "eks/prod:us-east-1/prod-api", _cp(_find(p, "eks/prod:us-east-1/prod-api"), "1.30")).state \
        is OperationState.SUCCEEDED
    assert [(u.account, u.cluster) for u in em.upgrade_log] == [("222222222222", "prod-api")]
    assert em.cluster_version("east") == "1.29"
    # the role session is renewed on the provider's clock before it ends
    h.clock.advance(3600)
    p.discover()
    assert len([r for r in em.requests if b"Action=AssumeRole" in r.raw]) == 2


def test_unknown_profile_is_permanent(h):
    h.emulator.add_cluster("east", "1.29")
    with pytest.raises(PermanentProviderError, match="ProfileNotFound"):
        h.provider(profile="no-such-profile").discover()


def test_location_outside_the_scopes_is_permanent(h):
    h.emulator.add_cluster("east", "1.29")
    c = _find(h.provider(), "eks/us-east-1/east")
    other = h.provider(regions=["eu-west-1"])
    with pytest.raises(PermanentProviderError):
        other.offers(c)


# ---- steps ---------------------------------------------------------------------------------------------
def test_two_pools_patch_first_then_two_minors_with_budgets(h):
    em = h.emulator
    em.add_cluster("shop", "1.29", {"general": NodegroupSpec("1.29", nodes=4),
                                    "batch": NodegroupSpec("1.29", nodes=2, ami_type="AL2_x86_64")})
    cid = "eks/us-east-1/shop"
    p = h.provider()
    budgets = {"general": {"max_unavailable": 2, "max_unavailable_spec": "50%", "max_surge": 0},
               "batch": {"max_unavailable": 1, "max_surge": 1}}
    c = _find(p, cid)
    assert p.check_step(c, _pool(c, "general", "1.29.3-20240312", **budgets["general"])) == []
    assert any("maxSurge=1" in w for w in p.check_step(c, _pool(c, "batch", "1.29.3-20240312", **budgets["batch"])))

    def pools_to(minor):
        for name in ("general", "batch"):
            c = _find(p, cid)
            to = max((v for v in p.offers(c).for_pool(name) if parse_version(v).minor_str == minor),
                     key=parse_version)
            assert _run(h, p, cid, _pool(c, name, to, **budgets[name])).state is OperationState.SUCCEEDED

    pools_to("1.29")                                   # patch first: newest AMI release of the current minor
    for minor in ("1.30", "1.31"):
        c = _find(p, cid)
        assert minor in p.offers(c).control_plane
        assert _run(h, p, cid, _cp(c, minor)).state is OperationState.SUCCEEDED
        pools_to(minor)

    c = _find(p, cid)
    assert c.control_plane == "1.31"
    assert {pl.name: pl.version for pl in c.node_pools} == {"general": "1.31.3-20240312", "batch": "1.31.3-20240312"}
    assert [(u.kind, u.nodegroup, u.release_version or u.version) for u in em.upgrade_log] == [
        ("nodegroup", "general", "1.29.3-20240312"), ("nodegroup", "batch", "1.29.3-20240312"),
        ("cluster", None, "1.30"),
        ("nodegroup", "general", "1.30.3-20240312"), ("nodegroup", "batch", "1.30.3-20240312"),
        ("cluster", None, "1.31"),
        ("nodegroup", "general", "1.31.3-20240312"), ("nodegroup", "batch", "1.31.3-20240312")]
    # the budget knobs arrived: set once for "general" (then unchanged), "batch" already matched
    wanted = {"maxUnavailablePercentage": 50, "updateStrategy": "MINIMAL"}
    assert [(e["nodegroup"], e["updateConfig"]) for e in em.config_log] == [("general", wanted)]
    sent = [json.loads(r.raw) for r in em.requests if r.path.endswith("/node-groups/general/update-config")]
    assert [b["updateConfig"] for b in sent] == [wanted]
    assert {u.nodegroup: u.update_config for u in em.upgrade_log if u.kind == "nodegroup"} == {
        "general": wanted, "batch": {"maxUnavailable": 1}}


def test_pool_start_is_idempotent_and_refuses_another_target(h):
    h.emulator.add_cluster("idem", "1.29", {"ng": NodegroupSpec("1.29", nodes=3)})
    cid = "eks/us-east-1/idem"
    c = _find(h.provider(), cid)
    op1 = h.provider().start(c, _pool(c, "ng", "1.29.3-20240312", max_unavailable=1))
    c2 = _find(h.provider(), cid)                          # a restarted daemon sees the node group UPDATING
    assert c2.pool("ng").upgrading and c2.upgrading
    op2 = h.provider().start(c2, _pool(c, "ng", "1.29.3-20240312", max_unavailable=1))
    assert op2.id == op1.id and h.upgrade_calls(cid) == 1
    with pytest.raises(TemporaryProviderError):              # another target while it runs: try later
        h.provider().start(c2, _pool(c, "ng", "1.29.0-20240105", max_unavailable=1))
    with pytest.raises(TemporaryProviderError):              # the cloud refuses a control plane step meanwhile
        h.provider().start(c2, _cp(c2, "1.30"))
    h.finish_operations()
    op3 = h.provider().start(_find(h.provider(), cid), _pool(c, "ng", "1.29.3-20240312"))
    assert h.provider().poll(c, op3).state is OperationState.SUCCEEDED and h.upgrade_calls(cid) == 1


def test_budget_change_waits_for_the_config_update():
    h = _harness(config_update_seconds=60)
    try:
        h.emulator.add_cluster("cfg", "1.29", {"ng": "1.29"})
        cid = "eks/us-east-1/cfg"
        p = h.provider()
        step = _pool(_find(p, cid), "ng", "1.29.3-20240312", max_unavailable=2)
        for _ in range(2):                                 # config update running: try later, no version update
            with pytest.raises(TemporaryProviderError):
                p.start(_find(p, cid), step)
        assert len(h.emulator.config_log) == 1 and h.upgrade_calls(cid) == 0
        h.clock.advance(60)
        assert _run(h, p, cid, step).state is OperationState.SUCCEEDED
        assert len(h.emulator.config_log) == 1 and h.emulator.upgrade_log[0].update_config == {"maxUnavailable": 2}
    finally:
        h.stop()


def test_minor_only_pools_and_invalid_targets(h):
    h.emulator.add_cluster("br", "1.29", {"br": NodegroupSpec("1.29", ami_type="BOTTLEROCKET_ARM_64",
                                                              release_version="1.20.1-7c3e9198")})
    cid = "eks/us-east-1/br"
    p = h.provider()
    c = _find(p, cid)
    with pytest.raises(PermanentProviderError):             # a node group may not pass its control plane
        p.start(c, _pool(c, "br", "1.30"))
    with pytest.raises(PermanentProviderError):
        p.start(c, _cp(c, "not-a-version"))
    with pytest.raises(PermanentProviderError):
        p.start(c, Step(Component.NODE_POOL, to="1.29", from_="1.29", pool="ghost"))
    assert _run(h, p, cid, _cp(c, "1.30.2")).state is OperationState.SUCCEEDED   # a patch is read as its minor
    assert _run(h, p, cid, _pool(_find(p, cid), "br", "1.30")).state is OperationState.SUCCEEDED
    assert _find(p, cid).pool("br").version == "1.30" and h.upgrade_calls(cid) == 2


def test_failed_update_reports_the_cloud_errors(h):
    h.emulator.add_cluster("f", "1.29", {"ng": "1.29"})
    h.inject("fail-update")
    p = h.provider()
    st = _run(h, p, "eks/us-east-1/f", _pool(_find(p, "eks/us-east-1/f"), "ng", "1.29.3-20240312"))
    assert st.state is OperationState.FAILED and "NodeCreationFailure" in st.message


def test_poll_is_one_request(h):
    h.emulator.add_cluster("p", "1.29")
    p = h.provider()
    c = _find(p, "eks/us-east-1/p")
    op = p.start(c, _cp(c, "1.30"))
    before = len(h.emulator.requests)
    st = p.poll(c, op)
    assert st.state is OperationState.RUNNING and st.poll_after == 30.0
    assert len(h.emulator.requests) == before + 1


def test_throttle_and_timeout_are_temporary():
    h = _harness(timeout_delay_s=0.6)
    try:
        h.emulator.add_cluster("t", "1.29")
        p = h.provider(readTimeoutSeconds=0.2)
        c = _find(p, "eks/us-east-1/t")
        h.inject("timeout")
        with pytest.raises(TemporaryProviderError, match="ReadTimeout"):
            p.offers(c)
        h.inject("throttle")
        with pytest.raises(TemporaryProviderError) as info:
            p.start(c, _cp(c, "1.30"))
        assert info.value.retry_after == 2.0 and h.upgrade_calls("eks/us-east-1/t") == 0
    finally:
        h.stop()


def test_missing_sdk_names_the_extra(monkeypatch):
    from fleet.errors import MissingExtraError

    monkeypatch.setitem(__import__("sys").modules, "boto3", None)    # as if boto3 were not installed
    with pytest.raises(MissingExtraError, match=r"fleet-upgrader\[eks\]"):
        EksProvider("eks", {"regions": ["us-east-1"]})


# ---- custom AMIs: discovered as facts, blocked by the rules, never sent a version ---------------------------
def test_custom_ami_node_groups_are_facts_and_never_get_a_version(h):
    h.emulator.add_cluster("gpu", "1.29", {"custom": NodegroupSpec("1.29", ami_type="CUSTOM"), "plain": "1.29"})
    cid = "eks/us-east-1/gpu"
    p = h.provider()
    c = _find(p, cid)
    assert c.facts == {"customAmiNodegroups": ["custom"]}
    assert c.pool("custom").version == "1.29"                 # its releaseVersion is an AMI id: the minor is shown
    assert set(EksProvider.upgrade_rules(c).blocked_pools) == {"custom"}
    assert _run(h, p, cid, _cp(c, "1.30")).state is OperationState.SUCCEEDED
    c = _find(p, cid)
    with pytest.raises(PermanentProviderError, match="custom AMI") as info:
        p.start(c, _pool(c, "custom", "1.30"))
    assert info.value.code == "CustomAmiNodegroup"
    assert not [q for q in h.emulator.requests if q.path.endswith("/node-groups/custom/update-version")]
    assert _run(h, p, cid, _pool(c, "plain", "1.30.3-20240312")).state is OperationState.SUCCEEDED
