"""A checker that runs the project's own code (ESLint, the TypeScript compiler) runs in the run's sandbox, one
process per check, with the file's text on stdin: this is that run, with the budget and the failures every such
checker treats alike."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from pathlib import Path

from ornith_local.sandbox import Sandbox, SandboxError
from ornith_local.tools.diagnostics.base import DiagnosticsTimeout, SourceUnavailable


def check_in_sandbox(sandbox: Sandbox, root: Path, path: Path, text: str, deadline: float, *,
                     argv: Callable[[str], list[str]], ok_codes: Collection[int], min_run_s: float) -> str | None:
    """The checker's stdout for `text` as the file at `path` (`argv` gets its path relative to `root`); None for
    a file outside the workspace. DiagnosticsTimeout past the deadline (or too close to it to start);
    SourceUnavailable when the checker cannot run or fails (an exit status outside `ok_codes`)."""
    left = deadline - time.monotonic()
    if left < min_run_s:
        raise DiagnosticsTimeout
    try:
        rel = path.resolve().relative_to(root).as_posix()
    except ValueError:
        return None  # outside the workspace: not this project's file
    try:
        result = sandbox.run(argv(rel), workspace=root, timeout_s=left, stdin=text)
    except SandboxError as error:
        raise SourceUnavailable(str(error)) from None
    if result.timed_out:
        raise DiagnosticsTimeout
    if result.exit_code not in ok_codes:  # a broken install or config: it will not get better this run
        raise SourceUnavailable((result.stderr or result.stdout).strip()[-300:])
    return result.stdout
