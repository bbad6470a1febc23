"""Start a prepared command, collect capped output, enforce the wall clock, and kill the whole tree."""

from __future__ import annotations

import contextlib
import os
import selectors
import signal
import subprocess
import threading
import time

from ornith_local.sandbox.policy import CommandResult, RunRequest, SandboxError
from ornith_local.sandbox.tiers import Launch, Tier

_WATCH_INTERVAL_S = 0.1
TIMEOUT_EXIT_CODE = 124


class _Capture:
    """One output stream: keep the first `cap` bytes, count the rest."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.chunks: list[bytes] = []
        self.kept = 0
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.cap - self.kept
        if room > 0:
            self.chunks.append(data[:room])
            self.kept += min(room, len(data))
        self.dropped += max(0, len(data) - max(room, 0))

    def text(self) -> str:
        return b"".join(self.chunks).decode("utf-8", errors="replace")


def kill_tree(pid: int, launch: Launch) -> None:
    """SIGKILL the process group and every process the tier says belongs to the command."""
    if launch.cgroup is not None:
        launch.cgroup.kill()  # everything the command started, wherever it moved in the process tree
    with contextlib.suppress(OSError):
        os.killpg(pid, signal.SIGKILL)
    for member in launch.members(pid):
        with contextlib.suppress(OSError):
            os.kill(member, signal.SIGKILL)


def execute(tier: Tier, request: RunRequest, *, timeout_s: float, stdin: str | None) -> CommandResult:
    launch = tier.prepare(request)
    start = time.monotonic()
    try:
        try:
            process = subprocess.Popen(
                launch.argv, cwd=request.workspace, env=launch.env, pass_fds=launch.pass_fds,
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
            )
        except OSError as error:
            raise SandboxError(f"could not start {launch.argv[0]}: {error.strerror}") from None
        finally:
            launch.close_parent_fds()
        try:
            result = _supervise(process, launch, request, start + timeout_s, stdin)
        finally:
            kill_tree(process.pid, launch)
            process.wait()
        out, err, reason = result
        code = process.returncode
        if reason == "timeout":
            code = TIMEOUT_EXIT_CODE
        return CommandResult(
            exit_code=code, stdout=out.text(), stderr=err.text(), timed_out=reason == "timeout",
            truncated=bool(out.dropped or err.dropped), duration_s=time.monotonic() - start,
            tier=tier.name, killed_reason=reason,
        )
    finally:
        launch.cleanup()


def _feed(process: subprocess.Popen[bytes], data: str) -> None:
    assert process.stdin is not None
    with contextlib.suppress(OSError):
        process.stdin.write(data.encode())
    with contextlib.suppress(OSError):
        process.stdin.close()


def _supervise(
    process: subprocess.Popen[bytes], launch: Launch, request: RunRequest, deadline: float, stdin: str | None
) -> tuple[_Capture, _Capture, str | None]:
    """Read both pipes until the command is done; a reason string when we had to kill it."""
    assert process.stdout is not None and process.stderr is not None
    if stdin is not None:
        threading.Thread(target=_feed, args=(process, stdin), daemon=True).start()
    out, err = _Capture(request.limits.output_bytes), _Capture(request.limits.output_bytes)
    # RLIMIT_NPROC does not bind root, so for root we count the command's processes ourselves.
    watch = os.geteuid() == 0 if hasattr(os, "geteuid") else False
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ, out)
        selector.register(process.stderr, selectors.EVENT_READ, err)
        while selector.get_map():
            now = time.monotonic()
            if now >= deadline:
                return out, err, "timeout"
            for key, _ in selector.select(min(deadline - now, _WATCH_INTERVAL_S)):
                data = os.read(key.fd, 65536)
                if data:
                    key.data.add(data)
                else:
                    selector.unregister(key.fileobj)
            if process.poll() is not None:
                # The command is done; a leftover child holding the pipes open is killed, then drained.
                kill_tree(process.pid, launch)
                _drain(selector)
                break
            if watch and len(launch.members(process.pid)) > request.limits.processes:
                return out, err, "process limit"
    remaining = max(deadline - time.monotonic(), 0.0)
    try:
        process.wait(remaining)
    except subprocess.TimeoutExpired:
        return out, err, "timeout"
    return out, err, None


def _drain(selector: selectors.BaseSelector) -> None:
    end = time.monotonic() + 1.0
    while selector.get_map() and time.monotonic() < end:
        for key, _ in selector.select(0.05):
            data = os.read(key.fd, 65536)
            if data:
                key.data.add(data)
            else:
                selector.unregister(key.fileobj)
