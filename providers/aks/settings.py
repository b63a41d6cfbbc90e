"""The settings of an ``aks`` provider entry (``spec.providers[].settings``): a strict model, camelCase keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.alias_generators import to_camel

from fleet.provider import validate_settings


class AksSettings(BaseModel):
    """An `aks` provider: AKS clusters of Azure subscriptions, through ARM."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=False, frozen=True,
                              use_attribute_docstrings=True)

    subscriptions: list[str] = Field(min_length=1)
    """Subscription ids to discover clusters in."""
    resource_groups: list[str] | None = None
    """Only these resource groups (in every subscription); default: the whole subscription."""
    endpoint: str | None = None
    """ARM base URL override (sovereign clouds, emulators); over plain http:// no real token is sent."""
    cloud: Literal["AZURE_PUBLIC_CLOUD", "AZURE_CHINA_CLOUD", "AZURE_US_GOVERNMENT"] | None = None
    """The Azure cloud (ARM endpoint and token scope)."""
    api_version: str | None = None
    """Pin the ARM api-version (default: the SDK's)."""
    include_preview: bool = False
    """Offer preview Kubernetes versions."""
    timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    """Connect/read timeout per request, in seconds."""
    poll_interval_seconds: float = Field(default=30.0, gt=0)
    """Suggested delay between polls when ARM sends no Retry-After, in seconds."""
    api_concurrency: int = Field(default=8, ge=1, le=128)
    """Discovery and offers reads in flight at once, all subscriptions together (docs/scale.md)."""
    api_rate_per_second: float = Field(default=25.0, gt=0)
    """Sustained reads per second per subscription: ARM's documented refill for reads (docs/scale.md)."""
    api_burst: int = Field(default=250, ge=1)
    """Reads per subscription that may go at once: ARM's documented bucket for reads (docs/scale.md)."""
    versions_every_seconds: float = Field(default=0.0, ge=0)
    """A region's Kubernetes versions (ListKubernetesVersions, per subscription and location) are read again
    only when older than this; 0: for every offers read."""

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, v: str | None) -> str | None:
        if v is not None and urlparse(v).scheme not in ("http", "https"):
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/") if v else v


def parse_settings(settings: Mapping[str, Any] | None) -> AksSettings:
    return validate_settings(AksSettings, settings, "invalid aks settings")
