"""The Dockerfile, checked statically (no Docker engine here): stages, base image, non-root user, tzdata,
the extras build argument, and a default command / port / HEALTHCHECK that match the daemon's CLI and API."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]


def parse_dockerfile(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    buf = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        instr, _, args = buf.strip().partition(" ")
        out.append((instr.upper(), args.strip()))
        buf = ""
    assert not buf, "dangling line continuation"
    return out


def stages(instrs: list[tuple[str, str]]) -> list[tuple[str, list[tuple[str, str]]]]:
    out: list[tuple[str, list[tuple[str, str]]]] = []
    for ins, args in instrs:
        if ins == "FROM":
            m = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", args, re.I)
            assert m, f"every stage is named: FROM {args}"
            out.append((m.group(2), []))
        elif out:
            out[-1][1].append((ins, args))
    return out


INSTRS = parse_dockerfile((ROOT / "Dockerfile").read_text())
STAGES = stages(INSTRS)
FINAL = STAGES[-1][1]


def _args(name: str) -> dict[str, str]:
    out = {}
    for ins, a in INSTRS:
        if ins == "ARG" and "=" in a:
            k, _, v = a.partition("=")
            out[k] = v
    return out


def _last(ins: str) -> str:
    found = [a for i, a in FINAL if i == ins]
    assert found, f"no {ins} in the final stage"
    return found[-1]


def test_multi_stage_on_python_311_slim() -> None:
    assert [n for n, _ in STAGES] == ["build", "runtime"]
    assert _args("PYTHON_IMAGE")["PYTHON_IMAGE"] == "python:3.11-slim"
    froms = [a.split()[0] for i, a in INSTRS if i == "FROM"]
    assert froms == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    copies = [a for i, a in FINAL if i == "COPY"]
    assert copies == ["--from=build /opt/fleet /opt/fleet"], "only the built environment reaches the runtime image"


def test_extras_come_from_a_build_argument_defaulting_to_all() -> None:
    build = dict(STAGES)["build"]
    assert ("ARG", "EXTRAS=all") in build
    run = " ".join(a for i, a in build if i == "RUN")
    assert '".[${EXTRAS}]"' in run and 'spec="."' in run


def test_runtime_has_tzdata_and_runs_as_a_non_root_user() -> None:
    run = " ".join(a for i, a in FINAL if i == "RUN")
    assert "apt-get install -y --no-install-recommends tzdata" in run
    user = _last("USER")
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, "a numeric, non-root user (Kubernetes runAsNonRoot can verify it)"
    assert f"--uid {uid}" in run


def test_default_command_is_the_daemon_and_parses_with_the_cli() -> None:
    from typer.main import get_command

    from fleet.cli import app
    cmd = json.loads(_last("CMD"))
    assert cmd == ["fleet", "daemon", "--config", "/etc/fleet/fleet.yaml"]
    cli = get_command(app)
    ctx = cli.make_context("fleet", cmd[1:])
    params = cli.get_command(ctx, "daemon").make_context("daemon", cmd[2:], parent=ctx).params
    assert str(params["config"]) == "/etc/fleet/fleet.yaml"
    assert not [a for i, a in FINAL if i == "ENTRYPOINT"], "no ENTRYPOINT: `docker run IMAGE fleet plan ...` works"


def test_port_and_healthcheck_match_the_api_and_the_default_listen() -> None:
    from fleet.daemon.api import create_app
    from fleet.policy.models import HttpConfig
    port = int(HttpConfig().listen.rpartition(":")[2])
    assert _last("EXPOSE") == str(port)
    hc = _last("HEALTHCHECK")
    opts, _, cmd = hc.partition("CMD")
    assert "--interval=" in opts and "--timeout=" in opts
    argv = json.loads(cmd.strip())
    assert argv[:2] == ["python", "-c"], "no curl in a slim image: the check is Python's urllib"
    url = re.search(r"'(http://[^']+)'", argv[2]).group(1)
    assert url == f"http://127.0.0.1:{port}/healthz"
    routes = {r.path for r in create_app(SimpleNamespace(write_token=None, read_token=None,
                                                         max_body_bytes=65536)).routes}
    assert "/healthz" in routes
    compile(argv[2], "healthcheck", "exec")     # the one-liner is valid Python


def test_dockerignore_keeps_the_build_inputs_and_drops_the_rest() -> None:
    ignored = {ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()
               if ln.strip() and not ln.startswith("#")}
    build_inputs = {p for i, a in dict(STAGES)["build"] if i == "COPY" for p in shlex.split(a)[:-1]}
    assert build_inputs == {"pyproject.toml", "README.md", "fleet", "providers"}
    for p in build_inputs:
        assert p not in ignored, f"{p} is copied but ignored"
    assert {".git", "tests", "**/__pycache__"} <= ignored


def test_parser_reads_continuations_and_rejects_unnamed_stages() -> None:
    import pytest
    instrs = parse_dockerfile("FROM a AS b\n# c\nRUN x \\\n  && y\nCMD [\"z\"]\n")
    assert instrs == [("FROM", "a AS b"), ("RUN", "x  && y"), ("CMD", '["z"]')]
    with pytest.raises(AssertionError):
        stages(parse_dockerfile("FROM a\nRUN x\n"))
