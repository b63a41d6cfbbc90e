"""One `fleet demo --short` run for the session: test_demo_e2e judges what it leaves behind, and
test_demo_determinism compares its outcome with a second run made next to a CPU burner."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.demo.test_demo_e2e import DEMO_TIMEOUT_S, FLEET, clean_env


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    base = tmp_path_factory.mktemp("demo")
    out = base / "out"
    r = subprocess.run([FLEET, "demo", "--short", "--dir", str(out)], capture_output=True, text=True,
                       timeout=DEMO_TIMEOUT_S, env=clean_env(base / "home"), cwd=base, check=False)
    return r, out
