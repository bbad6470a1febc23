"""read_file, list_dir and write_file."""

from __future__ import annotations

import difflib
import os
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ornith_local.sandbox.workspace_fs import FileTooLarge, UnsafePath, human_size
from ornith_local.tools.base import CallPreview, Effect, ToolError, ToolResult, arg_int, arg_str, plain_preview, schema
from ornith_local.tools.fileio import BinaryFileError, read_text, write_text
from ornith_local.tools.listing import list_files
from ornith_local.tools.workspace import Workspace, refusals_as_tool_errors

if TYPE_CHECKING:
    from ornith_local.tools.diagnostics import Diagnostics

MAX_LINES = 400  # lines shown by one read_file call unless the model asks for a range
MAX_LINE_CHARS = 500
MAX_ENTRIES = 300
# Text files bigger than this are data or generated: reading one whole would flood the context (or the memory).
MAX_READ_BYTES = 16 * 1024 * 1024
# write_file over an existing file of at least this many non-blank lines must keep at least half of them
# (compared as a multiset of whitespace-stripped lines, so moving code or re-indenting it is no loss).
REWRITE_MIN_LINES = 20
REWRITE_MIN_KEPT = 0.5
PATCH_SUFFIXES = (".diff", ".patch")  # the only files whose content may be a patch


def unified_diff(rel: str, before: str, after: str, context: int = 3) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=f"a/{rel}", tofile=f"b/{rel}", n=context,
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def with_diagnostics(result: ToolResult, diagnostics: Diagnostics | None, path: Path, shown: str,
                     before: str | None, after: str) -> ToolResult:
    """`result` with the problems the edit introduced appended (what the model reads and the title a person sees)."""
    if diagnostics is None:
        return result
    report = diagnostics.after_edit(path, shown, before, after)
    data = {**result.data, "diagnostics": [item.format(shown) for item in report.new],
            "unparseable": report.unparseable, "diagnostics_timed_out": list(report.timed_out)}
    note = report.text()
    if not note:
        return replace(result, data=data)
    count = len(report.new) + report.more
    title = f"{result.title}; {count} new problem{'s' if count != 1 else ''}" if count else result.title
    return replace(result, text=f"{result.text.rstrip(chr(10))}\n{note}", title=title, data=data)


def diff_counts(diff: str) -> tuple[int, int]:
    added = sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in diff.splitlines() if line.startswith("-") and not line.startswith("---"))
    return added, removed


_PATCH_HEADER = re.compile(r"^(diff --git |diff -[A-Za-z]+ |index [0-9a-f]{7,}\.\.[0-9a-f]{7,}|Index: \S)")
_HUNK_HEADER = re.compile(r"^@@ -\d+(?:,\d+)? \+\d+(?:,\d+)? @@")


def looks_like_patch(content: str) -> bool:
    """Whether `content` is a unified diff rather than a file's text.

    Either it has diff headers (`diff --git`, `index ..`, a `--- x` line followed by `+++ y`, `@@ -N,M +N,M @@`)
    and those headers with the hunk lines after each `@@` (lines starting '+', '-', ' ' or '\\') make up at
    least half of its non-blank lines (a test that embeds a small diff in a string is not a patch); or it has no
    headers but every non-blank line starts with '+', '-', ' ' or '\\', with at least one '+' line, one '-'
    line, and two such lines in all (a bare hunk).
    """
    lines = content.splitlines()
    nonblank = [line for line in lines if line.strip()]
    if not nonblank:
        return False
    headers = patch_lines = 0
    in_hunk = False
    for index, line in enumerate(lines):
        after = lines[index + 1] if index + 1 < len(lines) else ""
        before = lines[index - 1] if index else ""
        if _HUNK_HEADER.match(line):
            headers, patch_lines, in_hunk = headers + 1, patch_lines + 1, True
        elif (_PATCH_HEADER.match(line) or (line.startswith("--- ") and after.startswith("+++ "))
              or (line.startswith("+++ ") and before.startswith("--- "))):
            headers, patch_lines, in_hunk = headers + 1, patch_lines + 1, False
        elif not line.strip():
            continue  # a blank line neither ends a hunk nor counts
        elif in_hunk and line[0] in "+- \\":
            patch_lines += 1
        else:
            in_hunk = False
    if headers:
        return patch_lines * 2 >= len(nonblank)
    plus = sum(line.startswith("+") for line in nonblank)
    minus = sum(line.startswith("-") for line in nonblank)
    return all(line[0] in "+- \\" for line in nonblank) and plus >= 1 and minus >= 1 and plus + minus >= 2


