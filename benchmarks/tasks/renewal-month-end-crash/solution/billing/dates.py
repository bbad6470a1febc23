"""Calendar arithmetic for monthly billing."""

import calendar
from datetime import date


def add_months(day: date, months: int) -> date:
    """The same day of the month `months` later. When that month is shorter, its last day:
    Jan 31 + 1 month is Feb 29 in a leap year, Feb 28 otherwise."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))
