"""The agent suite's measure of diagnostics (benchmarks/edit_syntax.py): the edits that left a file
unparseable, and the turns until it parsed again, read from a run's trajectory."""

from __future__ import annotations

from benchmarks.edit_syntax import edit_syntax
from ornith_local.agent import events

SOURCE = """import os


def total(items):
    return sum(item.price for item in items)
"""


def turn(number: int) -> events.ModelTurn:
    return events.ModelTurn(turn=number)


def called(tool: str, **arguments: object) -> events.ToolCalled:
    return events.ToolCalled(tool=tool, arguments=dict(arguments))


def finished(tool: str, ok: bool = True) -> events.ToolFinished:
    return events.ToolFinished(tool=tool, ok=ok)


def test_edit_syntax_counts_breaking_edits_and_the_turns_until_the_file_parses_again() -> None:
    original = {"cart.py": SOURCE}
    trajectory = [
        turn(1), called("edit_file", path="cart.py", old_string="(items):", new_string="(items:"),
        finished("edit_file"),
        turn(2), called("read_file", path="cart.py"), finished("read_file"),
        turn(3), called("edit_file", path="./cart.py", old_string="(items:", new_string="(items):"),
        finished("edit_file"),
        turn(4), called("write_file", path="new.py", content="x = (\n"), finished("write_file"),
        turn(5), called("edit_file", path="cart.py", old_string="nowhere", new_string="x"),
        finished("edit_file", ok=False),
        called("write_file", path="notes.txt", content="(("), finished("write_file"),
    ]
    stats = edit_syntax(trajectory, original.get)
    # cart.py broke at turn 1 and parsed again at turn 3; new.py was created broken and never fixed; the failed
    # edit and the text file do not count
    assert (stats.edits, stats.unparseable, stats.recovery_turns, stats.unrecovered) == (3, 2, [2], 1)


def test_edit_syntax_of_a_run_whose_edits_all_parse() -> None:
    trajectory = [turn(1), called("edit_file", path="cart.py", old_string="import os\n", new_string=""),
                  finished("edit_file")]
    stats = edit_syntax(trajectory, {"cart.py": SOURCE}.get)
    assert (stats.edits, stats.unparseable, stats.recovery_turns, stats.unrecovered) == (1, 0, [], 0)
