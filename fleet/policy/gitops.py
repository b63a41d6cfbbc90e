"""GitOps mode of a provider (``spec.providers[].gitops`` in the FleetConfig; docs/gitops.md).

Instead of calling the cloud, fleet writes each step's change into the Git repository a GitOps controller
(Argo CD, Flux) applies, commits it on a branch, optionally opens a pull/merge request and merges it, then
watches the cluster converge through the provider as usual. These are the strict models of what users write.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from fleet.policy.types import Duration


class Strict(BaseModel):        # as fleet.policy.models.Strict (which imports this module)
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel,
                              populate_by_name=False, str_strip_whitespace=True, use_attribute_docstrings=True)

# the cluster label that puts one cluster in (or out of) GitOps mode: ``gitops`` or ``direct``
MODE_LABEL = "fleet-upgrader.io/upgrade-mode"
# the cluster label that names the cluster's folder in the repository (overrides the path convention)
PATH_LABEL = "fleet-upgrader.io/gitops-path"

_PLACEHOLDER = re.compile(r"\{([a-zA-Z]+)\}")
PATH_PLACEHOLDERS = frozenset({"provider", "location", "name", "namespace", "managementCluster"})


class GitAuthor(Strict):
    name: str = Field("fleet-upgrader", min_length=1)
    """Author and committer name of fleet's commits."""
    email: str = Field("fleet-upgrader@localhost", min_length=3)
    """Author and committer email of fleet's commits."""


class GitRepository(Strict):
    url: str = Field(min_length=1)
    """Clone URL (https://, ssh://, git@host:path, file:// or a local path relative to the config file)."""
    branch: str = Field("main", min_length=1)
    """The branch the GitOps controller applies (Argo CD targetRevision, Flux GitRepository ref.branch)."""
    path: str = Field("clusters/{namespace}/{name}", min_length=1)
    """Where a cluster's manifests live, relative to the repository root; placeholders: {provider},
    {location}, {name}, {namespace}, {managementCluster} (the last two from Cluster API discovery)."""
    token_file: str | None = None
    """A file holding the HTTPS token for git push and the forge API (relative to the config file); never
    logged. None: the git client's own credentials (SSH agent, credential helper)."""
    author: GitAuthor = Field(default_factory=lambda: GitAuthor.model_validate({}))
    """Who fleet's commits are by."""
    workdir: str | None = None
    """Where fleet keeps its clone (default: ``.fleet-gitops/`` beside the config file)."""
    branch_prefix: str = Field("fleet/", pattern=r"^[A-Za-z0-9._/-]*$")
    """Prefix of the branches fleet proposes changes on."""

    @field_validator("path")
    @classmethod
    def _placeholders(cls, v: str) -> str:
        unknown = sorted(set(_PLACEHOLDER.findall(v)) - PATH_PLACEHOLDERS)
        if unknown:
            raise ValueError(f"unknown placeholder(s) {', '.join(unknown)}; known: "
                             f"{', '.join(sorted(PATH_PLACEHOLDERS))}")
        if v.startswith("/") or ".." in v.split("/"):
            raise ValueError("must be a relative path inside the repository")
        return v


class Forge(Strict):
    type: Literal["github", "gitlab"]
    """Which forge's REST API opens and merges the pull / merge requests."""
    api: str | None = None
    """API base URL (default: https://api.github.com, https://gitlab.com/api/v4)."""
    repository: str = Field(min_length=1)
    """GitHub ``owner/name``; GitLab project path ``group/project`` or numeric id."""
    timeout_seconds: float = Field(10.0, gt=0, le=300)
    """Timeout of one API request, in seconds."""


class YamlField(Strict):
    """One version field of a manifest fleet edits for a step (the generic mapping: Terraform variables in
    YAML, Crossplane, ACK, Config Connector ...)."""
    file: str = Field(min_length=1)
    """The file, relative to the cluster's folder."""
    path: str = Field(min_length=1)
    """A YAML path: dotted keys, ``[n]`` list indexes, ``[key=value]`` list selectors, and an optional
    document selector ``kind=Name:`` prefix, e.g. ``Cluster=prod:spec.forProvider.version``."""
    component: str = "control-plane"
    """``control-plane`` or ``pool:<name>`` (``pool:*``: every pool)."""
    format: Literal["full", "minor", "no-v"] = "full"
    """How the version is spelled: ``full`` as the step says (v1.30.4 / 1.30.4 kept as the file had it),
    ``minor`` (1.30), ``no-v`` (1.30.4)."""


class ClusterMapping(Strict):
    path: str | None = None
    """The cluster's folder in the repository (overrides repository.path)."""
    fields: list[YamlField] = Field(default_factory=list)
    """Explicit version fields (the generic mapping); empty: the provider's own conventions."""
    mode: Literal["gitops", "direct"] = "gitops"
    """``direct``: this cluster is upgraded by the provider itself, not through Git."""


class GitOpsSettings(Strict):
    """``spec.providers[].gitops``: this provider's steps become commits / pull requests."""

    enabled: Literal["all", "labelled", "listed"] = "all"
    """Which clusters are in GitOps mode: every cluster of the provider (``all``), those labelled
    ``fleet-upgrader.io/upgrade-mode: gitops`` (``labelled``), or those under ``clusters`` (``listed``).
    A cluster labelled ``...upgrade-mode: direct`` is never in GitOps mode."""
    repository: GitRepository
    """The repository the GitOps controller applies."""
    propose: Literal["pull-request", "push"] = "pull-request"
    """``pull-request``: commit on a branch and open a PR/MR (needs ``forge``); ``push``: commit straight to
    the branch the controller applies (no review)."""
    forge: Forge | None = None
    """The forge that hosts the repository (needed for ``propose: pull-request``)."""
    merge: Literal["auto", "manual"] = "manual"
    """``auto``: fleet merges its own PR (branch protection still applies); ``manual``: people merge it."""
    merge_method: Literal["merge", "squash", "rebase"] = "merge"
    """How fleet merges with ``merge: auto``."""
    late_merge: Literal["proceed", "fail"] = "proceed"
    """What a late merge does (see ``lateMergeAfter``)."""
    late_merge_after: Duration | None = None
    """A PR merged more than this long after fleet proposed it is a late merge (its maintenance window may
    have closed): ``proceed`` goes on and says so in the step's status, ``fail`` fails the step."""
    clusters: dict[str, ClusterMapping] = Field(default_factory=dict)
    """Per cluster (by id ``provider/location/name`` or by name): folder, explicit fields, mode."""
    poll_seconds: float = Field(30.0, gt=0)
    """Suggested delay between polls of a proposed change, in seconds."""

    @model_validator(mode="after")
    def _consistent(self) -> GitOpsSettings:
        if self.propose == "pull-request" and self.forge is None:
            raise ValueError("propose: pull-request needs forge (github or gitlab)")
        if self.late_merge == "fail" and self.late_merge_after is None:
            raise ValueError("lateMerge: fail needs lateMergeAfter")
        if self.late_merge_after is not None and self.late_merge_after <= timedelta(0):
            raise ValueError("lateMergeAfter must be positive")
        return self
