"""Commands on runs: ``fleet apply`` (reconcile in the foreground), ``status``, ``pause``, ``resume``,
``approve``, ``retry``, ``hold``, ``release`` and ``history``: on the state store of a FleetConfig
(``--config``), or through a running daemon's API (``--server``, fleet.cli.remote)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from fleet.cli.common import (
    ConfigOpt,
    FormatOpt,
    OutputOpt,
    actor,
    choose_output,
    fail_input,
    now,
    out,
    print_doc,
    run_guarded,
    wide_console,
)
from fleet.cli.remote import OptConfig, ServerOpt, TokenFileOpt, connect, need_config, seg
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


def status(config: OptConfig = None, output: OutputOpt = "table", format: FormatOpt = None,
           server: ServerOpt = None, token_file: TokenFileOpt = None) -> None:
    """Show runs, their clusters and whether new steps are paused."""
    fmt = choose_output(output, format)

    def body() -> None:
        client = connect(server, token_file)
        if client is not None:
            d: dict[str, Any] = client.get("/api/v1/status")
        else:
            from fleet.execution.status import status_dict
            from fleet.runtime import open_config_store
            d = status_dict(open_config_store(need_config(config, "status")), now())
        if fmt in ("json", "yaml"):
            print_doc(d, fmt)
        else:
            from fleet.cli.views import status_tables_from
            console = wide_console() if fmt == "wide" else out
            for t in status_tables_from(d):
                console.print(t)
    run_guarded(body)


def _set_paused(config: Path | None, paused: bool, server: str | None, token_file: Path | None) -> None:
    def body() -> None:
        client = connect(server, token_file)
        if client is not None:
            client.post("/api/v1/pause" if paused else "/api/v1/resume")
        else:
            from fleet.execution.commands import set_paused
            from fleet.runtime import open_config_store
            set_paused(open_config_store(need_config(config, "pause" if paused else "resume")), now(), paused, actor())
        out.print("paused" if paused else "resumed")
    run_guarded(body)


def pause(config: OptConfig = None, server: ServerOpt = None, token_file: TokenFileOpt = None) -> None:
    """Stop new steps from starting (in-flight operations finish)."""
    _set_paused(config, True, server, token_file)


def resume(config: OptConfig = None, server: ServerOpt = None, token_file: TokenFileOpt = None) -> None:
    """Let new steps start again; halted runs resume with their failure count reset."""
    _set_paused(config, False, server, token_file)


def approve(run: Annotated[str, typer.Argument(help="run id")],
            wave: Annotated[str, typer.Argument(help="wave name")],
            config: OptConfig = None, server: ServerOpt = None, token_file: TokenFileOpt = None) -> None:
    """Approve a wave that requires approval (the approver role, through the API)."""
    from fleet.errors import NotFoundError

    def body() -> None:
        client = connect(server, token_file)
        if client is not None:
            client.post(f"/api/v1/rollouts/{seg(run)}/approve/{seg(wave)}")
        else:
            from fleet.execution.commands import approve_wave
            from fleet.runtime import open_config_store
            try:
                approve_wave(open_config_store(need_config(config, "approve")), now(), run, wave, actor())
            except NotFoundError as exc:
                fail_input([Problem("fleet approve", None, "run/wave", str(exc))])
        out.print(f"approved wave {wave} of run {run}")
    run_guarded(body)


def retry(run: Annotated[str, typer.Argument(help="run id")],
          config: OptConfig = None, server: ServerOpt = None, token_file: TokenFileOpt = None) -> None:
    """Re-queue only the clusters that failed in a run."""
    from fleet.errors import NotFoundError

    def body() -> None:
        client = connect(server, token_file)
        if client is not None:
            n = client.post(f"/api/v1/rollouts/{seg(run)}/retry")["requeued"]
        else:
            from fleet.execution.commands import retry_run
            from fleet.runtime import open_config_store
            try:
                n = retry_run(open_config_store(need_config(config, "retry")), now(), run, actor())
            except NotFoundError as exc:
                fail_input([Problem("fleet retry", None, "run", str(exc))])
        out.print(f"re-queued {n} failed cluster{'' if n == 1 else 's'} of run {run}")
    run_guarded(body)


KindArg = Annotated[str, typer.Argument(help="run or cluster")]


def _hold_path(kind: str, target: str) -> str:
    from fleet.cli.common import check_choice
    check_choice(kind, ("run", "cluster"), "KIND")
    return f"/api/v1/rollouts/{seg(target)}" if kind == "run" else f"/api/v1/clusters/{quote_id(target)}"


def quote_id(cluster_id: str) -> str:
    from urllib.parse import quote
    return quote(cluster_id, safe="/")


def hold(kind: KindArg, target: Annotated[str, typer.Argument(help="run id or cluster id")],
         reason: Annotated[str, typer.Option("--reason", help="why (recorded in the audit log)")],
         config: OptConfig = None, server: ServerOpt = None, token_file: TokenFileOpt = None) -> None:
    """Hold one run or one cluster: no new step starts for it until `fleet release` (in-flight ones finish)."""
    from fleet.errors import NotFoundError

    def body() -> None:
        path = _hold_path(kind, target)
        client = connect(server, token_file)
        if client is not None:
            client.post(path + "/hold", reason=reason)
        else:
            from fleet.execution.holds import set_hold
            from fleet.runtime import open_config_store
            try:
                set_hold(open_config_store(need_config(config, "hold")), now(), kind, target, reason,  # type: ignore[arg-type]
                         actor())
            except (NotFoundError, ValueError) as exc:
                fail_input([Problem("fleet hold", None, kind, str(exc))])
        out.print(f"held {kind} {target}: {reason}", markup=False, highlight=False)
    run_guarded(body)


def release(kind: KindArg, target: Annotated[str, typer.Argument(help="run id or cluster id")],
            config: OptConfig = None, server: ServerOpt = None, token_file: TokenFileOpt = None) -> None:
    """Release a hold set with `fleet hold`."""
    def body() -> None:
        path = _hold_path(kind, target)
        client = connect(server, token_file)
        if client is not None:
            done = client.post(path + "/release")["released"]
        else:
            from fleet.execution.holds import release_hold
            from fleet.runtime import open_config_store
            done = release_hold(open_config_store(need_config(config, "release")), now(), kind, target,  # type: ignore[arg-type]
                                actor())
        out.print(f"released {kind} {target}" if done else f"{kind} {target} was not held", markup=False,
                  highlight=False)
    run_guarded(body)


def history(cluster: Annotated[str, typer.Argument(help="cluster id")],
            config: OptConfig = None, output: OutputOpt = "table", format: FormatOpt = None,
            server: ServerOpt = None, token_file: TokenFileOpt = None) -> None:
    """The audit log of one cluster."""
    fmt = choose_output(output, format)

    def body() -> None:
        from fleet.clock import iso
        client = connect(server, token_file)
        if client is not None:
            from datetime import datetime
            evs = client.get("/api/v1/events", cluster=cluster, limit=10000)["events"]
            for e in evs:
                e["at"] = datetime.fromisoformat(e["at"].replace("Z", "+00:00"))
        else:
            from fleet.execution.status import with_gate_evaluations
            from fleet.runtime import open_config_store
            store = open_config_store(need_config(config, "history"))
            evs = with_gate_evaluations(store.events(cluster_id=cluster, limit=100000),
                                        store.gate_evaluations(cluster_id=cluster, limit=100000))
        if not evs:             # known only as a member of a run (no event of its own yet), or unknown
            if client is not None:
                runs = client.get("/api/v1/status")["runs"]
                known = any(c["cluster"] == cluster for r in runs for c in r["clusters"])
            else:
                known = cluster in store.latest_memberships()
            if not known:
                fail_input([Problem("fleet history", None, "cluster",
                                    f"no history for cluster {cluster!r}: no event or run in this state store "
                                    "names it (check the id with `fleet status` or `fleet plan`)")])
        if fmt in ("json", "yaml"):
            for e in evs:
                e["at"] = iso(e["at"])
            print_doc(evs, fmt)
            return
        from fleet.cli.views import history_table
        (wide_console() if fmt == "wide" else out).print(history_table(cluster, evs))
    run_guarded(body)
