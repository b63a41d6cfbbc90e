"""``fleet promote``: a person approves a version for a stage of the fleet rollout (RolloutStrategy), on the
state store of a FleetConfig (``--config``) or through a running daemon's API (``--server``, the approver
role; fleet.cli.remote)."""

from __future__ import annotations

from typing import Annotated

import typer

from fleet.cli.common import actor, fail_input, now, out, run_guarded
from fleet.cli.remote import OptConfig, ServerOpt, TokenFileOpt, connect, need_config, seg
from fleet.errors import Problem


def promote(stage: Annotated[str, typer.Argument(help="stage name")],
            version: Annotated[str, typer.Argument(help="version (any spelling: 1.31.4, v1.31.4-gke.100)")],
            config: OptConfig = None, server: ServerOpt = None, token_file: TokenFileOpt = None) -> None:
    """Approve VERSION for STAGE of the fleet rollout: satisfies the stage's `approval: required` and forgives
    the version's failures so far, upstream and in that stage (docs/rollout.md)."""
    from fleet.errors import NotFoundError

    def body() -> None:
        client = connect(server, token_file)
        if client is not None:
            d = client.post(f"/api/v1/stages/{seg(stage)}/approve/{seg(version)}")
            out.print(f"approved {d['approved']} for stage {d['stage']}", markup=False, highlight=False)
            return
        from fleet.execution.stages import mark_promotion_approved
        from fleet.policy.loader import load_config, load_policy_set, resolve_path
        from fleet.runtime import open_config_store
        cfg_file = need_config(config, "promote")
        cfg = load_config(cfg_file)
        rollout = load_policy_set(resolve_path(cfg_file, cfg.spec.policies))[1]
        try:
            a = mark_promotion_approved(open_config_store(cfg_file), now(), actor(), rollout, stage, version)
        except NotFoundError as exc:
            fail_input([Problem("fleet promote", None, "stage/version", str(exc))])
        out.print(f"approved {a.version} for stage {a.stage}", markup=False, highlight=False)
    run_guarded(body)
