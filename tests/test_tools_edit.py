"""edit_file: exact, tolerant, ambiguous and missing anchors; formats kept; the diff returned."""

from __future__ import annotations

import codecs
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ornith_local.tools.base import ToolError, call_tool
from ornith_local.tools.edit import EditFile, apply_edit
from ornith_local.tools.files import ReadFile
from ornith_local.tools.workspace import Workspace

SOURCE = '''class Cart:
    def total(self):
        s = 0
        for item in self.items:
            s += item.price
        return s

    def count(self):
        return len(self.items)
'''


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    (tmp_path / "cart.py").write_text(SOURCE)
    return Workspace.at(tmp_path)


def edit(ws: Workspace, old: str, new: str, **extra: object) -> tuple[bool, str]:
    result = call_tool(EditFile(ws), {"path": "cart.py", "old_string": old, "new_string": new, **extra})
    return result.ok, result.text


def test_exact_edit_returns_a_diff(ws: Workspace) -> None:
    ok, text = edit(ws, "s += item.price", "s += item.price * item.quantity")
    assert ok and "edited cart.py (+1 -1)" in text
    assert "+            s += item.price * item.quantity" in text
    assert "s += item.price * item.quantity" in (ws.root / "cart.py").read_text()


def test_the_same_insertion_twice_is_refused_and_the_file_keeps_one_copy(ws: Workspace) -> None:
    # The README demo's failure: a guard inserted after the signature, then the same edit sent again in the
    # next step, which put a second copy of the guard in the file (and the judge vetoed the diff).
    anchor = "    def total(self):"
    guarded = anchor + "\n        if not self.items:\n            return 0"
    assert edit(ws, anchor, guarded)[0]
    ok, text = edit(ws, anchor, guarded)
    assert not ok and "already in cart.py (line 2)" in text
    assert (ws.root / "cart.py").read_text().count("if not self.items") == 1
    # Control: an insertion that is not there yet still goes in at the same anchor.
    assert edit(ws, anchor, anchor + "\n        # totals")[0]
    assert "    def total(self):\n        # totals\n        if not self.items:" in (ws.root / "cart.py").read_text()


def test_whitespace_tolerant_match_reindents_the_replacement(ws: Workspace) -> None:
    # The model lost the class indentation and added trailing spaces.
    ok, text = edit(ws, "def count(self):  \n    return len(self.items)", "def count(self):\n    return 0")
    assert ok and "matched ignoring whitespace" in text
    assert "    def count(self):\n        return 0\n" in (ws.root / "cart.py").read_text()


def test_an_anchor_copied_with_read_file_line_numbers_still_edits(ws: Workspace) -> None:
    # A 1.5B model pasted read_file's output, numbers and all, into old_string (and new_string).
    shown = call_tool(ReadFile(ws), {"path": "cart.py", "start_line": 5, "end_line": 6}).text.split("\n[")[0]
    assert shown == "5│            s += item.price\n6│        return s"
    ok, text = edit(ws, shown, "5│            s += item.price * item.quantity\n6│        return s")
    assert ok and "edited cart.py (+1 -1)" in text
    assert (ws.root / "cart.py").read_text() == SOURCE.replace("item.price", "item.price * item.quantity")
    ok, _ = edit(ws, " 9│        return len(self.items)", "        return 0")  # numbered anchor, plain replacement
    assert ok and (ws.root / "cart.py").read_text().endswith("        return 0\n")
    with pytest.raises(ToolError, match="old_string was not found"):  # only a number: nothing to look for
        apply_edit(SOURCE, "12│", "x")


def test_ambiguous_anchor_names_the_lines(ws: Workspace) -> None:
    ok, text = edit(ws, "self.items", "self.things")
    assert not ok and "matches 2 times" in text and "lines 4, 9" in text
    ok, _ = edit(ws, "self.items", "self.things", replace_all=True)
    assert ok and (ws.root / "cart.py").read_text().count("self.things") == 2
    with pytest.raises(ToolError, match="matches 2 times"):  # overlapping places (found by hypothesis in CI)
        apply_edit("a a a \naaa", "aa", "<NEW>")


