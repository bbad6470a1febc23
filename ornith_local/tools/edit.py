"""edit_file: exact search-and-replace, a whitespace-tolerant second try, and errors that help a retry.

Local models copy anchors imperfectly: indentation drifts, trailing spaces vanish, tabs become spaces.
So a miss on the exact text is retried line by line ignoring surrounding whitespace, and the
replacement is re-indented to where the anchor really is. When that fails too, the error shows the
closest passages with their line numbers, which is usually enough for the model's next attempt.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ornith_local.tools.base import CallPreview, Effect, ToolError, ToolResult, arg_bool, arg_str, schema
from ornith_local.tools.diagnostics import Diagnostics
from ornith_local.tools.fileio import BinaryFileError, read_text, write_text
from ornith_local.tools.files import MAX_READ_BYTES, diff_counts, unified_diff, with_diagnostics
from ornith_local.tools.preview import file_change_preview, replaced_lines
from ornith_local.tools.workspace import Workspace, refusals_as_tool_errors

MAX_CANDIDATES = 3
# Above this many lines, candidate search looks only at windows that share a line with the anchor.
FULL_SCAN_LINES = 3000


@dataclass(frozen=True)
class EditOutcome:
    text: str
    replacements: int
    tolerant: bool  # True when the whitespace-tolerant match was used


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _tolerant_windows(lines: list[str], old_lines: list[str]) -> list[int]:
    """Start indexes where `old_lines` matches ignoring each line's leading and trailing whitespace."""
    wanted = [line.strip() for line in old_lines]
    stripped = [line.strip() for line in lines]
    size = len(wanted)
    return [start for start in range(len(lines) - size + 1) if stripped[start:start + size] == wanted]


def _reindent(new_lines: list[str], old_lines: list[str], found_lines: list[str]) -> list[str]:
    """Shift the replacement by the indentation difference between the anchor and where it was found."""
    pairs = [(old, found) for old, found in zip(old_lines, found_lines, strict=True) if old.strip()]
    if not pairs:
        return new_lines
    old_indent, found_indent = _indent(pairs[0][0]), _indent(pairs[0][1])
    if old_indent == found_indent:
        return new_lines
    shifted = []
    for line in new_lines:
        if not line.strip():
            shifted.append(line)
        elif line.startswith(old_indent):
            shifted.append(found_indent + line[len(old_indent):])
        else:
            shifted.append(found_indent + line.lstrip())
    return shifted


def closest_candidates(text: str, old: str, limit: int = MAX_CANDIDATES) -> list[tuple[int, float, str]]:
    """(first line, similarity 0..1, passage) of the passages most like `old`, best first."""
    lines = text.split("\n")
    old_lines = old.strip("\n").split("\n")
    size = max(len(old_lines), 1)
    target = "\n".join(line.strip() for line in old_lines)
    starts: range | list[int] = range(max(len(lines) - size + 1, 1))
    if len(lines) > FULL_SCAN_LINES:
        anchors = {line.strip() for line in old_lines if line.strip()}
        starts = sorted({max(i - offset, 0) for i, line in enumerate(lines) if line.strip() in anchors
                         for offset in range(size)})
    scored: list[tuple[float, int]] = []
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    for start in starts:
        window = "\n".join(line.strip() for line in lines[start:start + size])
        matcher.set_seq1(window)
        if matcher.real_quick_ratio() < 0.3 or matcher.quick_ratio() < 0.3:
            continue
        scored.append((matcher.ratio(), start))
    scored.sort(key=lambda item: (-item[0], item[1]))
    picked: list[tuple[int, float, str]] = []
    for ratio, start in scored:
        # Overlapping windows are the same place seen twice; keep the best one.
        if any(abs(start - (chosen - 1)) < size for chosen, _, _ in picked):
            continue
        picked.append((start + 1, ratio, "\n".join(lines[start:start + size])))
        if len(picked) == limit:
            break
    return picked


_LINE_NUMBER = re.compile(r"^ *\d+│")


def _numbered(text: str) -> bool:
    lines = [line for line in text.split("\n") if line.strip()]
    return bool(lines) and all(_LINE_NUMBER.match(line) for line in lines)


def _strip_numbers(text: str) -> str:
    return "\n".join(_LINE_NUMBER.sub("", line, count=1) for line in text.split("\n"))


def _occurrences(text: str, old: str) -> list[int]:
    """Every offset where `old` starts, overlapping ones included."""
    starts, position = [], text.find(old)
    while position != -1:
        starts.append(position)
        position = text.find(old, position + 1)
    return starts


def _refuse_repeat(text: str, place: int, old: str, new: str, where: str) -> None:
    """An insertion around `old` that is already there: applying it again would duplicate the code it added."""
    before, found, after = new.partition(old)
    if not found or not (before or after):
        return
    start = place - len(before)
    if start >= 0 and text[start:start + len(new)] == new:
        raise _already_there(where, line_of(text, start))


def _refuse_repeat_lines(lines: list[str], start: int, old_lines: list[str], new_lines: list[str],
                         where: str) -> None:
    """`_refuse_repeat` for a match found ignoring whitespace: the same test on stripped lines."""
    old, new = [line.strip() for line in old_lines], [line.strip() for line in new_lines]
    if len(new) <= len(old):
        return
    for shift in range(len(new) - len(old) + 1):
        first = start - shift
        if new[shift:shift + len(old)] == old and first >= 0 and \
                [line.strip() for line in lines[first:first + len(new)]] == new:
            raise _already_there(where, first + 1)


def _already_there(where: str, line: int) -> ToolError:
    return ToolError(f"this edit is already in {where} (line {line}): new_string is there around old_string; "
                     "applying it again would duplicate it. Read the file to see it now")


