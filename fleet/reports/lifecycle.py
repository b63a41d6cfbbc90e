"""Kubernetes version lifecycle data: per provider, each minor's release date and end of standard and
extended support.

The package ships ``fleet/reports/data/lifecycle.yaml``; ``fleet lifecycle load FILE`` validates a file of the
same format and makes it the active dataset by copying it to the user data path (LifecycleSettings). Nothing
here reads the environment at import time: ``LifecycleSettings.from_env`` is called by the CLI at start-up.

Dates mean "the first day without that support": a cluster's minor leaves standard support at 00:00 UTC on
``endOfStandardSupport``. A minor or provider missing from the data is *unknown* and reported as such.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, ValidationError, field_validator, model_validator

from fleet.errors import InputError, Problem
from fleet.policy.loader import _problems_from
from fleet.policy.models import Strict
from fleet.policy.source import Document, load_documents
from fleet.versions import InvalidVersion, parse_version

KIND = "LifecycleData"
ENV_FILE = "FLEET_LIFECYCLE_FILE"
_MINOR_RE = re.compile(r"^\d+\.\d+$")
_NAME_RE = re.compile(r"^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$")


# ---- the file format (strict) --------------------------------------------------------------------------

def _minor(v: object) -> object:
    if not isinstance(v, str):
        raise ValueError(f"write each minor as a quoted string such as \"1.30\" (got {v!r}: "
                         "YAML reads 1.30 as the number 1.3)")
    if not _MINOR_RE.match(v):
        raise ValueError(f"release key {v!r} must be a minor such as \"1.30\"")
    return v


Minor = Annotated[str, BeforeValidator(_minor)]


class ReleaseSpec(Strict):
    released: date | None = None
    end_of_standard_support: date
    end_of_extended_support: date | None = None

    @model_validator(mode="after")
    def _order(self) -> ReleaseSpec:
        if self.released is not None and self.end_of_standard_support <= self.released:
            raise ValueError("endOfStandardSupport must be after released")
        if self.end_of_extended_support is not None and self.end_of_extended_support < self.end_of_standard_support:
            raise ValueError("endOfExtendedSupport cannot be before endOfStandardSupport")
        return self


class ProviderSpec(Strict):
    title: str | None = None
    note: str | None = None
    follows: str | None = Field(default=None, description="use another provider's calendar")
    extended_support: bool = Field(default=True, description="false: support ends with standard support")
    releases: dict[Minor, ReleaseSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _shape(self) -> ProviderSpec:
        if self.follows is not None and self.releases:
            raise ValueError("give either follows or releases, not both")
        if self.follows is None and not self.releases:
            raise ValueError("give releases (or follows: another provider)")
        return self


class LifecycleFile(Strict):
    api_version: str = Field(pattern=r"^fleet\.dev/v1alpha1$")
    kind: str = Field(pattern=f"^{KIND}$")
    as_of: date
    providers: dict[str, ProviderSpec]

    @field_validator("as_of", mode="before")
    @classmethod
    def _as_of(cls, v: object) -> object:
        if isinstance(v, datetime):
            return v.date()
        return v

    @field_validator("providers")
    @classmethod
    def _names(cls, v: dict[str, ProviderSpec]) -> dict[str, ProviderSpec]:
        if not v:
            raise ValueError("list at least one provider")
        return v


def _cross_check(doc: Document, f: LifecycleFile) -> list[Problem]:
    """Checks across fields, each reported at the line of the value at fault."""
    out: list[Problem] = []

    def problem(path: tuple[str, ...], msg: str) -> None:
        out.append(Problem(doc.file, doc.line_of(path), ".".join(path), msg))

    for name, spec in f.providers.items():
        if not _NAME_RE.match(name):
            problem(("providers", name), "provider names are lowercase letters, digits, '-', '_' or '.'")
        if spec.follows is not None and spec.follows not in f.providers:
            problem(("providers", name, "follows"), f"{spec.follows!r} is not a provider in this file")
        if not spec.extended_support:
            for minor, rel in spec.releases.items():
                if rel.end_of_extended_support is not None:
                    problem(("providers", name, "releases", minor, "endOfExtendedSupport"),
                            "extendedSupport is false for this provider: remove it")
    if not out:
        for name in f.providers:  # no cycles: following must end at a provider with releases
            seen = [name]
            cur = f.providers[name].follows
            while cur is not None:
                if cur in seen:
                    problem(("providers", name, "follows"), f"follows form a cycle ({' -> '.join(seen + [cur])})")
                    break
                seen.append(cur)
                cur = f.providers[cur].follows
    return out


# ---- the runtime view ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Support:
    """Support dates of one minor on one provider (``known`` False: not in the data, dates all None)."""

    provider: str | None          # the lifecycle provider whose calendar applies (after ``follows``)
    minor: str | None
    known: bool
    released: date | None = None
    end_of_standard: date | None = None
    end_of_extended: date | None = None   # None when unknown; equals end_of_standard without extended support

    def days_to_standard(self, at: datetime) -> int | None:
        return None if self.end_of_standard is None else (self.end_of_standard - at.date()).days

    def days_to_extended(self, at: datetime) -> int | None:
        return None if self.end_of_extended is None else (self.end_of_extended - at.date()).days


@dataclass(frozen=True)
class Lifecycle:
    data: LifecycleFile
    source: str                   # "builtin" or the file it was read from

    @property
    def as_of(self) -> date:
        return self.data.as_of

    def calendar(self, provider: str) -> str | None:
        """The provider whose releases apply to ``provider`` (following ``follows``), or None if unknown."""
        spec = self.data.providers.get(provider)
        name = provider
        while spec is not None and spec.follows is not None:
            name = spec.follows
            spec = self.data.providers.get(name)
        return name if spec is not None else None

    def support(self, providers: tuple[str, ...], version: str) -> Support:
        """Support of ``version``'s minor on the first of ``providers`` the data knows (callers pass the
        provider type, then the instance name). Unknown providers, unreadable versions and minors missing
        from the data give known=False."""
        try:
            v = parse_version(version)
        except InvalidVersion:
            return Support(None, None, False)
        minor = v.minor_str
        for p in providers:
            cal = self.calendar(p)
            if cal is None:
                continue
            spec = self.data.providers[cal]
            rel = spec.releases.get(minor)
            if rel is None:
                return Support(cal, minor, False)
            ext = rel.end_of_standard_support if not spec.extended_support else rel.end_of_extended_support
            return Support(cal, minor, True, rel.released, rel.end_of_standard_support, ext)
        return Support(None, minor, False)


# ---- settings, loading, installing ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LifecycleSettings:
    """Where the active dataset lives. ``file`` is the user's copy (written by ``fleet lifecycle load``);
    when it does not exist, the dataset shipped in the package is used."""

    file: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> LifecycleSettings:
        """$FLEET_LIFECYCLE_FILE, else $XDG_DATA_HOME/fleet/lifecycle.yaml, else ~/.local/share/fleet/lifecycle.yaml."""
        if environ.get(ENV_FILE):
            return cls(Path(environ[ENV_FILE]).expanduser())
        base = environ.get("XDG_DATA_HOME") or str(Path(environ.get("HOME") or Path.home()) / ".local" / "share")
        return cls(Path(base).expanduser() / "fleet" / "lifecycle.yaml")


def builtin_text() -> str:
    return resources.files("fleet.reports").joinpath("data/lifecycle.yaml").read_text(encoding="utf-8")


def _unquoted_minors(doc: Document) -> list[Problem]:
    """Release keys YAML read as numbers (1.30 -> 1.3), each at its own line (checked before the model, whose
    error would name the key as text)."""
    out = []
    providers = doc.data.get("providers")
    for name, spec in (providers.items() if isinstance(providers, dict) else ()):
        releases = spec.get("releases") if isinstance(spec, dict) else None
        for k in (releases if isinstance(releases, dict) else ()):
            if not isinstance(k, str):
                out.append(Problem(doc.file, doc.line_of(("providers", name, "releases", k)),
                                   f"providers.{name}.releases", f"write each minor as a quoted string such as "
                                   f"\"1.30\" (got {k!r}: YAML reads 1.30 as the number 1.3)"))
    return out


def _validate(doc: Document) -> LifecycleFile:
    if not isinstance(doc.data, dict):
        raise InputError([Problem(doc.file, doc.start_line, "", f"expected a mapping with apiVersion, kind: {KIND}, "
                                                                "asOf, providers")])
    unquoted = _unquoted_minors(doc)
    if unquoted:
        raise InputError(unquoted)
    try:
        f = LifecycleFile.model_validate(doc.data)
    except ValidationError as exc:
        raise InputError(_problems_from(doc, exc)) from None
    problems = _cross_check(doc, f)
    if problems:
        raise InputError(problems)
    return f


def parse_lifecycle(name: str, text: str) -> LifecycleFile:
    """Validate the text of a lifecycle file; InputError with ``file:line: field: message`` otherwise."""
    docs = [d for d in load_documents(name, text) if d.data is not None]
    if len(docs) != 1:
        raise InputError([Problem(name, None, "", f"expected one {KIND} document, found {len(docs)}")])
    return _validate(docs[0])


def load_lifecycle_file(path: str | Path) -> Lifecycle:
    """Read and validate one lifecycle file."""
    if not Path(path).is_file():
        raise InputError([Problem(str(path), None, "", "no such file")])
    return Lifecycle(parse_lifecycle(str(path), _read(path)), str(path))


def _read(path: str | Path) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError([Problem(str(path), None, "", f"cannot read file: {exc}")]) from exc


def load_builtin() -> Lifecycle:
    return Lifecycle(parse_lifecycle("fleet/reports/data/lifecycle.yaml", builtin_text()), "builtin")


def load_active(settings: LifecycleSettings) -> Lifecycle:
    """The user's dataset when one was loaded, else the shipped one."""
    if settings.file.is_file():
        return load_lifecycle_file(settings.file)
    return load_builtin()


def install_lifecycle(src: str | Path, settings: LifecycleSettings) -> Lifecycle:
    """Validate ``src``, then atomically replace the active dataset with it (nothing changes on error)."""
    if not Path(src).is_file():
        raise InputError([Problem(str(src), None, "", "no such file")])
    text = _read(src)
    lc = parse_lifecycle(str(src), text)
    dest = settings.file
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".lifecycle-", suffix=".yaml", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return Lifecycle(lc, str(dest))
