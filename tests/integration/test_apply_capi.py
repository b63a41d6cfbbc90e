"""`fleet apply --config` (the installed command) against two emulated Cluster API management clusters on
127.0.0.1 — one serving v1beta1 (CAPI <= 1.10), one v1beta2 (CAPI >= 1.11) — each with an OCI-flavoured workload
cluster (3 control-plane Machines, one MachineDeployment of 3) going 1.29 -> 1.30 -> 1.31 under one policy."""

from __future__ import annotations

from fleet.clock import ScaledClock, SystemClock
from providers.capi.emulator.controllers import Timings
from providers.capi.emulator.server import CapiEmulator
from tests.integration.cloudfleet2 import (
    apply,
    dispatched_steps,
    history,
    run_clusters,
    status,
    write_cloud_fleet,
)
from tests.providers.harness_capi import TOKEN, oci_image, write_kubeconfig

KCP = "KubeadmControlPlane"
MD = "MachineDeployment"
VERSIONS = ["v1.29.6", "v1.30.4", "v1.31.1"]
SIM_MINUTE = 60.0           # the emulators' clock runs 60x real time: one simulated minute is one second
MGMTS = {"capi-110": "v1beta1", "capi-111": "v1beta2"}


def _plural(path: str) -> str:
    """``/apis/G/V/namespaces/NS/PLURAL[/NAME]`` -> PLURAL."""
    parts = path.split("/")
    return parts[parts.index("namespaces") + 2]


def test_oci_clusters_v1beta1_and_v1beta2_go_129_130_131_through_fleet_apply(tmp_path):
    clock = ScaledClock(SystemClock().now(), SIM_MINUTE)
    timings = Timings(controller_delay=1.0, provision=12.0, delete=3.0)       # simulated seconds
    emus = {m: CapiEmulator(clock, capi_version=v, token=TOKEN, timings=timings) for m, v in MGMTS.items()}
    try:
        for mgmt, emu in emus.items():
            emu.start()
            emu.add_cluster(f"oci-{mgmt}", "v1.29.6", cp_replicas=3, pools={"md-0": 3})
        write_kubeconfig(tmp_path / "mgmt.kubeconfig", {m: e.url for m, e in emus.items()})
        settings = {"managementClusters": [{"kubeconfig": "mgmt.kubeconfig", "context": m} for m in MGMTS],
                    "images": {"OCIMachineTemplate": {v: oci_image(v) for v in VERSIONS}},
                    "controlPlaneMaxSurge": 1, "requestTimeoutSeconds": 5, "pollIntervalSeconds": 1}
        cfg = write_cloud_fleet(tmp_path, provider="capi", ptype="capi", settings=settings, target="1.31",
                                node_pools={"maxSurge": 1, "maxUnavailable": 0}, concurrency=2)

        r = apply(cfg)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "run-done" in r.stdout and "Traceback" not in r.stderr

        st = status(cfg)
        assert [x["status"] for x in st["runs"]] == ["done"] and st["openSteps"] == []
        members = run_clusters(st)
        for mgmt, emu in emus.items():
            name, v1 = f"oci-{mgmt}", MGMTS[mgmt] == "v1beta1"
            cid = f"capi/{mgmt}/default/{name}"
            assert members[cid]["status"] == "done", members[cid]

            # the API server saw each version change once, control plane before workers, by merge patch
            log = [u for u in emu.upgrade_log if u.cluster == name]
            assert [(u.kind, u.to_version) for u in log] == [(KCP, "v1.30.4"), (MD, "v1.30.4"), (KCP, "v1.31.1"),
                                                             (MD, "v1.31.1")]
            assert all(u.method == "PATCH" and u.content_type == "application/merge-patch+json" for u in log)
            # on the wire: no other write (a repeated patch with the same version would not be in upgrade_log)
            writes = [(r.method, _plural(r.path)) for r in emu.log if r.method in ("POST", "PUT", "PATCH", "DELETE")]
            assert writes == [("POST", "ocimachinetemplates"), ("PATCH", "kubeadmcontrolplanes"),
                              ("POST", "ocimachinetemplates"), ("PATCH", "machinedeployments")] * 2
            for u in log:
                spec = u.body["spec"]
                if u.kind == KCP:
                    strategy = spec["rolloutStrategy"] if v1 else spec["rollout"]["strategy"]
                    assert strategy["rollingUpdate"] == {"maxSurge": 1}
                else:
                    strategy = spec["strategy"] if v1 else spec["rollout"]["strategy"]
                    assert strategy["rollingUpdate"] == {"maxSurge": 1, "maxUnavailable": 0}

            # the objects point at NEW OCIMachineTemplates carrying the mapped image; the originals are untouched
            kcp, md = emu.get(KCP, f"{name}-control-plane"), emu.get(MD, "md-0")
            assert kcp["spec"]["version"] == md["spec"]["template"]["spec"]["version"] == "v1.31.1"
            kref = (kcp["spec"]["machineTemplate"]["infrastructureRef"] if v1
                    else kcp["spec"]["machineTemplate"]["spec"]["infrastructureRef"])
            mref = md["spec"]["template"]["spec"]["infrastructureRef"]
            templates = {t["metadata"]["name"]: t for t in emu.list("OCIMachineTemplate")}
            assert len(templates) == 2 + 4          # two originals, one new template per object per minor
            for ref, original in ((kref, f"{name}-control-plane"), (mref, f"{name}-md-0")):
                assert ref["name"] != original
                assert templates[ref["name"]]["spec"]["template"]["spec"]["imageId"] == oci_image("v1.31.1")
                assert templates[original]["spec"]["template"]["spec"]["imageId"].endswith("seed-k8s-1-29-6")
            images = sorted(t["spec"]["template"]["spec"]["imageId"] for t in templates.values())
            assert images.count(oci_image("v1.30.4")) == 2 and images.count(oci_image("v1.31.1")) == 2

            # every Machine runs the new version from the new templates, and none was ever outside the budget
            machines = emu.machines()
            assert len(machines) == 6 and {m.version for m in machines} == {"v1.31.1"}
            assert {m.template for m in machines} == {kref["name"], mref["name"]}
            for kind, obj in ((KCP, f"{name}-control-plane"), (MD, "md-0")):
                b = emu.budget(kind, obj)
                assert b.samples > 0 and b.max_surge == 1 and b.max_unavailable == 0, (mgmt, kind, b)

            # fleet's journal: four steps, each dispatched once
            steps = dispatched_steps(history(cfg, cid))
            assert steps == ["cp@v1.30.4", "pool:md-0@v1.30.4", "cp@v1.31.1", "pool:md-0@v1.31.1"]
    finally:
        for emu in emus.values():
            emu.stop()


