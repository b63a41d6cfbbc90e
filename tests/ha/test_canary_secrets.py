"""Planted canary secrets never leak. A `fleet daemon` (TLS with a self-signed certificate made here, leader
election on) upgrades a sim fleet and a Cluster API cluster whose kubeconfig carries a canary bearer token,
with API faults injected; the write and read-only API tokens, a webhook signing secret and a cloud credential
in the environment are canaries too. Then every log line, every row of the state store (events included),
every API response, `fleet status/history/plan/report` output and every webhook body is scanned for them."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
import shutil
import signal
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import MetaData, create_engine, select

from fleet.clock import ScaledClock, SystemClock
from providers.capi.emulator.controllers import Timings
from providers.capi.emulator.server import CapiEmulator
from tests.integration.fleetfiles import INVENTORY, free_port
from tests.providers.harness_capi import oci_image, write_kubeconfig

FLEET = shutil.which("fleet") or "fleet"
CANARIES = {"write token": "cnry-write-5e1d0b7a93f2", "read token": "cnry-read-8c4a2f9e1b6d",
            "kubeconfig token": "cnry-kube-3f7b9d1a5c8e", "webhook secret": "cnry-hook-6a0e4c8b2d7f",
            "cloud credential": "cnry-aws-9b2d6f0a4e1c"}
VERSIONS = ["v1.29.6", "v1.30.4"]


def self_signed(d: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fleet-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (d / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "tls.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    return d / "tls.crt", d / "tls.key"


class Hook(BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self) -> None:  # noqa: N802
        n = int(self.headers.get("content-length") or 0)
        Hook.received.append(bytes(str(self.headers), "utf-8") + self.rfile.read(n))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


def write_config(d: Path, emu_url: str, hook_port: int) -> tuple[Path, int]:
    (d / "policies").mkdir()
    clusters = "\n".join(f"  - {{provider: eks, location: lab, name: s{i}, controlPlane: \"1.29.8\", "
                         f"nodePools: [{{name: ng, version: \"1.29.8\", nodes: 1}}]}}" for i in range(2))
    (d / "inventory.yaml").write_text(INVENTORY.format(clusters=clusters))
    for name, prov in (("sim", "sim"), ("capi", "capi")):
        pol = {"apiVersion": "fleet.dev/v1alpha1", "kind": "UpgradePolicy", "metadata": {"name": name},
               "spec": {"selector": {"providers": [prov]}, "target": {"version": "1.30"},
                        "nodePools": {"maxSurge": 1, "maxUnavailable": 0},
                        "rollout": {"maxConcurrentClusters": 2, "maxFailures": 2}}}
        (d / "policies" / f"{name}.yaml").write_text(yaml.safe_dump(pol))
    write_kubeconfig(d / "mgmt.kubeconfig", {"mgmt": emu_url}, token=CANARIES["kubeconfig token"])
    (d / "token").write_text(CANARIES["write token"] + "\n")
    (d / "read-token").write_text(CANARIES["read token"] + "\n")
    (d / "hook-secret").write_text(CANARIES["webhook secret"] + "\n")
    crt, key = self_signed(d)
    port = free_port()
    spec = {"providers": [
        {"name": "sim", "type": "sim", "settings": {"inventory": "inventory.yaml", "stateFile": "sim.json",
                                                     "controlPlaneDuration": "1s", "nodePoolDuration": "1s",
                                                     "faults": {"apiErrorRate": 0.1, "seed": 3}}},
        {"name": "capi", "type": "capi", "settings": {
            "managementClusters": [{"kubeconfig": "mgmt.kubeconfig", "context": "mgmt"}],
            "images": {"OCIMachineTemplate": {v: oci_image(v) for v in VERSIONS}},
            "requestTimeoutSeconds": 5, "pollIntervalSeconds": 1}}],
        "policies": "policies", "state": {"url": "sqlite:///state/fleet.db", "create": True}, "reconcileInterval": "1s",
        "http": {"listen": f"127.0.0.1:{port}", "tokenFile": "token", "readOnlyTokenFile": "read-token",
                 "tlsCertFile": crt.name, "tlsKeyFile": key.name},
        "leaderElection": {"backend": "database", "leaseDuration": "5s"},
        "notifications": [{"name": "hook", "url": f"http://127.0.0.1:{hook_port}/hook", "format": "json",
                           "secretFile": "hook-secret"}]}
    cfg = d / "fleet.yaml"
    cfg.write_text(yaml.safe_dump({"apiVersion": "fleet.dev/v1alpha1", "kind": "FleetConfig",
                                   "metadata": {"name": "canary"}, "spec": spec}))
    return cfg, port


def leaks(text: str) -> list[str]:
    return [what for what, value in CANARIES.items() if value in text]


def test_no_canary_secret_reaches_logs_events_api_reports_or_errors(tmp_path):
    clock = ScaledClock(SystemClock().now(), 60.0)
    emu = CapiEmulator(clock, capi_version="v1beta2", token=CANARIES["kubeconfig token"],
                       timings=Timings(controller_delay=1.0, provision=24.0, delete=6.0))
    hook = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    emu.start()
    emu.add_cluster("canary-a", VERSIONS[0], cp_replicas=1, pools={"md-0": 1})
    cfg, port = write_config(tmp_path, emu.url, hook.server_address[1])
    env = {**os.environ, "AWS_SECRET_ACCESS_KEY": CANARIES["cloud credential"], "NO_PROXY": "127.0.0.1"}
    log = tmp_path / "daemon.log"
    proc = subprocess.Popen([FLEET, "daemon", "--config", str(cfg), "--log-format", "json", "--log-level", "DEBUG"],
                            stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env)
    base = f"https://127.0.0.1:{port}"
    tls = ssl.create_default_context(cafile=str(tmp_path / "tls.crt"))
    seen: list[str] = []
    try:
        with httpx.Client(verify=tls, timeout=5) as http:
            read = {"Authorization": f"Bearer {CANARIES['read token']}"}
            end = time.monotonic() + 60
            while time.monotonic() < end:
                try:
                    if http.get(f"{base}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            emu.inject("throttle"), emu.inject("server-error")          # cloud API faults mid-rollout
            # plain HTTP to the TLS port does not get an answer
            try:
                plain = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code
            except httpx.HTTPError:
                plain = None
            assert plain in (None, 400)

            def done() -> bool:
                r = http.get(f"{base}/api/v1/rollouts", headers=read).json()["rollouts"]
                return len(r) == 2 and all(x["status"] in ("done", "failed") for x in r)
            while time.monotonic() < end and not done():
                time.sleep(0.3)
            assert done(), "the rollouts did not finish"
            for path in ("/api/v1/events?limit=10000", "/api/v1/rollouts", "/api/v1/clusters", "/api/v1/plan",
                         "/api/v1/leader", "/metrics", "/openapi.json", "/readyz"):
                r = http.get(base + path, headers=read)
                assert r.status_code == 200, path
                seen.append(r.text)
            # error answers: wrong tokens, a read token on a write, unknown runs
            for headers in ({}, {"Authorization": "Bearer " + CANARIES["write token"][:-1]}, read):
                r = http.post(f"{base}/api/v1/pause", headers=headers)
                assert r.status_code == (403 if headers is read else 401)   # the read principal: too small a role
                seen.append(r.text + str(r.headers))
            r = http.post(f"{base}/api/v1/rollouts/nope/retry",
                          headers={"Authorization": f"Bearer {CANARIES['write token']}"})
            assert r.status_code == 404
            seen.append(r.text)
            events = http.get(f"{base}/api/v1/events?limit=10000", headers=read).json()["events"]
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
        hook.shutdown()
    try:
        assert code == 0
        _cli_and_store(tmp_path, cfg, env, events, seen, log)
    finally:
        emu.stop()


def _cli_and_store(tmp_path: Path, cfg: Path, env: dict, events: list[dict], seen: list[str], log: Path) -> None:
    assert {e["kind"] for e in events} >= {"step-dispatched", "step-succeeded", "run-done"}
    upgraded = {e["cluster_id"] for e in events if e["kind"] == "cluster-upgraded"}
    assert upgraded == {"capi/mgmt/default/canary-a", "eks/lab/s0", "eks/lab/s1"}
    assert Hook.received, "the webhook saw no notification: the scan of webhook bodies would be vacuous"
    # the CLI on the same state: status, history, plan (live discovery), reports
    cli = [["status", "--format", "json"], ["plan", "--format", "json"]]
    cli.append(["history", "capi/mgmt/default/canary-a", "--format", "json"])   # the cluster behind the kubeconfig
    help_text = subprocess.run([FLEET, "--help"], capture_output=True, text=True, check=False).stdout
    if " report " in help_text:
        cli += [["report", "--format", "json", "--no-forecast"], ["report", "--format", "html", "--no-forecast"]]
    for args in cli:                                   # plan and report discover live (the emulator still runs)
        r = subprocess.run([FLEET, args[0], "--config", str(cfg), *args[1:]], capture_output=True, text=True,
                           env=env, timeout=60, check=False)
        assert r.returncode == 0, (args, r.stderr[-2000:])
        seen.append(r.stdout + r.stderr)
    # every row of every table of the state store
    eng = create_engine(f"sqlite:///{tmp_path}/state/fleet.db")
    md = MetaData()
    md.reflect(eng)
    with eng.connect() as conn:
        rows = [repr(tuple(r)) for t in md.sorted_tables for r in conn.execute(select(t))]
    eng.dispose()
    assert any("step-dispatched" in r for r in rows)
    corpus = {"daemon log": log.read_text(), "state store": "\n".join(rows), "api and cli": "\n".join(seen),
              "webhooks": b"\n".join(Hook.received).decode("utf-8", "replace")}
    assert "leadership acquired" in corpus["daemon log"] and "step dispatched" in corpus["daemon log"]
    found = {where: leaks(text) for where, text in corpus.items() if leaks(text)}
    assert not found, f"canary secrets leaked: {found}"
    # the scanner itself finds a planted canary (the files that hold them)
    assert leaks((tmp_path / "mgmt.kubeconfig").read_text()) == ["kubeconfig token"]
    assert json.loads(json.dumps(CANARIES))  # canaries are plain strings
