"""Escape suite, issue 20's tier classes: git dirs made mid-run, .ornith.toml, setuid bits, capabilities,
/dev, root-only files, processes that hop process groups, tmpfs size, and root running as the owner.

Each attack runs for real in every tier that works here, beside its control (bare on the host, or
the same tier where the protection does not apply); see sandbox_support for the conventions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_support import PY, SECRET, TIERS, Ctx, bare, make_ctx, shown_folder

from ornith_local.sandbox import Limits, TierSandbox, owner
from ornith_local.sandbox.tiers import make_tier


@pytest.fixture(params=TIERS)
def ctx(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Ctx:
    return make_ctx(request, tmp_path, monkeypatch)


ROOT = os.geteuid() == 0


def test_new_git_dir_readonly(ctx: Ctx) -> None:
    # The first command makes a repo (its own .git is writable while that command runs: the control);
    # from the next command on, the new .git is found and mounted read-only like the top-level one.
    first = ctx.run("echo started; git init -q sub && echo '[core]' >> sub/.git/config && echo wrote-during")
    assert "wrote-during" in first.stdout, first
    ctx.run("echo started; echo '[core] fsmonitor = evil' >> sub/.git/config; mkdir -p sub/.git/hooks; "
            "echo evil > sub/.git/hooks/post-checkout")
    assert "evil" not in (ctx.workspace / "sub" / ".git" / "config").read_text()
    assert not (ctx.workspace / "sub" / ".git" / "hooks" / "post-checkout").exists()


def test_repo_config_readonly(ctx: Ctx) -> None:
    config = ctx.workspace / ".ornith.toml"
    config.write_text("[agent]\nmax_turns = 5\n")
    ctx.run("echo started; printf '[sandbox]\\ntier = \"fallback\"\\n' > .ornith.toml; rm -f .ornith.toml")
    assert config.read_text() == "[agent]\nmax_turns = 5\n"
    bare(f"printf '[sandbox]\\ntier = \"fallback\"\\n' > {config}")
    assert "fallback" in config.read_text()


def test_repo_hook_scripts_readonly(ctx: Ctx) -> None:
    """A trusted .ornith.toml runs the repo's hook scripts: a command must not rewrite them mid-run."""
    script = ctx.workspace / ".ornith" / "hooks" / "guard.sh"
    script.parent.mkdir(parents=True)
    script.write_text("exit 2\n")
    ctx.run("echo started; echo 'exit 0' > .ornith/hooks/guard.sh; rm -rf .ornith; touch .ornith/new")
    assert script.read_text() == "exit 2\n" and not (ctx.workspace / ".ornith" / "new").exists()
    bare(f"echo 'exit 0' > {script}")  # the control: outside the sandbox the same write lands
    assert script.read_text() == "exit 0\n"


SETUID = """import os, shutil, stat
print('started', flush=True)
shutil.copy('/bin/true', 'by-chmod')
try:
    os.chmod('by-chmod', 0o4755)
except OSError as error:
    print('chmod refused', error.errno)
try:
    os.close(os.open('by-open', os.O_CREAT | os.O_WRONLY, 0o6755))
except OSError as error:
    print('open refused', error.errno)
for name in ('by-chmod', 'by-open'):
    if os.path.exists(name) and os.stat(name).st_mode & (stat.S_ISUID | stat.S_ISGID):
        print('setuid', name)
"""


def test_setuid_bit(ctx: Ctx) -> None:
    result = ctx.run([PY, "-c", SETUID])
    assert "setuid" not in result.stdout and "chmod refused" in result.stdout, result
    for name in ("by-chmod", "by-open"):
        (ctx.workspace / name).unlink(missing_ok=True)
    control = subprocess.run([PY, "-c", SETUID], cwd=ctx.workspace, capture_output=True, text=True)
    assert "setuid by-chmod" in control.stdout and "setuid by-open" in control.stdout


