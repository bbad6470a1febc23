"""The escape suite: every attack against every tier that works here, each with a control.

An attack prints "started" first, so a tier that silently failed to run the command cannot pass;
its control shows the same attack succeeding once the block is lifted (bare on the host, or the
same tier with the one permission granted). Tiers only answer for what they claim: the fallback
is labelled unsandboxed, so filesystem, network and process isolation cases skip there.
Loops, memory and CPU are bounded tightly: the machine is shared.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ornith_local.sandbox import CommandResult, Limits, TierSandbox, host_git_command, probe_tiers
from ornith_local.sandbox.tiers import make_tier

PY = sys.executable
SECRET = "sk-ornith-test-" + uuid.uuid4().hex
TIERS = ("bwrap", "landlock", "fallback")
PROBES = {probe.name: probe for probe in probe_tiers()}
# What the fallback does not claim to stop (it is labelled unsandboxed and needs approval).
FALLBACK_OPEN = {
    "write_outside", "append_bashrc", "read_ssh_key", "read_agent_config", "proc_environ", "signal_agent",
    "ptrace_agent", "tcp_loopback", "tcp_outside", "udp", "unix_path", "unix_abstract", "symlink_escape",
    "git_dir_readonly", "daemon", "nested_userns", "remount_root", "tiocsti",
}
LANDLOCK_OPEN = {"git_dir_readonly"}  # Landlock only adds rights, so .git under a writable workspace is writable


@dataclass
class Ctx:
    tier: str
    workspace: Path
    outside: Path
    home: Path
    tmp: Path

    def sandbox(self, **options: object) -> TierSandbox:
        limits = options.pop("limits", Limits(processes=64, cpu_s=30, address_space_mib=4096))
        assert isinstance(limits, Limits)
        return TierSandbox(make_tier(self.tier), timeout_s=20, limits=limits, home=self.home, **options)  # type: ignore[arg-type]

    def run(self, command: str | list[str], **options: object) -> CommandResult:
        timeout = options.pop("timeout_s", None)
        result = self.sandbox(**options).run(command, workspace=self.workspace, timeout_s=timeout)  # type: ignore[arg-type]
        assert result.tier == self.tier
        assert "started" in result.stdout, f"the attack never ran: {result}"
        return result


def bare(command: str | list[str]) -> subprocess.CompletedProcess[str]:
    argv = ["/bin/sh", "-c", command] if isinstance(command, str) else command
    return subprocess.run(argv, capture_output=True, text=True, timeout=30)


@pytest.fixture(params=TIERS)
def ctx(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctx:
    tier = request.param
    probe = PROBES[tier]
    if not probe.works:
        pytest.skip(f"tier {tier} does not work on this machine: {probe.detail}")
    case = request.node.originalname.removeprefix("test_")
    if tier == "fallback" and case in FALLBACK_OPEN:
        pytest.skip("the fallback tier is unsandboxed by design and does not claim this")
    if tier == "landlock" and case in LANDLOCK_OPEN:
        pytest.skip("Landlock cannot carve a read-only .git out of a writable workspace (host git is guarded)")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(f"PRIVATE KEY {SECRET}\n")
    (home / ".bashrc").write_text("# bashrc\n")
    for name in ("ws", "outside"):
        (tmp_path / name).mkdir()
    return Ctx(tier, tmp_path / "ws", tmp_path / "outside", home, tmp_path)


@pytest.fixture
def stand_in() -> Iterator[subprocess.Popen[bytes]]:
    """A process standing in for the agent, with a secret in its environment."""
    process = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"], env={**os.environ, "AGENT_SECRET": SECRET})
    yield process
    process.kill()
    process.wait()


def test_write_outside(ctx: Ctx) -> None:
    target = ctx.outside / "pwned"
    result = ctx.run(f"echo started; echo x > {target}; echo x > inside")
    assert not target.exists() and (ctx.workspace / "inside").exists(), result
    assert bare(f"echo x > {target}").returncode == 0 and target.exists()


def test_append_bashrc(ctx: Ctx) -> None:
    bashrc = ctx.home / ".bashrc"
    ctx.run(f"echo started; echo evil >> {bashrc}; echo evil >> ~/.bashrc")
    assert "evil" not in bashrc.read_text()
    bare(f"echo evil >> {bashrc}")
    assert "evil" in bashrc.read_text()


def test_read_ssh_key(ctx: Ctx) -> None:
    key = ctx.home / ".ssh" / "id_rsa"
    result = ctx.run(f"echo started; cat {key}; cat ~/.ssh/id_rsa")
    assert SECRET not in result.stdout + result.stderr
    assert SECRET in bare(f"cat {key}").stdout


def test_read_agent_config(ctx: Ctx) -> None:
    config = Path(os.environ["ORNITH_CONFIG_DIR"]) / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f'[model]\nendpoint = "http://x/{SECRET}"\n')
    result = ctx.run(f"echo started; cat {config}")
    assert SECRET not in result.stdout
    assert SECRET in bare(f"cat {config}").stdout


def test_env_secret(ctx: Ctx) -> None:
    result = ctx.run("echo started; env")
    assert SECRET not in result.stdout and "OPENAI_API_KEY" not in result.stdout
    assert SECRET in bare("env").stdout


def test_proc_environ(ctx: Ctx, stand_in: subprocess.Popen[bytes]) -> None:
    command = f"echo started; cat /proc/{stand_in.pid}/environ"
    assert SECRET not in ctx.run(command).stdout
    assert SECRET in bare(command).stdout


def test_signal_agent(ctx: Ctx, stand_in: subprocess.Popen[bytes]) -> None:
    ctx.run(f"echo started; kill -KILL {stand_in.pid}")
    time.sleep(0.1)
    assert stand_in.poll() is None
    bare(f"kill -KILL {stand_in.pid}")
    assert stand_in.wait(5) == -9


PTRACE = """
import ctypes, os, signal, sys
print("started", flush=True)
libc = ctypes.CDLL(None, use_errno=True)
target, child = int(sys.argv[1]), 0
if not target:
    child = os.fork()
    if child == 0:
        os.close(1); os.close(2); signal.pause(); os._exit(0)
    target = child
