"""``fleet report`` (compliance against the lifecycle data, with the forecast) and ``fleet forecast`` (the
rollout simulated forward in virtual time), from live discovery or an Inventory. The report's machine formats
are rendered by fleet.reports.render_*; the forecast's table is drawn here."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from fleet.cli.common import (
    FormatOpt,
    OutputOpt,
    choose_output,
    fail_input,
    out,
    parse_at,
    print_doc,
    run_guarded,
    wide_console,
)
from fleet.cli.lifecycle import LifecycleOpt, load_lifecycle
from fleet.errors import InputError, Problem

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", envvar="FLEET_CONFIG",
                                                help="FleetConfig: report on live discovery")]
InventoryOpt = Annotated[Path | None, typer.Option(help="Inventory file (offline report)")]
PoliciesOpt = Annotated[Path | None, typer.Option(help="policy file or folder (with --inventory)")]
AtOpt = Annotated[str | None, typer.Option(help="as of this ISO-8601 instant (default: now)")]
HorizonOpt = Annotated[int, typer.Option("--horizon-days", min=1, max=3650, help="forecast and risk horizon in days")]
StepDurationOpt = Annotated[list[str] | None, typer.Option(
    "--step-duration", metavar="TYPE=CP/POOL",
    help="forecast step durations for a provider type: control plane / node pool per batch, e.g. "
         "eks=45m/15m (repeatable; defaults in docs/report-format.md)")]


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
        fail_input(problems)
    return out


def read_previous(path: Path) -> dict[str, Any]:
    """A previous ``fleet report -o json`` document (exit 2 naming the file when it is not one)."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError([Problem(str(path), None, "", f"not a readable JSON report: {exc}")]) from None
    if not isinstance(doc, dict) or doc.get("kind") != "ComplianceReport":
        raise InputError([Problem(str(path), None, "kind", "not a ComplianceReport (write one with -o json)")])
    return doc


def write_output(text: str, output: Path | None) -> None:
    """Write to ``output`` atomically (a partial file never replaces a good one), or to stdout."""
    if output is None:
        sys.stdout.write(text)
        return
    parent = output.resolve().parent
    if not parent.is_dir():
        raise InputError([Problem("--out-file", None, "out-file", f"folder {parent} does not exist")])
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


REPORT_OUTPUTS = ("table", "wide", "json", "yaml", "csv", "markdown", "html")


def report(config: ConfigOpt = None, inventory: InventoryOpt = None, policies: PoliciesOpt = None, at: AtOpt = None,
           output_format: Annotated[str, typer.Option(
               "--output", "-o", metavar="FORMAT", help="table, wide, json, yaml, csv, markdown or html")] = "table",
           format: Annotated[str | None, typer.Option("--format", hidden=True, help="the same as --output")] = None,
           output: Annotated[Path | None, typer.Option("--out-file", metavar="PATH",
                                                       help="write here (atomically) instead of stdout")] = None,
           no_forecast: Annotated[bool, typer.Option("--no-forecast", help="skip the forecast simulation")] = False,
           horizon_days: HorizonOpt = 365,
           state: Annotated[str | None, typer.Option(help="state store URL for run states (default: the config's)")] = None,
           lifecycle: LifecycleOpt = None, step_duration: StepDurationOpt = None,
           compare: Annotated[Path | None, typer.Option("--compare", metavar="PATH", help=(
               "a previous JSON report (-o json) to compare with: the HTML report gains a before/after "
               "section"))] = None) -> None:
    """Which clusters run what, which are out of support or about to be, and when each will be fixed."""
    from fleet.cli.common import choose_output
    from fleet.reports.formats import renderer
    fmt = choose_output(output_format, format, REPORT_OUTPUTS)
    durations = parse_step_durations(step_duration)

    def body() -> None:
        from fleet.reports.compliance import compute_newest_offered, compute_report
        from fleet.reports.inputs import compute_forecast, observe_inputs, observe_memberships
        now = parse_at(at)
        horizon = timedelta(days=horizon_days)
        lc = load_lifecycle(lifecycle)
        if config is not None:
            from fleet.logs import configure
            configure("text", "ERROR")      # unread providers are reported at the end, by name and reason
        inputs = observe_inputs(config=config, inventory=inventory, policies=policies, at=now)
        memberships, notes = observe_memberships(state or inputs.state_url)
        forecast = None
        if not no_forecast:
            forecast, more = compute_forecast(inputs, now, horizon, durations)
            notes += more
        rep = compute_report(inputs.plan, lc, now, forecast=forecast, memberships=memberships, horizon=horizon,
                             notes=inputs.notes + notes,
                             newest_offered=compute_newest_offered(inputs.clusters, inputs.offers),
                             policies=inputs.policies)
        from fleet.reports.render_table import render_table
        if fmt in ("table", "wide"):
            text = render_table(rep, color=output is None and sys.stdout.isatty(), wide=fmt == "wide")
            if output is None:
                from fleet.reports.accuracy import render_accuracy_text
                from fleet.reports.inputs import observe_kept_accuracy
                kept = observe_kept_accuracy(state or inputs.state_url)    # forecast at run start vs actual (#18)
                if kept is not None:
                    text += render_accuracy_text(kept)
            write_output(text, output)
        elif fmt == "yaml":
            import yaml

            from fleet.reports.render_json import report_dict
            write_output(yaml.safe_dump(report_dict(rep), sort_keys=False, allow_unicode=True), output)
        elif fmt == "html" and compare is not None:
            from fleet.reports.render_html import render_html
            write_output(render_html(rep, before=read_previous(compare)), output)
        else:
            write_output(renderer(fmt)(rep), output)
        if inputs.unread:        # the report is written (its notes name them) but is not the whole fleet's
            from fleet.cli.plan import fail_providers
            fail_providers(inputs.unread, "the report")
    run_guarded(body)


