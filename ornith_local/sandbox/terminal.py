"""Text from the sandboxed side, made safe to print on the user's terminal.

Tool output, file contents and command output are written by the repository or the model. Printed raw,
an escape sequence in them can retitle the window, plant an OSC 52 clipboard write or an OSC 8 link that
hides its target, move the cursor to overwrite what ornith printed, or reset the terminal. Every sequence
(CSI, OSC, DCS/SOS/PM/APC strings, other ESC sequences, their 8-bit C1 forms) and every other control
character except tab and newline is removed before ornith prints such text; JSON output needs nothing,
as `json.dumps` escapes control characters itself.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

# ECMA-48 shapes. String sequences end at BEL, ST (ESC \ or 0x9c) or, as a terminal would not, at a newline,
# so one unterminated OSC cannot swallow the rest of the output.
_CONTROLS = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI: colours, cursor moves, erase
    r"|\x1b[\]PX^_][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"  # OSC / DCS / SOS / PM / APC strings
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
    r"|[\x90\x98\x9d\x9e\x9f][^\x07\x1b\x9c\n]*(?:\x07|\x1b\\|\x9c)?"  # 8-bit string introducers
    r"|\x1b[ -/]*[0-~]"  # other escape sequences: ESC c (reset), ESC 7/8, charset designations
    r"|[\x00-\x08\x0b-\x1f\x7f-\x9f]"  # lone ESC, other C0 controls but tab and newline, DEL, C1
)


def strip_terminal_controls(text: str) -> str:
    """`text` with every terminal control sequence and control character removed (tab and newline kept)."""
    return _CONTROLS.sub("", text.replace("\r\n", "\n"))


def strip_controls_deep(value: Any) -> Any:
    """The same for every string inside an event (dataclass fields, dicts, lists and tuples walked)."""
    if isinstance(value, str):
        return strip_terminal_controls(value)
    if isinstance(value, dict):
        return {key: strip_controls_deep(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(strip_controls_deep(item) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: strip_controls_deep(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    return value
