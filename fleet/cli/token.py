"""``fleet token hash``: the hashed form of an API token for the tokens file (docs/security.md)."""

from __future__ import annotations

import secrets
import sys
from typing import Annotated

import typer

from fleet.cli.common import check_choice, err, fail_input, out
from fleet.errors import Problem

app = typer.Typer(no_args_is_help=True, help="API tokens for the daemon's tokens file (docs/security.md).")


@app.command("hash")
def token_hash(algorithm: Annotated[str, typer.Option(help="scrypt (default) or sha256")] = "scrypt",
               generate: Annotated[bool, typer.Option("--generate", help="make a new random token; print it "
                                                                          "(stderr) and its hash (stdout)")] = False
               ) -> None:
    """Read a token from standard input (first line) and print its salted hash for ``tokenHash``."""
    check_choice(algorithm, ("scrypt", "sha256"), "--algorithm")
    from fleet.daemon.auth import MIN_TOKEN_CHARS, hash_token
    if generate:
        token = secrets.token_urlsafe(32)
        err.print(f"token: {token}", markup=False, highlight=False)
    else:
        token = sys.stdin.readline().strip()
        if len(token) < MIN_TOKEN_CHARS:
            fail_input([Problem("<stdin>", None, "token", f"give a token of at least {MIN_TOKEN_CHARS} characters "
                                "on standard input (or use --generate)")])
    out.print(hash_token(token, algorithm), markup=False, highlight=False)  # type: ignore[arg-type]
