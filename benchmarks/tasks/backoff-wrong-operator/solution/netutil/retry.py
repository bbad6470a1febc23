"""Retry a flaky call with exponential backoff."""

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def backoff_delays(retries: int, base: float = 0.5, cap: float = 30.0) -> list[float]:
    """The waits before each retry: base, 2*base, 4*base, ... (doubling), never more than cap."""
    return [min(cap, base * 2 ** attempt) for attempt in range(retries)]


def retry(call: Callable[[], T], retries: int = 3, base: float = 0.5,
          sleep: Callable[[float], None] = time.sleep) -> T:
    """Call `call`; on an exception wait and try again, up to `retries` more times."""
    for delay in backoff_delays(retries, base):
        try:
            return call()
        except Exception:
            sleep(delay)
    return call()
