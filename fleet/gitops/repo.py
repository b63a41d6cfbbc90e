"""The Git side of GitOps mode: fetch, read files at a commit, commit files on a branch and push - the git CLI
through argv lists (never a shell), on a bare clone with plumbing commands, so no work tree can be left
half-changed by a crash.

A commit is built in a private index (``GIT_INDEX_FILE``) from the base commit plus the new file contents:
``read-tree`` -> ``hash-object -w`` -> ``update-index --cacheinfo`` -> ``write-tree`` -> ``commit-tree`` ->
``push <sha>:refs/heads/<branch>``. Author and commit dates come from the injected clock.

Credentials: an HTTPS token is handed to git as an ``http.extraHeader`` through ``GIT_CONFIG_COUNT`` /
``GIT_CONFIG_KEY_n`` / ``GIT_CONFIG_VALUE_n`` environment variables (git >= 2.31), never on the command
line (visible in ``ps``) and never in a log or an error message.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

_TRANSIENT = re.compile(r"could not resolve host|connection (refused|reset|timed out)|timed out|"
                        r"the remote end hung up|early eof|unable to access|failed to connect|"
                        r"cannot lock ref|non-fast-forward|fetch first|rejected", re.I)


# the environment git needs from fleet's own (read when a command runs, never at import); nothing else is passed
_PASSED_ENV = frozenset({"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSH_AUTH_SOCK", "GIT_SSH_COMMAND",
                         "GIT_SSL_CAINFO", "SSL_CERT_FILE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy",
                         "https_proxy", "no_proxy"})


class GitError(Exception):
    """A git command failed; ``transient`` when trying again later may succeed (network, a moved ref)."""

    def __init__(self, message: str, *, transient: bool = False):
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class Author:
    name: str
    email: str


class GitRepo:
    """A bare clone of ``url`` in ``workdir``; ``origin/<branch>`` is what the GitOps controller applies."""

    def __init__(self, url: str, workdir: Path, branch: str, author: Author, *, token: str | None = None,
                 token_user: str = "x-access-token", timeout: float = 120.0):
        self.url, self.branch, self.author = url, branch, author
        self.workdir = workdir
        self._token, self._token_user, self._timeout = token, token_user, timeout

    # ---- plumbing ------------------------------------------------------------------------------------------
    def _env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k in _PASSED_ENV}
        env.update({"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1"})
        if self._token and self.url.startswith("https://"):
            basic = base64.b64encode(f"{self._token_user}:{self._token}".encode()).decode()
            env.update({"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
                        "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"})
        env.update(extra or {})
        return env

    def _scrub(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def git(self, *args: str, input: bytes | None = None, env: dict[str, str] | None = None,
            ok_codes: tuple[int, ...] = (0,)) -> tuple[int, str]:
        argv = ["git", "--git-dir", str(self.workdir), *args]
        try:
            res = subprocess.run(argv, input=input, capture_output=True, env=self._env(env), timeout=self._timeout,
                                 check=False)
        except subprocess.TimeoutExpired as exc:
            raise GitError(f"git {args[0]}: timed out after {self._timeout}s", transient=True) from exc
        except OSError as exc:
            raise GitError(f"git {args[0]}: cannot run git: {exc}") from exc
        out = res.stdout.decode("utf-8", "replace")
        if res.returncode not in ok_codes:
            err = self._scrub(res.stderr.decode("utf-8", "replace").strip())
            raise GitError(f"git {args[0]} failed ({res.returncode}): {err}", transient=bool(_TRANSIENT.search(err)))
        return res.returncode, out

    # ---- read ----------------------------------------------------------------------------------------------
    def fetch(self) -> str:
        """Clone on first use, fetch every branch; the sha ``origin/<branch>`` points at."""
        if not (self.workdir / "HEAD").is_file():
            self.workdir.mkdir(parents=True, exist_ok=True)
            self.git("init", "--bare", "--quiet")
            self.git("remote", "add", "origin", self.url)
        self.git("fetch", "--quiet", "--prune", "origin", "+refs/heads/*:refs/remotes/origin/*")
        return self.rev(f"refs/remotes/origin/{self.branch}")

    def rev(self, ref: str) -> str:
        return self.git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")[1].strip()

    def remote_branch(self, branch: str) -> str | None:
        code, out = self.git("rev-parse", "--verify", "--quiet", f"refs/remotes/origin/{branch}^{{commit}}",
                             ok_codes=(0, 1))
        return out.strip() if code == 0 else None

    def files(self, commit: str, folder: str) -> dict[str, str]:
        """Every YAML file under ``folder`` at ``commit``: repository path -> text."""
        folder = folder.strip("/")
        _, out = self.git("ls-tree", "-r", "--name-only", commit, "--", folder)
        return {p: self.read(commit, p) for p in out.splitlines() if p.endswith((".yaml", ".yml"))}

    def read(self, commit: str, path: str) -> str:
        return self.git("show", f"{commit}:{path}")[1]

    def is_ancestor(self, commit: str, of: str) -> bool:
        code, _ = self.git("merge-base", "--is-ancestor", commit, of, ok_codes=(0, 1))
        return code == 0

    def commits_touching(self, since: str, until: str, paths: list[str]) -> list[tuple[str, str]]:
        """(sha, subject) of the commits after ``since`` up to ``until`` that touch ``paths``, newest first."""
        _, out = self.git("log", "--format=%H %s", f"{since}..{until}", "--", *paths)
        return [(line[:40], line[41:]) for line in out.splitlines() if line]

    # ---- write ---------------------------------------------------------------------------------------------
    def commit(self, base: str, files: dict[str, str], message: str, when: datetime) -> str:
        """A new commit on top of ``base`` with ``files`` (path -> text) written; nothing is pushed."""
        stamp = f"{int(when.timestamp())} +0000"
        env = {"GIT_AUTHOR_NAME": self.author.name, "GIT_AUTHOR_EMAIL": self.author.email,
               "GIT_COMMITTER_NAME": self.author.name, "GIT_COMMITTER_EMAIL": self.author.email,
               "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
        with tempfile.TemporaryDirectory(prefix="fleet-gitops-index-") as tmp:
            ienv = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.git("read-tree", base, env=ienv)
            for path, text in sorted(files.items()):
                blob = self.git("hash-object", "-w", "--stdin", input=text.encode())[1].strip()
                self.git("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=ienv)
            tree = self.git("write-tree", env=ienv)[1].strip()
        return self.git("commit-tree", tree, "-p", base, "-F", "-", input=message.encode(), env=env)[1].strip()

    def push(self, commit: str, branch: str, *, expect: str | None = None) -> None:
        """Push ``commit`` to ``branch``; ``expect``: the sha the branch must still be at (a lease), or ""
        for a branch that must not exist yet. A moved branch raises a transient GitError."""
        args = ["push", "--quiet", "--porcelain"]
        if expect is not None:
            args.append(f"--force-with-lease=refs/heads/{branch}:{expect}")
        self.git(*args, "origin", f"{commit}:refs/heads/{branch}")


def branch_slug(*parts: str) -> str:
    """A branch-name-safe, bounded slug of ``parts`` (git check-ref-format)."""
    raw = "-".join(parts)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", raw).strip("-.")
    slug = re.sub(r"\.{2,}", ".", slug)
    if len(slug) > 80:
        slug = slug[:70].rstrip("-.") + "-" + hashlib.sha256(raw.encode()).hexdigest()[:8]
    return slug or "change"
