"""Escape suite, processes and limits: daemons, fork loops, memory, CPU, file size, namespaces (see sandbox_support).
"""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_support import PY, TIERS, Ctx, bare, make_ctx, start_stand_in

from ornith_local.sandbox import Limits


@pytest.fixture(params=TIERS)
def ctx(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctx:
    return make_ctx(request, tmp_path, monkeypatch)


@pytest.fixture
def stand_in() -> Iterator[subprocess.Popen[bytes]]:
    yield from start_stand_in()


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
while time.process_time() < 1.5: pass  # CPU time, not wall time: a loaded machine must not let it finish
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
