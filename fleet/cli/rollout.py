"""``fleet promote``: a person approves a version for a stage of the fleet rollout (RolloutStrategy)."""

from __future__ import annotations

from typing import Annotated

import typer

from fleet.cli.common import ConfigOpt, actor, fail_input, now, out, run_guarded
from fleet.errors import Problem


def promote(config: ConfigOpt, stage: Annotated[str, typer.Argument(help="stage name")],
            version: Annotated[str, typer.Argument(help="version (any spelling: 1.31.4, v1.31.4-gke.100)")]) -> None:
    """Approve VERSION for STAGE of the fleet rollout: satisfies the stage's `approval: required` and forgives
    the version's failures so far, upstream and in that stage (docs/rollout.md)."""
    from fleet.errors import NotFoundError
    from fleet.execution.stages import mark_promotion_approved
    from fleet.policy.loader import load_config, load_policy_set, resolve_path
    from fleet.runtime import open_config_store

    def body() -> None:
        cfg = load_config(config)
        rollout = load_policy_set(resolve_path(config, cfg.spec.policies))[1]
        try:
            a = mark_promotion_approved(open_config_store(config), now(), actor(), rollout, stage, version)
        except NotFoundError as exc:
            fail_input([Problem("fleet promote", None, "stage/version", str(exc))])
        out.print(f"approved {a.version} for stage {a.stage}")
    run_guarded(body)
