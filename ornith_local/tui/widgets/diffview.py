"""Unified diffs as Textual Content: +/- lines tinted, the code in them syntax-highlighted.

Colours are the theme's ($success, $error, $text-accent...), so a diff reads the same in the light
and the dark theme; the code is highlighted with the language of the file the hunk belongs to.
"""

from __future__ import annotations

from functools import lru_cache

from pygments.lexers import get_lexer_for_filename  # type: ignore[import-untyped]
from pygments.util import ClassNotFound  # type: ignore[import-untyped]
from textual.content import Content
from textual.highlight import highlight

META_PREFIXES = ("diff --git", "index ", "new file", "deleted file", "similarity", "rename ", "old mode",
                 "new mode", "Binary files")
LINE_STYLE = {"+": ("bold $text-success", "on $success 12%"), "-": ("bold $text-error", "on $error 12%")}


@lru_cache(maxsize=64)
def language_of(path: str | None) -> str:
    if not path:
        return "text"
    try:
        return str(get_lexer_for_filename(path, stripnl=False).aliases[0])
    except (ClassNotFound, IndexError):
        return "text"


def _path_from_header(line: str) -> str | None:
    name = line[4:].split("\t")[0].strip()
    if name == "/dev/null":
        return None
    return name[2:] if name.startswith(("a/", "b/")) else name


def diff_content(diff: str) -> Content:
    path: str | None = None
    rows: list[Content] = []
    for line in diff.rstrip("\n").splitlines():
        if line.startswith(META_PREFIXES):
            rows.append(Content.styled(line, "$text-muted"))
        elif line.startswith(("--- ", "+++ ")):
            path = _path_from_header(line) or path
            rows.append(Content.styled(line, "bold"))
        elif line.startswith("@@"):
            rows.append(Content.styled(line, "$text-accent"))
        elif line[:1] in ("+", "-", " "):
            marker, code = line[:1], line[1:]
            body = highlight(code, language=language_of(path)) if code.strip() else Content(code)
            marker_style, line_style = LINE_STYLE.get(marker, ("$text-muted", ""))
            row = Content.styled(marker, marker_style) + body
            rows.append(row.stylize_before(line_style) if line_style else row)
        else:
            rows.append(Content.styled(line, "$text-muted"))  # "\ No newline at end of file" and the like
    return Content("\n").join(rows)


def command_content(command: str) -> Content:
    return highlight(command, language="bash")
