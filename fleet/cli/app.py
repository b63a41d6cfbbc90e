"""The ``fleet`` typer app: every command group's commands, in the order ``fleet --help`` lists them.

Help is plain (no boxes) and every option that takes a value shows a name for it (``--output FORMAT``,
``--config PATH``), never a type placeholder such as ``<str>``; ``fleet --version``; shell completion
(``fleet --install-completion`` / ``--show-completion``)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from fleet.cli import daemon, demo, lifecycle, login, override, plan, report, rollout, run, token

app = typer.Typer(add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Upgrade whole fleets of Kubernetes clusters across clouds, on schedule, one safe step at a time.")


def _version(value: bool) -> None:
    if value:
        from fleet import __version__
        typer.echo(f"fleet {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                                help="print the version and exit")] = False) -> None:
    """Upgrade whole fleets of Kubernetes clusters across clouds, on schedule, one safe step at a time."""

app.command()(plan.validate)
app.command()(plan.plan)
app.command()(daemon.daemon)
app.command()(run.apply)
app.command()(run.status)
app.command()(run.pause)
app.command()(run.resume)
app.command()(run.approve)
app.command()(run.retry)
app.command()(rollout.promote)
app.command()(run.hold)
app.command()(run.release)
app.command()(run.history)
app.command("override")(override.override)
app.command("login")(login.login)
app.command("report")(report.report)
app.command("forecast")(report.forecast)
app.add_typer(lifecycle.app, name="lifecycle")
app.add_typer(token.app, name="token")
app.command("demo")(demo.demo)
app.command("schema")(plan.schema)


_METAVARS = {"path": "PATH", "int": "N", "float": "NUMBER"}


def _no_type(ctx: Any = None) -> str:
    return ""


def name_metavars(cmd: Any) -> Any:
    """Give every option that takes a value a readable metavar (its type for paths and numbers, else its own
    name: ``--server SERVER``), so help never shows a ``<str>`` placeholder."""
    for p in cmd.params:
        if getattr(p, "param_type_name", "") == "option" and p.metavar is None and not p.is_flag and not p.count:
            desc = getattr(p, "type_descriptor", None)
            kind = "path" if desc is not None and desc.is_path else p.bare_type() if hasattr(p, "bare_type") else ""
            p.metavar = _METAVARS.get(kind) or (p.name or "value").upper().replace("_", "-")
        elif getattr(p, "param_type_name", "") == "argument" and p.metavar is None:
            p.metavar = (p.name or "value").upper().replace("_", "-")
            p.display_type = _no_type     # the argument's name says it: no "<str>" beside it
    for sub in getattr(cmd, "commands", {}).values():
        name_metavars(sub)
    return cmd


def main() -> None:
    name_metavars(typer.main.get_command(app))(prog_name="fleet")
