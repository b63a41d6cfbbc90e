"""The settings of an ``oke`` provider entry (``spec.providers[].settings``): a strict model, camelCase keys."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from fleet.provider import validate_settings


class OkeAuth(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")
    tenancy: str
    """Tenancy OCID."""
    user: str
    """User OCID."""
    fingerprint: str
    """Fingerprint of the API signing key."""
    private_key: SecretStr | None = Field(None, alias="privateKey")
    """The PEM private key itself (give this or `privateKeyFile`)."""
    private_key_file: str | None = Field(None, alias="privateKeyFile")
    """Path of the PEM private key (give this or `privateKey`)."""
    passphrase: SecretStr | None = None
    """Passphrase of the private key, if any."""
    region: str | None = None
    """The signer's region, used when `regions` is empty."""

    @model_validator(mode="after")
    def _one_key(self) -> OkeAuth:
        if (self.private_key is None) == (self.private_key_file is None):
            raise ValueError("set exactly one of privateKey or privateKeyFile")
        return self


class OkeSettings(BaseModel):
    """An `oke` provider: OKE clusters of OCI compartments."""

    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")
    compartments: list[str] = Field(min_length=1)
    """Compartment OCIDs to discover clusters in."""
    regions: list[str] = Field(default_factory=list)
    """Region names (default: the region of the OCI config or `auth`)."""
    endpoint: str | None = None
    """Service endpoint override (sovereign realm, emulator); `{region}` is replaced by the region (required when several regions are set)."""
    config_file: str | None = Field(None, alias="configFile")
    """The OCI CLI config file (default `~/.oci/config`)."""
    profile: str = "DEFAULT"
    """The profile of the OCI config file."""
    auth: OkeAuth | None = None
    """An in-memory API-key signer instead of the config file."""
    timeout_seconds: float = Field(10.0, alias="timeoutSeconds", gt=0)
    """HTTP read timeout, in seconds."""
    poll_interval_seconds: float = Field(30.0, alias="pollIntervalSeconds", gt=0)
    """Suggested delay between polls of a work request, in seconds."""
    api_concurrency: int = Field(8, alias="apiConcurrency", ge=1, le=128)
    """Discovery reads in flight at once, all regions and compartments together (docs/scale.md)."""
    api_rate_per_second: float = Field(10.0, alias="apiRatePerSecond", gt=0)
    """Sustained discovery reads per second per tenancy and region (token bucket; OCI publishes no rate:
    docs/scale.md)."""
    api_burst: int = Field(20, alias="apiBurst", ge=1)
    """Reads per tenancy and region that may go at once before the sustained rate applies."""
    options_every_seconds: float = Field(0.0, alias="optionsEverySeconds", ge=0)
    """Offered versions (GetClusterOptions, per region and compartment) are read again only when older than
    this; 0: at every discovery."""

    @model_validator(mode="after")
    def _endpoint(self) -> OkeSettings:
        if self.endpoint is not None:
            if not self.endpoint.startswith(("http://", "https://")):
                raise ValueError("endpoint must start with http:// or https://")
            if len(self.regions) > 1 and "{region}" not in self.endpoint:
                raise ValueError("endpoint must contain {region} when several regions are set")
        return self


def parse_settings(settings: Mapping[str, Any]) -> OkeSettings:
    return validate_settings(OkeSettings, settings, "invalid oke settings", root='settings')