def lines_kept(before: str, after: str) -> tuple[int, int]:
    """(non-blank lines of `before`, how many of them `after` still has), lines compared stripped, as multisets."""
    old = Counter(line.strip() for line in before.splitlines() if line.strip())
    new = Counter(line.strip() for line in after.splitlines() if line.strip())
    return sum(old.values()), sum((old & new).values())


@dataclass
class ReadFile:
    workspace: Workspace
    name: str = "read_file"
    description: str = (
        "Read a text file of the workspace with line numbers. Large files are shown "
        f"{MAX_LINES} lines at a time: pass start_line / end_line (1-based, inclusive) for the rest."
    )
    parameters: dict[str, Any] = field(default_factory=lambda: schema({
        "path": {"type": "string", "description": "file path relative to the workspace root"},
        "start_line": {"type": "integer", "description": "first line to show (1-based)"},
        "end_line": {"type": "integer", "description": "last line to show (inclusive)"},
    }, ["path"]))
    effect: ClassVar[Effect] = "read"

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        return plain_preview(self.name, args)

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        rel = arg_str(args, "path")
        path = self.workspace.resolve(rel)
        if path.is_dir():
            raise ToolError(f"{rel} is a directory; use list_dir")
        if not os.path.lexists(path) or self.workspace.is_hidden(self.workspace.relative(path)):
            raise ToolError(f"{rel}: no such file")
        try:
            text, fmt = read_text(path, root=self.workspace.root, limit=MAX_READ_BYTES)
        except FileTooLarge as error:
            raise ToolError(f"{rel} is {human_size(error.size)}, more than read_file shows "
                            f"({human_size(MAX_READ_BYTES)}); use search to find the lines you need") from None
        except UnsafePath as error:
            raise ToolError(str(error)) from None
        except BinaryFileError:
            size = path.stat().st_size
            return ToolResult(True, f"{rel} is a binary file ({size} bytes); not shown.", title=f"{rel} (binary)",
                              data={"path": rel, "binary": True, "size": size})
        lines = text.splitlines()
        total = len(lines)
        start = max(arg_int(args, "start_line", 1) or 1, 1)
        end = arg_int(args, "end_line")
        end = min(end if end is not None else start + MAX_LINES - 1, total)
        if total and start > total:
            raise ToolError(f"{rel} has {total} lines; start_line {start} is past the end")
        width = len(str(max(end, 1)))
        shown = []
        for number in range(start, end + 1):
            line = lines[number - 1]
            if len(line) > MAX_LINE_CHARS:
                line = line[:MAX_LINE_CHARS] + f"… [{len(line) - MAX_LINE_CHARS} more characters]"
            shown.append(f"{number:>{width}}│{line}")
        body = "\n".join(shown) if shown else "(empty file)"
        self.workspace.seen.note(self.workspace.relative(path))
        note = ""
        if end < total:
            note = f"\n[showing lines {start}-{end} of {total}; read more with start_line={end + 1}]"
        return ToolResult(True, body + note, title=f"read {rel} lines {start}-{end} of {total}",
                          data={"path": rel, "start_line": start, "end_line": end, "total_lines": total,
                                "encoding": fmt.encoding})


@dataclass
class ListDir:
    workspace: Workspace
    name: str = "list_dir"
    description: str = (
        "List files and directories under a workspace path (default: the root), skipping what .gitignore "
        "ignores. depth 1 shows direct children; directories end with '/' and show their file count."
    )
    parameters: dict[str, Any] = field(default_factory=lambda: schema({
        "path": {"type": "string", "description": "directory relative to the workspace root (default '.')"},
        "depth": {"type": "integer", "description": "how many levels to show (default 2)"},
    }, []))
    effect: ClassVar[Effect] = "read"

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        return plain_preview(self.name, args)

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        rel = arg_str(args, "path", ".")
        depth = max(arg_int(args, "depth", 2) or 1, 1)
        directory = self.workspace.resolve(rel)
        if not directory.is_dir():
            raise ToolError(f"{rel}: not a directory")
        prefix = self.workspace.relative(directory)
        prefix = "" if prefix == "." else prefix + "/"
        files = [f[len(prefix):] for f in list_files(self.workspace.root)
                 if f.startswith(prefix) and not self.workspace.is_hidden(f)]
        # Count files per directory at each shown level, then print a sorted tree.
        entries: dict[str, int] = {}
        for name in files:
            parts = name.split("/")
            for level in range(1, min(len(parts), depth + 1)):
                key = "/".join(parts[:level]) + "/"
                entries[key] = entries.get(key, 0) + 1
            if len(parts) <= depth:
                entries[name] = -1
        lines = []
        for key in sorted(entries):
            indent = "  " * (key.rstrip("/").count("/"))
            label = key.rstrip("/").rsplit("/", 1)[-1]
            lines.append(f"{indent}{label}/ ({entries[key]} files)" if key.endswith("/") else f"{indent}{label}")
        truncated = len(lines) > MAX_ENTRIES
        body = "\n".join(lines[:MAX_ENTRIES]) or "(empty)"
        if truncated:
            body += f"\n[{len(lines) - MAX_ENTRIES} more entries; list a subdirectory or lower depth]"
        return ToolResult(True, body, title=f"list {prefix or '.'} ({len(files)} files)",
                          data={"path": prefix or ".", "files": len(files)})


