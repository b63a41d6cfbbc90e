"""The kops emulator on its own: kops' CLI surface (tables, flags, exit codes), the state-store layout, virtual
time, joining a running roll instead of duplicating it, and fault injection (S3 proxy and kops level)."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
import yaml

from providers.kops.emulator.state import KOPS_VERSION
from tests.providers.harness_kops import KopsHarness

T0 = "2026-01-05T00:00:00Z"
CP = "control-plane-us-east-1a"


@pytest.fixture(scope="module")
def h():
    harness = KopsHarness()
    harness.start()
    yield harness
    harness.stop()


def _env(h: KopsHarness, now: str, **extra: str) -> dict[str, str]:
    env = dict(os.environ, **h.emu.kops_env(str(h.tmp / "bin")), FLEET_EMULATOR_NOW=now,
               FLEET_EMULATOR_POLL="0.05", FLEET_EMULATOR_MAX_IDLE="60")
    env.pop("KOPS_FEATURE_FLAGS", None)
    env.update(extra)
    return env


def kops(h: KopsHarness, *args: str, now: str = T0, **env_extra: str) -> subprocess.CompletedProcess[str]:
    env = _env(h, now, **env_extra)
    return subprocess.run(["kops", *args], env=env, capture_output=True, text=True, timeout=30, check=False)


def roller(h: KopsHarness, *args: str, now: str = T0) -> subprocess.Popen[str]:
    return subprocess.Popen(["kops", "rolling-update", "cluster", *args, "--yes"], env=_env(h, now),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def seed(h: KopsHarness, name: str, version: str = "1.29.2", nodes: int = 3, **node_options) -> str:
    cluster = f"{name}.k8s.local"
    h.emu.seed_cluster(cluster, version, {CP: {"role": "ControlPlane", "size": 1},
                                          "nodes-a": {"role": "Node", "size": nodes, **node_options}},
                       available=[version, "1.29.8", "1.30.4"])
    return cluster


def wait_for_roll(h: KopsHarness, cluster: str, n: int = 1, timeout: float = 10.0) -> list[dict]:
    for _ in range(int(timeout / 0.05)):
        rolls = h.emu.cloud_state(cluster)["rolls"]
        if len(rolls) >= n:
            return rolls
        time.sleep(0.05)
    raise AssertionError("the rolling update never planned")


def test_tables_flags_and_exit_codes_match_kops(h):
    c = seed(h, "tables")
    out = kops(h, "get", "clusters", c)
    assert out.returncode == 0
    assert out.stdout == "NAME\t\t\tCLOUD\tZONES\ntables.k8s.local\taws\tus-east-1a\n"
    igs = kops(h, "get", "instancegroups", "--name", c)
    assert igs.stdout.splitlines() == [
        "NAME\t\t\t\tROLE\t\tMACHINETYPE\tMIN\tMAX\tZONES",
        "control-plane-us-east-1a\tControlPlane\tt3.medium\t1\t1\tus-east-1a",
        "nodes-a\t\t\t\tNode\t\tt3.medium\t3\t3\tus-east-1a"]
    one = json.loads(kops(h, "get", "ig", "--name", c, "nodes-a", "-o", "json").stdout)
    assert one["kind"] == "InstanceGroup" and one["spec"]["role"] == "Node"      # one object, not a list
    for args, message in [(("get", "clusters", "--bogus"), "Error: unknown flag: --bogus"),
                          (("get", "ig", "-x"), "Error: unknown shorthand flag: 'x' in -x"),
                          (("get", "ig"), "Error: --name is required"),
                          (("rolling-update", "cluster", c, "--validation-timeout", "soon"), "invalid duration"),
                          (("update", "cluster", "nope.k8s.local"), 'Error: cluster "nope.k8s.local" not found')]:
        bad = kops(h, *args)
        assert bad.returncode == 1 and message in bad.stderr, (args, bad.stderr)


def test_state_store_uses_kops_layout(h):
    c = seed(h, "layout")
    keys = set(h.emu.store.s3.list(h.emu.bucket, f"{c}/")[0])
    assert {f"{c}/config", f"{c}/cluster-completed.spec", f"{c}/kops-version.txt", f"{c}/instancegroup/{CP}",
            f"{c}/instancegroup/nodes-a", f"{c}/igconfig/control-plane/{CP}/nodeupconfig.yaml",
            f"{c}/igconfig/node/nodes-a/nodeupconfig.yaml"} <= keys
    config = yaml.safe_load(h.emu.store.s3.get(h.emu.bucket, f"{c}/config"))
    assert config["apiVersion"] == "kops.k8s.io/v1alpha2" and config["spec"]["kubernetesVersion"] == "1.29.2"


def test_kops_set_is_refused_as_the_unknown_command_it_is(h):
    """`kops set` was removed in kops 1.22: it is not in the CLI reference, so cobra refuses it (spf13/cobra
    args.go legacyArgs: `unknown command %q for %q`), with or without the old feature flag."""
    c = seed(h, "setgone")
    for env in ({}, {"KOPS_FEATURE_FLAGS": "SpecOverrideFlag"}):
        for argv in (("set", "cluster", c, "spec.kubernetesVersion=1.29.8"),
                     ("set", "instancegroup", "--name", c, "nodes-a", "spec.rollingUpdate.maxSurge=1")):
            gone = kops(h, *argv, **env)
            assert gone.returncode == 1 and gone.stderr.strip() == 'Error: unknown command "set" for "kops"'
    assert h.emu.cluster_spec(c)["spec"]["kubernetesVersion"] == "1.29.2"


@pytest.mark.parametrize("argv,message", [
    (("edit", "cluster", "{c}", "--set", "spec.kubernetesVersion=1.29.8", "--yes"), "Error: unknown flag: --yes"),
    (("update", "cluster", "{c}", "--force"), "Error: unknown flag: --force"),
    (("rolling-update", "cluster", "{c}", "--ig", "nodes-a"), "Error: unknown flag: --ig"),
    (("rolling-update", "cluster", "{c}", "--master-interval", "1s"), "Error: unknown flag: --master-interval"),
    (("get", "clusters", "--full", "-x"), "Error: unknown shorthand flag: 'x' in -x"),
    (("delete", "cluster", "{c}"), 'Error: unknown command "delete" for "kops"'),
    (("edit", "secrets"), 'Error: unknown command "secrets" for "kops edit"'),
])
def test_commands_and_flags_outside_the_reference_are_refused(h, argv, message):
    c = seed(h, "unknown")
    res = kops(h, *(a.format(c=c) for a in argv))
    assert (res.returncode, res.stderr.strip()) == (1, message)


def test_edit_set_changes_the_spec_and_is_validated_like_kops(h):
    c = seed(h, "edit")
    assert kops(h, "edit", "cluster", c, "--set", "spec.kubernetesVersion=1.29.8").returncode == 0
    assert h.emu.cluster_spec(c)["spec"]["kubernetesVersion"] == "1.29.8"
    assert kops(h, "edit", "instancegroup", "--name", c, CP, "--set", "spec.rollingUpdate.maxSurge=1").stderr.strip() \
        == 'Error: spec.rollingUpdate.maxSurge: Forbidden: Cannot surge instance groups with role "ControlPlane"'
    zero = kops(h, "edit", "ig", "--name", c, "nodes-a", "--set", "spec.rollingUpdate.maxSurge=0",
                "--set", "spec.rollingUpdate.maxUnavailable=0")
    assert "Cannot be zero if maxUnavailable is zero" in zero.stderr
    ok = kops(h, "edit", "ig", "--name", c, "nodes-a", "--set", "spec.rollingUpdate.maxSurge=25%",
              "--set", "spec.rollingUpdate.maxUnavailable=0")
    assert ok.returncode == 0, ok.stderr
    assert h.emu.instance_group(c, "nodes-a")["spec"]["rollingUpdate"] == {"maxSurge": "25%", "maxUnavailable": 0}
    assert kops(h, "edit", "instancegroup", "nodes-a").stderr.strip() == "Error: --name is required"
    assert kops(h, "edit", "cluster", c).returncode == 1                 # the interactive editor is not modelled


def test_update_refuses_a_kubernetes_minor_newer_than_the_kops_binary(h, tmp_path):
    """apply_cluster.go validateKubernetesVersion: kops 1.30.x refuses Kubernetes >= 1.31 in `update cluster`."""
    c = seed(h, "toonew")
    h.emu.kops_version = "1.30.0"
    try:
        h.emu.write_launcher(tmp_path)
        env = {"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"}
        assert kops(h, "version", "--short", **env).stdout == "1.30.0\n"
        assert kops(h, "version", **env).stdout == "Client version: 1.30.0 (git-v1.30.0)\n"
        assert kops(h, "edit", "cluster", c, "--set", "spec.kubernetesVersion=1.31.1", **env).returncode == 0
        refused = kops(h, "update", "cluster", c, "--yes", **env)
        assert refused.returncode == 1 and refused.stderr.strip() == "Error: kops upgrade is required"
        assert "This version of kubernetes is not yet supported; upgrading kops is required" in refused.stdout
        assert not h.emu.upgrade_log(c, kind="apply")
        bypass = kops(h, "update", "cluster", c, "--yes", KOPS_RUN_TOO_NEW_VERSION="1", **env)
        assert "this check has been bypassed" in bypass.stdout and "kops upgrade" not in bypass.stderr
        kops(h, "edit", "cluster", c, "--set", "spec.kubernetesVersion=1.30.4", **env)
        assert kops(h, "update", "cluster", c, "--yes", **env).returncode == 0
    finally:
        h.emu.kops_version = KOPS_VERSION
        h.emu.write_launcher(h.tmp / "bin")


def test_update_applies_control_plane_first_and_holds_nodes_back(h):
    c = seed(h, "skew")
    assert kops(h, "edit", "cluster", c, "--set", "spec.kubernetesVersion=1.30.4").returncode == 0
    dry = kops(h, "update", "cluster", c)
    assert "Must specify --yes to apply changes" in dry.stdout and not h.emu.upgrade_log(c, kind="apply")
    res = kops(h, "update", "cluster", c, "--yes", "--create-kube-config=false")
    assert res.returncode == 0, res.stderr
    assert "--ignore-kubelet-version-skew" in res.stderr                 # node group held back, kops 1.31 style
    applied = h.emu.upgrade_log(c, kind="apply")
    assert [e["changes"] for e in applied] == [{CP: ["1.29.2", "1.30.4"]}]
    assert h.emu.store.applied_version(c, h.emu.instance_group(c, "nodes-a")) == "1.29.2"


def test_rolling_update_progresses_only_with_virtual_time_and_joins_a_running_roll(h):
    c = seed(h, "vtime", nodes=4, rollingUpdate={"maxSurge": 2, "maxUnavailable": 0})
    kops(h, "edit", "cluster", c, "--set", "spec.kubernetesVersion=1.29.8")
    kops(h, "update", "cluster", c, "--yes", "--ignore-kubelet-version-skew")
    first = roller(h, c, "--instance-group", "nodes-a")
    wait_for_roll(h, c)
    second = roller(h, c, "--instance-group", "nodes-a")         # a re-run joins, it does not roll again
    time.sleep(0.5)
    assert len(h.emu.cloud_state(c)["rolls"]) == 1
    assert first.poll() is None and second.poll() is None        # virtual time has not moved: kops still waits
    assert "NeedsUpdate\t4" in kops(h, "rolling-update", "cluster", c, "--instance-group", "nodes-a").stdout
    partial = kops(h, "rolling-update", "cluster", c, "--instance-group", "nodes-a", now="2026-01-05T00:05:00Z")
    assert "NeedsUpdate\t2\t\t2" in partial.stdout                # first batch of maxSurge=2 replaced
    kops(h, "rolling-update", "cluster", c, "--instance-group", "nodes-a", now="2026-01-05T01:00:00Z")
    assert first.wait(timeout=10) == 0 and second.wait(timeout=10) == 0
    assert 'Completed rolling update for cluster "vtime.k8s.local"' in first.communicate()[1]
    roll = h.emu.cloud_state(c)["rolls"][0]
    assert roll["state"] == "succeeded" and roll["detail"]["nodes-a"]["concurrency"] == 2
    assert h.emu.instance_versions(c)["nodes-a"] == ["1.29.8"] * 4


def test_validation_failure_fails_the_roll_with_kops_message(h):
    c = seed(h, "valfail")
    kops(h, "edit", "cluster", c, "--set", "spec.kubernetesVersion=1.29.8")
    kops(h, "update", "cluster", c, "--yes", "--ignore-kubelet-version-skew")
    h.emu.inject_validation_failure(c, "nodes-a")
    proc = roller(h, c, "--instance-group", "nodes-a")
    wait_for_roll(h, c)
    kops(h, "validate", "cluster", c, now="2026-01-05T00:10:00Z")
    assert proc.poll() is None                                   # before --validation-timeout (15m) nothing fails
    kops(h, "rolling-update", "cluster", c, now="2026-01-05T00:20:00Z")
    assert proc.wait(timeout=10) == 1
    err = proc.communicate()[1]
    assert 'Error: error validating cluster: cluster did not validate within a duration of "15m0s"' in err
    assert 'did not pass validation within deadline: InstanceGroup "nodes-a" did not have enough nodes' in err
    assert h.emu.instance_versions(c)["nodes-a"] == ["1.29.2"] * 3
    val = kops(h, "validate", "cluster", c)
    assert val.returncode == 1 and "VALIDATION ERRORS" in val.stdout
    assert "Error: Validation failed: cluster not yet healthy" in val.stderr


def test_kops_level_faults_are_one_shot(h):
    c = seed(h, "clifault")
    h.emu.inject("kops-throttle")
    bad = kops(h, "get", "ig", "--name", c)
    assert bad.returncode == 1 and "StatusCode: 503" in bad.stderr and "api error SlowDown" in bad.stderr
    assert kops(h, "get", "ig", "--name", c).returncode == 0


def test_proxy_faults_use_s3_error_shapes(h):
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    s3 = boto3.client("s3", endpoint_url=h.emu.url, region_name="us-east-1", aws_access_key_id="x",
                      aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}))
    c = seed(h, "proxy")
    for fault, code, status in [("throttle", "SlowDown", 429), ("server-error", "ServiceUnavailable", 503),
                                ("forbidden", "AccessDenied", 403)]:
        h.inject(fault)
        with pytest.raises(ClientError) as info:
            s3.get_object(Bucket=h.emu.bucket, Key=f"{c}/config")
        err = info.value.response
        assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == (code, status)
        if status in (429, 503):
            assert err["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "2"
        assert s3.get_object(Bucket=h.emu.bucket, Key=f"{c}/config")["Body"].read()


def test_slow_down_throttles_one_state_store_like_s3(h):
    """``slow_down(store, n)``: the next n requests for that store's objects (GETs and listings under its
    prefix) answer S3's 503 SlowDown without Retry-After; other stores and channels are served meanwhile."""
    import boto3
    from botocore.config import Config
    from botocore.exceptions import ClientError
    s3 = boto3.client("s3", endpoint_url=h.emu.url, region_name="us-east-1", aws_access_key_id="x",
                      aws_secret_access_key="x", config=Config(retries={"total_max_attempts": 1}))
    slow, other = f"{h.emu.state_store}/slow-team", f"{h.emu.state_store}/other-team"
    for store in (slow, other):
        h.emu.seed_cluster("sd.k8s.local", "1.29.2", {CP: {"role": "ControlPlane"}}, store=store)
    h.emu.slow_down(slow, times=2)
    with pytest.raises(ClientError) as info:
        s3.list_objects_v2(Bucket=h.emu.bucket, Prefix="slow-team/", Delimiter="/")
    err = info.value.response
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == ("SlowDown", 503)
    assert "retry-after" not in err["ResponseMetadata"]["HTTPHeaders"]
    assert s3.get_object(Bucket=h.emu.bucket, Key="other-team/sd.k8s.local/config")["Body"].read()
    with pytest.raises(ClientError, match="SlowDown"):
        s3.get_object(Bucket=h.emu.bucket, Key="slow-team/sd.k8s.local/config")
    assert s3.get_object(Bucket=h.emu.bucket, Key="slow-team/sd.k8s.local/config")["Body"].read()
    assert h.emu.slowed_down == [f"{h.emu.bucket}/slow-team/", f"{h.emu.bucket}/slow-team/sd.k8s.local/config"]


