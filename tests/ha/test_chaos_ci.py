"""The bounded CI form of bench/chaos.py: two `fleet daemon` processes on PostgreSQL, the leader killed with
SIGKILL five times, 10% of cloud calls failing, on the sim provider plus the GKE and Cluster API emulators;
the script's own checks (target reached, no duplicate upgrade, budgets, audit log, takeover times) decide."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"


@pytest.mark.slow
@pytest.mark.postgres
def test_chaos_five_kills():
    r = subprocess.run([sys.executable, str(BENCH), "--kills", "5", "--sim", "4", "--gke", "1", "--capi", "1",
                        "--no-windows", "--timeout", "120", "--seed", "7", "--lease", "1", "--gap", "1.5",
                        "--step-seconds", "1"],
                       capture_output=True, text=True, timeout=280, check=False)
    out = r.stdout + r.stderr
    assert r.returncode == 0, out[-4000:]
    assert "duplicate upgrade calls per step" in out and "FAILED" not in out
    assert out.count("takeover in") == 5
