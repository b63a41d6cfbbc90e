"""The ``fleet`` command. Bad input exits 2 with ``file:line: field: message`` lines, never a traceback."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from fleet.clock import SystemClock, utc
from fleet.errors import FleetError, InputError, Problem

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Upgrade whole fleets of Kubernetes clusters across clouds, on schedule, one safe step at a time.")
out = Console(soft_wrap=False, width=200)
err = Console(stderr=True, soft_wrap=True)

EXIT_INPUT = 2
EXIT_FAILED = 1


def fail_input(problems: list[Problem]) -> None:
    for p in problems:
        err.print(str(p), markup=False, highlight=False)
    raise typer.Exit(EXIT_INPUT)


def parse_at(value: str | None) -> datetime:
    if value is None:
        return SystemClock().now()
    try:
        at = utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        fail_input([Problem("--at", None, "at", f"not an ISO-8601 instant: {value!r}")])
        raise  # unreachable
    if not 1970 <= at.year <= 9000:  # windows are searched a year and more around it: keep clear of year 1/9999
        fail_input([Problem("--at", None, "at", f"must be between the years 1970 and 9000: {value!r}")])
    return at


def run_guarded(fn):
    """Run a command body; user-facing errors become clean messages with the right exit code."""
    try:
        return fn()
    except InputError as exc:
        fail_input(exc.problems)
    except FleetError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_FAILED) from None


@app.command()
def validate(paths: Annotated[list[Path], typer.Argument(help="policy, inventory or config files, or folders")]) -> None:
    """Validate policy, inventory and FleetConfig files. Exit 0 when all are valid, 2 otherwise."""
    from fleet.policy.loader import load_files

    def body() -> None:
        loaded = load_files(list(paths))
        n = len(loaded.policies) + len(loaded.inventories) + len(loaded.configs)
        if n == 0:
            fail_input([Problem(str(p), None, "", "no policy, inventory or config documents found") for p in paths])
        out.print(f"ok: {len(loaded.policies)} policies, {len(loaded.inventories)} inventories, "
                  f"{len(loaded.configs)} configs", highlight=False)
    run_guarded(body)


@app.command()
def plan(
    policies: Annotated[Path | None, typer.Option(help="policy file or folder")] = None,
    inventory: Annotated[Path | None, typer.Option(help="Inventory file (offline planning)")] = None,
    config: Annotated[Path | None, typer.Option(help="FleetConfig: plan against live discovery")] = None,
    at: Annotated[str | None, typer.Option(help="plan as of this ISO-8601 instant (default: now)")] = None,
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Compute, for every cluster, the safe sequence of upgrade steps and when the next one may start."""
    if format not in ("table", "json"):
        fail_input([Problem("--format", None, "format", "must be table or json")])

    def body() -> None:
        now = parse_at(at)
        if config is not None:
            from fleet.execution.runtime import live_plan
            result = live_plan(config, now)
        else:
            if policies is None or inventory is None:
                fail_input([Problem("fleet plan", None, "", "give --config FILE, or --policies PATH and --inventory FILE")])
            from fleet.planning.offline import offline_plan
            result = offline_plan(policies, inventory, now)
        if format == "json":
            sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        else:
            from fleet.render import plan_table
            out.print(plan_table(result))
    run_guarded(body)


ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="FleetConfig file")]


def _store(config: Path):
    from fleet.execution.runtime import resolve_state_url
    from fleet.policy.loader import load_config
    from fleet.state.store import SqlStore
    cfg = load_config(config)
    return SqlStore(resolve_state_url(config, cfg.spec.state.url))


def _actor() -> str:
    import getpass
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001
        return "cli"


@app.command()
def daemon(config: ConfigOpt,
           log_format: Annotated[str, typer.Option(help="text or json")] = "text",
           log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
           shard: Annotated[str | None, typer.Option(
               "--shard", envvar="FLEET_SHARD",
               help="INDEX/COUNT: manage only the clusters whose hash falls on this shard (default: spec.shards "
                    "with the index from a StatefulSet hostname ordinal, else 0/1)")] = None) -> None:
    """Run the scheduler and the HTTP API until SIGTERM/SIGINT."""
    from fleet.daemon.service import Daemon
    from fleet.execution.runtime import build_runtime
    from fleet.logs import configure
    configure(log_format, log_level)

    def body() -> None:
        import socket

        from fleet.daemon.sharding import resolve_shard
        from fleet.policy.loader import load_config
        try:
            sh = resolve_shard(shard, load_config(config).spec.shards, socket.gethostname())
        except ValueError as exc:
            fail_input([Problem("--shard", None, "shard", str(exc))])
        rt = build_runtime(config, owns=sh.owns, shard=sh.index)
        leader = None
        le = rt.config.spec.leader_election
        if le.backend != "none":
            from fleet.daemon.leader import make_elector
            leader = make_elector(rt, le, shard=sh)
        Daemon(rt, leader=leader).serve()
    run_guarded(body)