def test_upgrade_cluster_moves_to_the_channel_recommendation(h):
    c = seed(h, "upgrade")
    dry = kops(h, "upgrade", "cluster", c)
    assert dry.stdout.splitlines()[1].split() == ["Cluster", "KubernetesVersion", "1.29.2", "1.30.4"]
    assert "Must specify --yes to perform upgrade" in dry.stdout
    pinned = kops(h, "upgrade", "cluster", c, "--kubernetes-version", "1.29.8")    # kops_upgrade_cluster.md
    assert pinned.stdout.splitlines()[1].split() == ["Cluster", "KubernetesVersion", "1.29.2", "1.29.8"]
    assert kops(h, "upgrade", "cluster", c, "--yes").returncode == 0
    assert h.emu.cluster_spec(c)["spec"]["kubernetesVersion"] == "1.30.4"


def test_the_flag_table_is_parsed_from_the_shipped_reference():
    """The emulator's commands and flags are the reference's (kubernetes/kops docs/cli, see PROVENANCE.md)."""
    from providers.kops.emulator.reference import REFERENCE_DIR, check_argv, load, parse_command
    table = load()
    assert ("set", "cluster") not in table and ("set", "instancegroup") not in table
    assert {("edit", "cluster"), ("edit", "instancegroup"), ("update", "cluster"), ("rolling-update", "cluster"),
            ("reconcile", "cluster"), ("upgrade", "cluster"), ("version",)} <= set(table)
    assert set(table[("edit", "cluster")]) >= {"set", "unset", "name", "state"}
    assert table[("update", "cluster")]["admin"].noopt == "18h0m0s"            # `--admin duration[=18h0m0s]`
    assert table[("update", "cluster")]["yes"].short == "y"
    assert "kubernetes-version" in table[("upgrade", "cluster")]
    assert "instance-group" not in table[("reconcile", "cluster")]           # why fleet does not use reconcile
    assert (REFERENCE_DIR / "PROVENANCE.md").read_text().count("268927e26409f861634e18f3632c9dd483c350cf") == 1
    with pytest.raises(ValueError, match="unknown pflag type"):
        parse_command("## kops x\n### Options\n```\n      --odd weird   what\n```\n")
    assert check_argv(["set", "cluster", "c", "spec.kubernetesVersion=1.30.4"]) == ["unknown command 'set cluster'"]
    assert check_argv(["edit", "cluster", "c", "--set", "spec.kubernetesVersion=1.30.4"]) == []
    assert check_argv(["rolling-update", "cluster", "c", "--yes", "--ig", "x"]) == [
        "kops rolling-update cluster: unknown flag --ig"]
