"""Small value types used in what users write: durations, int-or-percent budgets, versions, times."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

from fleet.versions import InvalidVersion, parse_version

_DUR_RE = re.compile(r"^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
_ISO_DUR_RE = re.compile(r"^P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
# the longest duration anything accepts (ten years): every duration is added to instants, and a larger one
# would overflow datetime arithmetic somewhere downstream instead of failing here with the field's line
MAX_DURATION = timedelta(days=3660)
_MAX_DIGITS = 12          # per component: "99999999999999w" is refused before it is turned into a number
_TOO_LONG = f"a duration may be at most {MAX_DURATION.days} days (10 years)"


def parse_duration(value: Any) -> timedelta:
    """``90s``, ``30m``, ``4h``, ``1h30m``, ``2d``, ``1w`` or ISO 8601 ``PT4H``; a bare int is seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '4h' or '30m'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        if value > MAX_DURATION.total_seconds():
            raise ValueError(_TOO_LONG)
        return timedelta(seconds=value)
    if not isinstance(value, str) or not value.strip():
        raise ValueError("expected a duration such as '4h' or '30m'")
    text = value.strip()
    if len(text) > 64:
        raise ValueError(f"invalid duration ({len(text)} characters): use e.g. '90s', '30m', '4h', '1h30m', '2d'")
    m = _DUR_RE.match(text) if not text.startswith("P") else _ISO_DUR_RE.match(text)
    if not m or not any(m.groups()):
        raise ValueError(f"invalid duration {value!r}: use e.g. '90s', '30m', '4h', '1h30m', '2d', '1w' or 'PT4H'")
    if any(g is not None and len(g) > _MAX_DIGITS for g in m.groups()):
        raise ValueError(_TOO_LONG)
    w, d, h, mi, s = (int(g) if g else 0 for g in m.groups())
    total = ((((w * 7 + d) * 24 + h) * 60 + mi) * 60) + s
    if total > MAX_DURATION.total_seconds():
        raise ValueError(_TOO_LONG)
    return timedelta(seconds=total)


def format_duration(td: timedelta) -> str:
    secs = int(td.total_seconds())
    if secs == 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if secs >= size:
            out += f"{secs // size}{unit}"
            secs %= size
    return out


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^(\d+w)?(\d+d)?(\d+h)?(\d+m)?(\d+s)?$|^P.*$",
                    "description": "duration: 90s, 30m, 4h, 1h30m, 2d, 1w or ISO 8601 (PT4H)"}),
]


MAX_COUNT = 1_000_000   # the largest count of nodes, clusters or failures a policy may name


def parse_int_or_percent(value: Any) -> int | str:
    if isinstance(value, bool):
        raise ValueError("expected a non-negative integer or a percentage such as '25%'")
    if isinstance(value, int):
        if value < 0:
            raise ValueError("must not be negative")
        if value > MAX_COUNT:
            raise ValueError(f"must be at most {MAX_COUNT}")
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d{1,4})\s*%\s*", value)
        if m:
            pct = int(m.group(1))
            if pct > 100:
                raise ValueError("a percentage cannot exceed 100%")
            return f"{pct}%"
        if value.strip().isdigit():
            # k8s.io/apimachinery/pkg/util/intstr GetScaledValueFromIntOrPercent: a String IntOrString must
            # end in '%' ("invalid value for IntOrString: invalid type: string is not a percentage"); a
            # quoted "50" is never 50 nodes
            raise ValueError(f"{value!r}: a string must be a percentage such as '25%' "
                             "(write a number of nodes without quotes)")
    raise ValueError("expected a non-negative integer or a percentage such as '25%'")


IntOrPercent = Annotated[
    int | str,
    BeforeValidator(parse_int_or_percent),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0}, {"type": "string", "pattern": r"^\d+%$"}]}),
]


def check_version(value: Any) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"write versions as strings (quote {value!r}): YAML reads 1.30 as the number 1.3")
    if not isinstance(value, str):
        raise ValueError("expected a version string such as '1.30.4'")
    try:
        parse_version(value)
    except InvalidVersion as exc:
        raise ValueError(str(exc)) from None
    return value


VersionStr = Annotated[str, BeforeValidator(check_version),
                       WithJsonSchema({"type": "string", "description": "Kubernetes version, e.g. 1.30.4"})]


def check_hhmm(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        # YAML 1.1 reads 02:00 as a sexagesimal int (120); turn it back into minutes.
        value = f"{value // 60:02d}:{value % 60:02d}"
    if not isinstance(value, str) or not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value.strip()):
        raise ValueError("expected a local time 'HH:MM' (24-hour)")
    return value.strip()


HHMM = Annotated[str, BeforeValidator(check_hhmm), WithJsonSchema({"type": "string", "pattern": r"^\d\d:\d\d$"})]
