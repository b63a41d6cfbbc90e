"""Each provider works with only its own SDK importable, and the core with none: the promise behind the
per-cloud extras (``pip install fleet-upgrader[gke]`` needs nothing of AWS, Azure, OCI or Kubernetes).

For every provider a fresh interpreter blocks the import of every other cloud SDK, then drives the real
adapter through one upgrade against its emulator (discover, offers, start, poll to completion, discover),
and reports the SDK modules it loaded. (tests/integration/test_extras.py installs the [eks] extra alone into
a real venv; this covers every provider, cheaply.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.providers.harness import HARNESS_TYPES

ROOT = Path(__file__).resolve().parents[2]
SDKS = ("boto3", "botocore", "moto", "google", "grpc", "azure", "msal", "oci", "kubernetes")
OWN = {  # what each provider (adapter and its emulator) may import; moto is the EKS and kops emulators' base
    "eks": {"boto3", "botocore", "moto"}, "kops": {"boto3", "botocore", "moto"},
    "gke": {"google", "grpc"}, "aks": {"azure", "msal"}, "oke": {"oci"}, "capi": {"kubernetes"}, "sim": set(),
}

SCRIPT = r'''
import importlib.abc, json, sys
blocked = set(json.loads(sys.argv[2]))

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in blocked:
            raise ImportError(f"blocked for this test: {name}")
        return None

sys.meta_path.insert(0, Blocker())
from fleet.provider import Component, OperationState, Step
from tests.providers.harness import make_harness
harness = make_harness(sys.argv[1])
harness.start()
try:
    cur, _, minor = harness.versions()
    cid = harness.seed("isolated", cur, {"poola": cur}, list(harness.versions()))
    p = harness.provider()
    c = next(c for c in p.discover() if c.id == cid)
    assert p.offers(c).control_plane
    op = p.start(c, Step(Component.CONTROL_PLANE, to=minor, from_=c.control_plane))
    for _ in range(50):
        st = p.poll(c, op)
        if st.state is not OperationState.RUNNING:
            break
        harness.finish_operations()
    assert st.state is OperationState.SUCCEEDED, st
    c = next(c for c in p.discover() if c.id == cid)
finally:
    harness.stop()
print(json.dumps({"control_plane": c.control_plane,
                  "sdks": sorted({m.partition(".")[0] for m in sys.modules} & set(json.loads(sys.argv[3])))}))
'''


@pytest.mark.parametrize("kind", HARNESS_TYPES)
def test_provider_needs_only_its_own_sdk(kind):
    own = OWN[kind]
    blocked = sorted(set(SDKS) - own)
    r = subprocess.run([sys.executable, "-c", SCRIPT, kind, json.dumps(blocked), json.dumps(SDKS)],
                       capture_output=True, text=True, timeout=300, cwd=ROOT, check=False)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert set(out["sdks"]) <= own
    assert kind == "sim" or set(out["sdks"]) & own, "the adapter did not use its SDK at all"
    assert out["control_plane"]


def test_the_core_imports_no_cloud_sdk():
    script = ("import pkgutil, importlib, sys, fleet\n"
              "for m in pkgutil.walk_packages(fleet.__path__, 'fleet.'):\n"
              "    if '.migrations' not in m.name:   # Alembic scripts, run only by Alembic\n"
              "        importlib.import_module(m.name)\n"
              f"print(sorted({{m.partition('.')[0] for m in sys.modules}} & set({list(SDKS)!r})))")
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=ROOT,
                       check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "[]"
