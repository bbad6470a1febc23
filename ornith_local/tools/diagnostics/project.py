"""Which checkers a project has asked for, and where their executables are.

Only the project's own choice counts: ruff runs where the project configures ruff, pyright where it
configures pyright. A linter the project never chose would report findings nobody agreed to, and the model
would chase them. Executables come from ornith's own environment or the PATH, never from the project's
folders: ruff and pyright read the project's files but run none of its code.
"""

from __future__ import annotations

import json
import shutil
import sys
import tomllib
from pathlib import Path

PY_SUFFIXES = frozenset({".py", ".pyi"})


def _pyproject_tables(root: Path) -> dict[str, object]:
    try:
        data = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8", errors="replace"))
    except (OSError, tomllib.TOMLDecodeError):
        return {}
    tool = data.get("tool")
    return tool if isinstance(tool, dict) else {}


def ruff_configured(root: Path) -> bool:
    """[tool.ruff] in pyproject.toml, or a ruff.toml / .ruff.toml, at the workspace root (the diagnostics and
    `ornith precommit`'s default checks both ask)."""
    if (root / "ruff.toml").is_file() or (root / ".ruff.toml").is_file():
        return True
    return "ruff" in _pyproject_tables(root)


def pyright_configured(root: Path) -> bool:
    """[tool.pyright] / [tool.basedpyright] in pyproject.toml, or a pyrightconfig.json, at the workspace root."""
    if (root / "pyrightconfig.json").is_file():
        try:
            json.loads((root / "pyrightconfig.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            return False  # a broken config would make every check fail; the user sees that in their editor
        return True
    tables = _pyproject_tables(root)
    return "pyright" in tables or "basedpyright" in tables


def executable(name: str) -> str | None:
    """`name` next to this interpreter (ornith's own venv) or on the PATH; None when neither has it."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    return shutil.which(name)


def pyright_server() -> list[str] | None:
    """The command line of an installed pyright language server (basedpyright first), or None."""
    for name in ("basedpyright-langserver", "pyright-langserver"):
        found = executable(name)
        if found:
            return [found, "--stdio"]
    return None
