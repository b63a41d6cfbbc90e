"""RFC 5545 checks of a maintenance window's ``rrule``, done once when a policy is validated, so that window
enumeration later can never spin: a rule that passes here has an occurrence within ``HORIZON_YEARS`` of the
anchor, and any rule that passes recurs (its BY* pattern repeats within the 400-year Gregorian cycle), so
expanding it always reaches the next occurrence, the end of its COUNT, or its UNTIL, in bounded time.

What is refused, with the reason (RFC 5545 section 3.3.10 unless noted):

* anything but one ``RRULE`` (no EXRULE, RDATE, EXDATE, DTSTART lines; no line breaks);
* a part given twice ("MUST NOT occur more than once"), an unknown part;
* ``INTERVAL`` that is not a positive integer (RFC: "positive integer"), or above ``MAX_INTERVAL``;
* ``COUNT`` below 1 or above ``MAX_COUNT``, ``COUNT`` and ``UNTIL`` together ("MUST NOT occur in the same
  rule"), ``UNTIL`` outside the years 2024..9000;
* BY* values out of their RFC ranges (BYMONTH 1..12, BYMONTHDAY +-1..31, BYYEARDAY +-1..366, BYWEEKNO
  +-1..53, BYSETPOS +-1..366); BYWEEKNO with a FREQ other than YEARLY;
* a rule with no occurrence in the first ``HORIZON_YEARS`` years from the anchor (2024-01-01): e.g. February
  30th (``BYMONTH=2;BYMONTHDAY=30``), ``UNTIL`` before the first occurrence - a window that never opens.

The checks cost at most a scan of one 400-year cycle of the rule's FREQ (well under a second for DAILY), and
are cached per rule text.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache

from dateutil.rrule import rrulestr

__all__ = ["ANCHOR", "HORIZON_YEARS", "MAX_COUNT", "MAX_INTERVAL", "check_rrule"]

ANCHOR = date(2024, 1, 1)   # fleet.planning.windows expands every rule from this date
HORIZON_YEARS = 5           # a rule must open at least once in [ANCHOR, ANCHOR + 5 years)
MAX_INTERVAL = 1000
MAX_COUNT = 100_000
_CYCLE_START = 9599         # 400 years before datetime's MAXYEAR: one full Gregorian cycle to scan

_PARTS = {"FREQ", "UNTIL", "COUNT", "INTERVAL", "BYSECOND", "BYMINUTE", "BYHOUR", "BYDAY", "BYMONTHDAY",
          "BYYEARDAY", "BYWEEKNO", "BYMONTH", "BYSETPOS", "WKST"}
_RANGES = {"BYMONTH": (1, 12, False), "BYMONTHDAY": (1, 31, True), "BYYEARDAY": (1, 366, True),
           "BYWEEKNO": (1, 53, True), "BYSETPOS": (1, 366, True)}
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_INT = re.compile(r"^[+-]?\d{1,6}$")


def _split(text: str) -> dict[str, str]:
    if any(c in text for c in "\r\n"):
        raise ValueError("write one RRULE on one line (EXRULE, RDATE and EXDATE are not supported)")
    parts: dict[str, str] = {}
    for item in text.split(";"):
        key, sep, value = item.partition("=")
        key = key.strip().upper()
        if not sep or not key:
            raise ValueError(f"invalid RRULE part {item!r}: expected NAME=VALUE")
        if key not in _PARTS:
            raise ValueError(f"unknown RRULE part {key}")
        if key in parts:
            raise ValueError(f"{key} is given more than once (RFC 5545: it MUST NOT occur more than once)")
        parts[key] = value.strip()
    if "FREQ" not in parts:
        raise ValueError("FREQ is required")
    return parts


def _ints(key: str, value: str) -> list[int]:
    out = []
    for v in value.split(","):
        if not _INT.match(v.strip()):
            raise ValueError(f"{key}={value}: expected integers")
        out.append(int(v))
    return out


def _check_ranges(parts: dict[str, str]) -> None:
    for key, (lo, hi, signed) in _RANGES.items():
        if key not in parts:
            continue
        for n in _ints(key, parts[key]):
            if not (lo <= abs(n) <= hi) or (n < 0 and not signed):
                allowed = f"+-{lo}..{hi}" if signed else f"{lo}..{hi}"
                raise ValueError(f"{key}={n} is out of range (RFC 5545: {allowed})")
    if "BYWEEKNO" in parts and parts["FREQ"].upper() != "YEARLY":
        raise ValueError("BYWEEKNO is only allowed with FREQ=YEARLY (RFC 5545)")


def _check_counts(parts: dict[str, str]) -> None:
    if "INTERVAL" in parts:
        v = parts["INTERVAL"]
        if not re.fullmatch(r"\d{1,6}", v) or not 1 <= int(v) <= MAX_INTERVAL:
            raise ValueError(f"INTERVAL={v}: must be a positive integer (RFC 5545), at most {MAX_INTERVAL}")
    if "COUNT" in parts:
        v = parts["COUNT"]
        if not re.fullmatch(r"\d{1,7}", v) or not 1 <= int(v) <= MAX_COUNT:
            raise ValueError(f"COUNT={v}: must be a positive integer, at most {MAX_COUNT}")
        if "UNTIL" in parts:
            raise ValueError("give COUNT or UNTIL, not both (RFC 5545)")


def _impossible_days(parts: dict[str, str]) -> bool:
    """BYMONTHDAY days that no BYMONTH month has (February 30th, April 31st): refused without scanning."""
    if "BYMONTHDAY" not in parts:
        return False
    months = _ints("BYMONTH", parts["BYMONTH"]) if "BYMONTH" in parts else list(range(1, 13))
    longest = max(_MONTH_DAYS[m - 1] for m in months)
    return all(abs(d) > longest for d in _ints("BYMONTHDAY", parts["BYMONTHDAY"]))


def _pattern_text(parts: dict[str, str]) -> str:
    """The rule with INTERVAL 1 and no COUNT/UNTIL: the dates its BY* parts allow at all."""
    return ";".join(f"{k}={v}" for k, v in parts.items() if k not in ("INTERVAL", "COUNT", "UNTIL"))


@lru_cache(maxsize=1024)
def check_rrule(text: str) -> str:
    """``text`` (one RRULE without the ``RRULE:`` prefix) when it is valid and opens within the horizon;
    ValueError naming what is wrong otherwise."""
    parts = _split(text)
    _check_counts(parts)
    _check_ranges(parts)
    try:
        rule = rrulestr(text, dtstart=datetime.combine(ANCHOR, datetime.min.time()))
    except (ValueError, TypeError, OverflowError) as exc:
        raise ValueError(f"invalid RRULE: {exc}") from None
    until = getattr(rule, "_until", None)
    if until is not None and not ANCHOR.year <= until.year <= 9000:
        raise ValueError(f"UNTIL must be between the years {ANCHOR.year} and 9000")
    never = "this rule has no occurrence at all: the window would never open"
    if _impossible_days(parts):
        raise ValueError(f"{never} (no month in BYMONTH has that BYMONTHDAY)")
    # does the BY* pattern allow any date? Scanning one whole 400-year cycle answers for every year, and
    # starting it 400 years before datetime's last year bounds the scan even when the answer is no
    pattern = rrulestr(_pattern_text(parts), dtstart=datetime(_CYCLE_START, 1, 1))
    if next(iter(pattern), None) is None:
        raise ValueError(never)
    first = next(iter(rule), None)
    if first is None or first.date() >= ANCHOR.replace(year=ANCHOR.year + HORIZON_YEARS):
        raise ValueError(f"this rule has no occurrence between {ANCHOR.isoformat()} and "
                         f"{ANCHOR.year + HORIZON_YEARS}-01-01: the window would never open")
    return text
