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
        return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        fail_input([Problem("--at", None, "at", f"not an ISO-8601 instant: {value!r}")])
        raise  # unreachable


def run_guarded(fn):  # noqa: ANN001, ANN201
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
            from fleet.execution.live import live_plan
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


def main() -> None:
    app()


if __name__ == "__main__":
    main()
