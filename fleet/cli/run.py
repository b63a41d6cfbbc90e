"""Commands on runs: ``fleet apply`` (reconcile in the foreground), ``status``, ``pause``, ``resume``,
``approve``, ``retry`` and ``history`` (the state store of a FleetConfig)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from fleet.cli.common import ConfigOpt, actor, fail_input, now, out, run_guarded
from fleet.errors import Problem


def apply(config: ConfigOpt,
          once: Annotated[bool, typer.Option(help="one reconcile pass, then exit")] = False,
          dry_run: Annotated[bool, typer.Option(help="show what would start now; change nothing")] = False,
          timeout: Annotated[float, typer.Option(help="give up after this many seconds (default: no limit)")] = 0,
          init: Annotated[bool, typer.Option("--init", help="create the state store if it is missing or empty "
                                                             "(else that is refused)")] = False) -> None:
    """Reconcile in the foreground: once, or until every run is finished."""
    from fleet.logs import configure
    from fleet.runtime import build_runtime, claim_engine, live_plan
    configure("text", "WARNING")

    def body() -> None:
        if dry_run:
            from fleet.render import plan_table
            p = live_plan(config, now())
            out.print(plan_table(p))
            out.print("dry run: nothing was changed", style="dim")
            return
        rt = build_runtime(config, actor=actor(), create=True if init else None)
        claim_engine(rt, "fleet apply")      # refuses while a daemon (or another apply) acts on this store
        from fleet.cli.progress import run_foreground
        code = run_foreground(rt, once=once, timeout=timeout or None, console=out)
        raise typer.Exit(code)
    run_guarded(body)


def status(config: ConfigOpt,
           format: Annotated[str, typer.Option("--format", help="table or json")] = "table") -> None:
    """Show runs, their clusters and whether new steps are paused (from the state store)."""
    def body() -> None:
        from fleet.runtime import open_config_store
        st = open_config_store(config)
        if format == "json":
            from fleet.execution.status import status_dict
            sys.stdout.write(json.dumps(status_dict(st, now()), indent=2, default=str) + "\n")
        else:
            from fleet.cli.views import status_tables
            for t in status_tables(st, now()):
                out.print(t)
    run_guarded(body)


def _set_paused(config: ConfigOpt, paused: bool) -> None:
    from fleet.execution.commands import set_paused
    from fleet.runtime import open_config_store

    def body() -> None:
        set_paused(open_config_store(config), now(), paused, actor())
        out.print("paused" if paused else "resumed")
    run_guarded(body)


def pause(config: ConfigOpt) -> None:
    """Stop new steps from starting (in-flight operations finish)."""
    _set_paused(config, True)


def resume(config: ConfigOpt) -> None:
    """Let new steps start again; halted runs resume with their failure count reset."""
    _set_paused(config, False)


def approve(config: ConfigOpt, run: Annotated[str, typer.Argument(help="run id")],
            wave: Annotated[str, typer.Argument(help="wave name")]) -> None:
    """Approve a wave that requires approval."""
    from fleet.errors import NotFoundError
    from fleet.execution.commands import approve_wave
    from fleet.runtime import open_config_store

    def body() -> None:
        try:
            approve_wave(open_config_store(config), now(), run, wave, actor())
        except NotFoundError as exc:
            fail_input([Problem("fleet approve", None, "run/wave", str(exc))])
        out.print(f"approved wave {wave} of run {run}")
    run_guarded(body)


def retry(config: ConfigOpt, run: Annotated[str, typer.Argument(help="run id")]) -> None:
    """Re-queue only the clusters that failed in a run."""
    from fleet.errors import NotFoundError
    from fleet.execution.commands import retry_run
    from fleet.runtime import open_config_store

    def body() -> None:
        try:
            n = retry_run(open_config_store(config), now(), run, actor())
        except NotFoundError as exc:
            fail_input([Problem("fleet retry", None, "run", str(exc))])
        out.print(f"re-queued {n} failed clusters of run {run}")
    run_guarded(body)


def history(config: ConfigOpt, cluster: Annotated[str, typer.Argument(help="cluster id")],
            format: Annotated[str, typer.Option("--format", help="table or json")] = "table") -> None:
    """The audit log of one cluster."""
    def body() -> None:
        from fleet.clock import iso
        from fleet.execution.status import with_gate_evaluations
        from fleet.runtime import open_config_store
        store = open_config_store(config)
        evs = with_gate_evaluations(store.events(cluster_id=cluster, limit=100000),
                                    store.gate_evaluations(cluster_id=cluster, limit=100000))
        if format == "json":
            for e in evs:
                e["at"] = iso(e["at"])
            sys.stdout.write(json.dumps(evs, indent=2, default=str) + "\n")
            return
        from fleet.cli.views import history_table
        out.print(history_table(cluster, evs))
    run_guarded(body)
