"""The settings of a ``gke`` provider entry (``spec.providers[].settings``): a strict model, camelCase keys."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class GkeSettings(BaseModel):
    """A `gke` provider: GKE clusters of Google Cloud projects."""

    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid", frozen=True)

    projects: list[str] = Field(min_length=1)
    """The GCP projects to discover clusters in."""
    locations: list[str] = Field(default_factory=lambda: ["-"], min_length=1)
    """Regions/zones to list (`-` = every location of the project)."""
    endpoint: str | None = None
    """API endpoint override (emulator, sovereign cloud); default Google's."""
    credentials: Literal["default", "anonymous"] = "default"
    """`default`: the Application Default Credentials chain; `anonymous`: none (emulators)."""
    credentials_file: str | None = Field(default=None, alias="credentialsFile")
    """A service-account key file (relative to the config file's folder)."""
    timeout_seconds: float = Field(default=30.0, gt=0, alias="timeoutSeconds")
    """Per-request timeout, in seconds (SDK retries are off: the engine retries)."""
    poll_interval_seconds: float = Field(default=30.0, gt=0, alias="pollIntervalSeconds")
    """Suggested delay between polls of a running operation, in seconds."""
    api_concurrency: int = Field(default=8, ge=1, le=128, alias="apiConcurrency")
    """Discovery and offers reads in flight at once, all projects and locations together (docs/scale.md)."""
    api_rate_per_second: float = Field(default=10.0, gt=0, alias="apiRatePerSecond")
    """Sustained reads per second per project (token bucket; Google publishes the project's rate quota on its
    Quotas page: docs/scale.md)."""
    api_burst: int = Field(default=20, ge=1, alias="apiBurst")
    """Reads per project that may go at once before the sustained rate applies."""
    server_config_every_seconds: float = Field(default=0.0, ge=0, alias="serverConfigEverySeconds")
    """A location's offered versions (GetServerConfig, per project and location) are read again only when
    older than this; 0: for every offers read."""
