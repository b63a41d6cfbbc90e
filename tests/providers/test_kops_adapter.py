"""KopsProvider beyond the contract suite: the error-mapping table, budget translation and check_step warnings,
settings validation, discovery over several state stores, auto-upgrade flagging, restarts mid-roll, and
kops-level failures."""

from __future__ import annotations

import inspect
import os
import signal
import subprocess
import urllib.error
from datetime import timedelta
from email.message import Message

import pytest
import yaml

from fleet.errors import PermanentProviderError, ProviderError, TemporaryProviderError, ThrottledError
from fleet.provider import BlueGreen, Cluster, Component, NodePool, OperationState, Step
from providers.kops.adapter import KopsProvider, parse_settings
from providers.kops.budget import translate_step
from providers.kops.errors import KopsCommandError, translate
from tests.providers.harness_kops import CONTROL_PLANE_IG, KopsHarness

# Th: a throttle (botocore's throttling codes, S3's 503 SlowDown included, or a 429); T: temporary, not a throttle
T, P, Th = TemporaryProviderError, PermanentProviderError, ThrottledError

# ---- error mapping: every known error type ----------------------------------------------------------------

TEMPORARY_BOTOCORE_CLASSES = {"HTTPClientError", "ConnectionError", "EndpointConnectionError",
                              "ConnectionClosedError", "ConnectTimeoutError", "ReadTimeoutError",
                              "ProxyConnectionError", "ResponseStreamingError", "IncompleteReadError",
                              "CapacityNotAvailableError", "AwsChunkedWrapperError"}


def test_every_botocore_exception_class_is_mapped():
    import botocore.exceptions as be
    classes = [c for _, c in inspect.getmembers(be, inspect.isclass)
               if issubclass(c, Exception) and c.__module__ == "botocore.exceptions" and not
               issubclass(c, be.ClientError)]
    assert len(classes) > 50
    for cls in classes:
        exc = cls.__new__(cls)
        Exception.__init__(exc, "synthetic")
        err = translate(exc)
        temporary = bool({k.__name__ for k in cls.__mro__} & TEMPORARY_BOTOCORE_CLASSES) and cls.__name__ != "SSLError"
        assert isinstance(err, T if temporary else P), cls.__name__
        assert isinstance(err, ProviderError)
        if temporary:
            assert err.retry_after and err.retry_after > 0


