"""Strict models of everything a user writes: UpgradePolicy, Inventory, FleetConfig.

Every model forbids unknown fields; field names are the camelCase spellings users write in YAML.
"""

from __future__ import annotations

import fnmatch
import re
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from fleet.errors import ProviderNotFound
from fleet.policy.gates import Gates
from fleet.policy.gitops import GitOpsSettings
from fleet.policy.rrules import check_rrule
from fleet.policy.types import HHMM, MAX_COUNT, Duration, IntOrPercent, VersionStr
from fleet.provider import known_provider_types, provider_settings_model

API_VERSION = "fleet.dev/v1alpha1"
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_CLUSTER_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$")
_CLUSTER_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,511}$")
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_DAY_ALIASES = {d.lower(): i for i, d in enumerate(WEEKDAYS)} | {
    full: i for i, full in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"))
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, alias_generator=to_camel,
                              populate_by_name=False, str_strip_whitespace=True)


class Metadata(Strict):
    name: str
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME_RE.match(v) or len(v) > 253:
            raise ValueError("must be lowercase letters, digits, '-' or '.', starting and ending alphanumeric")
        return v


def check_unique(names: list[str], what: str) -> None:
    """``duplicate <what> names: a, b`` when a name repeats (a validator's ValueError)."""
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f"duplicate {what} names: {', '.join(sorted(dup))}")


class Header(Strict):
    """The header every document a user writes starts with; each kind narrows ``kind`` to its own name."""

    api_version: Literal["fleet.dev/v1alpha1"]
    kind: str


class Document(Header):
    """A document named by its ``metadata`` (UpgradePolicy, RolloutStrategy, FleetConfig)."""

    metadata: Metadata

    @property
    def name(self) -> str:
        return self.metadata.name


# ---- selectors -----------------------------------------------------------------------------------------

class Selector(Strict):
    """Matches clusters: all given parts must match; an empty selector matches every cluster."""

    providers: list[str] = Field(default_factory=list, description="provider names or types")
    match_labels: dict[str, str] = Field(default_factory=dict)
    names: list[str] = Field(default_factory=list, description="globs over cluster name or id")

    @cached_property
    def _name_re(self) -> re.Pattern[str] | None:
        if not self.names:
            return None
        return re.compile("|".join(f"(?:{fnmatch.translate(g)})" for g in self.names))

    def matches(self, provider: str, provider_type: str, name: str, cluster_id: str,
                labels: Any) -> bool:
        if self.providers and provider not in self.providers and provider_type not in self.providers:
            return False
        for k, v in self.match_labels.items():
            if labels.get(k) != v:
                return False
        rx = self._name_re
        if rx is not None and not (rx.match(name) or rx.match(cluster_id)):
            return False
        return True


# ---- policy --------------------------------------------------------------------------------------------

_TARGET_RE = re.compile(r"^(latest|latest-1|v?\d+\.\d+(\.\d+([-+].+)?)?)$")


class Target(Strict):
    version: str = Field(description="latest | latest-1 | '1.30' (newest patch) | '1.30.4' (exact)")

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, v: Any) -> Any:
        if isinstance(v, int | float) and not isinstance(v, bool):
            raise ValueError(f"write the version as a string (quote {v!r}): YAML reads 1.30 as the number 1.3")
        if isinstance(v, str) and not _TARGET_RE.match(v.strip()):
            raise ValueError("must be 'latest', 'latest-1', a minor such as '1.30' or an exact version such as '1.30.4'")
        return v


class BlueGreenSpec(Strict):
    batch_node_count: int | None = Field(default=None, ge=1, le=MAX_COUNT)
    batch_percentage: IntOrPercent | None = None
    batch_soak: Duration | None = None
    node_pool_soak: Duration | None = None

    @model_validator(mode="after")
    def _one_batch(self) -> BlueGreenSpec:
        if self.batch_node_count is not None and self.batch_percentage is not None:
            raise ValueError("set batchNodeCount or batchPercentage, not both")
        if isinstance(self.batch_percentage, int):
            raise ValueError("batchPercentage must be a percentage such as '25%'")
        return self


