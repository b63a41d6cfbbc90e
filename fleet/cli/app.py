"""The ``fleet`` typer app: every command group's commands, in the order ``fleet --help`` lists them."""

from __future__ import annotations

import typer

from fleet.cli import daemon, demo, lifecycle, login, override, plan, report, rollout, run, token

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Upgrade whole fleets of Kubernetes clusters across clouds, on schedule, one safe step at a time.")

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


def main() -> None:
    app()
