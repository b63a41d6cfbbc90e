"""The settings of a ``kops`` provider entry (``spec.providers[].settings``): a strict model, camelCase keys."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from providers.kops.state_store import StateStore

CLUSTER_NAME_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$")
ROLL_POLL_AFTER = 30.0


class KopsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    stateStore: str | list[str]
    clusters: list[str] | None = None
    kopsBinary: str = "kops"
    env: dict[str, str] = Field(default_factory=dict)
    endpoint: str | None = None
    region: str | None = None
    channel: str | None = None
    commandTimeout: float = Field(120.0, gt=0)
    requestTimeout: float = Field(10.0, gt=0)
    pollInterval: float = Field(ROLL_POLL_AFTER, gt=0)
    logDir: str | None = None
    exportClock: bool = False

    @field_validator("stateStore")
    @classmethod
    def _stores(cls, v: str | list[str]) -> str | list[str]:
        for url in [v] if isinstance(v, str) else v:
            StateStore.parse(url)
        if isinstance(v, list) and not v:
            raise ValueError("at least one state store is required")
        return v

    @field_validator("clusters")
    @classmethod
    def _names(cls, v: list[str] | None) -> list[str] | None:
        for name in v or []:
            if not CLUSTER_NAME_RE.match(name):
                raise ValueError(f"{name!r} is not a kops cluster name (a lower-case DNS name)")
        return v


def parse_settings(settings: Mapping[str, Any] | None) -> KopsSettings:
    try:
        return KopsSettings.model_validate(dict(settings or {}))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<settings>'}: {e['msg']}"
                             for e in exc.errors())
        raise ValueError(f"invalid kops provider settings: {problems}") from None
