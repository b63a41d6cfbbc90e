"""A local HTTP server implementing the small part of the GitHub REST API fleet's GitOps mode uses, over a real
bare Git repository in a temp folder (merges are real merge commits made with git plumbing).

Recorded from the GitHub REST API description (github/rest-api-description,
descriptions/api.github.com/api.github.com.yaml), operations and the responses modelled:
  pulls/create  POST /repos/{owner}/{repo}/pulls {title, head, base, body}
                201 pull-request; 422 when head == base, head unknown, or an open PR exists for head
  pulls/list    GET  /repos/{owner}/{repo}/pulls?head={owner}:{branch}&base=&state=open|closed|all
                200 [pull-request-simple] (default state: open)
  pulls/get     GET  /repos/{owner}/{repo}/pulls/{pull_number}   200 pull-request; 404
  pulls/merge   PUT  /repos/{owner}/{repo}/pulls/{pull_number}/merge {commit_title, sha, merge_method}
                200 {sha, merged: true, message}; 405 "Pull Request is not mergeable" (e.g. required reviews
                missing: modelled by ``require_review``); 409 "Head branch was modified" when sha != head sha;
                404
  pull-request fields used: number, html_url, state (open|closed), merged, merged_at, merge_commit_sha,
  closed_at, head {ref, sha}, base {ref}.
Not modelled: squash/rebase produce a merge commit too; branch protection beyond "review required";
checks; pagination; rate limits; authentication beyond comparing one bearer token.
People's actions are the test's methods: ``approve``, ``close``, ``merge_as_person``.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse


def git(repo: Path, *args: str, input: bytes | None = None) -> str:
    res = subprocess.run(["git", "--git-dir", str(repo), *args], input=input, capture_output=True, check=True,
                         env={"PATH": "/usr/bin:/bin", "GIT_AUTHOR_NAME": "hub", "GIT_AUTHOR_EMAIL": "hub@x",
                              "GIT_COMMITTER_NAME": "hub", "GIT_COMMITTER_EMAIL": "hub@x", "HOME": str(repo)})
    return res.stdout.decode()


class FakeGitHub:
    def __init__(self, bare: Path, owner: str = "acme", name: str = "clusters", token: str = "ghp-test-token",
                 now: Callable[[], datetime] | None = None):
        self._clock = now or (lambda: datetime.now(UTC))       # GitHub's clock (the test's virtual time)
        self.bare, self.owner, self.name, self.token = bare, owner, name, token
        self.pulls: dict[int, dict[str, Any]] = {}
        self.require_review = False
        self.approved: set[int] = set()
        self.log: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def _now(self) -> str:
        return self._clock().strftime("%Y-%m-%dT%H:%M:%SZ")

    # ---- the people ------------------------------------------------------------------------------------
    def approve(self, number: int) -> None:
        self.approved.add(number)

    def close(self, number: int) -> None:
        with self._lock:
            p = self.pulls[number]
            p.update(state="closed", closed_at=self._now())

    def merge_as_person(self, number: int) -> None:
        with self._lock:
            self._merge(self.pulls[number], None)

    def open_pulls(self) -> list[dict[str, Any]]:
        return [p for p in self.pulls.values() if p["state"] == "open"]

    # ---- server ---------------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: Any) -> None:
                pass

            def _send(self, status: int, body: Any) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _handle(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"null") if length else None
                if not hub.authorized(self.headers):
                    return self._send(401, {"message": "Bad credentials"})
                status, out = hub.handle(method, self.path, body)
                hub.log.append((method, urlparse(self.path).path, status))
                self._send(status, out)

            def do_GET(self) -> None:
                self._handle("GET")

            def do_POST(self) -> None:
                self._handle("POST")

            def do_PUT(self) -> None:
                self._handle("PUT")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def authorized(self, headers: Any) -> bool:
        return bool(headers.get("Authorization") == f"Bearer {self.token}")

    # ---- the API --------------------------------------------------------------------------------------
    def handle(self, method: str, raw: str, body: Any) -> tuple[int, Any]:
        u = urlparse(raw)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        prefix = f"/repos/{self.owner}/{self.name}/pulls"
        if not u.path.startswith(prefix):
            return 404, {"message": "Not Found"}
        rest = u.path[len(prefix):].strip("/").split("/") if u.path != prefix else []
        with self._lock:
            if method == "POST" and not rest:
                return self._create(body or {})
            if method == "GET" and not rest:
                return self._list(q)
            if not rest or not rest[0].isdigit() or int(rest[0]) not in self.pulls:
                return 404, {"message": "Not Found"}
            p = self.pulls[int(rest[0])]
            if method == "GET" and len(rest) == 1:
                return 200, self._view(p)
            if method == "PUT" and rest[1:] == ["merge"]:
                return self._merge_api(p, body or {})
        return 404, {"message": "Not Found"}

    def _head_sha(self, branch: str) -> str | None:
        try:
            return git(self.bare, "rev-parse", "--verify", f"refs/heads/{branch}").strip()
        except subprocess.CalledProcessError:
            return None

    def _create(self, body: dict[str, Any]) -> tuple[int, Any]:
        head, base = str(body.get("head", "")), str(body.get("base", ""))
        head = head.split(":", 1)[-1]
        if not body.get("title") or not head or head == base or self._head_sha(head) is None or \
                self._head_sha(base) is None:
            return 422, {"message": "Validation Failed"}
        if any(p["head"]["ref"] == head and p["state"] == "open" for p in self.pulls.values()):
            return 422, {"message": f"A pull request already exists for {self.owner}:{head}."}
        n = len(self.pulls) + 1
        self.pulls[n] = {"number": n, "html_url": f"https://github.test/{self.owner}/{self.name}/pull/{n}",
                         "state": "open", "merged": False, "merged_at": None, "merge_commit_sha": None,
                         "closed_at": None, "title": body["title"], "body": body.get("body"),
                         "head": {"ref": head, "sha": self._head_sha(head)}, "base": {"ref": base}}
        return 201, self._view(self.pulls[n])

    def _view(self, p: dict[str, Any]) -> dict[str, Any]:
        out = json.loads(json.dumps(p))
        if p["state"] == "open":
            out["head"]["sha"] = self._head_sha(p["head"]["ref"])
        return out

    def _list(self, q: dict[str, str]) -> tuple[int, Any]:
        state = q.get("state", "open")
        head = q.get("head", "").split(":", 1)[-1]
        out = [self._view(p) for p in self.pulls.values()
               if (state == "all" or p["state"] == state) and (not head or p["head"]["ref"] == head)
               and (not q.get("base") or p["base"]["ref"] == q["base"])]
        return 200, sorted(out, key=lambda p: -p["number"])

    def _merge_api(self, p: dict[str, Any], body: dict[str, Any]) -> tuple[int, Any]:
        if p["state"] != "open":
            return 405, {"message": "Pull Request is not mergeable"}
        if self.require_review and p["number"] not in self.approved:
            return 405, {"message": "At least 1 approving review is required by reviewers with write access."}
        if body.get("sha") and body["sha"] != self._head_sha(p["head"]["ref"]):
            return 409, {"message": "Head branch was modified. Review and try the merge again."}
        sha = self._merge(p, body.get("commit_title"))
        return 200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}

    def _merge(self, p: dict[str, Any], title: str | None) -> str:
        base, head = p["base"]["ref"], p["head"]["ref"]
        old, theirs = self._head_sha(base), self._head_sha(head)
        assert old and theirs
        tree = git(self.bare, "merge-tree", "--write-tree", old, theirs).split("\n")[0].strip()
        msg = f"Merge pull request #{p['number']} from {self.owner}/{head}\n\n{title or p['title']}\n"
        sha = git(self.bare, "commit-tree", tree, "-p", old, "-p", theirs, "-F", "-", input=msg.encode()).strip()
        git(self.bare, "update-ref", f"refs/heads/{base}", sha, old)
        p.update(state="closed", merged=True, merged_at=self._now(), closed_at=self._now(), merge_commit_sha=sha)
        return sha
