"""The escape suite again, as the unprivileged user `nobody`, when this run is root (as in CI).

`nobody` usually cannot read root's virtualenv or checkout, so the sandbox code, the suite and the
pure-Python packages it needs are copied to a world-readable temp dir first.
"""

from __future__ import annotations

import importlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

NOBODY = 65534
PACKAGES = ("ornith_local", "platformdirs", "pexpect", "ptyprocess", "pytest", "_pytest", "pluggy", "iniconfig",
            "packaging", "py")
TESTS = Path(__file__).resolve().parent


def _as_nobody(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", *argv]
    return subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload,no-any-return]


@pytest.fixture
def world_readable_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="ornith-nobody-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _copy_packages(site: Path) -> None:
    for name in PACKAGES:
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        origin = Path(module.__file__ or "")
        if origin.name == "__init__.py":
            shutil.copytree(origin.parent, site / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(origin, site / origin.name)
    shutil.copytree(TESTS.parent / "sandbox", site.parent / "sandbox")  # bundled_dir("sandbox") in a checkout


def _python_for_nobody(env: dict[str, str]) -> str | None:
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3", sys.executable):
        check = _as_nobody([candidate, "-c", "import sys, ornith_local.sandbox; assert sys.version_info >= (3, 11)"],
                           env=env, timeout=60)
        if check.returncode == 0:
            return candidate
    return None


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="this run is already unprivileged; the escape suite ran as this user")
@pytest.mark.skipif(shutil.which("setpriv") is None, reason="setpriv (util-linux) is needed to drop to nobody")
def test_escape_suite_as_nobody(world_readable_dir: Path) -> None:
    root = world_readable_dir
    site = root / "pkg" / "site"
    site.mkdir(parents=True)
    _copy_packages(site)
    tests = root / "tests"
    tests.mkdir()
    suite = ("test_sandbox_escape_fs.py", "test_sandbox_escape_net.py", "test_sandbox_escape_proc.py",
             "test_sandbox_hardening.py")
    for name in ("conftest.py", "sandbox_support.py", *suite):
        shutil.copy(TESTS / name, tests / name)
    (tests / "pytest.ini").write_text("[pytest]\n")
    home = root / "home"
    home.mkdir()
    os.chown(home, NOBODY, NOBODY)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "PYTHONPATH": str(site),
           "PYTHONDONTWRITEBYTECODE": "1", "ORNITH_CACHE_DIR": str(home / "cache"), "LANG": "C.UTF-8"}
    python = _python_for_nobody(env)
    if python is None:
        pytest.skip("no Python interpreter that nobody can run with the copied packages")
    result = _as_nobody(
        [python, "-m", "pytest", *(str(tests / name) for name in suite), "-q", "-p", "no:cacheprovider",
         "-c", str(tests / "pytest.ini"), "--basetemp", str(home / "bt"), "-rs"],
        env=env, cwd=str(tests), timeout=540,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else result.stderr[-2000:]
    print(result.stdout[-6000:])
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    passed = re.search(r"(\d+) passed", summary)
    assert passed and int(passed.group(1)) > 0 and "failed" not in summary, summary