def test_missing_anchor_shows_the_closest_candidates_with_line_numbers(ws: Workspace) -> None:
    ok, text = edit(ws, "for item in self.item:\n    s += item.prize", "x")
    assert not ok
    assert "not found" in text and "line 4 (" in text and "4│        for item in self.items:" in text
    assert (ws.root / "cart.py").read_text() == SOURCE


def test_nothing_close_and_no_ops_are_refused(ws: Workspace) -> None:
    assert "nothing there is close" in edit(ws, "zzzzzzzzzzzzzzzzzzzz", "y")[1]
    assert "identical" in edit(ws, "return s", "return s")[1]
    assert "empty" in edit(ws, "", "x")[1]
    assert "use write_file" in call_tool(EditFile(ws), {"path": "nope.py", "old_string": "a", "new_string": "b"}).text


def test_edit_keeps_crlf_bom_missing_final_newline_and_mode(tmp_path: Path) -> None:
    target = tmp_path / "w.py"
    target.write_bytes(codecs.BOM_UTF8 + b"a = 1\r\nb = 2\r\nc = 3")
    target.chmod(0o750)
    ws = Workspace.at(tmp_path)
    result = call_tool(EditFile(ws), {"path": "w.py", "old_string": "b = 2\n", "new_string": "b = 20\nb2 = 4\n"})
    assert result.ok, result.text
    assert target.read_bytes() == codecs.BOM_UTF8 + b"a = 1\r\nb = 20\r\nb2 = 4\r\nc = 3"
    assert stat.S_IMODE(target.stat().st_mode) == 0o750


def test_edit_refuses_binary_files(tmp_path: Path) -> None:
    (tmp_path / "x.bin").write_bytes(b"\x00\x01abc")
    result = call_tool(EditFile(Workspace.at(tmp_path)), {"path": "x.bin", "old_string": "abc", "new_string": "d"})
    assert not result.ok and "binary" in result.text


def test_tolerant_deletion_and_replace_all_across_indentation() -> None:
    text = "if a:\n    x()\n    y()\nif b:\n        x()\n        y()\n"
    outcome = apply_edit(text, "x()\ny()", "z()", replace_all=True)
    assert outcome.tolerant and outcome.replacements == 2
    assert outcome.text == "if a:\n    z()\nif b:\n        z()\n"
    with pytest.raises(ToolError, match="2 places"):
        apply_edit(text, "x()\ny()", "z()")


@settings(max_examples=150, deadline=None)
@given(st.lists(st.text(alphabet="abc \t", max_size=6), min_size=1, max_size=12), st.data())
def test_an_exact_unique_anchor_always_edits_only_that_span(lines: list[str], data: st.DataObject) -> None:
    text = "\n".join(lines)
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    old = text[start:end]
    places = [i for i in range(len(text)) if text.startswith(old, i)] if old else []
    if len(places) != 1:  # "aa" in "aaa" is two (overlapping) places: refused as ambiguous, below
        if len(places) > 1:
            with pytest.raises(ToolError, match=f"matches {len(places)} times"):
                apply_edit(text, old, "<NEW>")
        return
    outcome = apply_edit(text, old, "<NEW>")
    assert outcome.text == text[:start] + "<NEW>" + text[end:]


def test_the_same_insertion_twice_is_refused_when_the_anchor_matched_ignoring_whitespace(ws: Workspace) -> None:
    # The repeat arrives with the class indentation lost, so only the whitespace-tolerant match finds the anchor.
    anchor = "def total(self):"
    guarded = anchor + "\n    if not self.items:\n        return 0"
    assert edit(ws, anchor + "  ", guarded)[0]
    assert "    def total(self):\n        if not self.items:\n            return 0" in (ws.root / "cart.py").read_text()
    ok, text = edit(ws, anchor + "  ", guarded)
    assert not ok and "already in cart.py (line 2)" in text
    assert (ws.root / "cart.py").read_text().count("if not self.items") == 1
    # Control: a different insertion at the same anchor, matched the same way, still goes in.
    ok, text = edit(ws, anchor + "  ", anchor + "\n    # totals")
    assert ok and "matched ignoring whitespace" in text