def _client_error(code: str, status: int, headers: dict[str, str] | None = None, cls=None):
    from botocore.exceptions import ClientError
    response = {"Error": {"Code": code, "Message": "m"},
                "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers or {}}}
    return (cls or ClientError)(response, "GetObject")


@pytest.mark.parametrize("code,status,headers,expected,retry_after", [
    ("SlowDown", 503, {"retry-after": "7"}, Th, 7.0), ("SlowDown", 503, {}, Th, 10.0), ("Throttling", 400, {}, Th, 10.0),
    ("ThrottlingException", 400, {}, Th, 10.0), ("RequestLimitExceeded", 503, {}, Th, None),
    ("TooManyRequests", 429, {"retry-after": "3"}, Th, 3.0), ("InternalError", 500, {}, T, 30.0),
    ("ServiceUnavailable", 503, {}, T, None), ("ServiceUnavailable", 503, {"retry-after": "7"}, T, 7.0), ("RequestTimeout", 400, {}, T, None), ("OperationAborted", 409, {}, T, None),
    ("AccessDenied", 403, {}, P, None), ("AllAccessDisabled", 403, {}, P, None), ("NoSuchBucket", 404, {}, P, None),
    ("NoSuchKey", 404, {}, P, None), ("InvalidAccessKeyId", 403, {}, P, None), ("SignatureDoesNotMatch", 403, {}, P, None),
    ("ExpiredToken", 400, {}, P, None), ("InvalidBucketName", 400, {}, P, None), ("PermanentRedirect", 301, {}, P, None),
    ("RequestTimeTooSkewed", 403, {}, P, None), ("InvalidRequest", 400, {}, P, None),
    ("429", 429, {}, Th, 10.0), ("500", 500, {}, T, 30.0), ("502", 502, {}, T, None), ("503", 503, {}, T, None),
    ("504", 504, {}, T, None), ("400", 400, {}, P, None), ("403", 403, {}, P, None), ("404", 404, {}, P, None),
    ("409", 409, {}, P, None), ("SomethingNew", 500, {}, T, None), ("SomethingNew", 418, {}, P, None),
])
def test_client_error_codes_and_statuses(code, status, headers, expected, retry_after):
    err = translate(_client_error(code, status, headers))
    assert type(err) is expected
    if retry_after is not None:
        assert err.retry_after == retry_after


def test_every_modeled_s3_exception_is_mapped():
    import boto3
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    modeled = dict(s3.exceptions._code_to_exception)
    assert {"NoSuchKey", "NoSuchBucket"} <= set(modeled)
    for code, cls in modeled.items():
        err = translate(_client_error(code, 404 if code.startswith("NoSuch") else 400, cls=cls))
        assert isinstance(err, P), code               # none of S3's modeled errors goes away by waiting


@pytest.mark.parametrize("stderr,expected", [
    (("\nError: error reading cluster configuration: operation error S3: GetObject, https response error "
      "StatusCode: 503, RequestID: X, HostID: Y, api error SlowDown: Please reduce your request rate.\n"), Th),
    ("\nError: ... https response error StatusCode: 500, api error InternalError: We encountered an internal error\n", T),
    ("\nError: ... https response error StatusCode: 429, api error TooManyRequests: slow down\n", Th),
    ("\nError: ... StatusCode: 403, RequestID: X, api error AccessDenied: Access Denied\n", P),
    ('\nError: error listing nodes in cluster: Get "https://api.c/api/v1/nodes": dial tcp 1.2.3.4:443: i/o timeout\n', T),
    ("\nError: error reading the state store: dial tcp: [Errno 111] Connection refused\n", T),
    ("\nError: RequestError: send request failed caused by: lookup s3.amazonaws.com: no such host\n", T),
    ('\nError: cluster "x.k8s.local" not found\n', P), ("\nError: unknown flag: --bogus\n", P),
    ('\nError: unknown command "set" for "kops"\n', P),
    ("\nError: kops upgrade is required\n", P),
    ('\nError: control-plane node not healthy after update, stopping rolling-update: "error validating cluster"\n', P),
    ('\nError: error validating cluster: cluster did not validate within a duration of "15m0s"\n', P),
    ("", P),
])
def test_kops_failures_are_mapped_by_what_kops_printed(stderr, expected):
    err = translate(KopsCommandError(["update", "cluster", "c.k8s.local"], 1, stderr))
    assert type(err) is expected
    assert err.code == "exit 1"


def test_process_network_and_state_errors_are_mapped():
    headers = Message()
    headers["Retry-After"] = "4"
    cases = [
        (subprocess.TimeoutExpired(["/bin/kops", "rolling-update", "cluster"], 120), T),
        (FileNotFoundError("kops binary 'kops' not found on PATH"), P), (PermissionError("kops: permission denied"), P),
        (urllib.error.HTTPError("https://x/channels/stable", 503, "busy", headers, None), T),
        (urllib.error.HTTPError("https://x/channels/stable", 404, "nope", Message(), None), P),
        (urllib.error.URLError("no route"), T), (TimeoutError("slow"), T), (ConnectionResetError("reset"), T),
        (yaml.YAMLError("bad yaml"), P), (RuntimeError("surprise"), P),
        (urllib.error.HTTPError("https://x/channels/stable", 429, "slow down", headers, None), Th),
    ]
    for exc, expected in cases:
        err = translate(exc)
        assert type(err) is expected, exc
    assert translate(cases[3][0]).retry_after == 4.0
    same = T("already mapped", retry_after=1)
    assert translate(same) is same


# ---- budgets ----------------------------------------------------------------------------------------------

def _pool(**kw) -> Step:
    return Step(Component.NODE_POOL, to="1.30.4", from_="1.29.8", pool="nodes-a", **kw)


@pytest.mark.parametrize("step,nodes,cloud,manager,fields,flags,warned", [
    (_pool(max_surge=1, max_unavailable=0), 3, "aws", None,
     {"spec.rollingUpdate.maxSurge": "1", "spec.rollingUpdate.maxUnavailable": "0"}, [], []),
    (_pool(max_surge=1, max_unavailable=0, max_surge_spec="25%", max_unavailable_spec="0"), 4, "aws", None,
     {"spec.rollingUpdate.maxSurge": "25%", "spec.rollingUpdate.maxUnavailable": "0"}, [], []),
    (_pool(max_surge=1, max_unavailable=0, max_surge_spec="25%", max_unavailable_spec="10%"), 3, "aws", None,
     {"spec.rollingUpdate.maxSurge": "25%", "spec.rollingUpdate.maxUnavailable": "10%"}, [], ["never below 1"]),
    (_pool(max_surge=0, max_unavailable=0), 3, "aws", None,
     {"spec.rollingUpdate.maxSurge": "0", "spec.rollingUpdate.maxUnavailable": "1"}, [], ["rejects maxSurge=0"]),
    (_pool(max_surge=2, max_unavailable=1), 5, "gce", None,
     {"spec.rollingUpdate.maxSurge": "2", "spec.rollingUpdate.maxUnavailable": "1"}, [], ["on gce"]),
    (_pool(max_surge=1, max_unavailable=0, strategy="blue-green", blue_green=BlueGreen(batch_percentage=0.5)), 3,
     "aws", None, {"spec.rollingUpdate.maxSurge": "1", "spec.rollingUpdate.maxUnavailable": "0"}, [],
     ["no blue-green"]),
    # kops' maxSurge defaults to 1 on AWS (pkg/instancegroups/settings.go), 0 elsewhere: said when unset
    (_pool(max_unavailable=2, drain_timeout_seconds=600, node_soak_seconds=60), 6, "aws", None,
     {"spec.rollingUpdate.maxUnavailable": "2"}, ["--drain-timeout", "600s", "--node-interval", "60s"],
     ["kops surges 1"]),
    (_pool(max_unavailable=2), 6, "gce", None, {"spec.rollingUpdate.maxUnavailable": "2"}, [], []),
    (_pool(max_surge=1, max_unavailable=0), 3, "aws", "Karpenter",
     {"spec.rollingUpdate.maxSurge": "1", "spec.rollingUpdate.maxUnavailable": "0"}, [], ["Karpenter"]),
    (_pool(), 3, "aws", None, {}, [], []),
    (Step(Component.CONTROL_PLANE, to="1.30.4", from_="1.29.8"), 1, "aws", None, {}, [], []),
    (Step(Component.CONTROL_PLANE, to="1.30.4", from_="1.29.8", max_surge=1, max_unavailable=2,
          drain_timeout_seconds=300, node_soak_seconds=30), 3, "aws", None, {},
     ["--drain-timeout", "300s", "--control-plane-interval", "30s"], ["never surges", "maxUnavailable=2"]),
])
def test_budget_translation_table(step, nodes, cloud, manager, fields, flags, warned):
    tr = translate_step(step, nodes=nodes, cloud=cloud, manager=manager)
    assert tr.fields == fields
    assert tr.flags == flags
    assert len(tr.warnings) == len(warned), tr.warnings
    for fragment, warning in zip(warned, tr.warnings, strict=True):
        assert fragment in warning


@pytest.mark.parametrize("surge,unavailable,nodes,cloud,manager,expected", [
    (None, None, 3, "aws", None, (1, 0)),           # unset maxSurge: 1 on AWS, and then maxUnavailable 0
    (None, None, 3, "gce", None, (0, 1)),           # 0 elsewhere, and then maxUnavailable 1
    (None, None, 3, "aws", "Karpenter", (0, 1)),    # not for Karpenter-managed groups
    ("10%", None, 3, "aws", None, (1, 0)),          # surge percentages round up
    ("0%", None, 3, "aws", None, (0, 1)),           # the percentage is resolved before the maxUnavailable default
    (None, "50%", 3, "aws", None, (1, 1)),
    (None, "10%", 3, "aws", None, (1, 1)),          # unavailable percentages round down, to at least 1
])
def test_kops_resolve_follows_kops_resolve_settings(surge, unavailable, nodes, cloud, manager, expected):
    """kubernetes/kops pkg/instancegroups/settings.go resolveSettings (the default maxSurge was 0 before)."""
    from providers.kops.budget import kops_resolve
    from providers.kops.emulator.state import resolve_rolling_update
    assert kops_resolve(surge, unavailable, nodes, cloud=cloud, manager=manager) == expected
    ru = {k: v for k, v in (("maxSurge", surge), ("maxUnavailable", unavailable)) if v is not None}
    ig = {"spec": {"rollingUpdate": ru, **({"manager": manager} if manager else {})}}
    assert resolve_rolling_update({"spec": {"cloudProvider": cloud}}, ig, nodes) == expected


def _cluster(**igs) -> Cluster:
    return Cluster(provider="kops", location="b", name="c.k8s.local", control_plane="1.29.8",
                   node_pools=(NodePool("nodes-a", "1.29.8", 3),), provider_type="kops",
                   extra={"cloudProvider": "aws", "instanceGroups": igs})


@pytest.mark.parametrize("step,igs,warned", [
    (_pool(max_surge=1, max_unavailable=0), {"nodes-a": {"minSize": 3}}, []),
    (_pool(max_surge=0, max_unavailable=0), {"nodes-a": {"minSize": 3}}, ["rejects maxSurge=0"]),
    (_pool(max_surge=1, max_unavailable=0), {"nodes-a": {"minSize": 3, "manager": "Karpenter"}}, ["Karpenter"]),
    (Step(Component.NODE_POOL, to="1.30.4", from_="1.29.8", pool="ghost", max_surge=1), {"nodes-a": {}},
     ["not found"]),
    (Step(Component.CONTROL_PLANE, to="1.30.4", from_="1.29.8", strategy="blue-green"), {}, ["no blue-green"]),
])
def test_check_step_warnings(step, igs, warned):
    p = KopsProvider("kops", {"stateStore": "s3://b"})
    got = p.check_step(_cluster(**igs), step)
    assert len(got) == len(warned), got
    for fragment, warning in zip(warned, got, strict=True):
        assert fragment in warning


@pytest.mark.parametrize("settings,key", [
    ({"stateStore": "s3://b", "stateStor": "s3://b"}, "stateStor"), ({"stateStore": "gs://b"}, "stateStore"),
    ({"stateStore": "s3://b", "clusters": ["Bad_Name"]}, "clusters"), ({}, "stateStore"),
    ({"stateStore": "s3://b", "commandTimeout": 0}, "commandTimeout"), ({"stateStore": "s3://b", "env": {"A": 1}}, "env"),
])
def test_settings_are_validated_strictly(settings, key):
    with pytest.raises(ValueError, match=key):
        parse_settings(settings)


# ---- against the emulator ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def h():
    harness = KopsHarness()
    harness.start()
    yield harness
    harness.stop()


def _find(p: KopsProvider, cid: str) -> Cluster:
    return next(c for c in p.discover() if c.id == cid)


def _settle(h: KopsHarness, p: KopsProvider, cluster: Cluster, op, limit: int = 20):
    for _ in range(limit):
        st = p.poll(cluster, op)
        if st.state is not OperationState.RUNNING:
            return st
        h.clock.advance(timedelta(hours=1))
    raise AssertionError("operation never finished")


def test_discovery_over_several_state_stores_and_auto_upgrade_flag(h):
    team_b = f"{h.emu.state_store}/team-b"
    h.emu.seed_cluster("root1.k8s.local", "1.29.2", {CONTROL_PLANE_IG: {"role": "ControlPlane"},
                                                     "nodes": {"role": "Node", "size": 2}})
    for n in ("b1", "b2"):
        h.emu.seed_cluster(f"{n}.k8s.local", "1.29.8", {CONTROL_PLANE_IG: {"role": "ControlPlane"},
                                                        "nodes": {"role": "Node", "size": 2},
                                                        "spot": {"role": "Node", "manager": "Karpenter"},
                                                        "bastions": {"role": "Bastion"}},
                           store=team_b, labels={"team": "b"})
    p = h.provider(stateStore=[h.emu.state_store, team_b])
    found = {c.id: c for c in p.discover()}
    b1 = found[f"kops/{h.emu.bucket}:team-b/b1.k8s.local"]
    assert {f"kops/{h.emu.bucket}/root1.k8s.local", f"kops/{h.emu.bucket}:team-b/b2.k8s.local"} <= set(found)
    assert {pl.name for pl in b1.node_pools} == {"nodes", "spot"} and b1.labels == {"team": "b"}
    assert b1.auto_upgrade == "Karpenter replaces drifted nodes of spot"
    assert found[f"kops/{h.emu.bucket}/root1.k8s.local"].auto_upgrade is None
    assert b1.extra["instanceGroups"]["nodes"]["appliedVersion"] == "1.29.8"
    only = h.provider(stateStore=[h.emu.state_store, team_b], clusters=["b2.k8s.local"]).discover()
    assert [c.id for c in only] == [f"kops/{h.emu.bucket}:team-b/b2.k8s.local"]
    # the second scope is operated with its own KOPS_STATE_STORE
    op = p.start(b1, Step(Component.CONTROL_PLANE, to="1.29.8", from_="1.29.8"))
    assert p.poll(b1, op).state is OperationState.SUCCEEDED


def test_restart_mid_pool_roll_reruns_safely(h):
    cid = h.seed("restart", "1.29.8", {"nodes-a": "1.29.2"}, ["1.29.2", "1.29.8"])
    a = h.provider()
    c = _find(a, cid)
    step = Step(Component.NODE_POOL, to="1.29.8", from_="1.29.2", pool="nodes-a", max_surge=1, max_unavailable=0)
    op = a.start(c, step)
    assert a.poll(c, op).state is OperationState.RUNNING
    os.kill(op.data["pid"], signal.SIGKILL)           # the daemon died and took its kops child with it
    b = h.provider()                                  # the restarted daemon polls the recorded operation
    st = b.poll(c, op)
    assert st.state is OperationState.RUNNING and "re-running" in st.message
    assert _settle(h, b, c, op).state is OperationState.SUCCEEDED
    assert len(h.emu.upgrade_log("restart.k8s.local", kind="apply")) == 1
    assert h.emu.instance_versions("restart.k8s.local")["nodes-a"] == ["1.29.8"] * 3


def test_kops_failures_surface_as_typed_errors(h):
    cid = h.seed("kfail", "1.29.2", {"nodes-a": "1.29.2"}, ["1.29.2", "1.29.8"])
    p = h.provider()
    c = _find(p, cid)
    step = Step(Component.CONTROL_PLANE, to="1.29.8", from_="1.29.2")
    h.inject("kops-throttle")
    with pytest.raises(TemporaryProviderError, match="SlowDown"):
        p.start(c, step)
    op = p.start(c, step)                             # the retry picks up where kops left off
    assert _settle(h, p, c, op).state is OperationState.SUCCEEDED
    assert len(h.emu.upgrade_log("kfail.k8s.local", kind="apply")) == 1
    with pytest.raises(PermanentProviderError, match="not found on PATH"):
        h.provider(kopsBinary="kops-missing").start(c, Step(Component.CONTROL_PLANE, to="1.29.8", from_="1.29.8"))
    with pytest.raises(PermanentProviderError, match="kops gives every instance group"):
        p.start(_find(p, cid), Step(Component.NODE_POOL, to="1.30.4", from_="1.29.2", pool="nodes-a"))


def test_slow_state_store_is_temporary(h):
    cid = h.seed("slow", "1.29.2", {"nodes-a": "1.29.2"}, ["1.29.2"])
    p = h.provider(requestTimeout=0.3)
    c = _find(p, cid)
    h.emu.proxy.timeout_delay_s = 1.0
    # offers reads go through the rate-limit kit, which retries throttles only: a timed-out read is a
    # temporary error handed back at once (the step machine or the next discovery tries again)
    start = h.clock.now()
    h.inject("timeout")
    with pytest.raises(TemporaryProviderError):
        p.offers(c)
    assert h.clock.now() == start                       # no pause of the store for a timeout
    assert p.offers(c).control_plane == ("1.29.2",)


# ---- upgrade rules: the kops binary's version -------------------------------------------------------------

@pytest.mark.parametrize("facts,max_minor", [
    ({"kopsVersion": "1.30.1"}, (1, 30)),       # kops 1.30 refuses Kubernetes >= 1.31 (apply_cluster.go)
    ({"kopsVersion": "1.31.0-beta.1"}, (1, 31)),
    ({"kopsVersion": "v1.28.4"}, (1, 28)),
    ({}, None),                                 # unknown binary: no limit stated
])
def test_rules_cap_the_minor_at_the_kops_binary(facts, max_minor):
    from fleet.provider import PoolStrategy, rules_for
    rules = rules_for(KopsProvider, Cluster(provider="kops", location="b", name="c.k8s.local", control_plane="1.29.8",
                                            provider_type="kops", facts=facts))
    assert rules.max_minor == max_minor
    assert ("upgrading kops is required" in rules.max_minor_reason) is (max_minor is not None)
    assert rules.strategies == frozenset({PoolStrategy.SURGE}) and "blueGreen" not in rules.knobs


@pytest.mark.parametrize("facts", [{"kopsVersion": "1.30"}, {"kopsVersion": "latest"}, {"kopsversion": "1.30.1"}])
def test_kops_facts_are_strict(facts):
    from pydantic import ValidationError
    with pytest.raises(ValidationError):
        KopsProvider.facts_model.model_validate(facts)


def test_an_old_kops_binary_is_discovered_and_a_too_new_minor_refused_before_any_change(tmp_path):
    old = KopsHarness(kops_version="1.29.3")
    old.start()
    try:
        cid = old.seed("oldkops", "1.29.8", {"nodes-a": "1.29.8"}, ["1.29.8", "1.30.4"])
        p = old.provider()
        c = _find(p, cid)
        assert c.facts == {"kopsVersion": "1.29.3"}
        from fleet.provider import rules_for
        assert rules_for(KopsProvider, c).max_minor == (1, 29)
        with pytest.raises(PermanentProviderError, match="upgrading kops is required"):
            p.start(c, Step(Component.CONTROL_PLANE, to="1.30.4", from_="1.29.8"))
        assert old.emu.cluster_spec("oldkops.k8s.local")["spec"]["kubernetesVersion"] == "1.29.8"
        assert not [e for e in old.emu.command_log() if e["argv"][0] in ("edit", "update")]
    finally:
        old.stop()
