"""Shared fixtures: the installed ``fleet`` command run on the example fleet."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FLEET = shutil.which("fleet") or "fleet"
EXAMPLE = ["--inventory", str(REPO / "policies/inventory/example-fleet.yaml"), "--policies", str(REPO / "policies/examples")]
AT = "2026-08-20T00:00:00Z"


def run_fleet(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.update(env or {})
    return subprocess.run([FLEET, *args], capture_output=True, text=True, timeout=timeout, env=full_env, check=False)


@pytest.fixture(scope="session")
def lifecycle_env(tmp_path_factory) -> dict[str, str]:
    """Point the active lifecycle file into a temporary folder so tests never touch the user's own."""
    d = tmp_path_factory.mktemp("lifecycle")
    return {"FLEET_LIFECYCLE_FILE": str(d / "lifecycle.yaml")}


@pytest.fixture(scope="session")
def example_html(tmp_path_factory, lifecycle_env) -> Path:
    """The example fleet's HTML report, with the forecast (the browser tests and the CLI tests share it)."""
    out = tmp_path_factory.mktemp("html") / "report.html"
    r = run_fleet("report", *EXAMPLE, "--at", AT, "-o", "html", "--out-file", str(out), env=lifecycle_env)
    assert r.returncode == 0, r.stderr
    return out