def forecast(config: ConfigOpt = None, inventory: InventoryOpt = None, policies: PoliciesOpt = None, at: AtOpt = None,
             output: OutputOpt = "table", format: FormatOpt = None,
             horizon_days: HorizonOpt = 365, step_duration: StepDurationOpt = None) -> None:
    """Simulate the rollout forward in virtual time: when each cluster reaches its target, when the fleet is done."""
    fmt = choose_output(output, format)
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
        rows: list[dict[str, Any]] = []
        notes_out = list(dict.fromkeys(getattr(fc, "notes", [])))
        for c in inputs.plan.clusters:
            f = fc.clusters.get(c.id)
            rows.append({"id": c.id, "policy": c.policy, "wave": getattr(f, "wave", None) or c.wave,
                         "status": c.status, "target": c.target, "steps": len(c.steps),
                         "stepsDone": getattr(f, "steps_done", None), "completion": iso(getattr(f, "completion", None)),
                         "late": iso(getattr(f, "late", None))})
        doc = {"at": iso(now), "horizonDays": horizon_days, "fleetDone": iso(fc.fleet_done),
               "fleetLate": iso(getattr(fc, "late_done", None)), "notes": notes_out,
               "waves": [{"name": n, "start": iso(s), "end": iso(e)}
                         for n, (s, e) in sorted(fc.waves.items(), key=lambda kv: (iso(kv[1][0]) or "~", kv[0]))],
               "clusters": rows}
        if fmt in ("json", "yaml"):
            print_doc(doc, fmt)
            return
        from rich.table import Table

        t = Table(title=f"Forecast from {doc['at']} over {horizon_days} days")
        for col in ("cluster", "policy", "wave", "plan", "target", "steps done", "likely (p50)", "late (p90)"):
            t.add_column(col, overflow="fold")
        for r in rows:
            done = r["completion"] or ("-" if r["status"] != "needs-upgrade" else "not within the horizon")
            t.add_row(r["id"], r["policy"] or "-", r["wave"] or "", r["status"], r["target"] or "-",
                      f"{r['stepsDone'] if r['stepsDone'] is not None else '?'}/{r['steps']}", done,
                      r["late"] or ("-" if r["status"] != "needs-upgrade" else "not within the horizon"))
        t.caption = (f"fleet done: {doc['fleetDone'] or 'not within the horizon'} likely, "
                     f"{doc['fleetLate'] or 'not within the horizon'} late")
        (wide_console() if fmt == "wide" else out).print(t)
        for n in notes_out:     # the assumptions (approvals) and where the step durations come from
            out.print(f"note: {n}", markup=False, highlight=False)
    run_guarded(body)
