"""The settings of a ``kops`` provider entry (``spec.providers[].settings``): a strict model, camelCase keys."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from fleet.provider import validate_settings
from providers.kops.state_store import StateStore

CLUSTER_NAME_RE = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)+$")
ROLL_POLL_AFTER = 30.0


class KopsSettings(BaseModel):
    """A `kops` provider: kops clusters of S3 state stores, upgraded with the kops CLI."""

    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")

    stateStore: str | list[str]
    """`s3://bucket[/prefix]`, or a list of them (each is a discovery scope)."""
    clusters: list[str] | None = None
    """Cluster names to manage (default: every cluster in the state store(s))."""
    kopsBinary: str = "kops"
    """The kops executable, looked up on the PATH of `env`."""
    env: dict[str, str] = Field(default_factory=dict)
    """Extra environment for kops (credentials, AWS_PROFILE, PATH, ...); its AWS_* settings are also used for the adapter's own S3 reads."""
    endpoint: str | None = None
    """S3 endpoint override (also given to kops as S3_ENDPOINT unless `env` sets it)."""
    region: str | None = None
    """AWS region for S3 reads (default: AWS_REGION from `env`, else us-east-1)."""
    channel: str | None = None
    """Channel location for version offers (default: the cluster's spec.channel, else `stable`)."""
    commandTimeout: float = Field(120.0, gt=0)
    """Seconds a synchronous kops command may take."""
    requestTimeout: float = Field(10.0, gt=0)
    """Seconds for one S3 or channel request."""
    pollInterval: float = Field(ROLL_POLL_AFTER, gt=0)
    """Seconds between polls of a running rolling update, suggested to the engine."""
    logDir: str | None = None
    """Where background `kops rolling-update` output and roll records go (default <config folder>/.kops-rolls)."""
    exportClock: bool = False
    """Give kops the adapter's clock as FLEET_EMULATOR_NOW (the kops emulator under virtual time; real kops ignores it)."""
    apiConcurrency: int = Field(8, ge=1, le=128)
    """State stores read at once, each on its own worker with its reads one after the other (then the channels, likewise); the limiter's workers (docs/scale.md)."""
    apiRatePerSecond: float = Field(100.0, gt=0)
    """Sustained object reads per second per state store (token bucket): a conservative client pace, far below the 5,500 GET/HEAD per second S3 documents per partitioned prefix, which kops and etcd-manager share (docs/scale.md)."""
    apiBurst: int = Field(200, ge=1)
    """Object reads per state store that may go at once before the sustained rate applies."""

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
    return validate_settings(KopsSettings, settings, "invalid kops provider settings")
