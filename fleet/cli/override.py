"""``fleet override``: let exactly one gate pass for one cluster until a time, audited (docs/gates.md).

    fleet override CLUSTER --gate NAME --until TIME --reason TEXT   # TIME: ISO-8601 instant or a duration (2h)
    fleet override list [--all] [-o table|json|yaml|wide]           # active ones (--all: expired, revoked too)
    fleet override revoke ID

With ``--server URL`` (or ``FLEET_SERVER``) and a token (fleet.cli.remote) each goes through the daemon's API
(``/api/v1/overrides``; the approver role), so an approver needs no database credentials.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from fleet.cli.common import (
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
from fleet.cli.remote import ApiClient, OptConfig, ServerOpt, TokenFileOpt, connect, need_config
from fleet.errors import NotFoundError, Problem


def parse_until(value: str, at: datetime) -> datetime:
    """``--until``: an ISO-8601 instant (UTC unless it names an offset) or a duration from now (``2h``)."""
    from fleet.clock import utc
    from fleet.policy.types import parse_duration
    try:
        return at + parse_duration(value)
    except (ValueError, TypeError):
        pass
    try:
        return utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        fail_input([Problem("--until", None, "until", f"not an ISO-8601 instant nor a duration: {value!r}")])


def _gate_names(config: Path) -> set[str]:
    from fleet.policy.loader import load_config, load_policies, resolve_path
    cfg = load_config(config)
    return {g.name for p in load_policies(resolve_path(config, cfg.spec.policies))
            for g in [*p.spec.gates.preflight, *p.spec.gates.post_step]}


def _list(config: Path | None, client: ApiClient | None, all_: bool, fmt: str) -> None:
    at = now()
    if client is not None:
        rows = client.get("/api/v1/overrides", all="true" if all_ else "false")["overrides"]
    else:
        from fleet.runtime import open_config_store
        rows = [o.to_dict(at) for o in open_config_store(need_config(config, "override list")).gate_overrides()
                if all_ or o.active(at)]
    if fmt in ("json", "yaml"):
        print_doc(rows, fmt)
        return
    from rich.table import Table
    t = Table(title="gate overrides" + ("" if all_ else " (active)"))
    for col in ("id", "cluster", "gate", "until", "actor", "reason", "state"):
        t.add_column(col, overflow="fold")
    for o in rows:
        state = "active" if o.get("active") else ("revoked" if o.get("revokedAt") else "expired")
        t.add_row(str(o["id"]), o["cluster"], o["gate"], o["until"], o["actor"], o["reason"], state)
    (wide_console() if fmt == "wide" else out).print(t)


def override(target: Annotated[str, typer.Argument(help="a cluster id, or 'list', or 'revoke'")],
             override_id: Annotated[int | None, typer.Argument(help="revoke: the override's id")] = None,
             gate: Annotated[str | None, typer.Option("--gate", help="the gate's name in the policy")] = None,
             until: Annotated[str | None, typer.Option("--until", help="ISO-8601 instant or duration (e.g. 4h)")] = None,
             reason: Annotated[str | None, typer.Option("--reason", help="why (kept in the audit log)")] = None,
             all_: Annotated[bool, typer.Option("--all", help="list: expired and revoked ones too")] = False,
             output: OutputOpt = "table", format: FormatOpt = None,
             config: OptConfig = None, server: ServerOpt = None, token_file: TokenFileOpt = None) -> None:
    """Let one gate pass for one cluster until a time (audited, expiring); list or revoke overrides
    (with --server: through the daemon's API, as the approver role)."""
    def body() -> None:
        fmt = choose_output(output, format)
        client = connect(server, token_file)
        if target == "list":
            _list(config, client, all_, fmt)
            return
        if target == "revoke":
            if override_id is None:
                fail_input([Problem("fleet override revoke", None, "id", "give the override's id")])
            d = _revoke(config, client, override_id)
            out.print(f"override {d['id']} of gate {d['gate']} on {d['cluster']} revoked", markup=False,
                      highlight=False)
            return
        missing = [f"--{n}" for n, v in (("gate", gate), ("until", until), ("reason", reason)) if not v]
        if missing:
            fail_input([Problem("fleet override", None, m.lstrip("-"), "required") for m in missing])
        assert gate and until and reason
        if client is not None:     # the daemon checks the gate's name and resolves --until on its clock
            d = client.post("/api/v1/overrides", {"cluster": target, "gate": gate, "until": until, "reason": reason})
        else:
            d = _create(need_config(config, "override"), target, gate, until, reason)
        out.print(f"override {d['id']}: gate {gate} passes for {target} until {d['until']}", markup=False,
                  highlight=False)
    run_guarded(body)


def _revoke(config: Path | None, client: ApiClient | None, override_id: int) -> dict[str, Any]:
    if client is not None:
        return dict(client.delete(f"/api/v1/overrides/{override_id}"))
    from fleet.gates.overrides import revoke_override
    from fleet.runtime import open_config_store
    try:
        o = revoke_override(open_config_store(need_config(config, "override revoke")), now(), actor(), override_id)
    except NotFoundError as exc:
        fail_input([Problem("fleet override revoke", None, "id", str(exc))])
    return o.to_dict()


def _create(config: Path, target: str, gate: str, until: str, reason: str) -> dict[str, Any]:
    from fleet.gates.overrides import create_override
    from fleet.runtime import open_config_store
    names = _gate_names(config)
    if gate not in names:
        fail_input([Problem("fleet override", None, "gate",
                            f"no policy has a gate named {gate!r} (gates: {', '.join(sorted(names)) or 'none'})")])
    at = now()
    try:
        o = create_override(open_config_store(config), at, actor(), target, gate, parse_until(until, at), reason)
    except ValueError as exc:
        fail_input([Problem("fleet override", None, "until/reason", str(exc))])
    return o.to_dict(at)
