"""The kops CLI reference (kubernetes/kops docs/cli, shipped in ./reference with its PROVENANCE) as a table of
commands and flags: the kops emulator accepts exactly these, and tests check the adapter's argv against them.

Each ``docs/cli/kops_<verb>_<noun>.md`` is generated from the Go command definition (``make gen-cli-docs``): the
title ``## kops edit cluster`` names the command, and the fenced blocks under ``### Options`` and ``### Options
inherited from parent commands`` list its flags in pflag's usage format::

      -y, --yes                            Create cloud resources, without --yes update is in dry run mode
          --admin duration[=18h0m0s]       Also export a cluster admin user credential ...
          --instance-group strings         Instance groups to update (defaults to all if not specified)

pflag prints a flag's value type after its name (none for a bool; ``strings`` for a string slice; ``[=v]`` when
the flag may be given without a value: NoOptDefVal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

REFERENCE_DIR = Path(__file__).with_name("reference")

B, S, L, D, N = "bool", "string", "strings", "duration", "int"
# pflag value type names (pflag's Value.Type(), as UnquoteUsage prints them) -> how the emulator parses them
_TYPES = {"": B, "string": S, "strings": L, "duration": D, "int": N, "int32": N, "Level": N, "severity": S,
          "target": S}
_FLAG_RE = re.compile(r"^\s+(?:-(?P<short>\w), )?--(?P<name>[\w-]+)(?: (?P<type>\w+)(?:\[=(?P<noopt>[^\]]*)\])?)?"
                      r"(?:\s{2,}|$)")


@dataclass(frozen=True)
class Flag:
    name: str
    kind: str                   # B, S, L, D or N
    short: str | None = None
    noopt: str | None = None    # the value used when the flag is given without one (pflag NoOptDefVal)


def _blocks(text: str) -> list[str]:
    """The flag lines of the ``### Options`` and ``### Options inherited from parent commands`` sections."""
    lines: list[str] = []
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        title, _, body = section.partition("\n")
        if title.strip() in ("Options", "Options inherited from parent commands"):
            fence = re.search(r"```\n(.*?)```", body, flags=re.S)
            if fence:
                lines += [ln for ln in fence.group(1).splitlines() if ln.strip()]
    return lines


def parse_command(text: str) -> tuple[tuple[str, ...], dict[str, Flag]]:
    """(command path, flags by long name) of one generated ``kops_*.md`` file."""
    title = re.search(r"^## kops (.+)$", text, flags=re.M)
    if not title:
        raise ValueError("not a kops CLI reference page: no '## kops ...' title")
    flags: dict[str, Flag] = {}
    for line in _blocks(text):
        m = _FLAG_RE.match(line)
        if not m:
            raise ValueError(f"unparseable flag line: {line!r}")
        kind = _TYPES.get(m["type"] or "")
        if kind is None:
            raise ValueError(f"unknown pflag type {m['type']!r} in {line!r}")
        flags[m["name"]] = Flag(m["name"], kind, m["short"], m["noopt"])
    return tuple(title.group(1).split()), flags


@cache
def load(directory: Path = REFERENCE_DIR) -> dict[tuple[str, ...], dict[str, Flag]]:
    """Every command of the shipped reference with its flags (own and inherited)."""
    out: dict[tuple[str, ...], dict[str, Flag]] = {}
    for path in sorted(directory.glob("kops_*.md")):
        command, flags = parse_command(path.read_text())
        out[command] = flags
    return out


def check_argv(argv: list[str], directory: Path = REFERENCE_DIR) -> list[str]:
    """Why ``kops <argv>`` is not in the reference (empty when every word and flag is): for tests."""
    table = load(directory)
    command = next((c for c in table if tuple(argv[:len(c)]) == c), None)
    if command is None:
        return [f"unknown command {' '.join(argv[:2])!r}"]
    flags = table[command]
    shorts = {f.short for f in flags.values() if f.short}
    problems = []
    for tok in argv[len(command):]:
        if tok.startswith("--"):
            name = tok[2:].partition("=")[0]
            if name not in flags:
                problems.append(f"kops {' '.join(command)}: unknown flag --{name}")
        elif tok.startswith("-") and len(tok) > 1 and tok[1] not in shorts:
            problems.append(f"kops {' '.join(command)}: unknown shorthand flag {tok[:2]}")
    return problems