def apply_edit(text: str, old: str, new: str, *, replace_all: bool = False, where: str = "the file") -> EditOutcome:
    """The text after replacing `old` by `new`, or a ToolError that says why not and what is close."""
    if not old:
        raise ToolError("old_string is empty; give the exact text to replace (use write_file to create a file)")
    if old == new:
        raise ToolError("old_string and new_string are identical; nothing to change")
    places = _occurrences(text, old)
    if not places and _numbered(old) and _strip_numbers(old).strip():
        # Copied from read_file with its line numbers ("12│    return x"): the text is the part after "│".
        old = _strip_numbers(old)
        new = _strip_numbers(new) if _numbered(new) else new
        places = _occurrences(text, old)
    if len(places) == 1:
        _refuse_repeat(text, places[0], old, new, where)
        return EditOutcome(text[:places[0]] + new + text[places[0] + len(old):], 1, tolerant=False)
    if places and replace_all:
        return EditOutcome(text.replace(old, new), text.count(old), tolerant=False)
    if places:
        # Overlapping places count too: "aa" in "aaa" is two places, and replacing the first would be a guess.
        where_lines = ", ".join(str(line_of(text, start)) for start in places)
        raise ToolError(f"old_string matches {len(places)} times in {where} (lines {where_lines}); "
                        "add surrounding lines to make it unique, or set replace_all")

    lines = text.split("\n")
    old_lines = old.strip("\n").split("\n")
    new_lines = new.strip("\n").split("\n") if new.strip("\n") else []
    starts = _tolerant_windows(lines, old_lines) if any(line.strip() for line in old_lines) else []
    if len(starts) == 1:
        _refuse_repeat_lines(lines, starts[0], old_lines, new_lines, where)
    if len(starts) == 1 or (len(starts) > 1 and replace_all):
        size = len(old_lines)
        for start in reversed(starts):
            found = lines[start:start + size]
            lines[start:start + size] = _reindent(new_lines, old_lines, found)
        return EditOutcome("\n".join(lines), len(starts), tolerant=True)
    if len(starts) > 1:
        numbers = ", ".join(str(start + 1) for start in starts)
        raise ToolError(f"old_string matches {len(starts)} places in {where} when whitespace is ignored "
                        f"(lines {numbers}); add surrounding lines to make it unique, or set replace_all")

    candidates = closest_candidates(text, old)
    if not candidates:
        raise ToolError(f"old_string was not found in {where}, and nothing there is close; read the file first")
    shown = []
    for first, ratio, passage in candidates:
        numbered = "\n".join(f"  {first + i}│{line}" for i, line in enumerate(passage.split("\n")))
        shown.append(f"line {first} ({ratio:.0%} similar):\n{numbered}")
    raise ToolError(f"old_string was not found in {where}. Closest passages:\n" + "\n".join(shown)
                    + "\nCopy the exact text (including indentation) into old_string and try again.")


@dataclass
class EditFile:
    workspace: Workspace
    name: str = "edit_file"
    description: str = (
        "Replace old_string with new_string in a file. old_string must match exactly once (include a few "
        "surrounding lines to make it unique) unless replace_all is true. Indentation differences are "
        "tolerated; on a miss the error shows the closest passages with line numbers."
    )
    parameters: dict[str, Any] = field(default_factory=lambda: schema({
        "path": {"type": "string", "description": "file path relative to the workspace root"},
        "old_string": {"type": "string", "description": "the exact text to replace"},
        "new_string": {"type": "string", "description": "the text to put in its place"},
        "replace_all": {"type": "boolean", "description": "replace every occurrence (default false)"},
    }, ["path", "old_string", "new_string"]))
    effect: ClassVar[Effect] = "edit"
    diagnostics: Diagnostics | None = None  # the run's checks; None: the result carries none

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        old, new = str(args.get("old_string", "")), str(args.get("new_string", ""))
        return file_change_preview(
            self.workspace, str(args.get("path", "")),
            lambda before: apply_edit(before, old, new, replace_all=bool(args.get("replace_all")), where="").text,
            "edit", lambda: replaced_lines(old, new))

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        rel = arg_str(args, "path")
        old = arg_str(args, "old_string").replace("\r\n", "\n")
        new = arg_str(args, "new_string").replace("\r\n", "\n")
        replace_all = arg_bool(args, "replace_all")
        path = self.workspace.resolve(rel, for_write=True)
        if not os.path.lexists(path) or path.is_dir():
            raise ToolError(f"{rel}: no such file (use write_file to create it)")
        root = self.workspace.root
        with refusals_as_tool_errors():
            try:
                before, fmt = read_text(path, root=root, limit=MAX_READ_BYTES)
            except BinaryFileError:
                raise ToolError(f"{rel} is a binary file; edit_file works on text") from None
            shown = self.workspace.relative(path)
            outcome = apply_edit(before, old, new, replace_all=replace_all, where=shown)
            write_text(path, outcome.text, fmt, root=root)
            after, _ = read_text(path, root=root, limit=MAX_READ_BYTES)
        self.workspace.seen.note(shown)  # it matched the text: the run has seen this file (write_file may replace it)
        diff = unified_diff(shown, before, after)
        added, removed = diff_counts(diff)
        how = " (matched ignoring whitespace)" if outcome.tolerant else ""
        times = f", {outcome.replacements} replacements" if outcome.replacements > 1 else ""
        summary = f"edited {shown} (+{added} -{removed}{times}){how}"
        result = ToolResult(True, f"{summary}\n{diff}", title=summary, diff=diff,
                            data={"path": shown, "added": added, "removed": removed,
                                  "replacements": outcome.replacements, "tolerant": outcome.tolerant})
        return with_diagnostics(result, self.diagnostics, path, shown, before, after)
