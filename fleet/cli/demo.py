"""``fleet demo``: the whole product on six emulated clouds (fleet.demo). Heavy imports (SDKs, emulators)
happen only when the command runs, so ``--help`` is cheap and works on a plain install."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fleet.cli.common import run_guarded
from fleet.demo.scenario import WEEK_PER_MINUTE

INSTALL_HINT = "pip install 'fleet-upgrader[demo]'   (from a checkout: pip install '.[demo]')"


def demo(
    dir: Annotated[Path, typer.Option("--dir", help="working folder for the config, policies, state and reports "
                                                   "(created; an earlier demo's folder is replaced)")] = Path("fleet-demo"),
    keep: Annotated[bool, typer.Option("--keep", help="leave the emulators and the daemon running (in real time "
                                                      "after the accelerated week) until Ctrl-C")] = False,
    speed: Annotated[float, typer.Option("--speed", min=1.0, help="pacing of the idle gaps between ticks, in "
                                                                  "virtual seconds per real second (10080: an idle week "
                                                                  "per minute); never changes the outcome")] = WEEK_PER_MINUTE,
    short: Annotated[bool, typer.Option("--short", help="a smaller fleet (two clusters per provider), for CI")] = False,
) -> None:
    """Run fleet end to end on six emulated clouds: two dozen clusters, the real daemon and API, a week of
    maintenance windows in event-driven virtual time (the same outcome on any machine), the compliance report
    before and after, and the forecast against what happened. No network, no credentials."""
    from rich.console import Console

    from fleet.demo.emulators import missing_modules
    err = Console(stderr=True, soft_wrap=True)
    missing = missing_modules()
    if missing:
        err.print(f"fleet demo needs the cloud SDKs and emulators, which are not installed ({', '.join(missing)}).\n"
                  f"Install them with: {INSTALL_HINT}", markup=False, highlight=False)
        raise typer.Exit(1)
    from fleet.demo.run import DemoOptions, run_demo
    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 160)
    opts = DemoOptions(directory=dir, keep=keep, speed=speed, short=short)
    code = run_guarded(lambda: run_demo(opts, console))
    raise typer.Exit(code or 0)
