"""Durations as people type them: '90s', '5m', '1h30m', '2h 15m'."""

import re

UNITS = {"h": 3600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+)\s*([a-z])")


def parse_duration(text: str) -> int:
    """'1h30m' -> 5400 seconds. Raises ValueError for anything that is not a duration."""
    cleaned = text.strip().lower()
    if not cleaned:
        raise ValueError("empty duration")
    total = 0
    for amount, unit in _PART.findall(cleaned):
        total += int(amount) * UNITS[unit]
    return total


def format_seconds(seconds: int) -> str:
    """5400 -> '1:30:00', 90 -> '1:30'."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
