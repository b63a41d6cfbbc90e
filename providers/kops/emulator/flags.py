"""Flag parsing and output shapes for the kops emulator: a small cobra/pflag, kops' tables (Go tabwriter),
klog-style log lines, and the YAML/JSON object output of ``kops get``."""

from __future__ import annotations

import json
import os
import re
import sys
from datetime import datetime
from typing import Any

from providers.kops.emulator.reference import B, D, Flag, L, N
from providers.kops.emulator.state import dump_yaml, parse_go_duration


class KopsError(Exception):
    """Printed as ``Error: <message>``; exit code 1."""


# ---- flags (a small cobra/pflag) -------------------------------------------------------------------------
# The flags of each command come from the shipped CLI reference (providers.kops.emulator.reference); there are
# no aliases here: a flag spelling the reference does not list is refused, as pflag refuses it
# ("unknown flag: --x", "unknown shorthand flag: 'x' in -x", spf13/pflag flag.go).


def parse_flags(tokens: list[str], flags: dict[str, Flag]) -> tuple[dict[str, Any], list[str]]:
    shorts = {f.short: n for n, f in flags.items() if f.short}
    values: dict[str, Any] = {}
    positional: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if tok == "--":
            positional += tokens[i:]
            break
        flag = _flag(tok, flags, shorts)
        if flag is None:
            positional.append(tok)
            continue
        name, eq, val = flag
        kind = flags[name].kind
        if kind == B:
            if eq and val.lower() not in ("true", "false", "1", "0", "t", "f"):
                raise KopsError(f'invalid argument "{val}" for "--{name}" flag: strconv.ParseBool: '
                                f'parsing "{val}": invalid syntax')
            values[name] = (val.lower() in ("true", "1", "t")) if eq else True
            continue
        if not eq and flags[name].noopt is not None:
            val = flags[name].noopt or ""
        elif not eq:
            if i >= len(tokens):
                raise KopsError(f"flag needs an argument: --{name}")
            val, i = tokens[i], i + 1
        _set_value(values, name, kind, val)
    return values, positional


def _flag(tok: str, flags: dict[str, Flag], shorts: dict[str, str]) -> tuple[str, str, str] | None:
    """``(name, "=" or "", inline value)`` of a ``--flag[=v]`` or ``-f[v]`` token; None for a positional one."""
    if tok.startswith("--"):
        name, eq, val = tok[2:].partition("=")
        if name not in flags:
            raise KopsError(f"unknown flag: --{name}")
        return name, eq, val
    if tok.startswith("-") and len(tok) > 1:
        short, rest = tok[1], tok[2:]
        if short not in shorts:
            raise KopsError(f"unknown shorthand flag: '{short}' in {tok}")
        eq, val = ("=", rest[1:]) if rest.startswith("=") else (("=", rest) if rest else ("", ""))
        return shorts[short], eq, val
    return None


def _set_value(values: dict[str, Any], name: str, kind: str, val: str) -> None:
    """Store the value of a list, duration, number or string flag, as kops parses it."""
    if kind == L:
        values.setdefault(name, []).extend(v for v in val.split(",") if v)
    elif kind == D:
        try:
            values[name] = parse_go_duration(val)
        except ValueError as exc:
            raise KopsError(f'invalid argument "{val}" for "--{name}" flag: {exc}') from exc
    elif kind == N:
        if not val.lstrip("-").isdigit():
            raise KopsError(f'invalid argument "{val}" for "--{name}" flag: strconv.ParseInt: parsing '
                            f'"{val}": invalid syntax')
        values[name] = int(val)
    else:
        values[name] = val


# ---- output helpers ------------------------------------------------------------------------------------

def render_table(columns: list[str], rows: list[list[str]]) -> str:
    """kops' tables.Table: rows sorted, Go tabwriter(minwidth 0, tabwidth 8, padding 1, padchar '\\t')."""
    lines = [columns] + sorted(rows)
    widths = [max(len(r[c]) for r in lines) + 1 for c in range(len(columns) - 1)]
    out = []
    for r in lines:
        cells = []
        for c, text in enumerate(r[:-1]):
            cellw = -(-widths[c] // 8) * 8
            cells.append(text + "\t" * -(-(cellw - len(text)) // 8))
        out.append("".join(cells) + r[-1])
    return "\n".join(out) + "\n"


def klog(now: datetime, source: str, message: str, level: str = "I") -> None:
    stamp = now.strftime("%m%d %H:%M:%S.000000")
    sys.stderr.write(f"{level}{stamp} {os.getpid():>7} {source}] {message}\n")


def zones(cluster: dict[str, Any], ig: dict[str, Any] | None = None) -> str:
    subnets = {s.get("name"): s.get("zone") for s in cluster["spec"].get("subnets") or []}
    if ig is None:
        zones = {z for z in subnets.values() if z}
    else:
        zones = set(ig["spec"].get("zones") or []) | {subnets.get(s) or s for s in ig["spec"].get("subnets") or []}
    return ",".join(sorted(z for z in zones if z))


def emit(objs: list[dict[str, Any]], output: str, single: bool) -> None:
    if output == "json":
        sys.stdout.write(json.dumps(objs[0] if single else objs, indent=2) + "\n")
    elif output == "yaml":
        sys.stdout.write("\n---\n\n".join(dump_yaml(o).decode() for o in objs))
    else:
        raise KopsError(f'unknown output format: "{output}"')


def vkey(v: str) -> tuple[int, ...]:
    m = re.match(r"^v?(\d+)\.(\d+)\.(\d+)", v or "")
    return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)
