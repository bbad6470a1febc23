"""`timer 5m`: counts down, then rings."""

import sys
import time
from collections.abc import Callable

from timer.durations import format_seconds, parse_duration


def main(argv: list[str], sleep: Callable[[float], None] = time.sleep) -> int:
    if len(argv) != 1:
        print("usage: timer DURATION   (e.g. 90s, 5m, 1h30m)", file=sys.stderr)
        return 2
    try:
        seconds = parse_duration(argv[0])
    except ValueError as error:
        print(f"timer: invalid duration {argv[0]!r}: {error}", file=sys.stderr)
        return 2
    print(f"timer set for {format_seconds(seconds)}")
    sleep(seconds)
    print("\a time is up")
    return 0


def entry() -> None:
    raise SystemExit(main(sys.argv[1:]))