def test_no_capabilities(ctx: Ctx) -> None:
    if not ROOT:
        pytest.skip("ornith is not running as root here: the host has no capabilities to compare with")
    result = ctx.run("echo started; grep -E '^Cap(Eff|Prm|Bnd)' /proc/self/status")
    assert result.stdout.count("0000000000000000") == 3, result
    assert "CapEff:\t0000000000000000" not in bare("grep CapEff /proc/self/status").stdout


def _block_device() -> Path | None:
    for name in sorted(os.listdir("/sys/block")) if Path("/sys/block").is_dir() else []:
        if not name.startswith(("loop", "ram", "zram")) and Path(f"/dev/{name}").exists():
            return Path(f"/dev/{name}")
    return None


def test_private_dev(ctx: Ctx) -> None:
    device = _block_device()
    if device is None or bare(f"test -e {device}").returncode != 0:
        pytest.skip("no disk device node on this host to look for, so there is no control")
    result = ctx.run(f"echo started; test -e {device} && echo reachable; head -c 512 {device} | wc -c; ls /dev")
    assert "reachable" not in result.stdout and device.name not in result.stdout.split()[2:], result
    assert set(result.stdout.split()[2:]) <= {"core", "fd", "full", "null", "ptmx", "pts", "random", "shm", "stderr",
                                             "stdin", "stdout", "tty", "urandom", "zero", "console", "mqueue"}


def test_mknod_block(ctx: Ctx) -> None:
    if not ROOT:
        pytest.skip("only root could make a device node, so there is no control")
    ctx.run("echo started; mknod disk b 8 0")
    assert not (ctx.workspace / "disk").exists()
    assert bare(f"mknod {ctx.outside / 'disk'} b 8 0").returncode == 0


def test_hidden_root_files(ctx: Ctx) -> None:
    if not ROOT or not Path("/etc/shadow").exists():
        pytest.skip("needs root and /etc/shadow for a control")
    result = ctx.run("echo started; head -c 20 /etc/shadow; echo; ls /root /home | wc -l")
    assert "root:" not in result.stdout, result
    assert bare("head -c 20 /etc/shadow").stdout.startswith("root:")


@pytest.fixture
def other_home() -> Iterator[Path]:
    """Another user's home with a world-readable file, as most homes are."""
    if not os.access("/home", os.W_OK):
        pytest.skip("cannot make a home under /home here (needs root)")
    home = Path(tempfile.mkdtemp(prefix="ornith-test-user-", dir="/home"))
    home.chmod(0o755)
    (home / "notes.txt").write_text(SECRET)
    (home / "notes.txt").chmod(0o644)
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_other_homes_hidden(ctx: Ctx, other_home: Path) -> None:
    result = ctx.run(f"echo started; cat {other_home}/notes.txt; ls /home")
    assert SECRET not in result.stdout and other_home.name not in result.stdout, result
    assert SECRET in bare(f"cat {other_home}/notes.txt").stdout  # the control: the file is readable to anyone


HOPPER = """import os, sys, time
end = time.time() + float(sys.argv[1])
print('started', flush=True)
if os.fork():
    os._exit(0)
while time.time() < end:  # each generation forks the next into a new process group, then leaves
    if os.fork():
        os._exit(0)
    os.setpgid(0, 0)
    time.sleep(0.05)
"""


def _alive(tag: str) -> list[int]:
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            if tag.encode() in Path(f"/proc/{name}/cmdline").read_bytes():
                found.append(int(name))
        except OSError:
            continue
    return found


