"""search: ripgrep when it is installed, the same results from pure Python when it is not."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ornith_local.sandbox.workspace_fs import WorkspaceFS
from ornith_local.tools.base import (
    CallPreview,
    Effect,
    ToolError,
    ToolResult,
    arg_bool,
    arg_int,
    arg_str,
    plain_preview,
    schema,
)
from ornith_local.tools.fileio import BinaryFileError, decode
from ornith_local.tools.listing import list_files
from ornith_local.tools.workspace import Workspace

DEFAULT_MAX_RESULTS = 100
MAX_LINE_CHARS = 300
MAX_FILE_BYTES = 2_000_000  # bigger files are generated or data; rg skips nothing, but the fallback would crawl


@dataclass(frozen=True)
class Match:
    path: str
    line: int
    text: str


def _python_search(root: Path, base: str, regex: re.Pattern[str], glob: str | None, limit: int,
                   skip: Callable[[str], bool] = lambda rel: False) -> list[Match]:
    matches: list[Match] = []
    fs = WorkspaceFS(root)
    for rel in list_files(root):
        if base and not (rel == base or rel.startswith(base + "/")):
            continue
        if skip(rel):
            continue
        if glob and not (fnmatch.fnmatch(rel, glob) or fnmatch.fnmatch(rel.rsplit("/", 1)[-1], glob)):
            continue
        try:
            # Beneath the root, link-free: a planted link to ~/.ssh/id_rsa (or a dir link to ~) is skipped, as
            # ripgrep skips links; a FIFO does not block, and files over the cap are skipped like rg's.
            text, _ = decode(fs.read_bytes(rel, MAX_FILE_BYTES))
        except (OSError, BinaryFileError, UnicodeDecodeError):  # UnsafePath is an OSError
            continue
        for number, line in enumerate(text.split("\n"), start=1):
            if regex.search(line):
                matches.append(Match(rel, number, line))
                if len(matches) >= limit:
                    return matches
    return matches


def _rg_search(rg: str, root: Path, base: str, pattern: str, *, literal: bool, ignore_case: bool,
               glob: str | None, limit: int, exclude: tuple[str, ...] = ()) -> list[Match]:
    command = [rg, "--json", "--no-config", "--hidden", "--no-require-git", "--glob", "!.git",
               "--max-filesize", str(MAX_FILE_BYTES)]
    if literal:
        command.append("--fixed-strings")
    if ignore_case:
        command.append("--ignore-case")
    if glob:
        command += ["--glob", glob]
    for hidden in exclude:  # after the user's glob: a later glob wins in ripgrep
        command += ["--glob", "!" + hidden]
    command += ["--regexp", pattern, "--", base or "."]
    result = subprocess.run(command, cwd=root, capture_output=True, timeout=60)
    if result.returncode == 2 and not result.stdout:
        message = result.stderr.decode(errors="replace").strip().splitlines()
        raise ToolError(f"search: {message[-1] if message else 'ripgrep failed'}")
    matches: list[Match] = []
    for raw in result.stdout.splitlines():
        event = json.loads(raw)
        if event.get("type") != "match":
            continue
        data = event["data"]
        path = data["path"].get("text")
        text = data["lines"].get("text")
        if path is None or text is None:  # not UTF-8: rg sends bytes as base64; skip like the fallback
            continue
        rel = path[2:] if path.startswith("./") else path
        matches.append(Match(rel, int(data["line_number"]), text.rstrip("\r\n")))
        if len(matches) >= limit:
            break
    matches.sort(key=lambda m: (m.path, m.line))
    return matches


@dataclass
class Search:
    workspace: Workspace
    use_ripgrep: bool = True
    name: str = "search"
    description: str = (
        "Search the workspace's files for a regular expression (or a literal string with literal=true). "
        "Skips files ignored by .gitignore. Returns path:line: text for each matching line."
    )
    parameters: dict[str, Any] = field(default_factory=lambda: schema({
        "pattern": {"type": "string", "description": "regular expression, or literal text with literal=true"},
        "path": {"type": "string", "description": "limit to this file or directory (default: everything)"},
        "glob": {"type": "string", "description": "only files matching this glob, e.g. '*.py'"},
        "literal": {"type": "boolean", "description": "treat pattern as plain text (default false)"},
        "ignore_case": {"type": "boolean", "description": "case-insensitive (default false)"},
        "max_results": {"type": "integer", "description": f"default {DEFAULT_MAX_RESULTS}"},
    }, ["pattern"]))
    effect: ClassVar[Effect] = "read"

    def preview(self, args: Mapping[str, Any]) -> CallPreview:
        return plain_preview(self.name, args)


    def run(self, args: Mapping[str, Any]) -> ToolResult:
        pattern = arg_str(args, "pattern")
        if not pattern:
            raise ToolError("pattern is empty")
        asked_literal = literal = arg_bool(args, "literal")
        ignore_case = arg_bool(args, "ignore_case")
        glob = str(args["glob"]) if args.get("glob") else None
        limit = max(arg_int(args, "max_results", DEFAULT_MAX_RESULTS) or DEFAULT_MAX_RESULTS, 1)
        base_path = self.workspace.resolve(arg_str(args, "path", "."))
        base = self.workspace.relative(base_path)
        base = "" if base == "." else base
        try:
            re.compile(pattern)
        except re.error:
            literal = True  # not a regex at all: the model meant the text (a signature, a call with parentheses)
        rg = shutil.which("rg") if self.use_ripgrep else None
        matches = self._search(rg, pattern, base, literal, ignore_case, glob, limit + 1)
        if not matches and not literal and re.escape(pattern) != pattern:
            # "def parse_tags(text: str) -> list[str]:" as a regex matches nothing, not even itself. Models paste
            # code they read; on no regex match the same text is looked up as plain text.
            literal = True
            matches = self._search(rg, pattern, base, literal, ignore_case, glob, limit + 1)
        truncated = len(matches) > limit
        matches = matches[:limit]
        lines = []
        for match in matches:
            text = match.text if len(match.text) <= MAX_LINE_CHARS else match.text[:MAX_LINE_CHARS] + "…"
            lines.append(f"{match.path}:{match.line}: {text}")
        files = len({m.path for m in matches})
        body = "\n".join(lines) if lines else f"no matches for {pattern!r}"
        if truncated:
            body += f"\n[more than {limit} matches; narrow the pattern, path or glob]"
        title = f"search {pattern!r}: {len(matches)}{'+' if truncated else ''} matches in {files} files"
        if literal and not asked_literal:
            body = f"(searched as plain text)\n{body}"
        return ToolResult(True, body, title=title,
                          data={"matches": [m.__dict__ for m in matches], "truncated": truncated, "literal": literal,
                                "engine": "ripgrep" if rg else "python"})

    def _search(self, rg: str | None, pattern: str, base: str, literal: bool, ignore_case: bool, glob: str | None,
                limit: int) -> list[Match]:
        # Held-back tests stay unseen when the search names no path too (the guard checks named paths only):
        # they are never read, and rg is told to skip them, its matches filtered again with our own matcher.
        hidden = self.workspace.is_hidden
        if rg:
            found = _rg_search(rg, self.workspace.root, base, pattern, literal=literal, ignore_case=ignore_case,
                               glob=glob, limit=limit, exclude=self.workspace.hidden)
            return [match for match in found if not hidden(match.path)]
        regex = re.compile(re.escape(pattern) if literal else pattern, re.IGNORECASE if ignore_case else 0)
        return _python_search(self.workspace.root, base, regex, glob, limit, skip=hidden)
