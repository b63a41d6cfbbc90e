"""The ``spec.gates`` section of an UpgradePolicy: safety gates around every step (docs/gates.md).

Pre-flight gates are evaluated right before a step may start: one that does not pass blocks the cluster
(not the run) until it passes or is overridden. Post-step gates are evaluated after the step's operation
ended and its version was verified: each must pass continuously for ``settle`` within ``timeout``, else the
step is rolled back (``onFailure: rollback``, where the cloud can) or the cluster is halted.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from fleet.policy.types import Duration

GateType = Literal["upgrade-blockers", "cluster-health", "etcd-backup", "nodes-ready", "prometheus", "webhook"]
# the gates a provider evaluates through its own SDK (fleet.provider.BuiltinCheck values)
PROVIDER_GATES = frozenset({"upgrade-blockers", "cluster-health", "etcd-backup", "nodes-ready"})
PREFLIGHT_TYPES = frozenset({"upgrade-blockers", "cluster-health", "etcd-backup", "prometheus", "webhook"})
POST_STEP_TYPES = frozenset({"cluster-health", "nodes-ready", "prometheus", "webhook"})
_GATE_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
# the fields that belong to one gate type only
_TYPE_FIELDS = {"max_age": ("etcd-backup",), "query": ("prometheus",), "method": ("webhook",),
                "headers_file": ("webhook",), "url": ("prometheus", "webhook")}


class _Strict(BaseModel):
    """The same configuration as fleet.policy.models.Strict (which imports this module)."""
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel,
                              populate_by_name=False, str_strip_whitespace=True)


class Gate(_Strict):
    """One gate. ``type`` decides which fields apply (a field of another type is an error)."""

    name: str = Field(description="unique within the policy's gates; overrides name it")
    type: GateType
    max_age: Duration | None = None          # etcd-backup: the newest backup must be younger
    url: str | None = Field(default=None, description="prometheus: the server's base URL; webhook: the URL called")
    query: str | None = Field(default=None, description="prometheus: PromQL that must return a non-empty result "
                                                        "whose samples are all non-zero")
    method: Literal["GET", "POST", "PUT", "HEAD"] | None = Field(default=None, description="webhook (default GET)")
    headers_file: str | None = Field(default=None, description="webhook: a file of 'Name: value' lines sent as "
                                                               "headers (secrets stay out of the policy)")
    # (the descriptions of duration fields are in fleet.docgen.NOTES: a description would hide the type)
    request_timeout: Duration = timedelta(seconds=10)    # prometheus/webhook: one HTTP request's time limit
    timeout: Duration = timedelta(minutes=15)            # post-step: how long the gate may take to pass
    settle: Duration = timedelta(0)                      # post-step: how long it must pass without interruption

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _GATE_NAME_RE.match(v) or len(v) > 100:
            raise ValueError("must be lowercase letters, digits, '-' or '.', starting and ending alphanumeric")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        from urllib.parse import urlsplit
        if v is not None:
            parts = urlsplit(v)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ValueError("must be an http:// or https:// URL with a host")
        return v

    @field_validator("request_timeout", "timeout")
    @classmethod
    def _positive(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0):
            raise ValueError("must be longer than zero")
        return v

    @model_validator(mode="after")
    def _fields_of_type(self) -> Gate:
        for f, types in _TYPE_FIELDS.items():
            if getattr(self, f) is not None and self.type not in types:
                raise ValueError(f"{_camel(f)} applies only to {' and '.join(types)} gates")
        need = {"etcd-backup": ("max_age",), "prometheus": ("url", "query"), "webhook": ("url",)}
        for f in need.get(self.type, ()):
            if getattr(self, f) is None:
                raise ValueError(f"a {self.type} gate needs {_camel(f)}")
        if self.settle >= self.timeout:
            raise ValueError("settle must be shorter than timeout")
        return self

    @property
    def provider_check(self) -> bool:
        """Evaluated by the cluster's provider (a fleet.provider.BuiltinCheck)."""
        return self.type in PROVIDER_GATES


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


class Gates(_Strict):
    preflight: list[Gate] = Field(default_factory=list, description="evaluated right before each step starts")
    post_step: list[Gate] = Field(default_factory=list, description="evaluated after each step's operation "
                                                                    "ended and its version was verified")
    on_failure: Literal["rollback", "halt"] = Field(
        default="rollback", description="a failed post-step gate: roll the step back where the cloud can "
                                        "(else halt), or halt the cluster")

    @field_validator("preflight")
    @classmethod
    def _preflight(cls, v: list[Gate]) -> list[Gate]:
        for g in v:
            if g.type not in PREFLIGHT_TYPES:
                raise ValueError(f"gate {g.name!r}: a {g.type} gate is post-step only")
        return v

    @field_validator("post_step")
    @classmethod
    def _post_step(cls, v: list[Gate]) -> list[Gate]:
        for g in v:
            if g.type not in POST_STEP_TYPES:
                raise ValueError(f"gate {g.name!r}: a {g.type} gate is pre-flight only")
        return v

    @model_validator(mode="after")
    def _unique(self) -> Gates:
        names = [g.name for g in [*self.preflight, *self.post_step]]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate gate names: {', '.join(dup)}")
        return self

    def named(self, name: str) -> Gate | None:
        for g in [*self.preflight, *self.post_step]:
            if g.name == name:
                return g
        return None

    @property
    def empty(self) -> bool:
        return not self.preflight and not self.post_step
