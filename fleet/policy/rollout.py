"""The fleet rollout: ``kind: RolloutStrategy``, the order in which versions reach the whole fleet.

Policies decide each cluster's target, path, windows, exclusions and budgets; the rollout decides order:
ordered stages, each a selector over every cluster (whichever policy manages it). A version may start in a
stage only once it has run, soaked and not failed in the stage before (fleet.planning.rollout). At most one
RolloutStrategy per policies folder. Design and semantics: docs/rollout.md.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import Field, field_validator

from fleet.policy.models import _NAME_RE, Document, Selector, Strict, check_unique
from fleet.policy.types import Duration

MAX_STAGES = 20
MAX_SOAK = timedelta(days=90)
UNSTAGED = "unstaged"       # the implicit last stage of the clusters no stage selects (``unmatched: last``)


class Stage(Strict):
    """One stage: the clusters its selector matches (the first stage that matches a cluster holds it)."""

    name: str
    selector: Selector = Field(default_factory=Selector,
                               description="providers (names or types), matchLabels, names (globs over cluster "
                                           "name or id); an empty selector holds every cluster not yet held")
    soak: Duration = Field(default=timedelta(0),
                           description="how long a version must have run on every cluster of this stage, without "
                                       "a failed step or gate, before the next stage may start it")
    approval: Literal["none", "required"] = Field(
        default="none", description="required: a person approves each version before this stage starts it "
                                    "(`fleet approve --stage NAME --version V`)")
    max_concurrent_clusters: int | None = Field(
        default=None, ge=1, description="clusters of this stage upgrading at once, across every run and policy "
                                        "(none: only the policies' own limits)")
    max_failures: int = Field(default=1, ge=1,
                              description="failures of one version in this stage after which the stage starts "
                                          "that version on no further cluster until approved")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME_RE.match(v) or len(v) > 63:
            raise ValueError("must be lowercase letters, digits, '-' or '.', starting and ending alphanumeric")
        if v == UNSTAGED:
            raise ValueError(f"{UNSTAGED!r} is the name of the implicit last stage")
        return v

    @field_validator("soak")
    @classmethod
    def _soak(cls, v: timedelta) -> timedelta:
        if not timedelta(0) <= v <= MAX_SOAK:
            raise ValueError("must be between 0 and 90d")
        return v


class RolloutStrategySpec(Strict):
    stages: list[Stage] = Field(description="in rollout order: a version flows from the first to the last")
    match: Literal["patch", "minor"] = Field(
        default="patch", description="what must have run upstream: 'patch' the same major.minor.patch (or newer); "
                                     "'minor' any patch of the same minor (or newer), for fleets mixing clouds "
                                     "whose patch releases differ (AKS 1.32.5 beside GKE 1.32.4)")
    unmatched: Literal["last", "unordered"] = Field(
        default="last", description="clusters no stage selects: 'last' puts them in an implicit last stage "
                                    "'unstaged' (after every stage, no soak, no approval); 'unordered' leaves "
                                    "them outside the rollout (only their policy orders them)")

    @field_validator("stages")
    @classmethod
    def _stages(cls, v: list[Stage]) -> list[Stage]:
        if not v:
            raise ValueError("list at least one stage")
        if len(v) > MAX_STAGES:
            raise ValueError(f"at most {MAX_STAGES} stages")
        check_unique([s.name for s in v], "stage")
        return v


class RolloutStrategy(Document):
    kind: Literal["RolloutStrategy"]
    spec: RolloutStrategySpec
