"""Route llama.cpp's own log lines into Python logging (llama.cpp prints to stderr even with verbose=False).

The last error lines are also kept, so a failed load can say *why* in one line (e.g. "unknown model
architecture: 'foo'") instead of llama-cpp-python's bare "Failed to load model from file".
"""

from __future__ import annotations

import ctypes
import logging
from collections import deque
from typing import Any

logger = logging.getLogger("ornith.llama_cpp")

# ggml_log_level in this llama.cpp: 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 continuation of the previous
# line (llama-cpp-python's own _logger still uses the older numbering, which is why it misreports levels).
_LEVELS = {0: logging.DEBUG, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}
_recent_errors: deque[str] = deque(maxlen=8)
_state: dict[str, Any] = {"callback": None, "last_level": logging.DEBUG}


def _handle(level: int, text: bytes | None, _user_data: Any) -> None:
    message = (text or b"").decode("utf-8", "replace").rstrip()
    python_level = _state["last_level"] if level == 5 else _LEVELS.get(level, logging.DEBUG)
    _state["last_level"] = python_level
    if not message:
        return
    if python_level >= logging.WARNING:
        _recent_errors.append(message)
    logger.log(python_level, "%s", message)


def install() -> None:
    """Install the callback once per process; idempotent. Keeps a reference so ctypes never frees it."""
    if _state["callback"] is not None:
        return
    import llama_cpp

    callback = llama_cpp.llama_log_callback(_handle)
    llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))
    _state["callback"] = callback


def recent_errors() -> list[str]:
    """Warnings and errors llama.cpp logged lately, oldest first."""
    return list(_recent_errors)


def clear_recent() -> None:
    _recent_errors.clear()
