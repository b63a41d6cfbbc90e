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

    model_config = ConfigDict(extra="forbid")

    alias: str | None = Field(default=None, pattern=_ALIAS)   # location prefix: "<alias>:<region>"
    profile: str | None = None
    roleArn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    externalId: str | None = None
    regions: list[Region] = Field(min_length=1)


class EksSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    regions: list[Region] = Field(default_factory=list)  # the default account's regions
    profile: str | None = None
    roleArn: str | None = Field(default=None, pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$")
    externalId: str | None = None
    accounts: list[AccountSettings] = Field(default_factory=list)
    endpoint: Url | None = None              # EKS endpoint override (emulators, VPC endpoints, other partitions)
    ssmEndpoint: Url | None = None           # defaults to ``endpoint`` when that is set
    stsEndpoint: Url | None = None           # defaults to ``endpoint`` when that is set
    credentialsFile: str | None = None       # an AWS shared credentials file (relative to the config dir)
    connectTimeoutSeconds: float = Field(default=3.0, gt=0, le=60)
    readTimeoutSeconds: float = Field(default=10.0, gt=0, le=120)
    pollIntervalSeconds: float = Field(default=30.0, gt=0)
    roleSessionSeconds: int = Field(default=3600, ge=900, le=43200)

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