@dataclass
class WriteFile:
    workspace: Workspace
    name: str = "write_file"
    description: str = (
        "Create a file (parent directories too) or replace a whole file's content. Use edit_file for "
        "changes to an existing file; replacing one needs a read_file of it first and must keep most of its "
        "lines. The content is the file's complete text, never a diff. An existing file keeps its encoding, "
        "line endings and permissions."
    )
    parameters: dict[str, Any] = field(default_factory=lambda: schema({
        "path": {"type": "string", "description": "file path relative to the workspace root"},
        "content": {"type": "string", "description": "the complete new content of the file"},
    }, ["path", "content"]))
    effect: ClassVar[Effect] = "edit"
    diagnostics: Diagnostics | None = None  # the run's checks; None: the result carries none

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        from ornith_local.tools.preview import file_change_preview  # it builds on this module's diff

        content = str(args.get("content", "")).replace("\r\n", "\n")
        return file_change_preview(self.workspace, str(args.get("path", "")), lambda before: content, "write",
                                   lambda: "".join(f"+{line}\n" for line in content.splitlines()))

    def run(self, args: Mapping[str, Any]) -> ToolResult:
        rel = arg_str(args, "path")
        content = arg_str(args, "content")
        path = self.workspace.resolve(rel, for_write=True)
        if path.is_dir():
            raise ToolError(f"{rel} is a directory")
        shown = self.workspace.relative(path)
        before: str | None = None
        root = self.workspace.root
        content = content.replace("\r\n", "\n")
        if not shown.lower().endswith(PATCH_SUFFIXES) and looks_like_patch(content):
            raise ToolError(f"refused: the content for {shown} is a diff, not the file's text; use edit_file "
                            "(old_string/new_string) to change part of a file, or write_file with the complete text")
        with refusals_as_tool_errors():
            if os.path.lexists(path):
                try:
                    before, _ = read_text(path, root=root, limit=MAX_READ_BYTES)
                except BinaryFileError:
                    raise ToolError(f"{rel} is a binary file; refusing to overwrite it with text") from None
                self._check_replace(shown, before, content)
            write_text(path, content, root=root)
            after, _ = read_text(path, root=root, limit=MAX_READ_BYTES)
        self.workspace.seen.note(shown)
        if before is None:
            lines = len(after.splitlines())
            created = ToolResult(True, f"created {shown} ({lines} lines)", title=f"created {shown} ({lines} lines)",
                                 data={"path": shown, "created": True}, diff=unified_diff(shown, "", after))
            return with_diagnostics(created, self.diagnostics, path, shown, None, after)
        diff = unified_diff(shown, before, after)
        added, removed = diff_counts(diff)
        wrote = ToolResult(True, f"wrote {shown} (+{added} -{removed})", title=f"wrote {shown} (+{added} -{removed})",
                           data={"path": shown, "created": False, "added": added, "removed": removed}, diff=diff)
        return with_diagnostics(wrote, self.diagnostics, path, shown, before, after)

    def _check_replace(self, shown: str, before: str, content: str) -> None:
        """Refuse replacing an existing file the run has not seen, or one whose lines the new content mostly drops."""
        if shown not in self.workspace.seen:
            raise ToolError(f"refused: read_file {shown} first; it exists and this run has not read it "
                            "(use edit_file for a change to part of a file)")
        total, kept = lines_kept(before, content)
        if total and not content.strip():
            raise ToolError(f"refused: empty content would erase all {total} lines of {shown}; "
                            "use edit_file to remove the lines you mean to remove")
        if total >= REWRITE_MIN_LINES and kept < total * REWRITE_MIN_KEPT:
            raise ToolError(f"refused: this would drop {total - kept} of the {total} lines of {shown} "
                            f"(keeping {kept}); use edit_file for a change to part of a file")
