"""SIGTERM mid-tick (issue #23): a real ``fleet daemon`` process whose reconcile is blocked in a cloud call
(a ``kops`` executable that never answers, with a 10-minute command timeout) exits within its shutdown grace
plus a margin, and says why in its log; /readyz answered 503 meanwhile."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.integration.fleetfiles import free_port

GRACE_S = 2
MARGIN_S = 8

CONFIG = """apiVersion: fleet.dev/v1alpha1
kind: FleetConfig
metadata:
  name: sigterm
spec:
  providers:
    - name: kops
      type: kops
      settings:
        stateStore: s3://blackhole
        endpoint: http://127.0.0.1:{s3}
        kopsBinary: {kops}
        commandTimeout: 600
        env: {{AWS_ACCESS_KEY_ID: test, AWS_SECRET_ACCESS_KEY: test, AWS_REGION: us-east-1}}
  policies: policies
  state:
    url: sqlite:///state.db
    create: true
  reconcileInterval: 1s
  shutdownGrace: {grace}s
  http:
    listen: 127.0.0.1:{port}
"""

POLICY = """apiVersion: fleet.dev/v1alpha1
kind: UpgradePolicy
metadata:
  name: all
spec:
  target:
    version: "1.30"
"""


def test_sigterm_while_a_tick_hangs_in_a_cloud_call_exits_within_the_grace(tmp_path: Path):
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)            # an S3 endpoint that is never asked: kops hangs first
    kops = tmp_path / "kops-hangs"
    kops.write_text(f"#!/bin/sh\necho $$ > {tmp_path}/kops.pid\nexec sleep 600\n")
    kops.chmod(0o755)
    port = free_port()
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "all.yaml").write_text(POLICY)
    cfg = tmp_path / "fleet.yaml"
    cfg.write_text(CONFIG.format(s3=hole.getsockname()[1], kops=kops, grace=GRACE_S, port=port))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen([sys.executable, "-m", "fleet.cli", "daemon", "--config", str(cfg)], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        ready = None
        while time.monotonic() < deadline:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert ready is not None and ready.status_code == 503, ready
        time.sleep(1.0)                                   # the first tick is now blocked reading S3
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=GRACE_S + MARGIN_S + 20)
        took = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        hole.close()
        pid = tmp_path / "kops.pid"
        if pid.exists():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid.read_text()), signal.SIGKILL)
    assert took < GRACE_S + MARGIN_S, (took, out)
    assert proc.returncode == 0, out
    assert "did not stop within the shutdown grace" in out, out
