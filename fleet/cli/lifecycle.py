"""``fleet lifecycle show|load``: the Kubernetes version lifecycle data (release and end-of-support dates).

Settings (the active lifecycle file) are read once per command from the environment and passed on
(LifecycleSettings.from_env); nothing is read at import time.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from fleet.cli.common import FormatOpt, OutputOpt, fail_input, out, run_guarded
from fleet.errors import Problem

LifecycleOpt = Annotated[Path | None, typer.Option("--lifecycle", help="lifecycle file for this command only "
                                                    "(default: the active dataset, see `fleet lifecycle`)")]


def lifecycle_settings() -> Any:
    """Where the active lifecycle file is, from the environment (read when a command runs)."""
    from fleet.reports.lifecycle import LifecycleSettings
    return LifecycleSettings.from_env(os.environ)


def load_lifecycle(path: Path | None) -> Any:
    """The lifecycle data of ``path``, or the active dataset."""
    from fleet.reports.lifecycle import load_active, load_lifecycle_file
    return load_lifecycle_file(path) if path is not None else load_active(lifecycle_settings())


app = typer.Typer(no_args_is_help=True, help="Kubernetes version lifecycle data (release and end-of-support dates).")


@app.command("show")
def lifecycle_show(provider: Annotated[str | None, typer.Option(help="only this provider")] = None,
                   output: OutputOpt = "table", format: FormatOpt = None,
                   file: Annotated[Path | None, typer.Option("--file", help="show this file instead of the active dataset")] = None
                   ) -> None:
    """Print the active lifecycle dataset (or one provider of it)."""
    from fleet.cli.common import choose_output, print_doc
    fmt = choose_output(output, format)

    def body() -> None:
        lc = load_lifecycle(file)
        names = list(lc.data.providers)
        if provider is not None and provider not in names:
            fail_input([Problem("--provider", None, "provider", f"unknown provider {provider!r}; known: {', '.join(names)}")])
        chosen = [provider] if provider else names
        if fmt in ("json", "yaml"):
            dump = lc.data.model_dump(mode="json", by_alias=True, exclude_none=True)
            dump["providers"] = {n: dump["providers"][n] for n in chosen}
            dump["source"] = lc.source
            print_doc(dump, fmt)
            return
        from rich.table import Table

        t = Table(title=f"Kubernetes lifecycle data as of {lc.as_of.isoformat()} ({lc.source})")
        for col in ("provider", "calendar", "minor", "released", "end of standard support", "end of extended support"):
            t.add_column(col)
        for n in chosen:
            spec = lc.data.providers[n]
            cal = lc.calendar(n) or n
            cspec = lc.data.providers[cal]
            label = cal if cal == n else f"follows {cal}"
            for minor, rel in cspec.releases.items():
                ext = (str(rel.end_of_extended_support) if rel.end_of_extended_support else "unknown") \
                    if cspec.extended_support else "none (ends with standard)"
                t.add_row(n, label, minor, str(rel.released or "unknown"), str(rel.end_of_standard_support), ext)
            if spec.note:
                t.add_row(n, "", "", "", f"[dim]{spec.note}[/dim]", "")
        out.print(t)
    run_guarded(body)


@app.command("load")
def lifecycle_load(file: Annotated[Path, typer.Argument(help="a LifecycleData YAML file")]) -> None:
    """Validate FILE, then make it the active dataset ($FLEET_LIFECYCLE_FILE or ~/.local/share/fleet/lifecycle.yaml)."""

    def body() -> None:
        from fleet.reports.lifecycle import install_lifecycle
        lc = install_lifecycle(file, lifecycle_settings())
        out.print(f"loaded lifecycle data as of {lc.as_of.isoformat()} ({len(lc.data.providers)} providers) "
                  f"into {lc.source}", highlight=False)
    run_guarded(body)
