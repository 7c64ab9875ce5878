"""The rate-limit notation of the settings ("10 per minute;60 per hour") and its rules."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple


class Rule(NamedTuple):
    """One limit of a setting: at most ``amount`` hits per window of ``seconds``."""

    amount: int
    seconds: int


# The notation the ``limits`` library (and Flask-Limiter) reads: "10 per minute",
# "10/minute", "100 per 2 hours", several joined by ";", "," or "|".
_ONE_RULE = r"\s*([0-9]+)\s*(?:/|\s*per\s*)\s*([0-9]+)?\s*([a-z]+)\s*"
_RULE = re.compile(_ONE_RULE, re.IGNORECASE)
_RULES = re.compile(rf"^{_ONE_RULE}(?:[,;|]{_ONE_RULE})*$", re.IGNORECASE)
# As in ``limits``: a month is 30 days, a year 12 such months.
UNIT_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86_400,
    "month": 30 * 86_400,
    "year": 360 * 86_400,
}


@lru_cache(maxsize=64)
def parse_rules(value: str) -> tuple[Rule, ...]:
    """A setting such as "10 per minute;60 per hour" as rules, the smallest window first.

    Raises ValueError for anything else.
    """
    if not isinstance(value, str) or not _RULES.match(value):
        raise ValueError(f"not a rate limit: {value!r}")
    rules = set()
    for part in re.split("[,;|]", value):
        amount, multiple, unit = _RULE.match(part).groups()  # type: ignore[union-attr]
        unit = unit.lower()
        seconds = UNIT_SECONDS.get(unit) or UNIT_SECONDS.get(unit.removesuffix("s"))
        if seconds is None:
            raise ValueError(f"not a unit of time: {unit!r} in {value!r}")
        # "per 0 minutes" means per minute, as ``limits`` read it.
        rules.add(Rule(int(amount), seconds * (int(multiple or 1) or 1)))
    return tuple(sorted(rules, key=lambda rule: (rule.seconds, rule.amount)))
