"""What every command shares: the consoles, exit codes, the error guard, option types and small parsers.

Bad input exits 2 with ``file:line: field: message`` lines, never a traceback; any other FleetError exits 1
with ``error: message``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console

from fleet.clock import SystemClock, utc
from fleet.errors import FleetError, InputError, Problem

out = Console(soft_wrap=False, width=200)
err = Console(stderr=True, soft_wrap=True)

EXIT_INPUT = 2
EXIT_FAILED = 1

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", envvar="FLEET_CONFIG", help="FleetConfig file")]

OUTPUTS = ("table", "json", "yaml", "wide")
OutputOpt = Annotated[str, typer.Option("--output", "-o", metavar="FORMAT",
                                        help="table, json, yaml or wide (kubectl style)")]
FormatOpt = Annotated[str | None, typer.Option("--format", hidden=True, help="the same as --output")]

T = TypeVar("T")


def fail_input(problems: list[Problem]) -> NoReturn:
    for p in problems:
        err.print(str(p), markup=False, highlight=False)
    raise typer.Exit(EXIT_INPUT)


def run_guarded(fn: Callable[[], T]) -> T:
    """Run a command body; user-facing errors become clean messages with the right exit code."""
    try:
        return fn()
    except InputError as exc:
        fail_input(exc.problems)
    except FleetError as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        raise typer.Exit(EXIT_FAILED) from None


def check_choice(value: str, allowed: tuple[str, ...], flag: str) -> None:
    """Exit 2 unless ``value`` (given as ``flag``) is one of ``allowed``."""
    if value not in allowed:
        fail_input([Problem(flag, None, flag.lstrip("-"), f"must be one of {', '.join(allowed)}")])


def parse_at(value: str | None) -> datetime:
    """``--at``: an ISO-8601 instant (default: now), as aware UTC."""
    if value is None:
        return SystemClock().now()
    try:
        at = utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except (ValueError, OverflowError):
        fail_input([Problem("--at", None, "at", f"not an ISO-8601 instant: {value!r}")])
    if not 1970 <= at.year <= 9000:  # windows are searched a year and more around it: keep clear of year 1/9999
        fail_input([Problem("--at", None, "at", f"must be between the years 1970 and 9000: {value!r}")])
    return at


def now() -> datetime:
    """The wall clock, for commands that act now (pause, approve ...)."""
    return SystemClock().now()


def actor() -> str:
    """Who a command acts as in the audit log: ``cli:USER``."""
    import getpass
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001
        return "cli"


def choose_output(output: str, format: str | None, allowed: tuple[str, ...] = OUTPUTS) -> str:
    """The output format of ``-o/--output`` (or the older ``--format``); exit 2 naming the accepted values for
    any other (never a silent table)."""
    value = format if format is not None else output
    check_choice(value, allowed, "--output")
    return value


def print_doc(doc: object, fmt: str) -> None:
    """A JSON-shaped document as ``json`` or ``yaml`` on standard output."""
    import json
    import sys
    if fmt == "yaml":
        import yaml
        sys.stdout.write(yaml.safe_dump(json.loads(json.dumps(doc, default=str)), sort_keys=False,
                                        allow_unicode=True))
    else:
        sys.stdout.write(json.dumps(doc, indent=2, default=str) + "\n")


def wide_console() -> Console:
    """``-o wide``: tables at their natural width (nothing folded)."""
    return Console(soft_wrap=False, width=1000)
