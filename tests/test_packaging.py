"""Packaging: one version, a changelog that agrees, and a wheel that installs and runs on its own."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pytest

from ornith_local import __version__

ROOT = Path(__file__).resolve().parent.parent


def load_release() -> ModuleType:
    # packaging/ is not a package (and its name would shadow PyPI's `packaging`): load the script by path.
    spec = importlib.util.spec_from_file_location("ornith_release", ROOT / "packaging" / "release.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


release = load_release()

CHANGELOG = """# Changelog

## [Unreleased]

## [1.2.0] - 2026-11-21
### Added
- thing

## [1.1.0] - 2026-10-01
- older
"""


def test_release_accepts_an_agreeing_version() -> None:
    assert release.check_version_agreement("1.2.0", CHANGELOG) == []


def test_release_refuses_a_version_the_changelog_does_not_name() -> None:
    problems = release.check_version_agreement("1.3.0", CHANGELOG)
    assert problems == ["version 1.3.0 (ornith_local/__init__.py) but the newest CHANGELOG.md section is [1.2.0]"]


def test_release_refuses_unreleased_entries() -> None:
    text = CHANGELOG.replace("## [Unreleased]\n", "## [Unreleased]\n### Added\n- not yet released\n")
    assert release.check_version_agreement("1.2.0", text) == [
        "CHANGELOG.md [Unreleased] still has entries: move them under [1.2.0]"]


def test_the_package_version_is_the_newest_changelog_release() -> None:
    version = release.package_version((ROOT / "ornith_local" / "__init__.py").read_text())
    assert version == __version__
    problems = release.check_version_agreement(version, (ROOT / "CHANGELOG.md").read_text())
    assert all("[Unreleased] still has entries" in problem for problem in problems)


def test_release_check_only_refuses_with_a_one_line_reason_per_problem(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, str(ROOT / "packaging" / "release.py"), "--check-only"],
                            capture_output=True, text=True, timeout=60)
    if result.returncode == 0:
        assert f"version {__version__} agrees with CHANGELOG.md" in result.stdout
    else:
        assert result.stderr.startswith("release: refusing to release:")
        assert "Traceback" not in result.stderr


def test_formula_update_points_at_the_sdist(tmp_path: Path) -> None:
    sdist = tmp_path / "ornith_local-9.9.9.tar.gz"
    sdist.write_bytes(b"not really a tarball")
    formula = (ROOT / "packaging" / "homebrew" / "ornith-local.rb").read_text()
    updated = release.update_formula(formula, "9.9.9", sdist)
    assert "ornith_local-9.9.9.tar.gz" in updated
    import hashlib

    assert f'sha256 "{hashlib.sha256(b"not really a tarball").hexdigest()}"' in updated


@pytest.mark.slow
@pytest.mark.timeout(2400)  # its own steps allow 900 + 1500 s: a build and a pipx install on a busy 2-core machine
def test_built_wheel_installs_with_pipx_and_runs(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--sdist", "--outdir", str(dist), str(ROOT)],
                   check=True, capture_output=True, timeout=900)
    wheel = next(dist.glob("*.whl"))
    check = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, dist.iterdir())],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr
    names = zipfile.ZipFile(wheel).namelist()
    assert "ornith_local/_data/models/gemma3-270m.toml" in names
    assert "ornith_local/_data/sandbox/macos.sb" in names

    env = {**os.environ, "PIPX_HOME": str(tmp_path / "pipx"), "PIPX_BIN_DIR": str(tmp_path / "bin"),
           "PIPX_MAN_DIR": str(tmp_path / "man")}
    install = subprocess.run([sys.executable, "-m", "pipx", "install", str(wheel)], capture_output=True,
                             text=True, env=env, timeout=1500)
    assert install.returncode == 0, install.stdout + install.stderr
    ornith = tmp_path / "bin" / "ornith"
    version = subprocess.run([str(ornith), "--version"], capture_output=True, text=True, timeout=120)
    assert version.stdout.strip() == f"ornith {__version__}"
    doctor = subprocess.run([str(ornith), "doctor", "--json"], capture_output=True, text=True, timeout=300,
                            env={**os.environ, "ORNITH_DATA_DIR": str(tmp_path / "data")})
    report = json.loads(doctor.stdout)
    # The installed copy runs from pipx's own venv and finds the catalog inside the wheel.
    assert str(tmp_path / "pipx") in report["python"]["executable"]
    assert {"gemma3-270m", "qwen2.5-coder-1.5b"} <= {model["name"] for model in report["models"]}