print("attach", libc.ptrace(16, target, 0, 0), flush=True)
if child:
    os.kill(child, 9)
"""


def test_ptrace_agent(ctx: Ctx, stand_in: subprocess.Popen[bytes]) -> None:
    result = ctx.run([PY, "-c", PTRACE, str(stand_in.pid)])
    assert "attach -1" in result.stdout, result
    # Control: the same code attaches to a child of its own outside the sandbox.
    assert "attach 0" in bare([PY, "-c", PTRACE, "0"]).stdout


def _serve_tcp(kind: int) -> tuple[socket.socket, list[bytes]]:
    server = socket.socket(socket.AF_INET, kind)
    server.bind(("127.0.0.1", 0))
    received: list[bytes] = []
    if kind == socket.SOCK_STREAM:
        server.listen()

    def loop() -> None:
        while True:
            try:
                if kind == socket.SOCK_STREAM:
                    conn, _ = server.accept()
                    conn.sendall(b"pong")
                    conn.close()
                else:
                    received.append(server.recv(100))
            except OSError:
                return

    threading.Thread(target=loop, daemon=True).start()
    return server, received


CLIENT = """
import socket, sys
print("started", flush=True)
family = {"inet": socket.AF_INET, "unix": socket.AF_UNIX}[sys.argv[1]]
kind = socket.SOCK_DGRAM if sys.argv[2] == "udp" else socket.SOCK_STREAM
address = sys.argv[3]
if address.startswith("@"):
    address = "\\0" + address[1:]
elif family == socket.AF_INET and address != "none":
    address = ("127.0.0.1", int(address))
try:
    s = socket.socket(family, kind)
    print("created", flush=True)
    if sys.argv[3] == "none":
        sys.exit(0)
    if kind == socket.SOCK_DGRAM:
        s.sendto(b"ping", address); print("sent")
    else:
        s.connect(address); print(s.recv(10).decode())
except OSError as error:
    print("blocked", error)
