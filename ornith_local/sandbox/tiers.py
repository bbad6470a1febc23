"""The tiers: each turns a RunRequest into the argv that starts the command inside its isolation."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ornith_local.config import bundled_dir
from ornith_local.sandbox.policy import Limits, RunRequest, SandboxError, home_toolchains, sandbox_env
from ornith_local.sandbox.seccomp import FilterOptions, build_filter

LAUNCHER = Path(__file__).with_name("launcher.py")
MACOS_PROFILE = "macos.sb"
# Never readable in the Landlock tier (in bwrap these are fresh tmpfs mounts instead).
_HIDDEN = ("/tmp", "/var/tmp", "/dev/shm", "/run/user", "/home", "/root", "/dev", "/proc")


@dataclass
class Launch:
    argv: list[str]
    env: dict[str, str]
    pass_fds: tuple[int, ...] = ()
    members: Callable[[int], list[int]] = field(default=lambda pid: [])  # pids to kill, given the root pid
    cleanups: list[Callable[[], None]] = field(default_factory=list)

    def close_parent_fds(self) -> None:
        for fd in self.pass_fds:
            os.close(fd)
        self.pass_fds = ()

    def cleanup(self) -> None:
        self.close_parent_fds()
        for step in self.cleanups:
            step()


class Tier(Protocol):
    name: str
    unsandboxed: bool

    def prepare(self, request: RunRequest) -> Launch: ...


def _rlimits(limits: Limits) -> dict[str, int]:
    mib = 1024 * 1024
    return {"RLIMIT_CPU": limits.cpu_s, "RLIMIT_AS": limits.address_space_mib * mib,
            "RLIMIT_FSIZE": limits.file_size_mib * mib}


def _private_dir(launch_cleanups: list[Callable[[], None]]) -> Path:
    """A per-command HOME and TMPDIR for the tiers that cannot mount a tmpfs."""
    path = Path(tempfile.mkdtemp(prefix="ornith-sandbox-"))
    (path / "home").mkdir()
    (path / "tmp").mkdir()
    launch_cleanups.append(lambda: shutil.rmtree(path, ignore_errors=True))
    return path


def session_members(sid: int) -> list[int]:
    """Every process in session `sid` (the Landlock tier forbids setsid, so nothing leaves it)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 3 and int(fields[3]) == sid:
            found.append(int(name))
    return found


def pidns_members(root_pid: int) -> list[int]:
    """Every process in the pid namespace of bwrap's child (bwrap itself sits outside it)."""
    try:
        children = Path(f"/proc/{root_pid}/task/{root_pid}/children").read_text().split()
        namespace = os.readlink(f"/proc/{children[0]}/ns/pid")
        own = os.readlink("/proc/self/ns/pid")
    except (OSError, IndexError):
        return []
    if namespace == own:
        return []
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.readlink(f"/proc/{name}/ns/pid") == namespace:
                    found.append(int(name))
            except OSError:
                continue
    return found


class BwrapTier:
    name = "bwrap"
    unsandboxed = False

    def __init__(self, bwrap: str, prlimit: str) -> None:
        self.bwrap = bwrap
        self.prlimit = prlimit

    def prepare(self, request: RunRequest) -> Launch:
        ws = str(request.workspace)
        home = str(request.home)
        argv = [self.bwrap, "--unshare-all", "--die-with-parent", "--cap-drop", "ALL"]
        if request.allow_network:
            argv.append("--share-net")
        if not request.interactive:
            # A new session detaches from the agent's terminal. The shell keeps it so Ctrl-C works;
            # seccomp's TIOCSTI ban covers terminal injection there.
            argv.append("--new-session")
        argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp", "--tmpfs", "/var/tmp"]
        if home != "/" and request.home.is_dir():
            argv += ["--tmpfs", home]
            for tool in home_toolchains(request.home):
                argv += ["--ro-bind", str(tool), str(tool)]
        # After the tmpfs mounts, so they show through them. ornith's own interpreter is always readable
        # (as in the Landlock tier): run_tests falls back to it, and it may live under /tmp or $HOME.
        for path in dict.fromkeys([*map(str, request.read_only), sys.prefix, sys.base_prefix]):
            argv += ["--ro-bind", path, path]
        argv += ["--bind", ws, ws]
        git_dir = request.workspace / ".git"
        if git_dir.exists():
            argv += ["--ro-bind", str(git_dir), str(git_dir)]
        argv += ["--chdir", ws]
        program = build_filter(FilterOptions(request.allow_network, request.allow_unix_sockets))
        read_end, write_end = os.pipe()
        os.write(write_end, program)
        os.close(write_end)
        argv += ["--seccomp", str(read_end), "--", *self._limit_prefix(request.limits), *request.argv]
        env = sandbox_env(request.env, home, "/tmp")
        return Launch(argv, env, pass_fds=(read_end,), members=pidns_members)

    def _limit_prefix(self, limits: Limits) -> list[str]:
        rlimits = _rlimits(limits)
        prefix = [self.prlimit, f"--cpu={rlimits['RLIMIT_CPU']}", f"--as={rlimits['RLIMIT_AS']}",
                  f"--fsize={rlimits['RLIMIT_FSIZE']}"]
        if os.getuid() != 0:  # inside the user namespace the count starts at zero
            prefix.append(f"--nproc={limits.processes}")
        return [*prefix, "--"]


