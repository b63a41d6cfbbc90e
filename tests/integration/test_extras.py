"""Installing fleet with ONLY the ``[eks]`` extra, into a fresh virtual environment, works on its own.

One venv (no system site-packages) gets this project with the eks extra through pip (the registry or the
local wheel cache provides the dependencies). The project's sources (pyproject.toml, fleet/, providers/) are
copied into the test's folder first, so building the wheel writes nothing into the working tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 600.0
_SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build", "dist")


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["HOME"] = str(home)
    return env


def _run(argv: list[str], env: dict[str, str], cwd: Path,
         timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd,
                          check=False)


def _copy_project(dest: Path) -> Path:
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, dest / name)
    for pkg in ("fleet", "providers"):
        shutil.copytree(ROOT / pkg, dest / pkg, ignore=_SKIP)
    return dest


@pytest.mark.slow
def test_eks_extra_alone_plans_and_names_the_missing_extra(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = _env(home)
    venv = tmp_path / "venv"
    r = _run([sys.executable, "-m", "venv", str(venv)], env, tmp_path)
    assert r.returncode == 0, r.stderr
    py, fleet = venv / "bin" / "python", venv / "bin" / "fleet"
    src = _copy_project(tmp_path / "src")
    r = _run([str(py), "-m", "pip", "install", "--quiet", f"{src}[eks]"], env, tmp_path,
             timeout=INSTALL_TIMEOUT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    # the venv holds fleet, boto3 and no other cloud SDK, and does not see this interpreter's packages
    probe = ("import importlib.util as u, fleet, providers; "
             "print(fleet.__file__); print(providers.__file__); "
             "print([m for m in ('boto3', 'google.cloud.container_v1', 'azure.mgmt.containerservice', 'oci', "
             "'kubernetes', 'moto', 'pytest') if u.find_spec(m.split('.')[0]) is not None])")
    r = _run([str(py), "-c", probe], env, tmp_path)
    assert r.returncode == 0, r.stderr
    fleet_file, providers_file, present = r.stdout.splitlines()
    assert fleet_file.startswith(str(venv)) and providers_file.startswith(str(venv))
    assert present == "['boto3']"

    r = _run([str(fleet), "--help"], env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "apply" in r.stdout and "plan" in r.stdout

    r = _run([str(fleet), "plan", "--policies", str(ROOT / "policies" / "examples"),
              "--inventory", str(ROOT / "policies" / "inventory" / "example-fleet.yaml"), "--format", "json"],
             env, tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert '"clusters"' in r.stdout

    # a gke provider in this venv: exit 2, naming the extra to install, no traceback
    (tmp_path / "policies").mkdir()
    shutil.copy2(ROOT / "policies" / "examples" / "dev-default.yaml", tmp_path / "policies")
    cfg = tmp_path / "fleet.yaml"
    cfg.write_text(yaml.safe_dump({
        "apiVersion": "fleet.dev/v1alpha1", "kind": "FleetConfig", "metadata": {"name": "gke-missing"},
        "spec": {"providers": [{"name": "gke", "type": "gke",
                                "settings": {"projects": ["p"], "endpoint": "http://127.0.0.1:9",
                                             "credentials": "anonymous"}}],
                 "policies": "policies", "state": {"url": "sqlite:///state/fleet.db", "create": True}}}, sort_keys=False))
    for argv in (["plan", "--config", str(cfg)], ["apply", "--config", str(cfg), "--once"]):
        r = _run([str(fleet), *argv], env, tmp_path)
        assert r.returncode == 2, (argv, r.stdout[-2000:], r.stderr[-2000:])
        assert "fleet-upgrader[gke]" in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert "fleet.yaml" in r.stderr and "spec.providers[0]" in r.stderr, r.stderr
    assert not (tmp_path / "state" / "fleet.db").exists()        # nothing half-applied
