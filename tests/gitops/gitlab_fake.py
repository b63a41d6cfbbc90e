"""The small part of the GitLab REST API (v4) that fleet's GitOps mode uses, over the same real bare repository
and merge logic as the GitHub fake. Recorded from GitLab's API documentation (doc/api/merge_requests.md):
  POST /projects/:id/merge_requests {source_branch, target_branch, title, description}
       201 merge request; 409 "Another open merge request already exists for this source branch"
  GET  /projects/:id/merge_requests?source_branch=&target_branch=&state=opened|closed|merged|all   200 [mr]
  GET  /projects/:id/merge_requests/:merge_request_iid                   200 mr; 404
  PUT  /projects/:id/merge_requests/:merge_request_iid/merge {sha, squash}
       200 mr (state merged); 405 not mergeable (e.g. approvals required); 409 sha does not match the head; 404
  mr fields used: iid, web_url, state (opened|closed|merged), merged_at, merge_commit_sha, closed_at, sha.
Authentication: the PRIVATE-TOKEN header. ``:id`` is the URL-encoded project path.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote, urlparse

from tests.gitops.github_fake import FakeGitHub


class FakeGitLab(FakeGitHub):
    def authorized(self, headers: Any) -> bool:
        return bool(headers.get("PRIVATE-TOKEN") == self.token)

    def _mr(self, p: dict[str, Any]) -> dict[str, Any]:
        v = self._view(p)
        state = "merged" if v["merged"] else ("closed" if v["state"] == "closed" else "opened")
        return {"iid": v["number"], "web_url": v["html_url"].replace("/pull/", "/-/merge_requests/"),
                "state": state, "merged_at": v["merged_at"], "merge_commit_sha": v["merge_commit_sha"],
                "closed_at": v["closed_at"], "sha": v["head"]["sha"], "source_branch": v["head"]["ref"],
                "target_branch": v["base"]["ref"], "title": v["title"]}

    def handle(self, method: str, raw: str, body: Any) -> tuple[int, Any]:
        u = urlparse(raw)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        prefix = f"/api/v4/projects/{quote(f'{self.owner}/{self.name}', safe='')}/merge_requests"
        raw_path = raw.split("?", 1)[0]
        if not raw_path.startswith(prefix):
            return 404, {"message": "404 Project Not Found"}
        rest = raw_path[len(prefix):].strip("/").split("/") if raw_path != prefix else []
        with self._lock:
            if method == "POST" and not rest:
                b = body or {}
                if any(p["head"]["ref"] == b.get("source_branch") and p["state"] == "open" for p in self.pulls.values()):
                    return 409, {"message": ["Another open merge request already exists for this source branch"]}
                status, out = self._create({"title": b.get("title"), "head": b.get("source_branch"),
                                            "base": b.get("target_branch"), "body": b.get("description")})
                return (status, self._mr(self.pulls[out["number"]])) if status == 201 else (status, out)
            if method == "GET" and not rest:
                state = q.get("state", "all")
                out = [self._mr(p) for p in self.pulls.values()
                       if p["head"]["ref"] == q.get("source_branch", p["head"]["ref"])
                       and p["base"]["ref"] == q.get("target_branch", p["base"]["ref"])]
                return 200, [m for m in out if state == "all" or m["state"] == state]
            if not rest or not rest[0].isdigit() or int(rest[0]) not in self.pulls:
                return 404, {"message": "404 Not found"}
            p = self.pulls[int(rest[0])]
            if method == "GET" and len(rest) == 1:
                return 200, self._mr(p)
            if method == "PUT" and rest[1:] == ["merge"]:
                status, out = self._merge_api(p, {"sha": (body or {}).get("sha")})
                return (200, self._mr(p)) if status == 200 else (status, {"message": out["message"]})
        return 404, {"message": "404 Not found"}
