"""read_file, list_dir and write_file."""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ornith_local.sandbox.workspace_fs import FileTooLarge, UnsafePath, human_size
from ornith_local.tools.base import CallPreview, Effect, ToolError, ToolResult, arg_int, arg_str, plain_preview, schema
from ornith_local.tools.fileio import BinaryFileError, read_text, write_text
from ornith_local.tools.listing import list_files
from ornith_local.tools.workspace import Workspace, refusals_as_tool_errors

MAX_LINES = 400  # lines shown by one read_file call unless the model asks for a range
MAX_LINE_CHARS = 500
MAX_ENTRIES = 300
# Text files bigger than this are data or generated: reading one whole would flood the context (or the memory).
MAX_READ_BYTES = 16 * 1024 * 1024


def unified_diff(rel: str, before: str, after: str, context: int = 3) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=f"a/{rel}", tofile=f"b/{rel}", n=context,
    )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)


def diff_counts(diff: str) -> tuple[int, int]:
    added = sum(1 for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in diff.splitlines() if line.startswith("-") and not line.startswith("---"))
    return added, removed


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
        "Create a file (parent directories too) or replace a whole file's content. Prefer edit_file for "
        "changes to an existing file. An existing file keeps its encoding, line endings and permissions."
    )
    parameters: dict[str, Any] = field(default_factory=lambda: schema({
        "path": {"type": "string", "description": "file path relative to the workspace root"},
        "content": {"type": "string", "description": "the complete new content of the file"},
    }, ["path", "content"]))
    effect: ClassVar[Effect] = "edit"

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
        with refusals_as_tool_errors():
            if os.path.lexists(path):
                try:
                    before, _ = read_text(path, root=root, limit=MAX_READ_BYTES)
                except BinaryFileError:
                    raise ToolError(f"{rel} is a binary file; refusing to overwrite it with text") from None
            content = content.replace("\r\n", "\n")
            write_text(path, content, root=root)
            after, _ = read_text(path, root=root, limit=MAX_READ_BYTES)
        if before is None:
            lines = len(after.splitlines())
            return ToolResult(True, f"created {shown} ({lines} lines)", title=f"created {shown} ({lines} lines)",
                              data={"path": shown, "created": True}, diff=unified_diff(shown, "", after))
        diff = unified_diff(shown, before, after)
        added, removed = diff_counts(diff)
        return ToolResult(True, f"wrote {shown} (+{added} -{removed})", title=f"wrote {shown} (+{added} -{removed})",
                          data={"path": shown, "created": False, "added": added, "removed": removed}, diff=diff)