@app.command()
def apply(config: ConfigOpt,
          once: Annotated[bool, typer.Option(help="one reconcile pass, then exit")] = False,
          dry_run: Annotated[bool, typer.Option(help="show what would start now; change nothing")] = False,
          timeout: Annotated[float, typer.Option(help="give up after this many seconds (default: no limit)")] = 0) -> None:
    """Reconcile in the foreground: once, or until every run is finished."""
    from fleet.clock import SystemClock
    from fleet.execution.runtime import build_runtime, live_plan
    from fleet.logs import configure
    configure("text", "WARNING")

    def body() -> None:
        if dry_run:
            from fleet.render import plan_table
            p = live_plan(config, SystemClock().now())
            out.print(plan_table(p))
            out.print("dry run: nothing was changed", style="dim")
            return
        rt = build_runtime(config, actor=_actor())
        from fleet.execution.progress import run_foreground
        code = run_foreground(rt, once=once, timeout=timeout or None, console=out)
        raise typer.Exit(code)
    run_guarded(body)


@app.command()
def status(config: ConfigOpt,
           format: Annotated[str, typer.Option("--format", help="table or json")] = "table") -> None:
    """Show runs, their clusters and whether new steps are paused (from the state store)."""
    def body() -> None:
        from fleet.execution.status import status_dict, status_tables
        st = _store(config)
        if format == "json":
            sys.stdout.write(json.dumps(status_dict(st), indent=2, default=str) + "\n")
        else:
            for t in status_tables(st):
                out.print(t)
    run_guarded(body)


@app.command()
def pause(config: ConfigOpt) -> None:
    """Stop new steps from starting (in-flight operations finish)."""
    from fleet.execution.commands import set_paused
    run_guarded(lambda: (set_paused(_store(config), SystemClock().now(), True, _actor()), out.print("paused")))


@app.command()
def resume(config: ConfigOpt) -> None:
    """Let new steps start again; halted runs resume with their failure count reset."""
    from fleet.execution.commands import set_paused
    run_guarded(lambda: (set_paused(_store(config), SystemClock().now(), False, _actor()), out.print("resumed")))


@app.command()
def approve(config: ConfigOpt, run: Annotated[str, typer.Argument(help="run id")],
            wave: Annotated[str, typer.Argument(help="wave name")]) -> None:
    """Approve a wave that requires approval."""
    from fleet.errors import NotFoundError
    from fleet.execution.commands import approve_wave

    def body() -> None:
        try:
            approve_wave(_store(config), SystemClock().now(), run, wave, _actor())
        except NotFoundError as exc:
            fail_input([Problem("fleet approve", None, "run/wave", str(exc.args[0]))])
        out.print(f"approved wave {wave} of run {run}")
    run_guarded(body)


@app.command()
def retry(config: ConfigOpt, run: Annotated[str, typer.Argument(help="run id")]) -> None:
    """Re-queue only the clusters that failed in a run."""
    from fleet.errors import NotFoundError
    from fleet.execution.commands import retry_run

    def body() -> None:
        try:
            n = retry_run(_store(config), SystemClock().now(), run, _actor())
        except NotFoundError as exc:
            fail_input([Problem("fleet retry", None, "run", str(exc.args[0]))])
        out.print(f"re-queued {n} failed clusters of run {run}")
    run_guarded(body)


@app.command()
def history(config: ConfigOpt, cluster: Annotated[str, typer.Argument(help="cluster id")],
            format: Annotated[str, typer.Option("--format", help="table or json")] = "table") -> None:
    """The audit log of one cluster."""
    def body() -> None:
        from rich.table import Table

        from fleet.clock import iso
        evs = _store(config).events(cluster_id=cluster, limit=100000)
        if format == "json":
            for e in evs:
                e["at"] = iso(e["at"])
            sys.stdout.write(json.dumps(evs, indent=2, default=str) + "\n")
            return
        t = Table(title=f"history of {cluster}")
        for col in ("at", "kind", "actor", "run", "step", "operation", "message"):
            t.add_column(col, overflow="fold")
        for e in evs:
            t.add_row(iso(e["at"]), e["kind"], e["actor"], e["run_id"] or "", e["step_key"] or "",
                      e["operation_id"] or "", e["message"])
        out.print(t)
    run_guarded(body)


def _register_commands() -> None:
    from fleet.demo.commands import register as register_demo
    from fleet.reports.commands import register as register_reports
    register_reports(app)
    register_demo(app)


_register_commands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
