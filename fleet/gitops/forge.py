"""Pull/merge requests over the forges' REST APIs (httpx; one synchronous client each).

GitHub (REST API, github/rest-api-description ``descriptions/api.github.com/api.github.com.yaml``):
  POST /repos/{owner}/{repo}/pulls                       pulls/create   {title, head, base, body} -> 201 pull
  GET  /repos/{owner}/{repo}/pulls?head=owner:branch&state=all   pulls/list  -> [pull]
  GET  /repos/{owner}/{repo}/pulls/{pull_number}         pulls/get      -> pull {state open|closed, merged,
                                                                        merged_at, merge_commit_sha, closed_at}
  PUT  /repos/{owner}/{repo}/pulls/{pull_number}/merge   pulls/merge    {merge_method, sha} -> 200 {merged, sha};
                                                                        405 not mergeable (branch protection,
                                                                        reviews, checks); 409 head moved
GitLab (REST API v4, doc/api/merge_requests.md):
  POST /projects/:id/merge_requests                      {source_branch, target_branch, title, description}
  GET  /projects/:id/merge_requests?source_branch=&target_branch=&state=all
  GET  /projects/:id/merge_requests/:merge_request_iid   state opened|closed|locked|merged, merged_at,
                                                         merge_commit_sha / squash_commit_sha, closed_at
  PUT  /projects/:id/merge_requests/:merge_request_iid/merge   {sha, squash}; 405/406/409/422: not mergeable now

Errors are translated here, once: 5xx, 429, network errors and "not mergeable yet" are TemporaryProviderError;
401/403/404/422 are PermanentProviderError. Tokens go in the Authorization / PRIVATE-TOKEN header only and
never into a message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from fleet.errors import PermanentProviderError, TemporaryProviderError

GITHUB_API = "https://api.github.com"
GITLAB_API = "https://gitlab.com/api/v4"


@dataclass(frozen=True)
class PullState:
    number: int
    url: str
    state: str                   # open | closed | merged
    merged_at: str | None = None
    merge_commit: str | None = None
    closed_at: str | None = None
    head_sha: str | None = None


class Forge(Protocol):
    kind: str

    def create(self, head: str, base: str, title: str, body: str) -> PullState: ...

    def find(self, head: str, base: str) -> PullState | None: ...

    def get(self, number: int) -> PullState: ...

    def merge(self, number: int, sha: str, method: str, title: str) -> bool:
        """True when merged now; False when the forge refuses for now (reviews, checks, protection)."""
        ...


class _Http:
    kind = "forge"

    def __init__(self, api: str, headers: dict[str, str], timeout: float, provider: str,
                 transport: httpx.BaseTransport | None = None):
        self._client = httpx.Client(base_url=api.rstrip("/"), headers=headers, timeout=timeout, transport=transport)
        self._provider = provider

    def close(self) -> None:
        self._client.close()

    def _call(self, method: str, path: str, *, json: Any = None, params: dict[str, str] | None = None,
              soft: tuple[int, ...] = ()) -> httpx.Response:
        what = f"{self.kind} {method} {path}"
        try:
            r = self._client.request(method, path, json=json, params=params)
        except httpx.TransportError as exc:
            raise TemporaryProviderError(f"{what}: {type(exc).__name__}", provider=self._provider,
                                         code="network", retry_after=30.0) from exc
        if r.status_code < 400 or r.status_code in soft:
            return r
        detail = _message(r)
        if r.status_code == 429 or r.status_code >= 500:
            after = r.headers.get("retry-after")
            raise TemporaryProviderError(f"{what}: {r.status_code} {detail}", provider=self._provider,
                                         code=str(r.status_code), retry_after=float(after) if after and
                                         after.isdigit() else 60.0)
        raise PermanentProviderError(f"{what}: {r.status_code} {detail}", provider=self._provider,
                                     code=str(r.status_code))


def _message(r: httpx.Response) -> str:
    try:
        body = r.json()
    except ValueError:
        return r.text[:200]
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or "")[:300]
    return ""


class GitHub(_Http):
    kind = "github"

    def __init__(self, repository: str, token: str | None, *, api: str | None = None, timeout: float = 10.0,
                 provider: str = "gitops", transport: httpx.BaseTransport | None = None):
        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        super().__init__(api or GITHUB_API, headers, timeout, provider, transport)
        self.repo = repository
        self.owner = repository.split("/", 1)[0]

    @staticmethod
    def _state(p: dict[str, Any]) -> PullState:
        state = "merged" if p.get("merged") or p.get("merged_at") else str(p.get("state", "open"))
        return PullState(int(p["number"]), str(p.get("html_url", "")), state, p.get("merged_at"),
                         p.get("merge_commit_sha"), p.get("closed_at"), (p.get("head") or {}).get("sha"))

    def create(self, head: str, base: str, title: str, body: str) -> PullState:
        r = self._call("POST", f"/repos/{self.repo}/pulls", json={"title": title, "head": head, "base": base,
                                                                   "body": body})
        return self._state(r.json())

    def find(self, head: str, base: str) -> PullState | None:
        r = self._call("GET", f"/repos/{self.repo}/pulls", params={"head": f"{self.owner}:{head}", "base": base,
                                                                   "state": "all", "per_page": "10"})
        pulls = [self._state(p) for p in r.json()]
        open_ = [p for p in pulls if p.state == "open"]
        return next(iter(open_ or pulls), None)

    def get(self, number: int) -> PullState:
        return self._state(self._call("GET", f"/repos/{self.repo}/pulls/{number}").json())

    def merge(self, number: int, sha: str, method: str, title: str) -> bool:
        r = self._call("PUT", f"/repos/{self.repo}/pulls/{number}/merge",
                       json={"merge_method": method, "sha": sha, "commit_title": title}, soft=(405, 409))
        return r.status_code == 200 and bool(r.json().get("merged"))


class GitLab(_Http):
    kind = "gitlab"

    def __init__(self, repository: str, token: str | None, *, api: str | None = None, timeout: float = 10.0,
                 provider: str = "gitops", transport: httpx.BaseTransport | None = None):
        headers = {"PRIVATE-TOKEN": token} if token else {}
        super().__init__(api or GITLAB_API, headers, timeout, provider, transport)
        self.project = quote(repository, safe="")

    @staticmethod
    def _state(m: dict[str, Any]) -> PullState:
        state = {"opened": "open", "locked": "open"}.get(str(m.get("state")), str(m.get("state")))
        return PullState(int(m["iid"]), str(m.get("web_url", "")), state, m.get("merged_at"),
                         m.get("merge_commit_sha") or m.get("squash_commit_sha"), m.get("closed_at"), m.get("sha"))

    def create(self, head: str, base: str, title: str, body: str) -> PullState:
        r = self._call("POST", f"/projects/{self.project}/merge_requests",
                       json={"source_branch": head, "target_branch": base, "title": title, "description": body})
        return self._state(r.json())

    def find(self, head: str, base: str) -> PullState | None:
        r = self._call("GET", f"/projects/{self.project}/merge_requests",
                       params={"source_branch": head, "target_branch": base, "state": "all"})
        mrs = [self._state(m) for m in r.json()]
        open_ = [m for m in mrs if m.state == "open"]
        return next(iter(open_ or mrs), None)

    def get(self, number: int) -> PullState:
        return self._state(self._call("GET", f"/projects/{self.project}/merge_requests/{number}").json())

    def merge(self, number: int, sha: str, method: str, title: str) -> bool:
        r = self._call("PUT", f"/projects/{self.project}/merge_requests/{number}/merge",
                       json={"sha": sha, "squash": method == "squash"}, soft=(405, 406, 409, 422))
        return r.status_code == 200 and r.json().get("state") == "merged"
