"""argparse types that check a value before anything loads, so bad input is one line and exit 2."""

from __future__ import annotations

import argparse

from ornith_local.config.settings import MIN_N_CTX, endpoint_problem


def endpoint_url(value: str) -> str:
    """--endpoint: an http(s) URL; checked here rather than as a traceback from the HTTP client."""
    problem = endpoint_problem(value)
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return value


def context_size(value: str) -> int:
    """--n-ctx: checked here rather than by llama.cpp, whose own line would be all the user sees."""
    try:
        size = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of tokens, got {value!r}") from None
    if size < MIN_N_CTX:
        raise argparse.ArgumentTypeError(f"must be at least {MIN_N_CTX} tokens, got {size}")
    return size
