"""``fleet daemon``: the scheduler and the HTTP API of one replica (its shard and leader election from the
FleetConfig), built on the runtime of fleet.runtime."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fleet.cli.common import ConfigOpt, fail_input, run_guarded
from fleet.errors import Problem


def daemon(config: ConfigOpt,
           log_format: Annotated[str, typer.Option(help="text or json")] = "text",
           log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING")] = "INFO",
           shard: Annotated[str | None, typer.Option(
               "--shard", envvar="FLEET_SHARD",
               help="INDEX/COUNT: manage only the clusters whose hash falls on this shard (default: spec.shards "
                    "with the index from a StatefulSet hostname ordinal, else 0/1)")] = None,
           init: Annotated[bool, typer.Option("--init", help="create the state store if it is missing or empty "
                                                              "(else that is refused)")] = False) -> None:
    """Run the scheduler and the HTTP API until SIGTERM/SIGINT."""
    from fleet.daemon.service import Daemon
    from fleet.logs import configure
    from fleet.runtime import build_runtime, claim_engine
    configure(log_format, log_level)

    def body() -> None:
        import socket

        from fleet.daemon.sharding import resolve_shard
        from fleet.policy.loader import load_config
        try:
            sh = resolve_shard(shard, load_config(config).spec.shards, socket.gethostname())
        except ValueError as exc:
            fail_input([Problem("--shard", None, "shard", str(exc))])
        rt = build_runtime(config, owns=sh.owns, shard=sh.index, create=True if init else None)
        leader: Any = None
        le = rt.config.spec.leader_election
        claim_engine(rt, f"fleet daemon (shard {sh})", shard_index=sh.index, shard_count=sh.count,
                     elected=le.backend != "none")
        if le.backend != "none":
            from fleet.daemon.leader import make_elector
            leader = make_elector(rt, le, shard=sh)
        Daemon(rt, leader=leader).serve()
    run_guarded(body)
