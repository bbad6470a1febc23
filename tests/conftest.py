"""Shared fixtures: isolated ornith dirs, the real tiny model, and a git copy of the bundled example."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = REPO_ROOT / "examples" / "invoicing"


@pytest.fixture(scope="session")
def tiny_model_path() -> Path:
    """The real Gemma 3 270M GGUF, assembled once into the user's cache dir (outside the repo)."""
    from ornith_local.models.tiny import ensure_tiny_model

    return ensure_tiny_model()


@pytest.fixture(autouse=True)
def isolated_config(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep the user's own config and data out of every test; the cache (model files) stays shared."""
    home = tmp_path_factory.mktemp("ornith-dirs")
    monkeypatch.setenv("ORNITH_CONFIG_DIR", str(home / "config"))
    monkeypatch.setenv("ORNITH_DATA_DIR", str(home / "data"))
    for name in list(__import__("os").environ):
        if name.startswith("ORNITH_") and name not in {"ORNITH_CONFIG_DIR", "ORNITH_DATA_DIR", "ORNITH_CACHE_DIR"}:
            monkeypatch.delenv(name)
    from ornith_local.config import thaw_repo_config

    thaw_repo_config()  # each test reads its repo's .ornith.toml afresh
    integrity = sys.modules.get("ornith_local.tools.testing.integrity")  # not imported: no baselines to drop
    if integrity is not None:
        integrity.forget()  # each test takes its own test-setup baseline
    yield


def trust(repo: Path) -> None:
    """Trust `repo`'s .ornith.toml as it is now (what `ornith trust` does), so its security keys count."""
    from ornith_local.config import thaw_repo_config
    from ornith_local.config.trust import trust_repo

    trust_repo(repo, (repo / ".ornith.toml").read_bytes())
    thaw_repo_config(repo)


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=ornith-test", "-c", "user.email=test@ornith.local", *args],
        cwd=repo, capture_output=True, text=True, check=True,
    )
    return result.stdout


@pytest.fixture
def example_repo(tmp_path: Path) -> Path:
    """A fresh copy of examples/invoicing, `git init`ed with one commit."""
    repo = tmp_path / "invoicing"
    shutil.copytree(EXAMPLE, repo, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    return repo