def _seen(tag: str, seconds: float) -> bool:
    """Whether any scan over `seconds` finds the hopper (one scan can fall between two generations)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if _alive(tag):
            return True
        time.sleep(0.02)
    return False


def test_setpgid_hopper(ctx: Ctx) -> None:
    tag = f"ornith-hopper-{uuid.uuid4().hex}"
    ctx.run([PY, "-c", HOPPER, "4", tag])
    time.sleep(0.3)
    assert not _seen(tag, 1.0)
    # Control: bare, the hopper outlives the command that started it.
    subprocess.run([PY, "-c", HOPPER, "2", tag], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
    assert _seen(tag, 1.0), "the control hopper should still be running"


def test_tmpfs_bounded(ctx: Ctx) -> None:
    if ctx.tier != "bwrap":
        pytest.skip(f"the {ctx.tier} tier's /tmp is a host directory (bounded per file by RLIMIT_FSIZE), not a tmpfs")
    command = "echo started; head -c 16777216 /dev/zero > /tmp/big; wc -c < /tmp/big"
    small = ctx.run(command, limits=Limits(tmpfs_mib=4, processes=64, address_space_mib=4096))
    assert int(small.stdout.split()[-1]) <= 4 * 1024 * 1024, small
    large = ctx.run(command, limits=Limits(tmpfs_mib=64, processes=64, address_space_mib=4096))
    assert int(large.stdout.split()[-1]) == 16 * 1024 * 1024


@pytest.fixture
def owned_workspace() -> Iterator[Path]:
    """A project of an ordinary user (uid 65534) that ornith, as root, works in."""
    workspace = Path(tempfile.mkdtemp(prefix="ornith-owned-"))
    os.chown(workspace, 65534, 65534)
    secret = workspace / "root-only.txt"
    secret.write_text(SECRET)
    secret.chmod(0o600)
    yield workspace
    shutil.rmtree(workspace, ignore_errors=True)


def test_unprivileged_uid(ctx: Ctx, owned_workspace: Path) -> None:
    if not ROOT:
        pytest.skip("ornith is not running as root here")
    sandbox = TierSandbox(make_tier(ctx.tier), timeout_s=20, home=ctx.home,
                          limits=Limits(processes=64, cpu_s=30, address_space_mib=4096))
    result = sandbox.run("echo started; id -u; cat root-only.txt; touch made-by-command", workspace=owned_workspace)
    assert result.stdout.split()[1] == "65534" and SECRET not in result.stdout, result
    assert (owned_workspace / "made-by-command").stat().st_uid == 65534
    # Control: as that user is not who runs it, root's own file in the project is root's alone.
    assert SECRET in bare(f"cat {owned_workspace / 'root-only.txt'}").stdout


@pytest.fixture
def root_secret() -> Iterator[Path]:
    """A root-only file outside every path the tiers hide (not under a home, /tmp or /etc)."""
    if not ROOT:
        pytest.skip("needs root for a root-only file")
    for folder in shown_folder("ornith-test-", 0o700):
        secret = folder / "key"
        secret.write_text(SECRET)
        secret.chmod(0o600)
        yield secret


def test_root_owned_project_runs_unprivileged(ctx: Ctx, root_secret: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ornith as root in its own project: the command runs as a uid nobody has, sees the project (an idmapped
    mount) as its own, and cannot read what root alone may."""
    if not owner.idmap_supported(ctx.workspace):
        pytest.skip("this filesystem or kernel has no idmapped mounts: root-owned projects run as uid 0 here")
    (ctx.workspace / "tracked.txt").write_text("before\n")
    command = f"echo started; id -u; cat {root_secret}; echo after >> tracked.txt; touch made"
    result = ctx.run(command)
    assert result.stdout.split()[1] == str(owner.SANDBOX_ID) and SECRET not in result.stdout, result
    assert (ctx.workspace / "tracked.txt").read_text() == "before\nafter\n"
    assert (ctx.workspace / "made").stat().st_uid == 0  # root's on disk, like the rest of the project
    # Control: without the idmapped mount the command runs as uid 0 and reads root's file.
    monkeypatch.setattr(owner, "idmap_supported", lambda path: False)
    control = ctx.run(command)
    assert control.stdout.split()[1] == "0" and SECRET in control.stdout, control
