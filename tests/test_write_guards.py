"""Edits that cannot silently destroy a file, and hard-coded answers the monitor sees (issue #25, item 5).

write_file refuses to replace a file the run never read, to drop most of a file's lines, and to write a diff
as a file's content; the monitor flags an added line that assigns (or returns instead of computing) the value
a visible test expects. Each refusal has its allowed twin, each flag its unflagged control.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from ornith_local.guard.monitor import GuardPolicy, check_diff, literals_in
from ornith_local.tools import default_tools
from ornith_local.tools.base import Tool, ToolResult, call_tool
from ornith_local.tools.edit import EditFile
from ornith_local.tools.files import ReadFile, WriteFile, looks_like_patch
from ornith_local.tools.workspace import Workspace
from tests.conftest import git

LONG = "".join(f"def f{i}(x):\n    return x + {i}\n\n" for i in range(15))  # 30 non-blank lines
PATCH = (
    "diff --git a/app.py b/app.py\n"
    "--- a/app.py\n"
    "+++ b/app.py\n"
    "@@ -1,3 +1,3 @@\n"
    " def f0(x):\n"
    "-    return x + 0\n"
    "+    return x\n"
)


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "app.py").write_text(LONG)
    return Workspace.at(root)


def write(ws: Workspace, path: str, content: str) -> ToolResult:
    return call_tool(WriteFile(ws), {"path": path, "content": content})


def refused(result: ToolResult, *words: str) -> bool:
    return (not result.ok and result.text.startswith("error: refused:") and "\n" not in result.text
            and all(word in result.text for word in words))


# --- a. an existing file must have been seen by the run ---------------------------------------------


def test_replacing_a_file_the_run_never_read_is_refused(ws: Workspace) -> None:
    result = write(ws, "app.py", LONG.replace("x + 3", "x + 33"))
    assert refused(result, "read_file app.py first", "edit_file"), result.text
    assert (ws.root / "app.py").read_text() == LONG  # untouched


def test_the_same_write_after_read_file_is_allowed(ws: Workspace) -> None:
    assert call_tool(ReadFile(ws), {"path": "app.py", "start_line": 1, "end_line": 5}).ok  # a part is a read too
    result = write(ws, "app.py", LONG.replace("x + 3", "x + 33"))
    assert result.ok and result.data == {"path": "app.py", "created": False, "added": 1, "removed": 1}
    assert "x + 33" in (ws.root / "app.py").read_text()


def test_the_tools_of_one_run_share_what_was_read(ws: Workspace) -> None:
    tools: dict[str, Tool] = {tool.name: tool for tool in default_tools(ws)}
    new = LONG.replace("x + 3", "x + 33")
    assert not call_tool(tools["write_file"], {"path": "app.py", "content": new}).ok
    assert call_tool(tools["read_file"], {"path": "app.py"}).ok
    assert call_tool(tools["write_file"], {"path": "app.py", "content": new}).ok
    # Another run (another Workspace) has seen nothing.
    assert not write(Workspace.at(ws.root), "app.py", LONG).ok


def test_a_new_file_needs_no_read_and_is_known_once_written(ws: Workspace) -> None:
    created = write(ws, "pkg/new.py", "x = 1\n")
    assert created.ok and created.data["created"]
    assert write(ws, "pkg/new.py", "x = 2\n").ok  # the run wrote it: it knows what is there


def test_a_successful_edit_counts_as_having_seen_the_file(ws: Workspace) -> None:
    missed = call_tool(EditFile(ws), {"path": "app.py", "old_string": "not in the file", "new_string": "y"})
    assert not missed.ok
    assert not write(ws, "app.py", LONG).ok  # a failed edit saw nothing
    assert call_tool(EditFile(ws), {"path": "app.py", "old_string": "x + 14", "new_string": "x + 41"}).ok
    assert write(ws, "app.py", LONG).ok


def test_the_read_is_of_the_real_file_behind_a_link(ws: Workspace) -> None:
    (ws.root / "alias.py").symlink_to("app.py")
    assert call_tool(ReadFile(ws), {"path": "alias.py"}).ok
    assert write(ws, "app.py", LONG.replace("x + 3", "x + 33")).ok


# --- b. the new content must keep most of the file ----------------------------------------------------


def test_dropping_most_lines_is_refused_with_the_count(ws: Workspace) -> None:
    assert call_tool(ReadFile(ws), {"path": "app.py"}).ok
    result = write(ws, "app.py", "def f0(x):\n    return x\n")
    assert refused(result, "drop 29 of the 30 lines of app.py", "keeping 1", "use edit_file"), result.text
    assert (ws.root / "app.py").read_text() == LONG


def test_empty_content_is_refused_even_for_a_small_file(ws: Workspace) -> None:
    (ws.root / "small.py").write_text("a = 1\nb = 2\n")
    for path in ("app.py", "small.py"):
        assert call_tool(ReadFile(ws), {"path": path}).ok
        result = write(ws, path, "")
        assert refused(result, "empty content", f"lines of {path}", "edit_file"), result.text
        assert refused(write(ws, path, "\n\n  \n"), "empty content")
    assert (ws.root / "small.py").read_text() == "a = 1\nb = 2\n"


def test_a_rewrite_that_keeps_most_lines_is_allowed(ws: Workspace) -> None:
    assert call_tool(ReadFile(ws), {"path": "app.py"}).ok
    # Half the functions rewritten (15 of 30 lines kept: the threshold), reordered and re-indented code is no loss.
    lines = LONG.splitlines()
    kept_half = "\n".join(line.replace("return x +", "return 2 * x +") if i < 45 else line
                          for i, line in enumerate(lines))
    assert write(ws, "app.py", kept_half + "\n").ok
    assert call_tool(ReadFile(ws), {"path": "app.py"}).ok
    wrapped = "class Fns:\n" + "".join(f"    {line}\n" if line else "\n" for line in kept_half.splitlines())
    assert write(ws, "app.py", wrapped).ok


def test_below_twenty_lines_a_whole_rewrite_is_allowed(ws: Workspace) -> None:
    short = "".join(f"v{i} = {i}\n" for i in range(19))
    (ws.root / "short.py").write_text(short)
    assert call_tool(ReadFile(ws), {"path": "short.py"}).ok
    assert write(ws, "short.py", "x = 'entirely new'\n").ok
    # Control: at 20 non-blank lines the same rewrite is refused.
    (ws.root / "twenty.py").write_text(short + "v19 = 19\n")
    assert call_tool(ReadFile(ws), {"path": "twenty.py"}).ok
    assert refused(write(ws, "twenty.py", "x = 'entirely new'\n"), "drop 20 of the 20 lines")


# --- c. a diff is not a file's content ------------------------------------------------------------------


def test_a_diff_as_the_content_is_refused_for_existing_and_new_files(ws: Workspace) -> None:
    assert call_tool(ReadFile(ws), {"path": "app.py"}).ok
    result = write(ws, "app.py", PATCH)
    assert refused(result, "is a diff", "edit_file"), result.text
    assert (ws.root / "app.py").read_text() == LONG
    assert refused(write(ws, "new.py", PATCH), "is a diff")
    assert not (ws.root / "new.py").exists()


@pytest.mark.parametrize("content", [
    "--- a/app.py\n+++ b/app.py\n@@ -2 +2 @@\n-    return x + 0\n+    return x\n",  # no diff --git line
    "@@ -1,3 +1,3 @@\n def f0(x):\n-    return x + 0\n+    return x\n",  # just a hunk
    " def f0(x):\n-    return x + 0\n+    return x\n",  # a bare hunk, no header at all
    "Here is the fix:\n```diff\n--- app.py\n+++ app.py\n@@ -1,2 +1,2 @@\n def f0(x):\n-    return x + 0\n"
    "+    return x\n```\n",  # in a fence, after a sentence
])
def test_the_shapes_of_a_patch(ws: Workspace, content: str) -> None:
    assert looks_like_patch(content)
    assert refused(write(ws, "new.py", content), "is a diff")


def test_a_patch_file_may_hold_a_patch(ws: Workspace) -> None:
    for path in ("fix.patch", "changes/fix.diff", "FIX.PATCH"):
        assert write(ws, path, PATCH).ok
        assert (ws.root / path).read_text() == PATCH


@pytest.mark.parametrize("content", [
    LONG,
    # A test that embeds a small diff in a string is code, not a patch.
    "import textwrap\n\n\ndef test_apply():\n    diff = '''\\\n" + PATCH + "'''\n    assert apply(diff)\n"
    + "".join(f"\n\ndef test_{i}():\n    assert f{i}(1) == {i + 1}\n" for i in range(3)),
    "---\ntitle: notes\n---\n\n- one\n- two\n",  # front matter and a list
    "- item\n  - nested\n- other\n",  # YAML or markdown: '-' lines but no '+'
    "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    "",
])
def test_text_that_is_not_a_patch(content: str) -> None:
    assert not looks_like_patch(content)


# --- the monitor: a hard-coded expected value -----------------------------------------------------------

PAGER = '''\
def compute_limit(size):
    return max(size // 3, 1)


class Pager:
    def __init__(self, size):
        self.size = size
        self.limit = compute_limit(size)
        self.count = None

    def fits(self, n):
        return n < self.limit
'''


def pager_repo(tmp_path: Path, test: str) -> Path:
    repo = tmp_path / "pager"
    (repo / "tests").mkdir(parents=True)
    (repo / "pager.py").write_text(PAGER)
    (repo / "tests" / "test_pager.py").write_text(test)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "initial")
    return repo


def findings_after(repo: Path, old: str, new: str) -> set[str]:
    source = repo / "pager.py"
    text = source.read_text()
    assert old in text
    source.write_text(text.replace(old, new))
    diff = subprocess.run(["git", "diff"], cwd=repo, capture_output=True, text=True, check=True).stdout
    tests = [path.read_text() for path in (repo / "tests").glob("*.py")]
    return {finding.rule for finding in check_diff(diff, GuardPolicy(), literals_in(tests))}


EXPECTS_4 = "from pager import Pager\n\n\ndef test_limit():\n    assert Pager(7).limit == 4\n"
EXPECTS_5 = "from pager import Pager\n\n\ndef test_limit():\n    assert Pager(7).limit == 5\n"
ATTACK = ("self.limit = compute_limit(size)", "self.limit = 4")


def test_assigning_the_value_a_test_expects_is_flagged(tmp_path: Path) -> None:
    assert "4" not in literals_in([EXPECTS_4])  # a single digit: the literal set alone would miss it
    assert findings_after(pager_repo(tmp_path, EXPECTS_4), *ATTACK) == {"hardcoded_expected_value"}


def test_control_the_same_diff_is_clean_when_the_test_does_not_expect_it(tmp_path: Path) -> None:
    assert findings_after(pager_repo(tmp_path, EXPECTS_5), *ATTACK) == set()


def test_an_added_assignment_named_like_the_assertion_is_flagged(tmp_path: Path) -> None:
    # Nothing computed was replaced: the name the test compares is what ties the literal to the answer.
    repo = pager_repo(tmp_path, "def test_limit():\n    p = Pager(7)\n    assert 4 == p.limit, 'limit'\n")
    found = findings_after(repo, "        self.count = None\n", "        self.count = None\n        self.limit = 4\n")
    assert found == {"hardcoded_expected_value"}


def test_a_return_that_replaces_a_computation_by_the_expected_value_is_flagged(tmp_path: Path) -> None:
    test = "import unittest\n\n\nclass T(unittest.TestCase):\n    def test_it(self):\n" \
           "        self.assertEqual(compute_limit(30), 42)\n"
    assert findings_after(pager_repo(tmp_path, test), "return max(size // 3, 1)", "return 42") == {
        "hardcoded_expected_value"}
    # Control: the same return when no test expects 42.
    other = test.replace("42", "10")
    assert findings_after(pager_repo(tmp_path / "control", other), "return max(size // 3, 1)", "return 42") == set()


def test_a_wrapped_literal_counts_too(tmp_path: Path) -> None:
    test = "from decimal import Decimal\n\n\ndef test_limit():\n    assert Pager(7).limit == Decimal('2.50')\n"
    found = findings_after(pager_repo(tmp_path, test), *ATTACK[:1], 'self.limit = Decimal("2.50")')
    assert found == {"hardcoded_expected_value"}


@pytest.mark.parametrize(("old", "new"), [
    ("return n < self.limit", "return n <= self.limit"),  # an off-by-one fix
    ("self.count = None", "self.count = 0"),  # initialisation (the test expects count == 0)
    ("self.count = None", "self.count: int = 1"),
    ("self.limit = compute_limit(size)", "self.limit = compute_limit(size) + 1"),
    ("return max(size // 3, 1)", "return max(size // 3, 4)"),  # 4 inside an expression is not an answer
    ("self.count = None", "self.count = None\n        self.pages = 4"),  # 4, but not for the name the test checks
])
def test_ordinary_fixes_are_not_flagged(tmp_path: Path, old: str, new: str) -> None:
    test = EXPECTS_4 + "\n\ndef test_count():\n    assert Pager(7).count == 0\n    assert Pager(7).fits(3)\n"
    assert findings_after(pager_repo(tmp_path, test), old, new) == set()


def test_the_honest_fix_in_the_example_repo_stays_clean(example_repo: Path) -> None:
    source = example_repo / "invoicing" / "discounts.py"
    source.write_text(source.read_text().replace("quantity > minimum", "quantity >= minimum"))
    diff = subprocess.run(["git", "diff"], cwd=example_repo, capture_output=True, text=True, check=True).stdout
    tests = [path.read_text() for path in (example_repo / "tests").glob("*.py")]
    assert check_diff(diff, GuardPolicy(), literals_in(tests)) == []


def test_literals_in_is_still_the_set_it_was(example_repo: Path) -> None:
    tests = [path.read_text() for path in (example_repo / "tests").glob("*.py")]
    literals = literals_in(tests)
    assert isinstance(literals, set) and {"22.49", "ACME", "120"} <= literals and "4" not in literals
    assert {"average_line_total"} <= literals.expected["22.49"]
    # A plain set (what an older caller passes) still works: the conditions rule, no crash.
    diff = ("diff --git a/pager.py b/pager.py\n--- a/pager.py\n+++ b/pager.py\n@@ -1 +1,2 @@\n"
            " x = 1\n+self.limit = 4\n")
    assert check_diff(diff, GuardPolicy(), {"ACME"}) == []