"""


def test_tcp_loopback(ctx: Ctx) -> None:
    server, _ = _serve_tcp(socket.SOCK_STREAM)
    port = str(server.getsockname()[1])
    assert "pong" not in ctx.run([PY, "-c", CLIENT, "inet", "tcp", port]).stdout
    assert "pong" in ctx.run([PY, "-c", CLIENT, "inet", "tcp", port], allow_network=True).stdout
    server.close()


def test_tcp_outside(ctx: Ctx) -> None:
    # No traffic leaves loopback: the socket is only created, never connected.
    blocked = ctx.run([PY, "-c", CLIENT, "inet", "tcp", "none"])
    assert "created" not in blocked.stdout and "Operation not permitted" in blocked.stdout
    assert "created" in ctx.run([PY, "-c", CLIENT, "inet", "tcp", "none"], allow_network=True).stdout


def test_udp(ctx: Ctx) -> None:
    server, received = _serve_tcp(socket.SOCK_DGRAM)
    port = str(server.getsockname()[1])
    ctx.run([PY, "-c", CLIENT, "inet", "udp", port])
    time.sleep(0.2)
    assert received == []
    ctx.run([PY, "-c", CLIENT, "inet", "udp", port], allow_network=True)
    deadline = time.monotonic() + 5
    while not received and time.monotonic() < deadline:
        time.sleep(0.05)
    assert received == [b"ping"]
    server.close()


def _serve_unix(address: str) -> socket.socket:
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(address)
    server.listen()

    def loop() -> None:
        while True:
            try:
                conn, _ = server.accept()
                conn.sendall(b"pong")
                conn.close()
            except OSError:
                return

    threading.Thread(target=loop, daemon=True).start()
    return server


def test_unix_path(ctx: Ctx) -> None:
    path = ctx.workspace / "s.sock"  # even a socket inside the workspace is refused by default
    server = _serve_unix(str(path))
    assert "pong" not in ctx.run([PY, "-c", CLIENT, "unix", "tcp", str(path)]).stdout
    assert "pong" in ctx.run([PY, "-c", CLIENT, "unix", "tcp", str(path)], allow_unix_sockets=True).stdout
    server.close()


def test_unix_abstract(ctx: Ctx) -> None:
    name = f"ornith-test-{uuid.uuid4().hex}"
    server = _serve_unix("\0" + name)
    assert "pong" not in ctx.run([PY, "-c", CLIENT, "unix", "tcp", "@" + name], allow_unix_sockets=True).stdout
    assert "pong" in bare([PY, "-c", CLIENT, "unix", "tcp", "@" + name]).stdout
    server.close()


def test_symlink_escape(ctx: Ctx) -> None:
    (ctx.workspace / "link").symlink_to(ctx.outside)
    ctx.run("echo started; echo x > link/pwned; ln -sf / root; echo x > root/ornith-escape-test")
    assert not (ctx.outside / "pwned").exists() and not Path("/ornith-escape-test").exists()
    bare(f"cd {ctx.workspace} && echo x > link/pwned")
    assert (ctx.outside / "pwned").exists()


def _git_repo(path: Path) -> None:
    commit = ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "i"]
    for args in (["init", "-q"], commit):
        subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True)


def test_git_dir_readonly(ctx: Ctx) -> None:
    _git_repo(ctx.workspace)
    hook = ctx.workspace / ".git" / "hooks" / "pre-commit"
    result = ctx.run(f"echo started; echo 'touch {ctx.outside}/x' > {hook}; git config core.fsmonitor evil; "
                     "echo x >> .git/config")
    assert not hook.exists() and "evil" not in (ctx.workspace / ".git" / "config").read_text(), result
    assert (ctx.workspace / "inside-ok").exists() is False
    ctx.run("echo started; touch inside-ok")
    assert (ctx.workspace / "inside-ok").exists()


def test_host_git_ignores_planted_hooks(ctx: Ctx) -> None:
    # Whatever the tier let through, the agent's own git must not run what a model planted.
    _git_repo(ctx.workspace)
    marker, monitor = ctx.outside / "hook-ran", ctx.outside / "fsmonitor-ran"
    hook = ctx.workspace / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    subprocess.run(["git", "-C", str(ctx.workspace), "config", "core.fsmonitor", f"touch {monitor}; false"], check=True)
    commit = ["-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x"]
    subprocess.run(host_git_command(ctx.workspace, "status"), check=True, capture_output=True)
    subprocess.run(host_git_command(ctx.workspace, *commit), check=True, capture_output=True)
    assert not marker.exists() and not monitor.exists()
    subprocess.run(["git", "-C", str(ctx.workspace), *commit], capture_output=True)
    subprocess.run(["git", "-C", str(ctx.workspace), "status"], capture_output=True)
    assert marker.exists() and monitor.exists()


def _alive(tag: str) -> list[int]:
    pids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if tag.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                    pids.append(int(name))
            except OSError:
                pass
    return pids


def test_daemon(ctx: Ctx) -> None:
    tag = f"ornith-daemon-{uuid.uuid4().hex}"
    daemon = f"(setsid sh -c 'sleep 30; true' {tag} & nohup sh -c 'sleep 30; true' {tag} &) >/dev/null 2>&1"
    ctx.run(f"echo started; {daemon}; sleep 0.3")
    deadline = time.monotonic() + 3
    while _alive(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _alive(tag) == []
    bare(daemon)
    time.sleep(0.3)
    survivors = _alive(tag)
    for pid in survivors:
        os.kill(pid, 9)
    assert survivors


FORK_LOOP = "echo started; i=0; while [ $i -lt {n} ]; do sleep 3 & i=$((i+1)); done; sleep 1; echo survived"


def test_fork_bomb(ctx: Ctx) -> None:
    # A bounded, linear stand-in for a fork bomb: 150 processes against a cap of 24.
    limits = Limits(processes=24, cpu_s=30, address_space_mib=4096)
    result = ctx.run(FORK_LOOP.format(n=150), limits=limits)
    forks_failed = "fork" in result.stderr.lower() or "resource temporarily unavailable" in result.stderr.lower()
    assert result.killed_reason == "process limit" or forks_failed, result
    control = ctx.run(FORK_LOOP.format(n=8), limits=limits)
    assert "survived" in control.stdout and control.killed_reason is None, control


HOG = "print('started', flush=True); b = bytearray(300 * 2**20); print('allocated')"


def test_memory_hog(ctx: Ctx) -> None:
    result = ctx.run([PY, "-c", HOG], limits=Limits(address_space_mib=200))
    assert "allocated" not in result.stdout and "MemoryError" in result.stderr, result
    assert "allocated" in ctx.run([PY, "-c", HOG], limits=Limits(address_space_mib=2048)).stdout


SPIN = """import time; print('started', flush=True)
end = time.time() + 1.5
while time.time() < end: pass
print('finished')"""


def test_cpu_spin(ctx: Ctx) -> None:
    by_rlimit = ctx.run([PY, "-c", SPIN], limits=Limits(cpu_s=1))
    # Killed by SIGXCPU/SIGKILL: a negative code, or 128+N where bwrap's init reports it.
    assert "finished" not in by_rlimit.stdout and by_rlimit.exit_code not in (0, 1) and not by_rlimit.timed_out
    by_clock = ctx.run([PY, "-c", SPIN], timeout_s=0.5)
    assert by_clock.timed_out and by_clock.exit_code == 124 and "finished" not in by_clock.stdout
    assert "finished" in ctx.run([PY, "-c", SPIN], limits=Limits(cpu_s=30)).stdout


def test_oversized_file(ctx: Ctx) -> None:
    command = "echo started; head -c 3000000 /dev/zero > big"
    ctx.run(command, limits=Limits(file_size_mib=1))
    assert (ctx.workspace / "big").stat().st_size <= 1024 * 1024
    ctx.run(command, limits=Limits(file_size_mib=8))
    assert (ctx.workspace / "big").stat().st_size == 3000000


def test_nested_userns(ctx: Ctx) -> None:
    if bare("unshare -U -r true").returncode != 0:
        pytest.skip("user namespaces are unavailable on the host, so there is no control")
    result = ctx.run("echo started; unshare -U -r true && echo nested-ok")
    assert "nested-ok" not in result.stdout, result


def test_remount_root(ctx: Ctx) -> None:
    probe = Path(f"/ornith-escape-test-{uuid.uuid4().hex}")
    try:
        result = ctx.run(f"echo started; mount -o remount,rw / && touch {probe}; mount -t tmpfs none {ctx.outside}"
                         " && echo mounted")
        assert not probe.exists() and "mounted" not in result.stdout, result
    finally:
        probe.unlink(missing_ok=True)
    control = bare(f"unshare -U -r -m sh -c 'mount -t tmpfs none {ctx.outside} && echo mounted'")
    if control.returncode != 0:
        pytest.skip("no user namespaces on the host, so there is no mount control")
    assert "mounted" in control.stdout


def test_no_new_privs(ctx: Ctx) -> None:
    # $$ is the command itself: in the Landlock tier only its own /proc entry is readable.
    assert "NoNewPrivs:\t1" in ctx.run("echo started; grep NoNewPrivs /proc/$$/status").stdout
    assert "NoNewPrivs:\t0" in bare("grep NoNewPrivs /proc/self/status").stdout


TIOCSTI = """import fcntl, termios
try:
    fcntl.ioctl(0, termios.TIOCSTI, b'#')
    print('injected')
except OSError as e:
    print('refused', e)"""


def test_tiocsti(ctx: Ctx, tmp_path: Path) -> None:
    import pexpect

    script = tmp_path / "ws" / "inject.py"
    script.write_text(TIOCSTI)
    control = pexpect.spawn(PY, [str(script)], timeout=10)
    control.expect(["injected", "refused"])
    if control.after != b"injected":
        pytest.skip("this kernel already refuses TIOCSTI (dev.tty.legacy_tiocsti=0): no control possible")
    with ctx.sandbox().shell(workspace=ctx.workspace) as shell:
        result = shell.run(f"echo started; {PY} inject.py")
    assert "refused" in result.stdout and "injected" not in result.stdout, result
