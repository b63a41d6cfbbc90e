"""GitOps step mode with the generic YAML-path mapping, on real git repositories and the local GitHub API:
push and pull-request proposals, idempotent start, revert and late-merge failures, tokens kept out of errors.

The inner provider here is a stand-in whose discovery reads the manifests on ``main`` (as if a controller had
applied them and the cloud converged at once): what fleet writes is what it then observes."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from fleet.clock import FakeClock
from fleet.errors import PermanentProviderError, TemporaryProviderError
from fleet.gitops.mode import wrap
from fleet.policy.gitops import GitOpsSettings
from fleet.provider import Cluster, Component, NodePool, OperationState, Step, VersionOffers
from tests.execution.helpers import START
from tests.gitops.github_fake import FakeGitHub, git

CLUSTER_YAML = """\
# prod cluster, managed by Crossplane
apiVersion: eks.aws.upbound.io/v1beta1
kind: Cluster
metadata:
  name: prod
spec:
  forProvider:
    region: us-east-1
    version: "1.29"   # bumped by fleet
---
apiVersion: eks.aws.upbound.io/v1beta1
kind: NodeGroup
metadata:
  name: workers
spec:
  forProvider:
    version: "1.29"
    scalingConfig: [{desiredSize: 3, maxSize: 4, minSize: 1}]
