"""The settings of a ``gke`` provider entry (``spec.providers[].settings``): a strict model, camelCase keys."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class GkeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    projects: list[str] = Field(min_length=1)
    locations: list[str] = Field(default_factory=lambda: ["-"], min_length=1)
    endpoint: str | None = None
    credentials: Literal["default", "anonymous"] = "default"
    credentials_file: str | None = Field(default=None, alias="credentialsFile")
    timeout_seconds: float = Field(default=30.0, gt=0, alias="timeoutSeconds")
    poll_interval_seconds: float = Field(default=30.0, gt=0, alias="pollIntervalSeconds")
