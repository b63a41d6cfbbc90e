"""``fleet validate``, ``fleet plan`` and ``fleet schema``: read files (and, with --config, the clouds);
change nothing."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from fleet.cli.common import (
    EXIT_INPUT,
    FormatOpt,
    OutputOpt,
    choose_output,
    err,
    fail_input,
    out,
    parse_at,
    print_doc,
    run_guarded,
    wide_console,
)
from fleet.cli.remote import ServerOpt, TokenFileOpt, connect
from fleet.errors import Problem


def validate(paths: Annotated[list[Path], typer.Argument(help="policy, inventory or config files, or folders")],
             strict: Annotated[bool, typer.Option("--strict", help="exit 2 on warnings too (for CI)")] = False) -> None:
    """Validate policy, inventory and FleetConfig files (provider types and settings included). Exit 0 when all
    are valid, 2 otherwise. Warnings (a selector matching no cluster of the inventories given, a priority tie,
    a catch-all policy taking clusters meant for another, an empty folder) go to stderr; --strict fails on
    them."""
    from fleet.policy.lint import compute_warnings
    from fleet.policy.loader import load_files

    def body() -> None:
        loaded = load_files(list(paths))
        n = len(loaded.policies) + len(loaded.inventories) + len(loaded.configs) + len(loaded.rollouts)
        if n == 0:
            fail_input([Problem(str(p), None, "", "no policy, inventory or config documents found") for p in paths])
        warnings = compute_warnings(list(paths), loaded)
        for w in warnings:
            err.print(f"warning: {w}", markup=False, highlight=False)
        rollouts = f", {plural(len(loaded.rollouts), 'rollout strategy', 'rollout strategies')}" if loaded.rollouts else ""
        summary = (f"{plural(len(loaded.policies), 'policy', 'policies')}, "
                   f"{plural(len(loaded.inventories), 'inventory', 'inventories')}, "
                   f"{plural(len(loaded.configs), 'config', 'configs')}{rollouts}")
        if warnings and strict:
            err.print(f"error: {plural(len(warnings), 'warning', 'warnings')} (--strict): {summary}", markup=False,
                      highlight=False)
            raise typer.Exit(EXIT_INPUT)
        tail = f"; {plural(len(warnings), 'warning', 'warnings')}" if warnings else ""
        out.print(f"ok: {summary}{tail}", highlight=False)
    run_guarded(body)


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


PLAN_BUDGET_S = 300.0


def plan(
    policies: Annotated[Path | None, typer.Option(help="policy file or folder")] = None,
    inventory: Annotated[Path | None, typer.Option(help="Inventory file (offline planning)")] = None,
    config: Annotated[Path | None, typer.Option(envvar="FLEET_CONFIG", metavar="PATH",
                                                help="FleetConfig: plan against live discovery")] = None,
    at: Annotated[str | None, typer.Option(help="plan as of this ISO-8601 instant (default: now)")] = None,
    output: OutputOpt = "table", format: FormatOpt = None,
    server: ServerOpt = None, token_file: TokenFileOpt = None,
) -> None:
    """Compute, for every cluster, the safe sequence of upgrade steps and when the next one may start
    (with --server: the running daemon's last plan)."""
    fmt = choose_output(output, format)

    def body() -> None:
        client = connect(server, token_file)
        if client is not None:
            d = client.get("/api/v1/plan")
            if fmt in ("json", "yaml"):
                print_doc(d, fmt)
            else:
                from fleet.cli.views import plan_table_from
                (wide_console() if fmt == "wide" else out).print(plan_table_from(d))
            return
        now = parse_at(at)
        unread: dict[str, str] = {}
        from fleet.budget import Budget
        # past it: exit 1 naming the cluster it was planning; a cluster past a tenth of it alone is "unknown"
        with Budget(PLAN_BUDGET_S, "planning", item_seconds=PLAN_BUDGET_S / 10):
            if config is not None:
                from fleet.logs import configure
                from fleet.runtime import observe_live
                configure("text", "ERROR")      # unread providers are reported below, by name and reason
                live = observe_live(config, now)
                result, unread = live.plan, live.errors
            else:
                if policies is None or inventory is None:
                    fail_input([Problem("fleet plan", None, "", "give --config FILE, or --policies PATH and --inventory FILE")])
                from fleet.planning.offline import offline_plan
                result = offline_plan(policies, inventory, now)
        if fmt in ("json", "yaml"):
            print_doc(result.to_dict(), fmt)
        else:
            from fleet.render import plan_table, rollout_table
            console = wide_console() if fmt == "wide" else out
            console.print(plan_table(result))
            stages = rollout_table(result)
            if stages is not None:
                console.print(stages)
        if unread:
            fail_providers(unread)
    run_guarded(body)


def fail_providers(unread: dict[str, str], what: str = "the plan above") -> NoReturn:
    """Exit 1 naming every provider that could not be read, and why: a plan (or report) without them is not
    the fleet's."""
    from fleet.cli.common import EXIT_FAILED, err
    for name, reason in sorted(unread.items()):
        err.print(f"error: provider {name} could not be read: {reason}", markup=False, highlight=False)
    err.print(f"error: {len(unread)} of the providers could not be read: {what} leaves their clusters out",
              markup=False, highlight=False)
    raise typer.Exit(EXIT_FAILED)


def schema(kind: Annotated[str, typer.Argument(help="policy, rollout, inventory or config")] = "policy") -> None:
    """Print the JSON Schema of a policy, rollout strategy, inventory or FleetConfig file (for editors and CI)."""
    from fleet.schema import KINDS, render_schema
    if kind not in KINDS:
        fail_input([Problem("fleet schema", None, "kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")])
    sys.stdout.write(render_schema(kind))
