"""search: the pure-Python fallback and ripgrep (when installed) agree, and both respect .gitignore."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ornith_local.tools.base import call_tool
from ornith_local.tools.search import Search
from ornith_local.tools.workspace import Workspace

ENGINES = [False] + ([True] if shutil.which("rg") else [])


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "repo"
    files = {
        "src/app.py": "def handler(event):\n    return Total(event)\n",
        "src/util.py": "class Total:\n    pass  # Total(x) builds one\n",
        "notes.md": "Total is a class\n",
        "build/gen.py": "Total = None\n",
        "data.bin": "Total\x00\x01",
        ".gitignore": "build/\n",
    }
    for rel, content in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(content.encode())
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    return Workspace.at(root)


@pytest.mark.parametrize("ripgrep", ENGINES)
def test_search_regex_literal_glob_and_gitignore(ws: Workspace, ripgrep: bool) -> None:
    search = Search(ws, use_ripgrep=ripgrep)
    result = call_tool(search, {"pattern": r"Total\("})
    assert result.ok
    assert result.text.splitlines() == ["src/app.py:2:     return Total(event)",
                                        "src/util.py:2:     pass  # Total(x) builds one"]
    literal = call_tool(search, {"pattern": "Total(x)", "literal": True})
    assert [m["path"] for m in literal.data["matches"]] == ["src/util.py"]
    only_md = call_tool(search, {"pattern": "total", "ignore_case": True, "glob": "*.md"})
    assert only_md.text == "notes.md:1: Total is a class"
    in_dir = call_tool(search, {"pattern": "Total", "path": "src", "max_results": 1})
    assert len(in_dir.data["matches"]) == 1 and in_dir.data["truncated"]
    assert "no matches" in call_tool(search, {"pattern": "nothing-here"}).text


def test_invalid_regex_is_a_clear_error(ws: Workspace) -> None:
    result = call_tool(Search(ws, use_ripgrep=False), {"pattern": "Total("})
    assert not result.ok and "invalid regular expression" in result.text and "literal=true" in result.text


def test_search_works_outside_git_with_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.tmp\n")
    (tmp_path / "a.txt").write_text("needle\n")
    (tmp_path / "b.tmp").write_text("needle\n")
    result = call_tool(Search(Workspace.at(tmp_path), use_ripgrep=False), {"pattern": "needle"})
    assert result.text == "a.txt:1: needle"
