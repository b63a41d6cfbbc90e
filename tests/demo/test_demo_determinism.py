"""The demo's outcome does not depend on the machine: two `fleet demo --short` runs - the session's run
(tests/demo/conftest.py, which test_demo_e2e judges) and one next to a CPU-burning process - end with the
same clusters at the same versions, after the same steps, done at the same simulated instants, after the
same number of ticks (fleet.demo.timeline: virtual time moves only between ticks)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.demo.test_demo_e2e import DEMO_TIMEOUT_S, FLEET, clean_env

BURN = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end:\n    sum(range(10000))\n"


def _comparable(outcome: dict[str, Any]) -> dict[str, Any]:
    return {"end": outcome["end"], "ticks": outcome["finish"]["ticks"], "reason": outcome["finish"]["reason"],
            "clusters": {c["id"].split("/", 1)[0] + "/" + c["id"].rsplit("/", 1)[-1]:   # kops: a random bucket
                         (c["after"]["controlPlane"], c["after"]["nodePools"], c["stepsVerified"], c["verdict"],
                          c["doneAt"]) for c in outcome["clusters"]}}


@pytest.mark.timeout(DEMO_TIMEOUT_S * 2 + 120)     # the session's demo may run in this test's setup
def test_a_demo_next_to_a_cpu_burner_has_the_same_outcome_as_the_sessions_demo(tmp_path: Path, demo) -> None:
    first, first_out = demo
    assert first.returncode == 0, (first.stdout + first.stderr)[-4000:]
    burner = subprocess.Popen([sys.executable, "-c", BURN.format(s=DEMO_TIMEOUT_S)])
    out = tmp_path / "loaded"
    try:
        p = subprocess.run([FLEET, "demo", "--short", "--dir", str(out)], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True, env=clean_env(tmp_path / "home"), cwd=tmp_path,
                           timeout=DEMO_TIMEOUT_S, check=False)
    finally:
        burner.kill()
        burner.wait()
    assert p.returncode == 0, p.stdout[-4000:]
    results = [json.loads((first_out / "outcome.json").read_text()), json.loads((out / "outcome.json").read_text())]
    a, b = (_comparable(r) for r in results)
    assert a == b
    assert a["reason"] == "settled"
    assert sum(1 for c in a["clusters"].values() if c[4] is not None) >= 8, "most clusters were upgraded"