class PoolOverride(Strict):
    """Node-pool settings for the pools it selects (every given part must match: a name glob, pool labels),
    laid over the policy's ``nodePools``. The first override that selects a pool applies; fields it leaves
    out keep the policy's value (``strategy: surge`` also drops the policy's ``blueGreen``)."""

    names: list[str] = Field(default_factory=list, description="globs over the node pool's name")
    match_labels: dict[str, str] = Field(default_factory=dict, description="the node pool's labels (as its "
                                         "provider reports them, or as the inventory states them)")
    strategy: Literal["surge", "blue-green"] | None = None
    max_surge: IntOrPercent | None = None
    max_unavailable: IntOrPercent | None = None
    blue_green: BlueGreenSpec | None = None
    drain_timeout: Duration | None = None
    node_soak: Duration | None = None

    @model_validator(mode="after")
    def _selects_and_sets(self) -> PoolOverride:
        if not self.names and not self.match_labels:
            raise ValueError("select pools with names and/or matchLabels")
        if not self.model_fields_set - {"names", "match_labels"}:
            raise ValueError("set at least one of strategy, maxSurge, maxUnavailable, blueGreen, drainTimeout, "
                             "nodeSoak")
        return self

    def selects(self, pool: str, labels: Any) -> bool:
        if self.names and not any(fnmatch.fnmatchcase(pool, g) for g in self.names):
            return False
        return all(labels.get(k) == v for k, v in self.match_labels.items())


class NodePoolsSpec(Strict):
    upgrade: Literal["lockstep", "skip-level"] = "lockstep"
    strategy: Literal["surge", "blue-green"] = "surge"
    max_surge: IntOrPercent = 1
    max_unavailable: IntOrPercent = 0
    blue_green: BlueGreenSpec | None = None
    drain_timeout: Duration | None = None
    node_soak: Duration | None = None
    overrides: list[PoolOverride] = Field(default_factory=list,
                                          description="per-pool settings (by pool name glob or pool labels); "
                                                      "the first override selecting a pool applies")

    @model_validator(mode="after")
    def _budget(self) -> NodePoolsSpec:
        def zero(v: int | str) -> bool:
            return v == 0 or v == "0%"
        if zero(self.max_surge) and zero(self.max_unavailable):
            raise ValueError("maxSurge and maxUnavailable cannot both be 0: nodes could never be replaced")
        if self.blue_green is not None and self.strategy != "blue-green":
            raise ValueError("blueGreen settings need strategy: blue-green")
        for i, o in enumerate(self.overrides):
            try:
                self._merged(o)
            except ValueError as exc:       # pydantic's ValidationError is a ValueError
                msgs = [e["msg"].removeprefix("Value error, ") for e in getattr(exc, "errors", lambda: [])()]
                raise ValueError(f"overrides[{i}]: {'; '.join(msgs) or exc}") from None
        return self

    def _merged(self, o: PoolOverride) -> NodePoolsSpec:
        base = self.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude={"overrides"})
        # exclude_none: a run's snapshot spells every unset field as null
        over = o.model_dump(mode="json", by_alias=True, exclude_unset=True, exclude_none=True,
                            exclude={"names", "match_labels"})
        if over.get("strategy") == "surge":
            base.pop("blueGreen", None)
        return NodePoolsSpec.model_validate(base | over)

    def for_pool(self, pool: str, labels: Any = None) -> NodePoolsSpec:
        """The settings of node pool ``pool``: the first override selecting it laid over these, else these."""
        for o in self.overrides:
            if o.selects(pool, labels or {}):
                return self._merged(o)
        return self


