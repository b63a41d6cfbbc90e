"""`fleet demo`: six local clouds, two dozen clusters, the real daemon, a week of maintenance windows in
event-driven virtual time, and the compliance report before and after.

Order: start the emulators on one stopped ScaledClock (virtual time stands still while they are seeded), write
the working folder (FleetConfig, policies, API token), report the fleet as found (with the forecast), start the
daemon's HTTP API, then drive the daemon's ticks over virtual time (fleet.demo.timeline: time moves only
between ticks, from one due event to the next, so the outcome is the same on a fast or a loaded machine) until
every cluster is settled (upgraded, or blocked with a reason) or the week is over, then report again, compare
the forecast with what happened and write report.html. ``keep`` leaves everything running, in real time,
until Ctrl-C.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console

from fleet.clock import ScaledClock, SystemClock, iso
from fleet.demo import scenario as S
from fleet.demo.outcome import compute_outcome, print_accuracy, print_outcome
from fleet.demo.report import (
    compute_calibrated_forecast,
    compute_demo_report,
    compute_forecast,
    print_after,
    print_before,
    write_html,
    write_json,
)
from fleet.errors import FleetError, InputError, Problem

log = logging.getLogger("fleet.demo")

MARKER = ".fleet-demo"
DEMO_DAYS = 7
REFRESH_S = 0.25                # the live view is redrawn at most this often (real seconds)


@dataclass
class DemoOptions:
    directory: Path
    keep: bool = False
    speed: float = S.WEEK_PER_MINUTE
    short: bool = False
    days: int = DEMO_DAYS


def prepare_directory(d: Path) -> None:
    """Use ``d`` for the demo: create it, or clear an earlier demo's files; refuse a folder with other files."""
    if d.exists() and not d.is_dir():
        raise InputError([Problem(str(d), None, "--dir", "exists and is not a folder")])
    if d.is_dir() and any(d.iterdir()):
        if not (d / MARKER).exists():
            raise InputError([Problem(str(d), None, "--dir", "folder is not empty and was not made by `fleet demo`; "
                                                              "give an empty or new folder")])
        for child in d.iterdir():
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()
    d.mkdir(parents=True, exist_ok=True)
    (d / MARKER).write_text("made by `fleet demo`; the next `fleet demo --dir` here replaces this folder\n")


def _isolate_network_env() -> None:
    """Requests to the local emulators and API must never go through a proxy the user configured."""
    import warnings
    warnings.filterwarnings("ignore", message="SOCKS support")   # urllib3 notes it once; nothing uses SOCKS
    for key in ("NO_PROXY", "no_proxy"):
        have = [h for h in os.environ.get(key, "").split(",") if h]
        os.environ[key] = ",".join(dict.fromkeys(have + ["127.0.0.1", "localhost"]))