def _readable_roots(hidden: list[Path]) -> list[str]:
    """Paths to grant read access to: all of `/` except the hidden subtrees (Landlock only adds)."""
    granted: list[str] = []

    def walk(directory: Path) -> None:
        try:
            entries = sorted(directory.iterdir())
        except OSError:
            return
        for entry in entries:
            if entry in hidden:
                continue
            if any(entry in path.parents for path in hidden):
                walk(entry)
            else:
                granted.append(str(entry))

    walk(Path("/"))
    return granted


class LandlockTier:
    name = "landlock"
    unsandboxed = False

    def prepare(self, request: RunRequest) -> Launch:
        cleanups: list[Callable[[], None]] = []
        private = _private_dir(cleanups)
        hidden = [Path(path) for path in _HIDDEN] + [request.home]
        hidden += [Path(path).resolve() for path in _HIDDEN if Path(path).exists()]
        landlock = {
            "read": [*_readable_roots(hidden), *map(str, home_toolchains(request.home)), sys.prefix,
                     sys.base_prefix, *map(str, request.read_only)],
            "write": [str(request.workspace), str(private)],
            "device": ["/dev"],
            "network": request.allow_network,
        }
        program = build_filter(FilterOptions(request.allow_network, request.allow_unix_sockets, deny_setsid=True))
        spec = {"rlimits": _rlimits(request.limits), "processes": request.limits.processes,
                "landlock": landlock, "seccomp": program.hex()}
        argv = [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(spec), "--", *request.argv]
        env = sandbox_env(request.env, str(private / "home"), str(private / "tmp"))
        return Launch(argv, env, members=session_members, cleanups=cleanups)


class FallbackTier:
    """No isolation: rlimits, a scrubbed environment, timeouts. Labelled unsandboxed."""

    name = "fallback"
    unsandboxed = True

    def prepare(self, request: RunRequest) -> Launch:
        cleanups: list[Callable[[], None]] = []
        private = _private_dir(cleanups)
        env = sandbox_env(request.env, str(private / "home"), str(private / "tmp"))
        if os.name != "posix":
            return Launch(list(request.argv), env, cleanups=cleanups)
        spec = {"rlimits": _rlimits(request.limits), "processes": request.limits.processes}
        argv = [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(spec), "--", *request.argv]
        return Launch(argv, env, members=session_members, cleanups=cleanups)


class MacosTier:
    """`sandbox-exec` with the deny-by-default profile from the top-level `sandbox/` folder."""

    name = "macos"
    unsandboxed = False

    def __init__(self, tool: str = "/usr/bin/sandbox-exec") -> None:
        self.tool = tool

    def prepare(self, request: RunRequest) -> Launch:
        cleanups: list[Callable[[], None]] = []
        private = _private_dir(cleanups)
        profile = (bundled_dir("sandbox") / MACOS_PROFILE).read_text()
        if request.allow_network:
            profile += "\n(allow network*)\n"
        params = {"WORKSPACE": request.workspace, "GIT_DIR": request.workspace / ".git", "HOME": request.home,
                  "PRIVATE": private.resolve()}
        argv = [self.tool, "-p", profile]
        for key, value in params.items():
            argv += ["-D", f"{key}={value}"]
        spec = {"rlimits": _rlimits(request.limits), "processes": request.limits.processes}
        argv += [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(spec), "--", *request.argv]
        env = sandbox_env(request.env, str(private / "home"), str(private / "tmp"))
        return Launch(argv, env, cleanups=cleanups)


def make_tier(name: str) -> Tier:
    """The named tier's runner (whether it works here is the probe's question)."""
    if name == "bwrap":
        bwrap, prlimit = shutil.which("bwrap"), shutil.which("prlimit")
        if bwrap is None or prlimit is None:
            raise SandboxError("the bwrap tier needs bubblewrap and prlimit (util-linux) installed")
        return BwrapTier(bwrap, prlimit)
    if name == "landlock":
        if platform.system() != "Linux":
            raise SandboxError("the landlock tier needs Linux")
        return LandlockTier()
    if name == "macos":
        return MacosTier()
    if name == "fallback":
        return FallbackTier()
    raise SandboxError(f"unknown sandbox tier '{name}' (known: bwrap, landlock, macos, fallback)")
