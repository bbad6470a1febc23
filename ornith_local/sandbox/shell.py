"""A persistent interactive shell inside the sandbox (pexpect), for multi-command steps.

Each command is sent as one compound line followed by a printf of a per-session marker and `$?`,
so the output ends where the marker appears. The shell is interactive with job control, so Ctrl-C
(`interrupt()`) reaches the running command's process group and the shell itself survives.
"""

from __future__ import annotations

import os
import re
import tempfile
import time
import uuid
from pathlib import Path

import pexpect

from ornith_local.sandbox.policy import CommandResult, RunRequest, SandboxError
from ornith_local.sandbox.tiers import Launch, Tier

SHELL_ARGV = ("/bin/bash", "--noprofile", "--norc", "--noediting", "-i")
_STARTUP_TIMEOUT_S = 15.0


class ShellSession:
    def __init__(self, tier: Tier, request: RunRequest, *, default_timeout_s: float) -> None:
        self.tier = tier.name
        self.default_timeout_s = default_timeout_s
        self.output_cap = request.limits.output_bytes
        self._token = uuid.uuid4().hex[:12]
        self._marker = re.compile(rb"__ORNITH_" + self._token.encode() + rb":(-?\d+)\r?\n")
        self._launch: Launch = tier.prepare(request)
        argv = self._launch.argv
        if self._launch.pass_fds:
            # pexpect cannot pass extra fds: let a shell open the one bwrap reads (its seccomp filter).
            argv = self._reopen_fds(argv)
        try:
            self._child = pexpect.spawn(argv[0], argv[1:], cwd=str(request.workspace), env=self._launch.env,
                                        echo=False, timeout=None, dimensions=(50, 200))
        except (pexpect.ExceptionPexpect, OSError) as error:
            self._launch.cleanup()
            raise SandboxError(f"could not start the sandbox shell: {error}") from None
        self._launch.close_parent_fds()
        self._child.delaybeforesend = None  # pexpect's default 50 ms pause per send is for slow terminals
        self._send_raw("stty -echo; PS1=; PS2=; unset PROMPT_COMMAND; set +o history; "
                       f"printf '%s%s:0\\n' __ORNITH_ {self._token}\n")
        if self._read_until_marker(time.monotonic() + _STARTUP_TIMEOUT_S) is None:
            detail = self._child.before or b""
            self.close()
            raise SandboxError(f"the sandbox shell did not start: {detail.decode(errors='replace')[-300:]}")

    def _reopen_fds(self, argv: list[str]) -> list[str]:
        fd = self._launch.pass_fds[0]
        data = os.read(fd, 1 << 20)  # the seccomp program: a few hundred bytes, already complete
        handle, path = tempfile.mkstemp(prefix="ornith-seccomp-")
        os.write(handle, data)
        os.close(handle)
        self._launch.cleanups.append(lambda: Path(path).unlink(missing_ok=True))
        index = argv.index(str(fd))
        argv = [*argv[:index], "9", *argv[index + 1 :]]
        return ["/bin/sh", "-c", 'exec "$@" 9<"$0"', path, *argv]

    @property
    def alive(self) -> bool:
        return bool(self._child.isalive())

    def run(self, command: str, *, timeout_s: float | None = None) -> CommandResult:
        """Run one command line; on timeout Ctrl-C is sent and the result says timed_out."""
        if not self.alive:
            raise SandboxError("the sandbox shell has exited; open a new one")
        start = time.monotonic()
        deadline = start + (timeout_s or self.default_timeout_s)
        self._send_raw(f"{{ {command}\n}}; {self._marker_command()}\n")
        found = self._read_until_marker(deadline)
        timed_out = found is None
        if found is None:
            # Ctrl-C kills the job and makes bash drop the rest of the line, marker included: ask again.
            self.interrupt()
            self._send_raw(f"{self._marker_command()}\n")
            found = self._read_until_marker(time.monotonic() + 2.0)
            if found is None:
                self.close()
        output, code, dropped = found if found is not None else (b"", 124, 0)
        text = output.decode("utf-8", errors="replace").replace("\r\n", "\n")
        if text.endswith("\n"):
            text = text[:-1]  # the newline printed before the marker
        return CommandResult(
            exit_code=124 if timed_out else code, stdout=text, stderr="", timed_out=timed_out,
            truncated=dropped > 0, duration_s=time.monotonic() - start, tier=self.tier,
            killed_reason="timeout" if timed_out else None,
        )

    def attach(self) -> None:
        """Hand the terminal to the user (`ornith sandbox shell`) until the shell exits."""
        self._send_raw("stty echo; PS1='(ornith sandbox) \\w\\$ '\n")
        self._child.interact()

    def _marker_command(self) -> str:
        return f"printf '\\n%s%s:%d\\n' __ORNITH_ {self._token} $?"

    def interrupt(self) -> None:
        """Ctrl-C: the terminal sends SIGINT to the foreground job, not to the shell or the sandbox."""
        self._child.sendintr()

    def close(self) -> None:
        if self._child.isalive():
            self._child.close(force=True)
        self._launch.cleanup()
        self._launch.cleanups = []  # close() may run twice (timeout, then the with-block)

    def __enter__(self) -> ShellSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send_raw(self, text: str) -> None:
        self._child.send(text)

    def _read_until_marker(self, deadline: float) -> tuple[bytes, int, int] | None:
        """Output up to the marker (capped), the exit code, and how many bytes were dropped."""
        kept = bytearray()
        window = b""  # the unconsumed tail, where a marker may be arriving
        dropped = 0
        while True:
            match = self._marker.search(window)
            if match:
                head = window[: match.start()]
                room = self.output_cap - len(kept)
                kept += head[: max(room, 0)]
                dropped += max(0, len(head) - max(room, 0))
                return bytes(kept), int(match.group(1)), dropped
            # Keep enough of the tail to match a marker split across reads.
            keep = 80
            if len(window) > keep:
                head, window = window[:-keep], window[-keep:]
                room = self.output_cap - len(kept)
                kept += head[: max(room, 0)]
                dropped += max(0, len(head) - max(room, 0))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                window += self._child.read_nonblocking(65536, timeout=min(remaining, 0.5))
            except pexpect.TIMEOUT:
                continue
            except pexpect.EOF:
                return None