def _log_to_file(path: Path) -> Any:
    from fleet.logs import configure
    stream = path.open("a", encoding="utf-8")
    configure("text", "INFO", stream=stream)
    for noisy in ("werkzeug", "moto", "uvicorn.error"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # ticks run back to back at this speed: APScheduler's "skipped: already running" is expected, not news
    logging.getLogger("apscheduler").setLevel(logging.ERROR)
    return stream


def run_demo(opts: DemoOptions, console: Console) -> int:
    t0 = SystemClock().monotonic()
    d = opts.directory.resolve()
    prepare_directory(d)
    _isolate_network_env()
    logfile = _log_to_file(d / "daemon.log")
    clock = ScaledClock(S.SCENARIO_START, opts.speed, running=False)
    end = S.SCENARIO_START + timedelta(days=opts.days)
    from fleet.demo.emulators import DemoClouds
    from fleet.demo.seed import seed_fleet
    from fleet.demo.service import DemoDaemon, bind_ephemeral
    from fleet.demo.workspace import write_workspace
    clusters = S.scenario_clusters(opts.short)
    console.print(f"[bold]fleet demo[/]: {len(clusters)} clusters on EKS, GKE, AKS, OKE, Cluster API (OCI) and kops, "
                  f"all emulated on 127.0.0.1; working folder [cyan]{d}[/]")
    clouds = DemoClouds(clock, d / "emulators")
    service: DemoDaemon | None = None
    try:
        clouds.start()
        seed_fleet(clouds, clusters)
        sock = bind_ephemeral()
        listen = "{}:{}".format(*sock.getsockname()[:2])
        cfg = write_workspace(d, clouds.provider_configs(), listen)
        service = DemoDaemon(cfg, clock, sock)
        daemon = service.build()
        console.print(f"clouds up and seeded in {SystemClock().monotonic() - t0:.1f} s; "
                      f"virtual time starts {iso(S.SCENARIO_START)} at x{opts.speed:,.0f}")
        before = _report_before(daemon, clock.now())
        write_html(d / "report-before.html", before)
        print_before(console, before, d / "report-before.html")
        write_json(d / "report-before.json", before)
        service.start(scheduler=False)      # the demo's timeline ticks the daemon (fleet.demo.timeline)
        finish = _watch(service, clock, end, console, opts.speed)
        _print_finish(console, finish)
        api = _check_api(service.url, daemon)
        memberships = daemon.store.latest_memberships()
        steps = daemon.store.steps()
        final_plan = daemon.engine.last_plan
        if final_plan is None:
            raise FleetError("the daemon completed no reconcile; see " + str(d / "daemon.log"))
        if not opts.keep:
            service.stop()
        after = compute_demo_report(final_plan, final_plan.at, memberships=memberships,
                                    newest_offered=before.newest_offered)
        write_html(d / "report.html", after)
        write_json(d / "report.json", after)
        print_after(console, before, after, d / "report.html")
        from fleet.reports.accuracy import compute_accuracy, observe_completions
        done_at = observe_completions(daemon.store)
        outcome = compute_outcome(before, after, memberships, steps, done_at)
        accuracy = compute_accuracy(before.forecast, done_at) if before.forecast is not None else None
        recal = compute_calibrated_forecast(before, daemon.store)
        calibrated = compute_accuracy(recal[0], done_at) if recal is not None else None
        wall = SystemClock().monotonic() - t0
        (d / "outcome.json").write_text(json.dumps({
            "scenarioStart": iso(S.SCENARIO_START), "end": iso(final_plan.at), "speed": opts.speed,
            "short": opts.short, "wallSeconds": round(wall, 1), "finish": {
                "reason": finish.reason, "ticks": finish.ticks, "busySeconds": round(finish.busy_s, 1)},
            "api": {"url": service.url, **api},
            "clusters": outcome, "forecastVsActual": accuracy.to_dict() if accuracy else None,
            "calibratedForecastVsActual": calibrated.to_dict() if calibrated else None,
            "calibration": recal[1].table if recal else None},
            indent=2) + "\n", encoding="utf-8")
        ok = print_outcome(console, outcome)
        if accuracy is not None:
            print_accuracy(console, accuracy)
        if recal is not None and calibrated is not None:
            print_accuracy(console, calibrated, calibrated_from=recal[1])
        _print_where(console, d, service.url, api, wall, opts.keep)
        if opts.keep:
            service = _restart_in_real_time(service, clock)
            console.print(f"\n--keep: the emulators and the daemon keep running, in real time from virtual "
                          f"{iso(clock.now())}; API {service.url}. Press Ctrl-C to stop.", highlight=False)
            _wait_for_interrupt(console)
        return 0 if ok else 1
    finally:
        if service is not None:
            service.stop()
            service.close_socket()
        clouds.stop()
        logging.getLogger().handlers.clear()
        logfile.close()


def _report_before(daemon: Any, at: datetime) -> Any:
    eng = daemon.engine
    obs = eng.observer.observe_fleet(at)
    policies = eng.current_policies()
    plan = eng.compute_fleet_plan(obs, policies)
    forecast, notes = compute_forecast(policies, obs, eng.observer, at)
    from fleet.reports.compliance import compute_newest_offered
    newest = compute_newest_offered(obs.clusters.values(), lambda c: eng.observer.offers_for(c, at))
    rep = compute_demo_report(plan, at, forecast=forecast, newest_offered=newest)
    rep.forecast = forecast
    clusters = list(obs.clusters.values())
    rep.forecast_inputs = (policies, clusters, {c.id: eng.observer.offers_for(c, at) for c in clusters})
    rep.notes.extend(notes)
    return rep


def _watch(service: Any, clock: ScaledClock, end: datetime, console: Console, speed: float) -> Any:
    """Drive the daemon over the virtual week (fleet.demo.timeline) and show the live view meanwhile."""
    from rich.live import Live

    from fleet.demo.timeline import run_timeline
    from fleet.demo.view import EventTail, observe_snapshot, progress_line, render_snapshot
    daemon = service.daemon
    tail = EventTail()
    last = [0.0]

    def snapshot() -> Any:
        return observe_snapshot(daemon, S.SCENARIO_START, end, service.url, tail)

    live: Any = None

    def show() -> None:
        if live is not None and time.monotonic() - last[0] >= REFRESH_S:
            live.update(render_snapshot(snapshot()))
            last[0] = time.monotonic()
        elif live is None and time.monotonic() - last[0] >= 2.0:
            console.print(progress_line(snapshot()), markup=False, highlight=False)
            last[0] = time.monotonic()

    def wait(seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            time.sleep(min(left, REFRESH_S))
            show()

    def drive() -> Any:
        return run_timeline(daemon, clock, end, speed=speed, on_tick=show, wait=wait, origin=S.SCENARIO_START)

    if console.is_terminal:
        with Live(console=console, refresh_per_second=4, transient=False) as live:
            finish = drive()
            live.update(render_snapshot(snapshot()))
        return finish
    finish = drive()
    console.print(progress_line(snapshot()), markup=False, highlight=False)
    return finish


def _print_finish(console: Console, finish: Any) -> None:
    from fleet.demo.timeline import SETTLED
    style = "green" if finish.reason == SETTLED else "bold yellow"
    console.print(f"virtual time stopped at {iso(finish.at)}: {finish.reason} after {finish.ticks} ticks "
                  f"({finish.busy_s:.0f} s of real time inside ticks)", style=style, markup=False, highlight=False)


def _check_api(url: str, daemon: Any) -> dict[str, Any]:
    """Ask the running daemon's HTTP API what a user or Prometheus would; record the answers."""
    import httpx
    out: dict[str, Any] = {}
    with httpx.Client(base_url=url, timeout=10, trust_env=False) as c:
        for path in ("/healthz", "/readyz", "/api/v1/clusters?limit=1", "/api/v1/rollouts", "/metrics"):
            r = c.get(path)
            out[path.split("?")[0]] = r.status_code
            if path == "/metrics":
                out["metricsSample"] = [ln for ln in r.text.splitlines()
                                        if ln.startswith(("fleet_steps_succeeded_total", "fleet_clusters{",
                                                          "fleet_reconcile_total", "fleet_reconcile_duration_seconds_sum",
                                                          "fleet_forecast_"))]
    return out


def _print_where(console: Console, d: Path, url: str, api: dict[str, Any], wall: float, keep: bool) -> None:
    console.rule("[bold]Where everything is")
    rows = [("working folder", str(d)), ("FleetConfig", str(d / "fleet.yaml")), ("policies", str(d / "policies")),
            ("state (SQLite)", str(d / "state" / "fleet.db")), ("report (HTML)", str(d / "report.html")),
            ("report before (HTML)", str(d / "report-before.html")), ("outcome (JSON)", str(d / "outcome.json")),
            ("daemon log", str(d / "daemon.log")), ("API token", str(d / "api-token"))]
    for k, v in rows:
        console.print(f"  {k:<22} {v}", markup=False, highlight=False)
    codes = ", ".join(f"{k} {v}" for k, v in api.items() if k.startswith("/"))
    console.print(f"  {'HTTP API':<22} {url}  ({codes})", markup=False, highlight=False)
    console.print(f"\nThe demo took {wall:.0f} s of real time.", highlight=False)
    console.print(f"Explore: fleet status --config {d}/fleet.yaml ; fleet history --config {d}/fleet.yaml CLUSTER-ID",
                  markup=False, highlight=False)
    console.print("Real clouds: keep policies/, replace each provider's settings in fleet.yaml with your accounts "
                  "(see docs/demo.md), check with `fleet plan --config fleet.yaml`, then run `fleet daemon`.",
                  markup=False, highlight=False)
    if not keep:
        console.print("The emulators and the daemon have stopped (run with --keep to explore them live).",
                      markup=False, highlight=False)


def _restart_in_real_time(service: Any, clock: ScaledClock) -> Any:
    """The same daemon configuration on the same port, with virtual time slowed to real time (its timers are
    set from the clock's speed when the scheduler starts, hence the restart)."""
    from fleet.demo.service import DemoDaemon, bind_ephemeral
    port = service.port
    service.stop()
    service.close_socket()
    clock.set_factor(1.0)
    clock.go()
    fresh = DemoDaemon(service.config_file, clock, bind_ephemeral(port=port))
    fresh.start()
    return fresh


def _wait_for_interrupt(console: Console) -> None:
    import threading
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        console.print("stopping…")
