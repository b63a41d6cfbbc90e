"""Settings of the EKS provider (camelCase keys from the FleetConfig), validated once at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

_ALIAS = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
Region = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[a-z]+)+-\d+$")]          # us-east-1, us-gov-west-1
Url = Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]


class AccountSettings(BaseModel):
    """One AWS account: its own profile and/or role to assume, and the regions to read."""

    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")

    alias: str | None = Field(default=None, pattern=_ALIAS)   # location prefix: "<alias>:<region>"
    """Location prefix of this account's clusters: `<alias>:<region>` (required with several accounts)."""
    profile: str | None = None
    """AWS profile of this account."""
    roleArn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    """IAM role to assume in this account."""
    externalId: str | None = None
    """External id for assuming `roleArn`."""
    regions: list[Region] = Field(min_length=1)
    """Regions to read in this account."""


class EksSettings(BaseModel):
    """An `eks` provider: EKS clusters of one or more AWS accounts."""

    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")

    regions: list[Region] = Field(default_factory=list)
    """The default account's regions."""
    profile: str | None = None
    """AWS profile of the default account."""
    roleArn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    """IAM role to assume for the default account."""
    externalId: str | None = None
    """External id for assuming `roleArn`."""
    accounts: list[AccountSettings] = Field(default_factory=list)
    """More AWS accounts, each with its own profile and/or role and regions."""
    endpoint: Url | None = None
    """EKS endpoint override (emulators, VPC endpoints, other partitions)."""
    ssmEndpoint: Url | None = None
    """SSM endpoint override (AMI release lookups); defaults to `endpoint` when that is set."""
    stsEndpoint: Url | None = None
    """STS endpoint override (role assumption); defaults to `endpoint` when that is set."""
    credentialsFile: str | None = None
    """An AWS shared credentials file (relative to the config file's folder)."""
    connectTimeoutSeconds: float = Field(default=3.0, gt=0, le=60)
    """Connect timeout per request, in seconds."""
    readTimeoutSeconds: float = Field(default=10.0, gt=0, le=120)
    """Read timeout per request, in seconds."""
    pollIntervalSeconds: float = Field(default=30.0, gt=0)
    """Suggested delay between polls of a running update, in seconds."""
    roleSessionSeconds: int = Field(default=3600, ge=900, le=43200)
    """Duration of an assumed role's session, in seconds."""
    apiConcurrency: int = Field(default=16, ge=1, le=128)
    """EKS/SSM calls in flight at once, all accounts and regions together (docs/scale.md)."""
    apiRatePerSecond: float = Field(default=10.0, gt=0)
    """Sustained calls per second per account and region (token bucket; docs/scale.md for the source)."""
    apiBurst: int = Field(default=20, ge=1)
    """Calls per account and region that may go at once before the sustained rate applies."""
    describeEverySeconds: float = Field(default=0.0, ge=0)
    """Incremental discovery: a cluster listed again is described again only when its last description is
    older than this (new clusters and clusters or node groups not ACTIVE always are), or from half of it once
    it passes its own slot of the period (so re-descriptions are spread over the period); offered versions are
    cached per region as long. 0: describe every cluster at every discovery."""

    @model_validator(mode="after")
    def _scopes(self) -> EksSettings:
        if not self.regions and not self.accounts:
            raise ValueError("give 'regions' or 'accounts'")
        if (self.roleArn or self.profile or self.externalId) and not self.regions:
            raise ValueError("'profile'/'roleArn' at the top level need 'regions'")
        if len(self.accounts) + (1 if self.regions else 0) > 1:
            aliases = [a.alias for a in self.accounts]
            if any(a is None for a in aliases):
                raise ValueError("accounts: every account needs an 'alias' when several scopes are listed "
                                 "(it keeps cluster ids apart: <provider>/<alias>:<region>/<cluster>)")
            if len(set(aliases)) != len(aliases):
                raise ValueError("accounts: aliases must be unique")
        return self


@dataclass(frozen=True)
class Scope:
    """One account (credentials) and its regions."""

    alias: str | None
    profile: str | None
    role_arn: str | None
    external_id: str | None
    regions: tuple[str, ...]

    def location(self, region: str) -> str:
        return f"{self.alias}:{region}" if self.alias else region


def parse_settings(name: str, settings: dict[str, Any]) -> tuple[EksSettings, list[Scope]]:
    """Validate; a bad key raises ValueError naming it."""
    try:
        s = EksSettings.model_validate(settings)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<settings>'}: {e['msg']}"
                             for e in exc.errors())
        raise ValueError(f"eks provider {name!r}: invalid settings: {problems}") from None
    scopes = []
    if s.regions:
        scopes.append(Scope(None, s.profile, s.roleArn, s.externalId, tuple(s.regions)))
    scopes += [Scope(a.alias, a.profile, a.roleArn, a.externalId, tuple(a.regions)) for a in s.accounts]
    return s, scopes


def split_location(location: str) -> tuple[str | None, str]:
    alias, sep, region = location.rpartition(":")
    return (alias if sep else None), region
