"""The demo's outcome does not depend on the machine: two `fleet demo --short` runs side by side, one of them
next to a CPU-burning process, end with the same clusters at the same versions, after the same steps, done
at the same simulated instants, after the same number of ticks (fleet.demo.timeline: virtual time moves only
between ticks)."""

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


@pytest.mark.timeout(DEMO_TIMEOUT_S * 2 + 120)     # two demos on a shared, loaded 2-core machine
def test_two_demos_side_by_side_one_under_cpu_load_have_the_same_outcome(tmp_path: Path) -> None:
    burner = subprocess.Popen([sys.executable, "-c", BURN.format(s=DEMO_TIMEOUT_S * 2)])
    procs = []
    try:
        for name in ("a", "b"):
            out = tmp_path / name
            procs.append((out, subprocess.Popen([FLEET, "demo", "--short", "--dir", str(out)],
                                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                                env=clean_env(tmp_path / f"home-{name}"), cwd=tmp_path)))
        results = []
        for out, p in procs:
            text, _ = p.communicate(timeout=DEMO_TIMEOUT_S * 2)
            assert p.returncode == 0, text[-4000:]
            results.append(json.loads((out / "outcome.json").read_text()))
    finally:
        burner.kill()
        burner.wait()
        for _, p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    a, b = (_comparable(r) for r in results)
    assert a == b
    assert a["reason"] == "settled"
    assert sum(1 for c in a["clusters"].values() if c[4] is not None) >= 8, "most clusters were upgraded"
