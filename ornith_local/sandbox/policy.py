"""What the rest of ornith sees of the sandbox: requests, results, limits and the Sandbox protocol."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ornith_local.sandbox.shell import ShellSession

# Variables a command may inherit from the agent's environment; everything else is dropped, so
# API keys and tokens in the user's shell never reach a model-written command.
ENV_ALLOW = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "TERM", "COLUMNS",
             "LINES", "NO_COLOR", "SOURCE_DATE_EPOCH")

# Tool installs people keep in their home directory; read-only inside the sandbox so that
# `cargo`, `pyenv` or `~/.local/bin` tools still work while the rest of $HOME stays hidden.
HOME_TOOLCHAINS = (".local/bin", ".local/lib", ".cargo", ".rustup", ".pyenv", ".nvm", ".volta", ".deno",
                   ".bun", "go/bin", "go/pkg/mod", ".juliaup", ".elan", ".ghcup", ".opam")


class SandboxError(RuntimeError):
    """The sandbox could not be set up as asked; worded as one line for the user."""


@dataclass(frozen=True)
class Limits:
    cpu_s: int = 900  # CPU seconds per process
    address_space_mib: int = 16384  # virtual memory per process (JITs reserve a lot of it)
    file_size_mib: int = 2048  # largest file a command may write
    processes: int = 512  # processes and threads inside the sandbox
    memory_mib: int = 8192  # all of a command's processes together (cgroup memory.max, where delegated)
    tmpfs_mib: int = 1024  # each private tmpfs (/tmp, /var/tmp, /dev/shm, hidden homes)
    output_bytes: int = 1_000_000  # kept per stream; the rest is counted and dropped


@dataclass(frozen=True)
class CommandResult:
    exit_code: int  # the command's code; 124 on timeout; -N when killed by signal N
    stdout: str
    stderr: str
    timed_out: bool
    truncated: bool  # output went over Limits.output_bytes
    duration_s: float
    tier: str
    killed_reason: str | None = None  # "timeout", "process limit", "interrupted"


@dataclass(frozen=True)
class RunRequest:
    """One command as a tier sees it, with everything already resolved."""

    argv: tuple[str, ...]
    workspace: Path
    env: Mapping[str, str]
    allow_network: bool
    allow_unix_sockets: bool
    limits: Limits
    home: Path  # the user's real home, hidden inside the sandbox
    interactive: bool = False  # a pty shell: keep the controlling terminal so Ctrl-C works
    # Extra host directories the command may read but never write (e.g. the project's .venv when the
    # workspace is a copy of the project elsewhere); checked by `check_read_only`.
    read_only: tuple[Path, ...] = ()
    # Host paths the command must not see at all, beyond what every tier hides (a benchmark's held-back tests).
    hide: tuple[Path, ...] = ()


class Sandbox(Protocol):
    tier: str
    unsandboxed: bool  # True for the fallback: every command needs the user's approval

    def run(
        self,
        command: str | Sequence[str],
        *,
        workspace: Path,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        allow_network: bool = False,
        stdin: str | None = None,
    ) -> CommandResult: ...

    def shell(
        self, *, workspace: Path, env: Mapping[str, str] | None = None, allow_network: bool = False
    ) -> ShellSession: ...


def as_argv(command: str | Sequence[str]) -> tuple[str, ...]:
    """A string is a shell command line; a sequence is an argv."""
    if isinstance(command, str):
        return ("/bin/sh", "-c", command)
    if not command:
        raise SandboxError("empty command")
    return tuple(command)


def sandbox_env(extra: Mapping[str, str] | None, home: str, tmpdir: str) -> dict[str, str]:
    """The command's whole environment: the allow-list, a private HOME and TMPDIR, then the caller's."""
    env = {name: os.environ[name] for name in ENV_ALLOW if name in os.environ}
    env.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    env.update({"HOME": home, "TMPDIR": tmpdir, "ORNITH_SANDBOX": "1"})
    env.update(extra or {})
    return env


def check_workspace(workspace: Path, home: Path) -> Path:
    """The workspace's real path; refuse `/`, the home directory itself and anything above it."""
    try:
        real = workspace.resolve(strict=True)
    except OSError:
        raise SandboxError(f"workspace {workspace} does not exist") from None
    if not real.is_dir():
        raise SandboxError(f"workspace {workspace} is not a directory")
    real_home = home.resolve()
    if real == Path(real.anchor) or real == real_home or real in real_home.parents:
        raise SandboxError(f"refusing {real} as a workspace: it contains your home directory; use a project folder")
    return real


def check_read_only(paths: Sequence[Path], home: Path) -> tuple[Path, ...]:
    """The real paths of existing directories to expose read-only; never `/`, the home directory or above it."""
    real_home = home.resolve()
    checked: list[Path] = []
    for path in paths:
        try:
            real = path.resolve(strict=True)
        except OSError:
            continue
        if not real.is_dir():
            continue
        if real == Path(real.anchor) or real == real_home or real in real_home.parents:
            raise SandboxError(f"refusing to expose {real} read-only: it contains your home directory")
        checked.append(real)
    return tuple(checked)


def home_toolchains(home: Path) -> list[Path]:
    return [home / name for name in HOME_TOOLCHAINS if (home / name).is_dir()]
