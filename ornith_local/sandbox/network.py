"""`--allow-network` without the host's loopback: a network namespace of the command's own, wired to the
outside by slirp4netns.

Sharing the host's network (bwrap `--share-net`, Landlock without net rules) also shares its loopback: a
command could talk to every service the user runs on 127.0.0.1 (a database, a dev server, an LLM server,
a cloud CLI's token helper). Here each command gets a fresh namespace held open by a small process; the
launcher joins it before anything else, and slirp4netns gives it outbound TCP/UDP through a user-mode
stack with `--disable-host-loopback`, so 127.0.0.1 inside is the namespace's own and the host's loopback
is unreachable (10.0.2.2, slirp's usual alias for it, is switched off). Without slirp4netns the tiers fall
back to the host's network and say so (`ornith doctor`, the run header).
"""

from __future__ import annotations

import contextlib
import os
import platform
import select
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from ornith_local.sandbox.policy import SandboxError

_READY_TIMEOUT_S = 10.0
SLIRP_DNS = "10.0.2.3"  # slirp4netns's built-in resolver, which forwards to the host's

# The holder: `isolate.py --hold-network` (standard library only, like the launcher that joins what it holds).
_HOLDER = Path(__file__).with_name("isolate.py")


def private_network_available() -> bool:
    """Whether `--allow-network` can keep the host's loopback out here (Linux with slirp4netns)."""
    # slirp4netns opens /dev/net/tun in the namespace as this user: most distributions make it 0666, some
    # containers and VMs 0600 (root only).
    return (platform.system() == "Linux" and shutil.which("slirp4netns") is not None
            and os.access("/dev/net/tun", os.R_OK | os.W_OK))


def network_guarantee(private: bool) -> str:
    """How `--allow-network` behaves (`private`: a namespace of its own works here), in one phrase for
    `ornith doctor` and the probe."""
    if private:
        return ("--allow-network gives outbound access through slirp4netns in a network namespace of the "
                "command's own: the host's loopback services stay unreachable")
    return ("--allow-network shares the host's network, loopback services included (install slirp4netns to "
            "keep them out)")


def _loopback_resolver() -> bool:
    """Whether the host resolves names through a loopback address (systemd-resolved's 127.0.0.53, dnsmasq):
    unreachable from the private namespace, so the command gets slirp's resolver instead."""
    try:
        text = Path("/etc/resolv.conf").read_text(errors="replace")
    except OSError:
        return False
    servers = [line.split()[1] for line in text.splitlines() if line.split()[:1] == ["nameserver"]
               and len(line.split()) > 1]
    return any(server.startswith("127.") or server == "::1" for server in servers)


@dataclass
class PrivateNetwork:
    """A held network namespace with slirp4netns attached; `close()` ends both."""

    holder: subprocess.Popen[bytes]
    slirp: subprocess.Popen[bytes]
    exit_write: int  # slirp4netns exits when this closes (ornith dying closes it too)
    resolv_conf: str | None = None  # a resolv.conf naming slirp's resolver, bound over the host's when needed
    _closed: bool = field(default=False, repr=False)

    @property
    def netns(self) -> str:
        return f"/proc/{self.holder.pid}/ns/net"

    @property
    def userns(self) -> str | None:
        """The holder's user namespace, which the launcher joins first when not root."""
        return f"/proc/{self.holder.pid}/ns/user" if os.geteuid() != 0 else None

    def spec(self) -> dict[str, str | None]:
        return {"net": self.netns, "user": self.userns}

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(OSError):
            os.close(self.exit_write)
        for process in (self.slirp, self.holder):
            with contextlib.suppress(OSError):
                if process.stdin is not None:
                    process.stdin.close()
            with contextlib.suppress(OSError):
                process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
        if self.resolv_conf is not None:
            Path(self.resolv_conf).unlink(missing_ok=True)


def open_private_network() -> PrivateNetwork:
    """Hold a fresh network namespace and attach slirp4netns to it; a SandboxError with one line when either
    does not start (the command is then not run, rather than run on the host's network)."""
    slirp = shutil.which("slirp4netns")
    if slirp is None:
        raise SandboxError("slirp4netns is not installed")
    holder = subprocess.Popen([sys.executable, "-I", "-S", str(_HOLDER), "--hold-network"], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert holder.stdout is not None
    if not _readable(holder.stdout.fileno(), _READY_TIMEOUT_S) or holder.stdout.readline().strip() != b"ready":
        holder.kill()
        detail = (holder.communicate()[1] or b"").decode(errors="replace").strip()
        raise SandboxError(f"could not make a network namespace for the command: {detail or 'no answer'}")
    argv = [slirp, "--configure", "--mtu=65520", "--disable-host-loopback"]
    if os.geteuid() != 0:
        argv.append(f"--userns-path=/proc/{holder.pid}/ns/user")
    with tempfile.TemporaryFile(prefix="ornith-slirp-") as log:  # a pipe nobody reads would stall it once full
        network = _attach_slirp(argv, holder, log)
    if _loopback_resolver():
        handle, path = tempfile.mkstemp(prefix="ornith-resolv-")
        os.write(handle, f"nameserver {SLIRP_DNS}\n".encode())
        os.close(handle)
        os.chmod(path, 0o644)
        network.resolv_conf = path
    return network


def _attach_slirp(argv: list[str], holder: subprocess.Popen[bytes], log: IO[bytes]) -> PrivateNetwork:
    ready_read, ready_write = os.pipe()
    exit_read, exit_write = os.pipe()
    argv = [*argv, f"--ready-fd={ready_write}", f"--exit-fd={exit_read}", str(holder.pid), "tap0"]
    try:
        process = subprocess.Popen(argv, pass_fds=(ready_write, exit_read), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.DEVNULL, stderr=log)
    except OSError as error:
        holder.kill()
        os.close(exit_write)
        raise SandboxError(f"could not start slirp4netns: {error.strerror}") from None
    finally:
        os.close(ready_write)
        os.close(exit_read)
    network = PrivateNetwork(holder, process, exit_write)
    try:
        ready = _readable(ready_read, _READY_TIMEOUT_S) and os.read(ready_read, 1) == b"1"
    finally:
        os.close(ready_read)
    if not ready:
        network.close()
        log.seek(0)
        detail = log.read().decode(errors="replace").strip()
        raise SandboxError(f"slirp4netns did not start: {detail.splitlines()[-1] if detail else 'no answer'}")
    return network


def _readable(fd: int, timeout_s: float) -> bool:
    return bool(select.select([fd], [], [], timeout_s)[0])  # an interrupted select is retried (PEP 475)
