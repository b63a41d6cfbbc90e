"""CLI commands of this package, registered on the main `fleet` app by fleet.cli:
``fleet report``, ``fleet forecast``, ``fleet lifecycle show|load``.

Settings (the active lifecycle file) are read once per command from the environment and passed on
(LifecycleSettings.from_env); nothing is read at import time.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from fleet.errors import InputError, Problem

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="FleetConfig: report on live discovery")]
InventoryOpt = Annotated[Path | None, typer.Option(help="Inventory file (offline report)")]
PoliciesOpt = Annotated[Path | None, typer.Option(help="policy file or folder (with --inventory)")]
AtOpt = Annotated[str | None, typer.Option(help="as of this ISO-8601 instant (default: now)")]
HorizonOpt = Annotated[int, typer.Option("--horizon-days", min=1, max=3650, help="forecast and risk horizon in days")]
StepDurationOpt = Annotated[list[str] | None, typer.Option(
    "--step-duration", metavar="TYPE=CP/POOL",
    help="forecast step durations for a provider type: control plane / node pool per batch, e.g. "
         "eks=45m/15m (repeatable; defaults in docs/report-format.md)")]
LifecycleOpt = Annotated[Path | None, typer.Option("--lifecycle", help="lifecycle file for this command only "
                                                    "(default: the active dataset, see `fleet lifecycle`)")]


def _settings() -> Any:
    from fleet.reports.lifecycle import LifecycleSettings
    return LifecycleSettings.from_env(os.environ)


def _lifecycle(path: Path | None) -> Any:
    from fleet.reports.lifecycle import load_active, load_lifecycle_file
    return load_lifecycle_file(path) if path is not None else load_active(_settings())


def _check_choice(value: str, allowed: tuple[str, ...], flag: str) -> None:
    if value not in allowed:
        from fleet.cli import fail_input
        fail_input([Problem(flag, None, flag.lstrip("-"), f"must be one of {', '.join(allowed)}")])


def parse_step_durations(values: list[str] | None) -> dict[str, tuple[timedelta, timedelta]]:
    """``["eks=45m/15m", ...]`` -> {"eks": (45 min, 15 min)}; a clear --step-duration error otherwise."""
    from fleet.policy.types import parse_duration
    out: dict[str, tuple[timedelta, timedelta]] = {}
    problems = []
    for v in values or []:
        kind, _, rest = v.partition("=")
        cp, slash, pool = rest.partition("/")
        try:
            if not kind.strip() or not slash:
                raise ValueError("expected TYPE=CONTROL_PLANE/NODE_POOL_BATCH, e.g. eks=45m/15m")
            durations = (parse_duration(cp), parse_duration(pool))
            if min(durations) <= timedelta(0):
                raise ValueError("durations must be positive")
        except ValueError as exc:
            problems.append(Problem("--step-duration", None, "step-duration", f"{v!r}: {exc}"))
            continue
        out[kind.strip()] = durations
    if problems:
        from fleet.cli import fail_input
        fail_input(problems)
    return out


def write_output(text: str, output: Path | None) -> None:
    """Write to ``output`` atomically (a partial file never replaces a good one), or to stdout."""
    if output is None:
        sys.stdout.write(text)
        return
    parent = output.resolve().parent
    if not parent.is_dir():
        raise InputError([Problem("--output", None, "output", f"folder {parent} does not exist")])
    fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", dir=parent)
    try:
        mask = os.umask(0)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)  # an ordinary new file, not mkstemp's private 0600
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        os.replace(tmp, output)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def report(config: ConfigOpt = None, inventory: InventoryOpt = None, policies: PoliciesOpt = None, at: AtOpt = None,
           format: Annotated[str, typer.Option("--format", help="table, json, csv, markdown or html")] = "table",
           output: Annotated[Path | None, typer.Option("--output", "-o", help="write here instead of stdout")] = None,
           no_forecast: Annotated[bool, typer.Option("--no-forecast", help="skip the forecast simulation")] = False,
           horizon_days: HorizonOpt = 365,
           state: Annotated[str | None, typer.Option(help="state store URL for run states (default: the config's)")] = None,
           lifecycle: LifecycleOpt = None, step_duration: StepDurationOpt = None) -> None:
    """Which clusters run what, which are out of support or about to be, and when each will be fixed."""
    from fleet.cli import parse_at, run_guarded
    from fleet.reports.formats import FORMATS, renderer
    _check_choice(format, FORMATS, "--format")
    durations = parse_step_durations(step_duration)

    def body() -> None:
        from fleet.reports.compliance import compute_report
        from fleet.reports.inputs import compute_forecast, observe_inputs, observe_memberships
        now = parse_at(at)
        horizon = timedelta(days=horizon_days)
        lc = _lifecycle(lifecycle)
        inputs = observe_inputs(config=config, inventory=inventory, policies=policies, at=now)
        memberships, notes = observe_memberships(state or inputs.state_url)
        forecast = None
        if not no_forecast:
            forecast, more = compute_forecast(inputs, now, horizon, durations)
            notes += more
        rep = compute_report(inputs.plan, lc, now, forecast=forecast, memberships=memberships, horizon=horizon,
                             notes=inputs.notes + notes)
        if format == "table" and output is None:
            from fleet.reports.render_table import render_table
            sys.stdout.write(render_table(rep, color=sys.stdout.isatty()))
            return
        write_output(renderer(format)(rep), output)
    run_guarded(body)


def forecast(config: ConfigOpt = None, inventory: InventoryOpt = None, policies: PoliciesOpt = None, at: AtOpt = None,
             format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
             horizon_days: HorizonOpt = 365, step_duration: StepDurationOpt = None) -> None:
    """Simulate the rollout forward in virtual time: when each cluster reaches its target, when the fleet is done."""
    from fleet.cli import parse_at, run_guarded
    _check_choice(format, ("table", "json"), "--format")
    durations = parse_step_durations(step_duration)

    def body() -> None:
        from fleet.clock import iso
        from fleet.errors import FleetError
        from fleet.reports.inputs import compute_forecast, observe_inputs
        now = parse_at(at)
        inputs = observe_inputs(config=config, inventory=inventory, policies=policies, at=now)
        fc, notes = compute_forecast(inputs, now, timedelta(days=horizon_days), durations)
        if fc is None:
            raise FleetError("; ".join(notes) or "no forecast")
        rows = []
        for c in inputs.plan.clusters:
            f = fc.clusters.get(c.id)
            rows.append({"id": c.id, "policy": c.policy, "wave": getattr(f, "wave", None) or c.wave,
                         "status": c.status, "target": c.target, "steps": len(c.steps),
                         "stepsDone": getattr(f, "steps_done", None), "completion": iso(getattr(f, "completion", None))})
        doc = {"at": iso(now), "horizonDays": horizon_days, "fleetDone": iso(fc.fleet_done),
               "waves": [{"name": n, "start": iso(s), "end": iso(e)}
                         for n, (s, e) in sorted(fc.waves.items(), key=lambda kv: (iso(kv[1][0]) or "~", kv[0]))],
               "clusters": rows}
        if format == "json":
            sys.stdout.write(json.dumps(doc, indent=2) + "\n")
            return
        from rich.table import Table

        from fleet.cli import out
        t = Table(title=f"Forecast from {doc['at']} over {horizon_days} days")
        for col in ("cluster", "policy", "wave", "plan", "target", "steps done", "reaches target"):
            t.add_column(col, overflow="fold")
        for r in rows:
            done = r["completion"] or ("-" if r["status"] != "needs-upgrade" else "not within the horizon")
            t.add_row(r["id"], r["policy"] or "-", r["wave"] or "", r["status"], r["target"] or "-",
                      f"{r['stepsDone'] if r['stepsDone'] is not None else '?'}/{r['steps']}", done)
        t.caption = f"fleet done: {doc['fleetDone'] or 'not within the horizon'}"
        out.print(t)
    run_guarded(body)


lifecycle_app = typer.Typer(no_args_is_help=True, help="Kubernetes version lifecycle data (release and end-of-support dates).")


@lifecycle_app.command("show")
def lifecycle_show(provider: Annotated[str | None, typer.Option(help="only this provider")] = None,
                   format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
                   file: Annotated[Path | None, typer.Option("--file", help="show this file instead of the active dataset")] = None
                   ) -> None:
    """Print the active lifecycle dataset (or one provider of it)."""
    from fleet.cli import fail_input, run_guarded
    _check_choice(format, ("table", "json"), "--format")

    def body() -> None:
        lc = _lifecycle(file)
        names = list(lc.data.providers)
        if provider is not None and provider not in names:
            fail_input([Problem("--provider", None, "provider", f"unknown provider {provider!r}; known: {', '.join(names)}")])
        chosen = [provider] if provider else names
        if format == "json":
            dump = lc.data.model_dump(mode="json", by_alias=True, exclude_none=True)
            dump["providers"] = {n: dump["providers"][n] for n in chosen}
            dump["source"] = lc.source
            sys.stdout.write(json.dumps(dump, indent=2) + "\n")
            return
        from rich.table import Table

        from fleet.cli import out
        t = Table(title=f"Kubernetes lifecycle data as of {lc.as_of.isoformat()} ({lc.source})")
        for col in ("provider", "calendar", "minor", "released", "end of standard support", "end of extended support"):
            t.add_column(col)
        for n in chosen:
            spec = lc.data.providers[n]
            cal = lc.calendar(n) or n
            cspec = lc.data.providers[cal]
            label = cal if cal == n else f"follows {cal}"
            for minor, rel in cspec.releases.items():
                ext = (str(rel.end_of_extended_support) if rel.end_of_extended_support else "unknown") \
                    if cspec.extended_support else "none (ends with standard)"
                t.add_row(n, label, minor, str(rel.released or "unknown"), str(rel.end_of_standard_support), ext)
            if spec.note:
                t.add_row(n, "", "", "", f"[dim]{spec.note}[/dim]", "")
        out.print(t)
    run_guarded(body)


@lifecycle_app.command("load")
def lifecycle_load(file: Annotated[Path, typer.Argument(help="a LifecycleData YAML file")]) -> None:
    """Validate FILE, then make it the active dataset ($FLEET_LIFECYCLE_FILE or ~/.local/share/fleet/lifecycle.yaml)."""
    from fleet.cli import out, run_guarded

    def body() -> None:
        from fleet.reports.lifecycle import install_lifecycle
        lc = install_lifecycle(file, _settings())
        out.print(f"loaded lifecycle data as of {lc.as_of.isoformat()} ({len(lc.data.providers)} providers) "
                  f"into {lc.source}", highlight=False)
    run_guarded(body)


def register(app: typer.Typer) -> None:
    """Add this package's commands to ``app``."""
    app.command("report")(report)
    app.command("forecast")(forecast)
    app.add_typer(lifecycle_app, name="lifecycle")