class Window(Strict):
    """A recurring maintenance window: ``days`` or an RFC 5545 ``rrule``, a local ``start`` and a ``duration``."""

    days: list[str] | None = None
    rrule: str | None = None
    start: HHMM
    duration: Duration

    @field_validator("days")
    @classmethod
    def _days(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        if not v:
            raise ValueError("list at least one day")
        out = []
        for d in v:
            key = str(d).strip().lower()
            if key not in _DAY_ALIASES:
                raise ValueError(f"unknown day {d!r}; use {', '.join(WEEKDAYS)}")
            out.append(WEEKDAYS[_DAY_ALIASES[key]])
        return out

    @field_validator("rrule")
    @classmethod
    def _rrule(cls, v: str | None) -> str | None:
        if v is None:
            return v
        text = v.strip()
        if text.upper().startswith("RRULE:"):
            text = text[6:]
        upper = text.upper()
        if "DTSTART" in upper:
            raise ValueError("leave DTSTART out: the window's start gives the time of day")
        if any(part in upper for part in ("BYHOUR", "BYMINUTE", "BYSECOND")):
            raise ValueError("BYHOUR/BYMINUTE/BYSECOND are not allowed: the window's start gives the time of day")
        if re.search(r"FREQ=(HOURLY|MINUTELY|SECONDLY)", upper):
            raise ValueError("FREQ must be DAILY, WEEKLY, MONTHLY or YEARLY")
        return check_rrule(text)   # RFC 5545 ranges, and at least one opening (fleet.policy.rrules)

    @field_validator("duration")
    @classmethod
    def _duration(cls, v: timedelta) -> timedelta:
        if v <= timedelta(0):
            raise ValueError("must be longer than zero")
        if v > timedelta(days=7):
            raise ValueError("a window may last at most 7 days")
        return v

    @model_validator(mode="after")
    def _one_recurrence(self) -> Window:
        if (self.days is None) == (self.rrule is None):
            raise ValueError("give either days or rrule (exactly one)")
        return self


class Exclusion(Strict):
    """A freeze: no upgrades (or no minor upgrades) start between ``start`` and ``end``."""

    name: str | None = None
    start: datetime
    end: datetime
    scope: Literal["no-upgrades", "no-minor-upgrades"] = "no-upgrades"

    @field_validator("start", "end")
    @classmethod
    def _year(cls, v: datetime) -> datetime:
        if not 1970 <= v.year <= 9000:  # time zone and window arithmetic must stay inside datetime's range
            raise ValueError("must be between the years 1970 and 9000")
        return v

    @model_validator(mode="after")
    def _order(self) -> Exclusion:
        a, b = self.start, self.end
        if (a.tzinfo is None) == (b.tzinfo is None) and b <= a:
            raise ValueError("end must be after start")
        return self


CLUSTER_TIMEZONE = "cluster"


class Maintenance(Strict):
    timezone: str = Field(default="UTC", description="an IANA zone, or 'cluster': each cluster's own zone (its "
                          "label fleet.dev/timezone, else its cloud region's zone: docs/rollout.md)")
    windows: list[Window] = Field(default_factory=list)
    exclusions: list[Exclusion] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        if v == CLUSTER_TIMEZONE:
            return v
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown IANA time zone {v!r} (e.g. 'Europe/Berlin', 'UTC')") from None
        return v


class Wave(Strict):
    name: str
    selector: Selector = Field(default_factory=Selector)
    soak: Duration = timedelta(0)
    approval: Literal["none", "required"] = "none"


class Rollout(Strict):
    waves: list[Wave] = Field(default_factory=list)
    max_concurrent_clusters: int = Field(default=1, ge=1, le=MAX_COUNT)
    max_failures: int = Field(default=1, ge=1, le=MAX_COUNT)

    @field_validator("waves")
    @classmethod
    def _unique(cls, v: list[Wave]) -> list[Wave]:
        check_unique([w.name for w in v], "wave")
        return v


class UpgradePolicySpec(Strict):
    selector: Selector = Field(default_factory=Selector)
    priority: int = Field(default=0, ge=-MAX_COUNT, le=MAX_COUNT)
    target: Target
    path: Literal["patch-first-then-minor", "minor-by-minor"] = "patch-first-then-minor"
    node_pools: NodePoolsSpec = Field(default_factory=NodePoolsSpec)
    maintenance: Maintenance = Field(default_factory=Maintenance)
    rollout: Rollout = Field(default_factory=Rollout)
    gates: Gates = Field(default_factory=Gates, description="safety gates around every step (docs/gates.md)")


class UpgradePolicy(Document):
    kind: Literal["UpgradePolicy"]
    spec: UpgradePolicySpec


# ---- inventory -----------------------------------------------------------------------------------------

class InventoryNodePool(Strict):
    name: str
    version: VersionStr
    nodes: int = Field(default=1, ge=0, le=MAX_COUNT)
    available: list[VersionStr] = Field(default_factory=list)
    labels: dict[str, str] = Field(default_factory=dict)


class InventoryCluster(Strict):
    provider: str
    location: str
    name: str
    id: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
    control_plane: VersionStr
    node_pools: list[InventoryNodePool] = Field(default_factory=list)
    available: list[VersionStr] = Field(default_factory=list)
    auto_upgrade: str | None = None
    facts: dict[str, Any] = Field(
        default_factory=dict,
        description="per-cluster facts that change the cloud's upgrade rules, checked against the provider "
                    "type's facts model (docs/policy-reference.md, 'Cluster facts'), e.g. GKE "
                    "{autopilot: true}, OKE {clusterType: BASIC_CLUSTER}")

    @field_validator("provider", "location", "name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        # cluster names become ids, log fields, metric labels and (for some providers) file and CLI
        # arguments: letters, digits, '.', '_', '-' only, no path segments, no shell metacharacters
        if not _CLUSTER_NAME_RE.match(v) or v in (".", ".."):
            raise ValueError("must be 1-253 letters, digits, '.', '_' or '-', starting with a letter or digit "
                             "(no '/', spaces, shell metacharacters or control characters)")
        return v

    @field_validator("id")
    @classmethod
    def _safe_id(cls, v: str | None) -> str | None:
        if v is not None and (not _CLUSTER_ID_RE.match(v) or any(p in (".", "..") for p in v.split("/"))):
            raise ValueError("must be 1-512 letters, digits, '.', '_', '-', ':' or '/' (no '..' segments)")
        return v

    @field_validator("node_pools")
    @classmethod
    def _unique(cls, v: list[InventoryNodePool]) -> list[InventoryNodePool]:
        check_unique([p.name for p in v], "node pool")
        return v


class ProviderOffers(Strict):
    control_plane: list[VersionStr] = Field(default_factory=list)
    node_pools: list[VersionStr] = Field(default_factory=list)


class Inventory(Header):
    kind: Literal["Inventory"]
    metadata: Metadata | None = None
    clusters: list[InventoryCluster] = Field(default_factory=list)
    offers: dict[str, list[VersionStr] | ProviderOffers] = Field(default_factory=dict)

    @field_validator("clusters")
    @classmethod
    def _unique_ids(cls, v: list[InventoryCluster]) -> list[InventoryCluster]:
        first: dict[str, int] = {}
        for i, c in enumerate(v):
            cid = c.id or f"{c.provider}/{c.location}/{c.name}"
            if cid in first:
                raise ValueError(f"duplicate cluster id {cid!r} (clusters[{first[cid]}] and clusters[{i}])")
            first[cid] = i
        return v


# ---- fleet configuration -------------------------------------------------------------------------------

class ProviderConfig(Strict):
    name: str
    type: str = Field(description="the provider type: the name of a ``fleet.providers`` entry point")
    settings: dict[str, Any] = Field(default_factory=dict,
                                     description="checked against the type's settings model (see below)")
    gitops: GitOpsSettings | None = Field(None, description="GitOps mode: steps become commits / pull requests "
                                          "to the repository Argo CD or Flux applies (docs/gitops.md)")

    @field_validator("type")
    @classmethod
    def _known_type(cls, v: str) -> str:
        known = known_provider_types()
        if v not in known:
            raise ValueError(f"unknown provider type {v!r}; known types: {', '.join(known) or '(none installed)'}")
        return v

    @field_validator("settings")
    @classmethod
    def _settings(cls, v: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        """Validate against the settings model of the provider's type (the adapter keeps the raw mapping)."""
        try:
            model = provider_settings_model(info.data["type"]) if "type" in info.data else None
        except ProviderNotFound as exc:       # an installed entry point that is not a provider
            raise ValueError(str(exc)) from None
        if model is not None:
            model.model_validate(v)       # a ValidationError here carries the path below ``settings``
        return v


class StateConfig(Strict):
    url: str = "sqlite:///fleet-state.db"
    # create the store when it is missing or empty (a missing or 0-byte SQLite file, a database without fleet's
    # tables); otherwise `fleet apply` / `fleet daemon` refuse to start on it unless given --init
    create: bool = False

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not (v.startswith("sqlite://") or v.startswith("postgresql")):
            raise ValueError("must be sqlite:///PATH or postgresql+psycopg://...")
        return v


ApiRole = Literal["viewer", "operator", "approver", "admin"]


class OidcConfig(Strict):
    """OIDC bearer JWTs (docs/security.md): issuer, audience, where the keys are, how groups map to roles."""

    issuer: str = Field(description="the issuer URL; tokens must carry it as iss")
    audience: str = Field(description="tokens must carry it in aud (the client id the issuer gives fleet)")
    jwks_url: str | None = Field(default=None, description="default: jwks_uri of the issuer's discovery document")
    username_claim: str = Field(default="sub", description="the claim naming the principal in the audit log")
    groups_claim: str = Field(default="groups", description="the claim listing the caller's groups")
    roles: dict[str, ApiRole] = Field(default_factory=dict, description="group -> role (viewer, operator, "
                                                                         "approver, admin); the highest wins")
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"],
                                  description="signature algorithms accepted (asymmetric only)")
    leeway: Duration = Field(default=timedelta(seconds=30), description="clock skew allowed on exp/nbf/iat")

    @field_validator("issuer", "jwks_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        from urllib.parse import urlsplit
        if v is not None and (urlsplit(v).scheme not in ("http", "https") or not urlsplit(v).hostname):
            raise ValueError("must be an http:// or https:// URL")
        return v

    @field_validator("leeway")
    @classmethod
    def _leeway(cls, v: timedelta) -> timedelta:
        if v > timedelta(minutes=5):
            raise ValueError("must be at most 5m")
        return v


class HttpConfig(Strict):
    listen: str = "127.0.0.1:8080"
    token_file: str | None = None
    read_only_token_file: str | None = None
    tokens_file: str | None = Field(default=None, description="named principals with roles and hashed tokens "
                                                              "(docs/security.md; `fleet token hash`)")
    oidc: OidcConfig | None = Field(default=None, description="accept OIDC bearer JWTs (docs/security.md)")
    allowed_hosts: list[str] = Field(
        default_factory=list, description="Host header values the API answers (globs such as '*.svc'); IP "
                                          "addresses and localhost always pass; '*' turns the check off")
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    max_body_bytes: int = Field(default=65536, ge=1024, le=64 * 1024 * 1024)

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError("must be HOST:PORT, e.g. 0.0.0.0:8080")
        return v


# Event kinds a webhook may subscribe to (fleet.notify follows them in the events table).
NotifyEvent = Literal["run-started", "wave-done", "cluster-upgraded", "cluster-failed", "run-halted", "run-done",
                     "cluster-at-risk", "wave-awaiting-approval"]
NOTIFY_EVENTS: tuple[NotifyEvent, ...] = get_args(NotifyEvent)


class NotificationConfig(Strict):
    """A webhook: signed JSON (or a Slack-compatible payload) POSTed for each subscribed event."""

    name: str
    url: str
    format: Literal["json", "slack"] = "json"
    secret_file: str | None = Field(default=None, description="HMAC-SHA256 signing secret (required for json)")
    events: list[NotifyEvent] = Field(default_factory=lambda: list(NOTIFY_EVENTS))
    timeout: Duration = timedelta(seconds=10)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME_RE.match(v) or len(v) > 100:
            raise ValueError("must be lowercase letters, digits, '-' or '.', starting and ending alphanumeric")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        from urllib.parse import urlsplit
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL with a host")
        return v

    @field_validator("events")
    @classmethod
    def _events(cls, v: list[NotifyEvent]) -> list[NotifyEvent]:
        if not v:
            raise ValueError("list at least one event kind (leave events out to get all of them)")
        return list(dict.fromkeys(v))

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, v: timedelta) -> timedelta:
        if not timedelta(0) < v <= timedelta(minutes=5):
            raise ValueError("must be longer than zero and at most 5m")
        return v

    @model_validator(mode="after")
    def _secret(self) -> NotificationConfig:
        if self.format == "json" and not self.secret_file:
            raise ValueError("secretFile is required for format json (receivers verify the HMAC signature)")
        return self


class LeaderElectionConfig(Strict):
    backend: Literal["none", "database", "kubernetes"] = "none"
    lease_duration: Duration = timedelta(seconds=15)
    namespace: str = "default"
    lease_name: str = "fleet-leader"
    kubeconfig: str | None = None
    context: str | None = None

    @field_validator("lease_duration")
    @classmethod
    def _lease_duration(cls, v: timedelta) -> timedelta:
        # renewed every third of it, given up after two thirds: 0s would crash the elector
        if not timedelta(seconds=1) <= v <= timedelta(hours=1):
            raise ValueError("must be between 1s and 1h")
        return v


class FleetConfigSpec(Strict):
    providers: list[ProviderConfig]
    policies: str
    state: StateConfig = Field(default_factory=StateConfig)
    reconcile_interval: Duration = timedelta(seconds=60)
    reconcile_budget: Duration | None = Field(
        default=None, description="elapsed time one reconcile may take before it is abandoned at a safe point "
                                  "(default: 3 intervals, at least 60s); readiness fails past it")
    reconcile_item_budget: Duration | None = Field(
        default=None, description="elapsed time one run (or one cluster's plan) may take within a reconcile: past "
                                  "it that run or cluster alone is abandoned for the tick at a safe point, logged, "
                                  "and the rest of the tick goes on (default: a quarter of reconcileBudget)")
    shutdown_grace: Duration = Field(
        default=timedelta(seconds=10), description="on SIGTERM, how long the daemon waits for the reconcile in "
                                                   "progress before it exits anyway (1s..5m)")
    discovery_interval: Duration = Field(
        default=timedelta(minutes=10),
        description="how often each provider's clusters are discovered in full; between discoveries the engine "
                    "works from the latest observation and re-reads only the clusters it is about to act on "
                    "(docs/scale.md). 0s: every tick")
    http: HttpConfig = Field(default_factory=HttpConfig)
    leader_election: LeaderElectionConfig = Field(default_factory=LeaderElectionConfig)
    shards: int = Field(default=1, ge=1, le=1024)
    notifications: list[NotificationConfig] = Field(default_factory=list)

    @field_validator("reconcile_interval")
    @classmethod
    def _interval(cls, v: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= v <= timedelta(days=1):
            raise ValueError("must be between 1s and 1d (0s would reconcile without pause)")
        return v

    @field_validator("reconcile_budget")
    @classmethod
    def _budget(cls, v: timedelta | None) -> timedelta | None:
        if v is not None and not timedelta(seconds=1) <= v <= timedelta(hours=6):
            raise ValueError("must be between 1s and 6h")
        return v

    @field_validator("reconcile_item_budget")
    @classmethod
    def _item_budget(cls, v: timedelta | None) -> timedelta | None:
        if v is not None and not timedelta(seconds=1) <= v <= timedelta(hours=6):
            raise ValueError("must be between 1s and 6h")
        return v

    @field_validator("shutdown_grace")
    @classmethod
    def _grace(cls, v: timedelta) -> timedelta:
        if not timedelta(seconds=1) <= v <= timedelta(minutes=5):
            raise ValueError("must be between 1s and 5m")
        return v

    @field_validator("notifications")
    @classmethod
    def _unique_notifications(cls, v: list[NotificationConfig]) -> list[NotificationConfig]:
        check_unique([n.name for n in v], "notification")
        return v

    @field_validator("providers")
    @classmethod
    def _unique(cls, v: list[ProviderConfig]) -> list[ProviderConfig]:
        if not v:
            raise ValueError("list at least one provider")
        check_unique([p.name for p in v], "provider")
        return v


class FleetConfig(Document):
    kind: Literal["FleetConfig"]
    spec: FleetConfigSpec


KINDS: dict[str, type[Strict]] = {
    "UpgradePolicy": UpgradePolicy,
    "Inventory": Inventory,
    "FleetConfig": FleetConfig,
}
