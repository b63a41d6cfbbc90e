"""The settings of an ``oke`` provider entry (``spec.providers[].settings``): a strict model, camelCase keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator


class _Auth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    tenancy: str
    user: str
    fingerprint: str
    private_key: SecretStr | None = Field(None, alias="privateKey")
    private_key_file: str | None = Field(None, alias="privateKeyFile")
    passphrase: SecretStr | None = None
    region: str | None = None

    @model_validator(mode="after")
    def _one_key(self) -> _Auth:
        if (self.private_key is None) == (self.private_key_file is None):
            raise ValueError("set exactly one of privateKey or privateKeyFile")
        return self


class OkeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    compartments: list[str] = Field(min_length=1)
    regions: list[str] = Field(default_factory=list)
    endpoint: str | None = None
    config_file: str | None = Field(None, alias="configFile")
    profile: str = "DEFAULT"
    auth: _Auth | None = None
    timeout_seconds: float = Field(10.0, alias="timeoutSeconds", gt=0)
    poll_interval_seconds: float = Field(30.0, alias="pollIntervalSeconds", gt=0)

    @model_validator(mode="after")
    def _endpoint(self) -> OkeSettings:
        if self.endpoint is not None:
            if not self.endpoint.startswith(("http://", "https://")):
                raise ValueError("endpoint must start with http:// or https://")
            if len(self.regions) > 1 and "{region}" not in self.endpoint:
                raise ValueError("endpoint must contain {region} when several regions are set")
        return self


def parse_settings(settings: Mapping[str, Any]) -> OkeSettings:
    try:
        return OkeSettings.model_validate(dict(settings))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"invalid oke settings: {problems}") from None