"""
FIELDS = [{"file": "cluster.yaml", "path": "Cluster=prod:spec.forProvider.version", "format": "minor"},
          {"file": "cluster.yaml", "path": "NodeGroup=workers:spec.forProvider.version", "component": "pool:workers",
           "format": "minor"}]


class Stand:
    """The inner provider: discovery reads main (applied and converged at once); it never starts anything."""

    type = "standin"

    def __init__(self, bare: Path):
        self.name, self.bare = "xp", bare

    def discover(self) -> list[Cluster]:
        docs = list(yaml.safe_load_all(git(self.bare, "show", "main:infra/prod/cluster.yaml")))
        cp, ng = (str(d["spec"]["forProvider"]["version"]) for d in docs)
        return [Cluster("xp", "us-east-1", "prod", control_plane=f"{cp}.0",
                        node_pools=(NodePool("workers", f"{ng}.0"),), provider_type="standin")]

    def offers(self, cluster: Cluster) -> VersionOffers:
        return VersionOffers(("1.29.0", "1.30.0"))

    def check_step(self, cluster: Cluster, step: Step) -> list[str]:
        return []

    def start(self, cluster: Cluster, step: Step) -> Any:
        raise AssertionError("a cluster in GitOps mode is never started directly")

    def poll(self, cluster: Cluster, op: Any) -> Any:
        raise AssertionError("a GitOps operation is never polled directly")


@pytest.fixture
def repo(tmp_path: Path):
    bare = tmp_path / "origin.git"
    subprocess.run(["git", "init", "--bare", "--quiet", "-b", "main", str(bare)], check=True)
    work = tmp_path / "seed"
    (work / "infra/prod").mkdir(parents=True)
    (work / "infra/prod/cluster.yaml").write_text(CLUSTER_YAML)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}
    for argv in (["init", "--quiet", "-b", "main"], ["add", "."], ["commit", "--quiet", "-m", "seed"],
                 ["push", "--quiet", str(bare), "main"]):
        subprocess.run(["git", *argv], cwd=work, check=True, env=env)
    return tmp_path, bare


def _provider(tmp: Path, bare: Path, clock: FakeClock, **over: Any) -> Any:
    raw = {"repository": {"url": str(bare), "workdir": str(tmp / "clone")},
           "propose": "push", "clusters": {"prod": {"path": "infra/prod", "fields": FIELDS}}, **over}
    return wrap(Stand(bare), GitOpsSettings.model_validate(raw), provider_type="standin", clock=clock,
                config_dir=str(tmp))


CP = Step(Component.CONTROL_PLANE, to="1.30.0", from_="1.29.0", origin="run=r-1 policy=prod plan=cp@1.30.0 "
          "pool:workers@1.30.0")


def test_push_mode_commits_on_main_keeping_comments_and_converges(repo):
    tmp, bare = repo
    clock = FakeClock(START)
    p = _provider(tmp, bare, clock)
    [c] = p.discover()
    assert c.extra["upgradeMode"] == "gitops" and c.extra["gitopsPath"] == "infra/prod"
    before = git(bare, "rev-parse", "main").strip()
    op = p.start(c, CP)
    assert op.data["mode"] == "push"
    text = git(bare, "show", "main:infra/prod/cluster.yaml")
    assert text == CLUSTER_YAML.replace('version: "1.29"   # bumped', 'version: "1.30"   # bumped')   # nothing else
    msg = git(bare, "log", "-1", "--format=%B", "main")
    assert "Run: r-1" in msg and "Policy: prod" in msg and "Plan: cp@1.30.0 pool:workers@1.30.0" in msg
    assert git(bare, "log", "-1", "--format=%an %ad", "--date=unix", "main").strip() == \
        f"fleet-upgrader {int(START.timestamp())}"                        # dates from the injected clock
    assert git(bare, "rev-parse", "main~1").strip() == before
    [c] = p.discover()
    st = p.poll(c, op)
    assert st.state is OperationState.SUCCEEDED, st.message
    # idempotent: starting again finds the manifests already asking for it and commits nothing
    again = p.start(c, CP)
    assert again.data["mode"] == "none" and git(bare, "rev-list", "--count", "main").strip() == "2"
    # the pool step edits only the NodeGroup document
    pool = Step(Component.NODE_POOL, to="1.30.0", from_="1.29.0", pool="workers")
    p.start(c, pool)
    text = git(bare, "show", "main:infra/prod/cluster.yaml")
    assert text == CLUSTER_YAML.replace('"1.29"', '"1.30"')


def test_a_revert_on_the_branch_fails_the_step_with_the_reason(repo):
    tmp, bare = repo
    clock = FakeClock(START)
    p = _provider(tmp, bare, clock)
    [c] = p.discover()
    op = p.start(c, CP)
    # someone reverts fleet's commit before the controller applied it
    work = tmp / "people"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp), "GIT_AUTHOR_NAME": "p", "GIT_AUTHOR_EMAIL": "p@x",
           "GIT_COMMITTER_NAME": "p", "GIT_COMMITTER_EMAIL": "p@x"}
    subprocess.run(["git", "clone", "--quiet", str(bare), str(work)], check=True, env=env)
    for argv in (["revert", "--no-edit", "HEAD"], ["push", "--quiet", "origin", "main"]):
        subprocess.run(["git", *argv], cwd=work, check=True, env=env, capture_output=True)
    st = p.poll(c, op)
    assert st.state is OperationState.FAILED
    assert "reverted on main" in st.message and "ask for 1.29" in st.message


@pytest.fixture
def hub(repo):
    tmp, bare = repo
    clock = FakeClock(START)
    h = FakeGitHub(bare, now=clock.now)
    h.start()
    (tmp / "token").write_text(h.token)
    yield h, clock
    h.stop()


def _pr_settings(h: FakeGitHub, **over: Any) -> dict[str, Any]:
    return {"propose": "pull-request", "forge": {"type": "github", "api": h.url, "repository": "acme/clusters"},
            **over}


def test_pull_request_start_is_idempotent_and_waits_for_a_person(repo, hub):
    tmp, bare = repo
    h, clock = hub
    p = _provider(tmp, bare, clock, **_pr_settings(h))
    [c] = p.discover()
    with pytest.raises(PermanentProviderError, match="401"):      # no token configured: GitHub refuses
        p.start(c, CP)
    p = _provider(tmp, bare, clock, **_pr_settings(h), repository={"url": str(bare), "workdir": str(tmp / "clone"),
                                                                    "tokenFile": "token"})
    op = p.start(c, CP)
    again = p.start(c, CP)                           # after a crash: the same branch and PR, nothing new
    assert again.id == op.id and len(h.pulls) == 1
    assert op.data["branchName"].startswith("fleet/prod-cp-1.30.0-r-1")
    assert git(bare, "show", "main:infra/prod/cluster.yaml") == CLUSTER_YAML          # main untouched
    st = p.poll(c, op)
    assert st.state is OperationState.RUNNING and "waiting for a person to merge it" in st.message
    h.merge_as_person(1)
    [c] = p.discover()
    assert p.poll(c, op).state is OperationState.SUCCEEDED


def test_a_late_merge_fails_the_step_when_the_rule_says_so(repo, hub):
    tmp, bare = repo
    h, clock = hub
    p = _provider(tmp, bare, clock, **_pr_settings(h), lateMergeAfter="1h", lateMerge="fail",
                  repository={"url": str(bare), "workdir": str(tmp / "clone"), "tokenFile": "token"})
    [c] = p.discover()
    op = p.start(c, CP)
    clock.advance(timedelta(hours=3))
    h.merge_as_person(1)
    st = p.poll(c, op)
    assert st.state is OperationState.FAILED
    assert "after it was proposed" in st.message and "lateMerge: fail" in st.message


def test_the_token_never_appears_in_an_error(repo):
    tmp, bare = repo
    (tmp / "token").write_text("ghp-SECRET-canary-123\n")
    p = _provider(tmp, bare, FakeClock(START), repository={"url": "https://127.0.0.1:9/acme/clusters.git",
                                                           "workdir": str(tmp / "c2"), "tokenFile": "token"})
    c = Cluster("xp", "us-east-1", "prod", control_plane="1.29.0")
    with pytest.raises((TemporaryProviderError, PermanentProviderError)) as err:
        p.start(c, CP)
    assert "SECRET" not in str(err.value) and "gitops: git fetch" in str(err.value)


def test_a_cluster_labelled_direct_is_started_by_the_inner_provider(repo):
    tmp, bare = repo
    p = _provider(tmp, bare, FakeClock(START))
    c = Cluster("xp", "us-east-1", "prod", control_plane="1.29.0",
                labels={"fleet-upgrader.io/upgrade-mode": "direct"})
    assert not p.in_gitops(c)
    with pytest.raises(AssertionError, match="never started directly"):
        p.start(c, CP)


def test_gitlab_merge_request_is_opened_merged_when_approved_and_converges(repo):
    from tests.gitops.gitlab_fake import FakeGitLab
    tmp, bare = repo
    clock = FakeClock(START)
    lab = FakeGitLab(bare, now=clock.now)
    lab.require_review = True
    lab.start()
    try:
        (tmp / "token").write_text(lab.token)
        p = _provider(tmp, bare, clock, propose="pull-request", merge="auto",
                      forge={"type": "gitlab", "api": f"{lab.url}/api/v4", "repository": "acme/clusters"},
                      repository={"url": str(bare), "workdir": str(tmp / "clone"), "tokenFile": "token"})
        [c] = p.discover()
        op = p.start(c, CP)
        assert op.id.endswith("gitlab#1") and lab.pulls[1]["state"] == "open"      # 405: approval required
        st = p.poll(c, op)
        assert st.state is OperationState.RUNNING and "required reviews/checks" in st.message
        lab.approve(1)
        st = p.poll(c, op)                      # merges now; this observation predates the merge
        assert lab.pulls[1]["merged"] and "waiting for the GitOps controller to apply it" in st.message
        [c] = p.discover()                      # the next observation: applied (the stand-in reads main)
        assert p.poll(c, op).state is OperationState.SUCCEEDED
        assert ("PUT", "/api/v4/projects/acme%2Fclusters/merge_requests/1/merge", 200) in lab.log
    finally:
        lab.stop()


def test_a_retried_step_proposes_again_on_a_new_branch_and_never_reopens_a_closed_pr(repo, hub):
    tmp, bare = repo
    h, clock = hub
    p = _provider(tmp, bare, clock, **_pr_settings(h), repository={"url": str(bare), "workdir": str(tmp / "clone"),
                                                                    "tokenFile": "token"})
    [c] = p.discover()
    first = p.start(c, CP)
    h.close(1)
    st = p.poll(c, first)
    assert st.state is OperationState.FAILED and "github #1" in st.message and "closed without merging" in st.message
    second = p.start(c, CP)                        # `fleet retry`: the same run, the same step
    assert second.data["number"] == 2 and second.data["branchName"] == first.data["branchName"] + "-2"
    assert h.pulls[1]["state"] == "closed" and h.pulls[2]["state"] == "open"
    assert p.start(c, CP).data["number"] == 2      # and idempotent from there
