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


@pytest.mark.parametrize("ripgrep", ENGINES)
def test_code_pasted_as_a_pattern_is_found_as_plain_text(ws: Workspace, ripgrep: bool) -> None:
    # A 1.5B model searched for "def parse_tags(text: str) -> list[str]:" and got "no matches": as a regex,
    # code with parentheses and brackets does not match itself. Invalid or not, it is looked up as text.
    search = Search(ws, use_ripgrep=ripgrep)
    invalid = call_tool(search, {"pattern": "Total("})
    assert invalid.ok and invalid.data["literal"] and "src/app.py:2:" in invalid.text
    assert invalid.text.startswith("(searched as plain text)")
    valid_but_no_match = call_tool(search, {"pattern": "pass  # Total(x)"})
    assert [m["path"] for m in valid_but_no_match.data["matches"]] == ["src/util.py"]
    regex_hit = call_tool(search, {"pattern": r"Total\(x?"})  # a regex that matches stays a regex
    assert not regex_hit.data["literal"] and len(regex_hit.data["matches"]) == 2


@pytest.mark.parametrize("ripgrep", ENGINES)
def test_empty_optional_arguments_count_as_left_out(ws: Workspace, ripgrep: bool) -> None:
    # Small models fill every parameter: {"path": "", "glob": ""} used to fail with "empty or invalid path".
    result = call_tool(Search(ws, use_ripgrep=ripgrep), {"pattern": "Total", "path": "", "glob": "",
                                                          "max_results": None})
    assert result.ok and {m["path"] for m in result.data["matches"]} == {"src/app.py", "src/util.py", "notes.md"}


def test_search_works_outside_git_with_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.tmp\n")
    (tmp_path / "a.txt").write_text("needle\n")
    (tmp_path / "b.tmp").write_text("needle\n")
    result = call_tool(Search(Workspace.at(tmp_path), use_ripgrep=False), {"pattern": "needle"})
    assert result.text == "a.txt:1: needle"
