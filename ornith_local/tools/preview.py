"""Previews of calls that change files: the unified diff the call would make to the file as it is now.

A preview reads and never writes; what it cannot work out (a path outside the workspace, an anchor that
is not in the file) it says in words, so a person is never asked to approve an empty box.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from ornith_local.tools.base import CallPreview, ToolError
from ornith_local.tools.fileio import BinaryFileError, read_text
from ornith_local.tools.files import MAX_READ_BYTES, unified_diff
from ornith_local.tools.workspace import Workspace


def file_change_preview(workspace: Workspace, rel: str, change: Callable[[str], str], verb: str,
                        fallback: Callable[[], str]) -> CallPreview:
    """The diff `change(current text)` would make to `rel`; `fallback()` (a -/+ listing) when `change` fails."""
    title = f"{verb} {rel}"
    try:
        path = workspace.resolve(rel, for_write=True)
        # Read as the tool will: beneath the root, never through a link a sandboxed command planted.
        exists = os.path.lexists(path) and not path.is_dir()
        before = read_text(path, root=workspace.root, limit=MAX_READ_BYTES)[0] if exists else ""
    except ToolError as error:
        return CallPreview("text", f"{error} (the tool will refuse it)", title)
    except (OSError, BinaryFileError) as error:
        return CallPreview("text", f"{rel}: cannot read it to preview the change ({error})", title)
    shown = workspace.relative(path)
    try:
        after = change(before)
    except ToolError as error:
        note = str(error).splitlines()[0]
        return CallPreview("diff", f"--- a/{shown}\n+++ b/{shown}\n@@ {note} @@\n{fallback()}", title)
    return CallPreview("diff", unified_diff(shown, before, after) or f"(no change to {shown})\n", title)


def replaced_lines(old: str, new: str) -> str:
    return "".join(f"-{line}\n" for line in old.splitlines()) + "".join(f"+{line}\n" for line in new.splitlines())
