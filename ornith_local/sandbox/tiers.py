"""The tiers: each turns a RunRequest into the argv that starts the command inside its isolation."""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ornith_local.config import bundled_dir
from ornith_local.sandbox.cgroup import CommandCgroup, create_command_cgroup
from ornith_local.sandbox.network import PrivateNetwork, open_private_network, private_network_available
from ornith_local.sandbox.owner import SANDBOX_OWNER, reachable, workspace_idmap, workspace_owner
from ornith_local.sandbox.policy import Limits, RunRequest, SandboxError, home_toolchains, sandbox_env
from ornith_local.sandbox.protect import HIDDEN_DIRS, hidden_paths, protected_paths
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
    cgroup: CommandCgroup | None = None  # killed as a whole at the end, where the system gave us one

    def close_parent_fds(self) -> None:
        for fd in self.pass_fds:
            os.close(fd)
        self.pass_fds = ()

    def cleanup(self) -> None:
        self.close_parent_fds()
        if self.cgroup is not None:
            self.cgroup.remove()
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


_isolation: bool | None = None


def can_isolate() -> bool:
    """Whether the launcher can make its own mount and pid namespaces here (root, or user namespaces)."""
    global _isolation
    if _isolation is None:
        if platform.system() != "Linux":
            _isolation = False
        elif os.geteuid() == 0:
            _isolation = True
        else:
            probe = ("import ctypes, sys; libc = ctypes.CDLL(None, use_errno=True); "
                     "sys.exit(libc.unshare(0x10000000 | 0x00020000 | 0x20000000) != 0)")
            import subprocess

            _isolation = subprocess.run([sys.executable, "-I", "-S", "-c", probe], timeout=10).returncode == 0
    return _isolation


def _launcher_argv(spec: Mapping[str, object], argv: list[str] | tuple[str, ...]) -> list[str]:
    return [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(spec), "--", *argv]


def private_network() -> bool:
    """Whether a command allowed the network gets a network namespace of its own here (not the host's)."""
    return private_network_available() and can_isolate()


