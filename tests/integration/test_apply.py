"""`fleet apply` and the operator commands, run as the installed command on a simulated fleet."""

from __future__ import annotations

import json
import shutil
import subprocess

from tests.integration.fleetfiles import write_fleet

FLEET = shutil.which("fleet") or "fleet"


def run(*args: str, cwd=None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([FLEET, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def test_apply_until_done_then_status_and_history(tmp_path):
    cfg = write_fleet(tmp_path, n=3, cp="1s", pool="1s", interval="1s")
    r = run("apply", "--config", str(cfg))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "step-dispatched" in r.stdout and "run-done" in r.stdout
    world = json.loads((tmp_path / "sim-world.json").read_text())
    assert all(c["control_plane"] == "1.30.4" for c in world["clusters"])
    assert len(world["upgrade_log"]) == len({tuple(x) for x in world["upgrade_log"]}) == 3 * 6
    st = run("status", "--config", str(cfg), "--format", "json")
    d = json.loads(st.stdout)
    assert d["runs"][0]["status"] == "done"
    h = run("history", "--config", str(cfg), "eks/lab/c0", "--format", "json")
    kinds = [e["kind"] for e in json.loads(h.stdout)]
    assert kinds.count("step-dispatched") == 6 and "cluster-upgraded" in kinds
    # nothing left to do: a second apply exits at once without issuing anything
    assert run("apply", "--config", str(cfg)).returncode == 0
    world2 = json.loads((tmp_path / "sim-world.json").read_text())
    assert len(world2["upgrade_log"]) == len(world["upgrade_log"])


def test_apply_once_and_dry_run_change_nothing_or_one_pass(tmp_path):
    cfg = write_fleet(tmp_path, n=2, cp="1h", pool="1h")
    r = run("apply", "--config", str(cfg), "--dry-run")
    assert r.returncode == 0 and "dry run" in r.stdout and "needs-upgrade" in r.stdout
    assert not (tmp_path / "state" / "fleet.db").exists()
    r = run("apply", "--config", str(cfg), "--once")
    assert r.returncode == 0, r.stderr
    world = json.loads((tmp_path / "sim-world.json").read_text())
    assert len(world["upgrade_log"]) == 2   # maxConcurrentClusters=2: first step of each


def test_pause_resume_approve_retry_commands(tmp_path):
    cfg = write_fleet(tmp_path, n=1, cp="1h", pool="1h")
    assert run("pause", "--config", str(cfg)).returncode == 0
    assert json.loads(run("status", "--config", str(cfg), "--format", "json").stdout)["paused"] is True
    r = run("apply", "--config", str(cfg), "--once")
    assert r.returncode == 0
    world = json.loads((tmp_path / "sim-world.json").read_text())
    assert world["upgrade_log"] == []        # paused: nothing starts
    assert run("resume", "--config", str(cfg)).returncode == 0
    bad = run("approve", "--config", str(cfg), "no-such-run", "w")
    assert bad.returncode == 2 and "no run" in bad.stderr
    assert run("retry", "--config", str(cfg), "no-such-run").returncode == 2


def test_bad_config_exits_2_with_location(tmp_path):
    cfg = write_fleet(tmp_path)
    cfg.write_text(cfg.read_text().replace("reconcileInterval: 1s", "reconcileInterval: soon"))
    r = run("apply", "--config", str(cfg))
    assert r.returncode == 2
    assert "fleet.yaml:" in r.stderr and "spec.reconcileInterval" in r.stderr and "Traceback" not in r.stderr
    cfg2 = write_fleet(tmp_path / "b")
    cfg2.write_text(cfg2.read_text().replace("type: sim", "type: nosuch"))
    r = run("plan", "--config", str(cfg2))
    assert r.returncode == 2 and "unknown provider type 'nosuch'" in r.stderr and "sim" in r.stderr