def test_cluster_class_cluster_moves_only_through_its_kubernetes_versions(tmp_path):
    """ClusterClass spec.kubernetesVersions are the offers (core/webhooks/admission/cluster.go refuses others):
    fleet reaches the newest listed 1.30 patch, not the image map's, and needs no image for it."""
    clock = ScaledClock(SystemClock().now(), SIM_MINUTE)
    timings = Timings(controller_delay=1.0, provision=12.0, delete=3.0)
    emu = CapiEmulator(clock, capi_version="v1beta2", token=TOKEN, timings=timings)
    try:
        emu.start()
        emu.add_cluster("cc", "v1.29.6", cp_replicas=1, topology=True, pools={"a": 1},
                        class_versions=["v1.29.6", "v1.30.2"])
        write_kubeconfig(tmp_path / "mgmt.kubeconfig", {"m": emu.url})
        settings = {"managementClusters": [{"kubeconfig": "mgmt.kubeconfig", "context": "m"}],
                    "images": {"OCIMachineTemplate": {v: oci_image(v) for v in VERSIONS}},   # has v1.30.4, not v1.30.2
                    "requestTimeoutSeconds": 5, "pollIntervalSeconds": 1}
        cfg = write_cloud_fleet(tmp_path, provider="capi", ptype="capi", settings=settings, target="1.30",
                                node_pools={"maxSurge": 1, "maxUnavailable": 0})
        r = apply(cfg)
        assert r.returncode == 0, r.stdout + r.stderr
        assert [(x.kind, x.to_version) for x in emu.upgrade_log] == [("Cluster", "v1.30.2")]
        assert emu.get("Cluster", "cc")["spec"]["topology"]["version"] == "v1.30.2"
        assert run_clusters(status(cfg))["capi/m/default/cc"]["status"] == "done"
    finally:
        emu.stop()
