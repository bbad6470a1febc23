"""Shared by the precommit tests: a small real project in a real git repo, and what must never change in it."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ORNITH = Path(sys.executable).with_name("ornith")
REPO_ROOT = Path(__file__).resolve().parent.parent

STATS = '''"""Small statistics helpers."""


def total(values):
    return sum(values)


def mean(values):
    """The arithmetic mean; an empty list has mean 0."""
    if not values:
        return 0
    return total(values) / len(values)
'''

TEST_STATS = '''from calc.stats import mean, total


def test_total():
    assert total([1, 2, 3]) == 6


def test_mean():
    assert mean([2, 4]) == 3


def test_mean_of_nothing():
    assert mean([]) == 0
'''

# A staged change that breaks test_mean (and the one-line fix a model should find).
BROKEN_MEAN = STATS.replace("return total(values) / len(values)", "return total(values) / (len(values) + 1)")
FIX_FIND = "    return total(values) / (len(values) + 1)\n"
FIX_REPLACE = "    return total(values) / len(values)\n"


def git(repo: Path, *args: str, env: dict[str, str] | None = None, check: bool = True,
        ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-c", "user.name=ornith-test", "-c", "user.email=test@ornith.local", *args],
                          cwd=repo, capture_output=True, text=True, check=check, env=env)


def make_project(root: Path) -> Path:
    """calc/ with a passing pytest suite, committed once."""
    (root / "calc").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "calc" / "__init__.py").write_text("")
    (root / "calc" / "stats.py").write_text(STATS)
    (root / "calc" / "text.py").write_text("def shout(s):\n    return s.upper() + '!'\n")
    (root / "tests" / "test_stats.py").write_text(TEST_STATS)
    (root / "tests" / "test_text.py").write_text(
        "from calc.text import shout\n\n\ndef test_shout():\n    assert shout('hi') == 'HI!'\n")
    (root / "conftest.py").write_text("# puts the project root on sys.path for the tests\n")
    (root / "pyproject.toml").write_text('[project]\nname = "calc"\nversion = "0"\n\n'
                                         '[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "initial")
    return root


def stage_broken_mean(repo: Path) -> None:
    (repo / "calc" / "stats.py").write_text(BROKEN_MEAN)
    git(repo, "add", "calc/stats.py")


def add_unstaged_edits(repo: Path) -> None:
    """Edits that are not part of the change: a modified tracked file, an untracked file (CRLF, no final
    newline: any rewrite would show), and an unstaged edit at the top of the staged file itself."""
    with (repo / "calc" / "text.py").open("a") as handle:
        handle.write("\n\ndef whisper(s):\n    return s.lower()\n")
    (repo / "notes.txt").write_bytes(b"a user's scratch notes\r\nno final newline")
    stats = repo / "calc" / "stats.py"
    docstring = '"""Small statistics helpers."""'
    stats.write_text(stats.read_text().replace(docstring, docstring[:-3] + '\n\nTODO: median\n"""'))


@dataclass(frozen=True)
class Snapshot:
    index: bytes  # the raw index file: any rewrite (even a stat refresh) changes it
    files: dict[str, str]  # every file in the working tree (outside .git) -> sha256
    modes: dict[str, int]

    @classmethod
    def take(cls, repo: Path) -> Snapshot:
        files, modes = {}, {}
        for directory, dirs, names in os.walk(repo):
            dirs[:] = [d for d in dirs if d != ".git"]
            for name in names:
                path = Path(directory, name)
                rel = str(path.relative_to(repo))
                files[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
                modes[rel] = path.stat().st_mode
        return cls((repo / ".git" / "index").read_bytes(), files, modes)


def ornith(repo: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 300,
           ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ORNITH), *args], cwd=repo, capture_output=True, text=True, env=env, timeout=timeout)
