"""Chaos benchmark: a multi-cloud rollout under leader kills and cloud API faults, then the safety checks.

The fleet (50 clusters by default): 40 on the sim provider (persisted stateFile world, 10% of its calls fail
with a simulated 503) plus two real emulators served from this process on 127.0.0.1 and driven by their
official SDKs from the daemons - 5 GKE clusters (google-cloud-container -> GkeEmulator) and 5 Cluster API
clusters (kubernetes client -> CapiEmulator) - where 10% of all requests are answered 429 or 503 (drawn per
request from a seeded RNG). Two `fleet daemon` processes share one PostgreSQL store (a fresh schema) with
database leader election; the leader is killed with SIGKILL at random moments (--kills, 30 by default) and
restarted as a standby. The sim policy only allows steps in one-minute maintenance windows every other
minute, so windows open and close during the run.

At the end it checks and prints: every cluster at its target or failed with a reason; zero duplicate upgrade
calls per step (from the sim world's and the emulators' own logs); zero steps dispatched outside a window;
zero budget violations (maxConcurrentClusters per run; node budgets in the clouds' logs); every dispatch in
the audit log with its result and every cloud-side upgrade matched by a dispatch; takeover times (median and
worst). Exit status 0 when every check passes.

    python bench/chaos.py                                   # 30 kills, 50 clusters (several minutes)
    python bench/chaos.py --kills 5 --sim 8 --gke 2 --capi 2   # the bounded CI form (tests/ha)
    python bench/chaos.py --scenario timing                 # slow provider + pause storm (bench/chaos_timing.py)

``--scenario timing`` (or ``all``) also runs the time-of-check scenarios of bench/chaos_timing.py: a provider
slower than the adapter's timeout while windows close mid-tick, and a pause storm over 300 clusters; it
reports the steps started outside windows and after an acknowledged pause, from the sim's own call log.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import yaml
from chaos_timing import add_arguments as add_timing_arguments  # bench/ is on sys.path when run as a script
from chaos_timing import run_timing

from fleet.clock import ScaledClock, SystemClock
from fleet.emulator import Emulator, create_emulator
from fleet.planning.windows import Schedule
from fleet.policy.models import UpgradePolicy
from fleet.state.store import SqlStore as Store
from providers.capi.emulator.controllers import Timings
from providers.capi.emulator.server import CapiEmulator
from providers.gke.emulator.server import GkeEmulator

FLEET = shutil.which("fleet") or "fleet"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
SCALE = 60.0                       # emulated seconds per real second
GKE_VERSIONS = ["1.29.4-gke.1043002", "1.29.8-gke.1211000", "1.30.2-gke.1587003"]
CAPI_VERSIONS = ["v1.29.6", "v1.30.4"]
SIM_OFFERS = '["1.29.2", "1.29.8", "1.30.4"]'
KUBE_TOKEN = "chaos-kube-token"
CONCURRENCY = {"sim": 6, "gke": 2, "capi": 2}
# the emulators, started through the one emulator interface: their options, and the bench's additions to
# their adapter settings
EMULATORS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "gke": ({"project": "chaos", "location": "europe-west1", "master_seconds": 120.0, "node_seconds": 60.0},
            {"timeoutSeconds": 2.0, "pollIntervalSeconds": 1}),
    "capi": ({"token": KUBE_TOKEN, "timings": Timings(controller_delay=1.0, provision=24.0, delete=6.0),
              "images": {"OCIMachineTemplate": {v: f"ocid1.image.oc1.phx.k8s-{v.lstrip('v').replace('.', '-')}"
                                                for v in CAPI_VERSIONS}}},
             {"requestTimeoutSeconds": 5, "pollIntervalSeconds": 1}),
}


class FaultRate:
    """Stands in for an EmulatorServer's one-shot fault queue: each request draws a 429 or 503 with
    probability ``rate`` (the server asks ``if faults:`` then ``faults.pop(0)`` under its lock)."""

    def __init__(self, rate: float, seed: int):
        self.rate, self.rng = rate, random.Random(seed)
        self.pending: str | None = None
        self.served: Counter[str] = Counter()

    def __bool__(self) -> bool:
        self.pending = self.rng.choice(("throttle", "server-error")) if self.rng.random() < self.rate else None
        return self.pending is not None

    def pop(self, _index: int = 0) -> str | None:
        f, self.pending = self.pending, None
        self.served[f or ""] += 1
        return f

    def append(self, fault: str) -> None:
        self.pending = fault


def start_all(kits: dict[str, Emulator]) -> None:
    for kit in kits.values():
        kit.start()


def stop_all(kits: dict[str, Emulator]) -> None:
    for kit in kits.values():
        kit.stop()


# ---- the fleet --------------------------------------------------------------------------------------
def alternating_windows(start: datetime, minutes: int) -> list[dict[str, Any]]:
    """One-minute windows every other minute (UTC) for ``minutes`` minutes from ``start``."""
    first = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return [{"days": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"], "start": (first + timedelta(minutes=m)).strftime("%H:%M"),
             "duration": "1m"} for m in range(0, minutes, 2)]


SIM_NODE_BUDGET = (None, 1)   # (maxSurge, maxUnavailable) each simulated EKS node-group step must carry


def write_fleet(d: Path, args: argparse.Namespace, kits: dict[str, Emulator], state: str) -> list[Path]:
    (d / "policies").mkdir()
    inv = ["apiVersion: fleet.dev/v1alpha1", "kind: Inventory", f"offers: {{eks: {SIM_OFFERS}}}", "clusters:"]
    inv += [f'  - {{provider: eks, location: lab, name: s{i:02d}, controlPlane: "1.29.2", '
            f'nodePools: [{{name: ng, version: "1.29.2", nodes: 2}}]}}' for i in range(args.sim)]
    (d / "inventory.yaml").write_text("\n".join(inv) + "\n")
    now = SystemClock().now()
    for name in ("sim", "gke", "capi"):
        spec: dict[str, Any] = {"selector": {"providers": [name]}, "target": {"version": "1.30"},
                                "nodePools": {"maxSurge": 1, "maxUnavailable": 0},
                                "rollout": {"maxConcurrentClusters": CONCURRENCY[name], "maxFailures": 1000}}
        if name == "sim" and args.windows:
            spec["maintenance"] = {"timezone": "UTC", "windows": alternating_windows(now, 240)}
        doc = {"apiVersion": "fleet.dev/v1alpha1", "kind": "UpgradePolicy", "metadata": {"name": name}, "spec": spec}
        (d / "policies" / f"{name}.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    providers = [
        {"name": "sim", "type": "sim", "settings": {
            "inventory": "inventory.yaml", "stateFile": "sim-world.json",
            "controlPlaneDuration": f"{args.step_seconds}s", "nodePoolDuration": f"{args.step_seconds}s", "faults": {"apiErrorRate": args.fault_rate, "seed": args.seed}}},
    ] + [{"name": name, "type": name, "settings": {**kit.adapter_settings(), **EMULATORS[name][1]}}
         for name, kit in kits.items()]
    cfgs = []
    for i in range(2):
        with __import__("socket").socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        spec = {"providers": providers, "policies": "policies", "state": {"url": state, "create": True}, "reconcileInterval": "1s",
                "http": {"listen": f"127.0.0.1:{port}"},
                "leaderElection": {"backend": "database", "leaseDuration": f"{args.lease}s"}}
        p = d / f"fleet-{i}.yaml"
        p.write_text(yaml.safe_dump({"apiVersion": "fleet.dev/v1alpha1", "kind": "FleetConfig",
                                     "metadata": {"name": "chaos"}, "spec": spec}, sort_keys=False))
        cfgs.append(p)
    return cfgs


class Replica:
    def __init__(self, cfg: Path, log: Path):
        self.cfg, self.log, self.proc = cfg, log, None
        self.base = "http://" + yaml.safe_load(cfg.read_text())["spec"]["http"]["listen"]

    def start(self) -> None:
        env = {**os.environ, "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1"}
        self.proc = subprocess.Popen([FLEET, "daemon", "--config", str(self.cfg), "--log-format", "json"],
                                     stdout=self.log.open("ab"), stderr=subprocess.STDOUT, env=env)

    def leading(self) -> bool:
        try:
            return bool(httpx.get(f"{self.base}/api/v1/leader", timeout=1).json()["leader"])
        except (httpx.HTTPError, ValueError, KeyError):
            return False

    def up(self) -> bool:
        try:
            return httpx.get(f"{self.base}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait(fn, timeout: float, every: float = 0.05) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(every)
    return None


# ---- the checks ---------------------------------------------------------------------------------------
def checks(store: Store, d: Path, gke: GkeEmulator, capi: CapiEmulator, args: argparse.Namespace) -> list[tuple[str, str, bool]]:
    events = store.events(limit=10**7)
    runs = {r.id: r for r in store.runs()}
    latest = store.latest_memberships()
    world = json.loads((d / "sim-world.json").read_text())
    at: dict[str, bool] = {c["id"]: c["control_plane"] == "1.30.4" and all(p["version"] == "1.30.4" for p in c["pools"])
                           for c in world["clusters"]}
    for c in gke.clusters.values():
        ok = c.current_master_version == GKE_VERSIONS[-1] and all(p.version == GKE_VERSIONS[-1] for p in c.node_pools)
        at[f"gke/{c.location}/{c.name}"] = ok
    for i in range(args.capi):
        kcp = capi.get("KubeadmControlPlane", f"k{i}-control-plane")["spec"]["version"]
        md = capi.get("MachineDeployment", f"k{i}-md")["spec"]["template"]["spec"]["version"]
        at[f"capi/mgmt/default/k{i}"] = kcp == md == CAPI_VERSIONS[-1]
    failed_ok = [c for c, ok in at.items() if not ok and c in latest and latest[c].status == "failed"
                 and latest[c].message]
    bad = [c for c, ok in at.items() if not ok and c not in failed_ok]
    out = [(f"clusters at target / failed with a reason / neither (of {len(at)})",
            f"{sum(at.values())} / {len(failed_ok)} / {len(bad)}", not bad and len(at) == args.sim + args.gke + args.capi)]
    # duplicates, from the clouds' own logs
    sim_calls = Counter(tuple(x) for x in world["upgrade_log"])
    gke_calls = Counter((f"gke/{u['location']}/{u['clusterName']}",
                         "cp" if u["nodePool"] in (None, "") else f"pool:{u['nodePool']}", u["requested"])
                        for u in gke.upgrade_log)
    capi_calls = Counter((f"capi/mgmt/{u.namespace}/{u.cluster}", u.kind, u.name, u.to_version) for u in capi.upgrade_log)
    dups = sum(n - 1 for c in (sim_calls, gke_calls, capi_calls) for n in c.values() if n > 1)
    out.append(("duplicate upgrade calls per step (sim / GKE / CAPI logs)", f"{dups} (of {sum(sim_calls.values())} / "
                f"{sum(gke_calls.values())} / {sum(capi_calls.values())} calls)", dups == 0))
    # windows
    schedules = {rid: Schedule.from_maintenance(UpgradePolicy.model_validate(r.policy_snapshot).spec.maintenance)
                 for rid, r in runs.items()}
    dispatched = [e for e in events if e["kind"] == "step-dispatched"]
    outside = [e for e in dispatched if not schedules[e["run_id"]].allows(e["at"], bool(e["data"]["minor"]))]
    out.append(("steps dispatched outside a maintenance window" + ("" if args.windows else " (no windows set)"),
                f"{len(outside)} (of {len(dispatched)})", not outside))
    # budgets: clusters in flight per run; node budgets as the clouds saw them
    active: dict[str, set[str]] = defaultdict(set)
    over = []
    for e in events:
        if e["kind"] == "cluster-started":
            active[e["run_id"]].add(e["cluster_id"])
            limit = runs[e["run_id"]].policy_snapshot["spec"]["rollout"]["maxConcurrentClusters"]
            if len(active[e["run_id"]]) > limit:
                over.append(e)
        elif e["kind"] in ("cluster-upgraded", "cluster-failed", "cluster-blocked"):
            active[e["run_id"]].discard(e["cluster_id"])
    # the sim clusters stand in for EKS, which has no surge (providers/eks/rules.py): the plan warns and turns
    # the policy's maxSurge 1 / maxUnavailable 0 into maxUnavailable 1 -- that is the budget EKS must see
    node = [o for o in world["operations"] if o["component"] != "control-plane"
            and (o["budget"].get("maxSurge"), o["budget"].get("maxUnavailable")) != SIM_NODE_BUDGET]
    node += [u for u in gke.upgrade_log if u["nodePool"] and (u["upgradeSettings"] or {}).get("maxUnavailable")]
    for i in range(args.capi):
        for kind, name in (("KubeadmControlPlane", f"k{i}-control-plane"), ("MachineDeployment", f"k{i}-md")):
            b = capi.budget(kind, name)
            if b.max_surge > 1 or b.max_unavailable > 0:
                node.append((kind, name, b))
    out.append(("budget violations (clusters in flight; node surge/unavailable)", f"{len(over)}; {len(node)}",
                not over and not node))
    # the audit log: every dispatch has its result; every cloud-side upgrade has its dispatch
    results = {(e["run_id"], e["cluster_id"], e["step_key"]) for e in events if e["kind"] in ("step-succeeded", "step-failed")}
    open_ = [e for e in dispatched if (e["run_id"], e["cluster_id"], e["step_key"]) not in results]
    per_cluster = Counter(e["cluster_id"] for e in dispatched)
    cloud = Counter(k[0] for c in (sim_calls, gke_calls, capi_calls) for k in c.elements())
    untracked = {c: (cloud[c], per_cluster[c]) for c in cloud if cloud[c] > per_cluster[c]}
    out.append(("dispatches without a recorded result; cloud upgrades without a dispatch",
                f"{len(open_)}; {sum(a - b for a, b in untracked.values())}", not open_ and not untracked))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kills", type=int, default=30)
    ap.add_argument("--sim", type=int, default=40)
    ap.add_argument("--gke", type=int, default=5)
    ap.add_argument("--capi", type=int, default=5)
    ap.add_argument("--fault-rate", type=float, default=0.1)
    ap.add_argument("--lease", type=int, default=2, help="lease duration in seconds")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--gap", type=float, default=3.0, help="kill the leader 0.2..GAP seconds after it took over")
    ap.add_argument("--step-seconds", type=int, default=3, help="duration of a sim upgrade step")
    ap.add_argument("--no-windows", dest="windows", action="store_false",
                    help="no maintenance windows (a short run need not wait for the next open minute)")
    ap.add_argument("--timeout", type=float, default=1200, help="give up on the rollout after this many seconds")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (logs, world) and print it")
    ap.add_argument("--scenario", choices=["kills", "timing", "all"], default="kills",
                    help="kills: the rollout under leader kills and faults (above); timing: the slow provider and "
                         "the pause storm (bench/chaos_timing.py); all: both")
    add_timing_arguments(ap)
    args = ap.parse_args()
    rc = run_kills(args) if args.scenario in ("kills", "all") else 0
    if args.scenario in ("timing", "all"):
        print()
        rc |= run_timing(args)
    return rc


def run_kills(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    import psycopg
    schema = f"chaos_{secrets.token_hex(5)}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    state = f"{PG}?options=-csearch_path%3D{schema}"
    d = Path(tempfile.mkdtemp(prefix="fleet-chaos-"))
    clock = ScaledClock(SystemClock().now(), SCALE)
    kits = {name: create_emulator(name, clock, d / name, **options) for name, (options, _) in EMULATORS.items()}
    gke: GkeEmulator = kits["gke"].emulator
    capi: CapiEmulator = kits["capi"].emulator
    faults = [FaultRate(args.fault_rate, args.seed + 1), FaultRate(args.fault_rate, args.seed + 2)]
    gke.server.faults, capi.server.faults = faults[0], faults[1]  # type: ignore[assignment]
    gke.set_versions(GKE_VERSIONS, project="chaos", location="europe-west1")
    for i in range(args.gke):
        gke.add_cluster(f"g{i}", GKE_VERSIONS[0], {"default-pool": {"version": GKE_VERSIONS[0], "nodes": 2}},
                        project="chaos", location="europe-west1")
    start_all(kits)
    for i in range(args.capi):
        capi.add_cluster(f"k{i}", CAPI_VERSIONS[0], cp_replicas=1, pools={f"k{i}-md": 1})
    reps: list[Replica] = []
    takeovers: list[float] = []
    mid_rollout = 0
    store: Store | None = None
    t_start = time.monotonic()
    try:
        cfgs = write_fleet(d, args, kits, state)
        reps = [Replica(c, d / f"daemon-{i}.log") for i, c in enumerate(cfgs)]
        for r in reps:          # one after the other: the first seeds the sim world's stateFile
            r.start()
            if not wait(r.up, 60):
                raise SystemExit(f"a daemon did not come up; see {r.log}")
        store = Store(state, migrate=False)
        print(f"fleet: {args.sim} sim + {args.gke} GKE + {args.capi} Cluster API clusters; 2 daemons on PostgreSQL; "
              f"lease {args.lease}s; {args.fault_rate:.0%} faults; {args.kills} SIGKILLs", flush=True)
        for k in range(args.kills):
            leader = wait(lambda: next((r for r in reps if r.leading()), None), 30)
            if leader is None:
                raise SystemExit("no leader")
            time.sleep(rng.uniform(0.2, args.gap))
            mid_rollout += bool(store.runs(active_only=True)) or not store.runs()
            os.kill(leader.proc.pid, signal.SIGKILL)
            t0 = time.monotonic()
            leader.proc.wait()
            other = reps[1 - reps.index(leader)]
            if not wait(other.leading, 10 * args.lease, every=0.02):
                raise SystemExit(f"kill {k + 1}: no takeover within {10 * args.lease}s")
            takeovers.append(time.monotonic() - t0)
            print(f"  kill {k + 1:>2}: takeover in {takeovers[-1]:.2f} s", flush=True)
            leader.start()
            wait(leader.up, 60)

        print(f"  kills done after {time.monotonic() - t_start:.0f} s; waiting for the rollout to finish", flush=True)

        def finished() -> bool:
            runs = store.runs()
            return len(runs) >= 3 and not store.runs(active_only=True)
        done = wait(finished, args.timeout, every=0.5)
        elapsed = time.monotonic() - t_start
    finally:
        for r in reps:
            r.stop()
    try:
        rows = checks(store, d, gke, capi, args)
    finally:
        stop_all(kits)
        store.close()
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as c:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')
    served = faults[0].served + faults[1].served
    rows.insert(0, ("rollout finished (every run closed)", f"{'yes' if done else 'NO'} in {elapsed:.0f} s", bool(done)))
    rows.append(("kills (while runs were active)", f"{len(takeovers)} ({mid_rollout})", len(takeovers) == args.kills))
    rows.append(("takeover after SIGKILL, median / worst", f"{statistics.median(takeovers):.2f} / {max(takeovers):.2f} s"
                 if takeovers else "-", bool(takeovers) and max(takeovers) <= 2 * args.lease))
    total = len(gke.server.log) + len(capi.server.log)
    rows.append(("GKE + CAPI emulator requests answered 429 / 503", f"{served['throttle']} / {served['server-error']} "
                 f"of {total}", True))
    print()
    for name, value, ok in rows:
        print(f"  {name:<66} {value:>30}   {'ok' if ok else 'FAILED'}")
    if args.keep:
        print(f"\nwork folder: {d}")
    else:
        shutil.rmtree(d, ignore_errors=True)
    return 0 if all(ok for _, _, ok in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