def _network(request: RunRequest, cleanups: list[Callable[[], None]]) -> PrivateNetwork | None:
    """The command's own network namespace when it may use the network and slirp4netns is here; None: no
    network at all (the tier's default), or the host's (no slirp4netns: `network_guarantee()` says so)."""
    if not request.allow_network or not private_network():
        return None
    network = open_private_network()
    cleanups.append(network.close)
    return network


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
        cleanups: list[Callable[[], None]] = []
        network = _network(request, cleanups)
        if request.allow_network:  # the launcher's network: the command's own (network is set) or the host's
            argv.append("--share-net")
        if not request.interactive:
            # A new session detaches from the agent's terminal. The shell keeps it so Ctrl-C works;
            # seccomp's TIOCSTI ban covers terminal injection there.
            argv.append("--new-session")
        size = str(request.limits.tmpfs_mib * 1024 * 1024)  # each tmpfs, so none can take half the RAM
        argv += ["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--size", size, "--tmpfs", "/tmp",
                 "--size", size, "--tmpfs", "/var/tmp"]
        # Other homes, root's, /run/user and /etc's root-only files: as root the command would pass
        # their permission checks, so they are covered rather than trusted to mode bits.
        for hidden in [*hidden_paths(request.home), *(path for path in request.hide if path.exists())]:
            if hidden.is_dir():
                argv += ["--size", size, "--tmpfs", str(hidden)]
            else:
                argv += ["--ro-bind", "/dev/null", str(hidden)]
        owner = workspace_owner(request.workspace)
        mine = owner in (None, SANDBOX_OWNER)  # root's own project: the launcher reveals what it needs
        if home != "/" and request.home.is_dir() and mine:  # root's tools are not another owner's to use
            for tool in home_toolchains(request.home):
                argv += ["--ro-bind", str(tool), str(tool)]
        # After the tmpfs mounts, so they show through them. ornith's own interpreter is always readable
        # (as in the Landlock tier): run_tests falls back to it, and it may live under /tmp or $HOME.
        for path in dict.fromkeys([*map(str, request.read_only), sys.prefix, sys.base_prefix]):
            # bwrap, as another owner, could not bind the rest
            if owner is None or owner == SANDBOX_OWNER or reachable(Path(path), *owner):
                argv += ["--ro-bind", path, path]
        if network is not None and network.resolv_conf is not None:
            argv += ["--ro-bind", network.resolv_conf, os.path.realpath("/etc/resolv.conf")]
        argv += ["--bind", ws, ws]
        for protected in protected_paths(request.workspace):  # every git dir and .ornith.toml, found now
            argv += ["--ro-bind", str(protected), str(protected)]
        argv += ["--chdir", ws]
        program = build_filter(FilterOptions(request.allow_network, request.allow_unix_sockets))
        read_end, write_end = os.pipe()
        os.write(write_end, program)
        os.close(write_end)
        argv += ["--seccomp", str(read_end), "--", *self._limit_prefix(request.limits), *request.argv]
        env = sandbox_env(request.env, home, "/tmp")
        cgroup = create_command_cgroup(request.limits.memory_mib, request.limits.processes)
        if cgroup is not None and not cgroup.limits:
            # bwrap's pid namespace already ends every process with the command: a cgroup without limits adds
            # nothing here but a Python launcher's start-up (~0.1 s) to every command.
            cgroup.remove()
            cgroup = None
        if cgroup is not None or owner is not None or network is not None:
            # The launcher joins the network and the cgroup (and drops to the workspace owner) before bwrap starts.
            spec: dict[str, object] = {"rlimits": {}, "cgroup": str(cgroup.path) if cgroup else None, "uid": owner,
                                       "netns": network.spec() if network else None,
                                       "idmap": workspace_idmap(request, owner)}
            argv = _launcher_argv(spec, argv)
        return Launch(argv, env, pass_fds=(read_end,), members=pidns_members, cgroup=cgroup, cleanups=cleanups)

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
        hidden = [Path(path) for path in (*_HIDDEN, *HIDDEN_DIRS)] + hidden_paths(request.home) + list(request.hide)
        hidden += [Path(path).resolve() for path in _HIDDEN if Path(path).exists()]
        landlock = {
            "read": [*_readable_roots(hidden), *map(str, home_toolchains(request.home)), sys.prefix,
                     sys.base_prefix, *map(str, request.read_only)],
            "write": [str(request.workspace), str(private)],
            "device": ["/dev"],
            "network": request.allow_network,
        }
        program = build_filter(FilterOptions(request.allow_network, request.allow_unix_sockets, deny_setsid=True))
        owner = workspace_owner(request.workspace)
        if owner is not None:  # the command's HOME and TMPDIR must be its own
            for path in (private, private / "home", private / "tmp"):
                os.chown(path, *owner)
        cgroup = create_command_cgroup(request.limits.memory_mib, request.limits.processes)
        # Landlock only adds rights, so a read-only .git inside the writable workspace needs a mount
        # namespace (made by the launcher before Landlock), found afresh for each command.
        network = _network(request, cleanups)
        isolate = {"read_only": [str(path) for path in protected_paths(request.workspace)], "private_dev": True,
                   "tmpfs_bytes": request.limits.tmpfs_mib * 1024 * 1024,
                   "binds": [[network.resolv_conf, os.path.realpath("/etc/resolv.conf")]]
                   if network is not None and network.resolv_conf else []} if can_isolate() else None
        spec = {"rlimits": _rlimits(request.limits), "processes": request.limits.processes,
                "cgroup": str(cgroup.path) if cgroup else None, "isolate": isolate, "drop_caps": True,
                "uid": owner, "idmap": workspace_idmap(request, owner), "landlock": landlock,
                "seccomp": program.hex(),
                "netns": network.spec() if network else None}
        argv = _launcher_argv(spec, request.argv)
        env = sandbox_env(request.env, str(private / "home"), str(private / "tmp"))
        return Launch(argv, env, members=session_members, cleanups=cleanups, cgroup=cgroup)


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
        cgroup = create_command_cgroup(request.limits.memory_mib, request.limits.processes)
        spec = {"rlimits": _rlimits(request.limits), "processes": request.limits.processes,
                "cgroup": str(cgroup.path) if cgroup else None, "drop_caps": platform.system() == "Linux"}
        return Launch(_launcher_argv(spec, request.argv), env, members=session_members, cleanups=cleanups,
                      cgroup=cgroup)


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
