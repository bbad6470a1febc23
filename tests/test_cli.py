"""The `ornith` entry point as a user meets it: version, help, bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ornith_local import __version__
from ornith_local.cli.main import main

ORNITH = Path(sys.executable).with_name("ornith")


def run_ornith(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ORNITH), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_version_through_the_installed_entry_point() -> None:
    result = run_ornith("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"ornith {__version__}"


def test_help_lists_every_subcommand() -> None:
    result = run_ornith("--help")
    assert result.returncode == 0
    for name in ["doctor", "generate", "run", "models", "sessions", "sandbox", "parse", "triage", "precommit"]:
        assert f"    {name}" in result.stdout


def test_unknown_subcommand_is_a_one_line_usage_error() -> None:
    result = run_ornith("frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "invalid choice" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_option_value_is_a_one_line_usage_error() -> None:
    result = run_ornith("generate", "--max-tokens", "many", "hello")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--max-tokens" in result.stderr


def test_invalid_repo_config_is_one_line_naming_file_and_key(tmp_path: Path) -> None:
    (tmp_path / ".ornith.toml").write_text('[agent]\nmood = "happy"\n')
    result = run_ornith("generate", "hello", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(tmp_path / ".ornith.toml") in result.stderr
    assert "agent.mood" in result.stderr


def test_python_dash_m_works_too() -> None:
    result = subprocess.run([sys.executable, "-m", "ornith_local", "--version"], capture_output=True, text=True)
    assert result.returncode == 0
    assert __version__ in result.stdout


def test_bare_ornith_without_a_terminal_points_at_ornith_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "the TUI needs a terminal" in err and "ornith run" in err
