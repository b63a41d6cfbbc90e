"""``fleet validate``, ``fleet plan`` and ``fleet schema``: read files (and, with --config, the clouds);
change nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from fleet.cli.common import fail_input, out, parse_at, run_guarded
from fleet.cli.remote import ServerOpt, TokenFileOpt, connect
from fleet.errors import Problem


def validate(paths: Annotated[list[Path], typer.Argument(help="policy, inventory or config files, or folders")]) -> None:
    """Validate policy, inventory and FleetConfig files. Exit 0 when all are valid, 2 otherwise."""
    from fleet.policy.loader import load_files

    def body() -> None:
        loaded = load_files(list(paths))
        n = len(loaded.policies) + len(loaded.inventories) + len(loaded.configs) + len(loaded.rollouts)
        if n == 0:
            fail_input([Problem(str(p), None, "", "no policy, inventory or config documents found") for p in paths])
        rollouts = f", {len(loaded.rollouts)} rollout strategies" if loaded.rollouts else ""
        out.print(f"ok: {len(loaded.policies)} policies, {len(loaded.inventories)} inventories, "
                  f"{len(loaded.configs)} configs{rollouts}", highlight=False)
    run_guarded(body)


PLAN_BUDGET_S = 300.0


def plan(
    policies: Annotated[Path | None, typer.Option(help="policy file or folder")] = None,
    inventory: Annotated[Path | None, typer.Option(help="Inventory file (offline planning)")] = None,
    config: Annotated[Path | None, typer.Option(help="FleetConfig: plan against live discovery")] = None,
    at: Annotated[str | None, typer.Option(help="plan as of this ISO-8601 instant (default: now)")] = None,
    format: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    server: ServerOpt = None, token_file: TokenFileOpt = None,
) -> None:
    """Compute, for every cluster, the safe sequence of upgrade steps and when the next one may start
    (with --server: the running daemon's last plan)."""
    if format not in ("table", "json"):
        fail_input([Problem("--format", None, "format", "must be table or json")])

    def body() -> None:
        client = connect(server, token_file)
        if client is not None:
            d = client.get("/api/v1/plan")
            if format == "json":
                sys.stdout.write(json.dumps(d, indent=2) + "\n")
            else:
                from fleet.cli.views import plan_table_from
                out.print(plan_table_from(d))
            return
        now = parse_at(at)
        from fleet.budget import Budget
        # past it: exit 1 naming the cluster it was planning; a cluster past a tenth of it alone is "unknown"
        with Budget(PLAN_BUDGET_S, "planning", item_seconds=PLAN_BUDGET_S / 10):
            if config is not None:
                from fleet.runtime import live_plan
                result = live_plan(config, now)
            else:
                if policies is None or inventory is None:
                    fail_input([Problem("fleet plan", None, "", "give --config FILE, or --policies PATH and --inventory FILE")])
                from fleet.planning.offline import offline_plan
                result = offline_plan(policies, inventory, now)
        if format == "json":
            sys.stdout.write(json.dumps(result.to_dict(), indent=2) + "\n")
        else:
            from fleet.render import plan_table, rollout_table
            out.print(plan_table(result))
            stages = rollout_table(result)
            if stages is not None:
                out.print(stages)
    run_guarded(body)


def schema(kind: Annotated[str, typer.Argument(help="policy, rollout, inventory or config")] = "policy") -> None:
    """Print the JSON Schema of a policy, rollout strategy, inventory or FleetConfig file (for editors and CI)."""
    from fleet.schema import KINDS, render_schema
    if kind not in KINDS:
        fail_input([Problem("fleet schema", None, "kind", f"must be one of {', '.join(KINDS)}, not {kind!r}")])
    sys.stdout.write(render_schema(kind))
