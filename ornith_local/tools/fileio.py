"""Reading and writing text files the way their owner wrote them.

Tools see text with `\\n` line endings; on the way back to disk the file gets its original encoding,
byte-order mark, dominant line ending, trailing-newline state and permission bits. Every write goes to
a temporary file in the same directory, is flushed to disk, and replaces the original with one rename,
so a crash leaves either the old file or the new one, never half of each. The bytes move through
`sandbox.workspace_fs`, which refuses links, FIFOs and devices a sandboxed command could have planted.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from ornith_local.sandbox.workspace_fs import DEFAULT_READ_LIMIT, WorkspaceFS

BINARY_SNIFF_BYTES = 8192

_BOMS: list[tuple[bytes, str]] = [
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts with UTF-16 LE's
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]


class BinaryFileError(ValueError):
    """The file holds binary data, not text."""


@dataclass(frozen=True)
class TextFormat:
    encoding: str = "utf-8"
    bom: bytes = b""
    newline: str = "\n"  # the file's dominant line ending
    trailing_newline: bool = True


NEW_FILE_FORMAT = TextFormat()


def is_binary(data: bytes) -> bool:
    head = data[:BINARY_SNIFF_BYTES]
    if any(head.startswith(bom) for bom, _ in _BOMS):
        return False
    return b"\x00" in head


def decode(data: bytes) -> tuple[str, TextFormat]:
    """Text with `\\n` line endings, and the format needed to write it back byte for byte."""
    bom, encoding, raw = b"", "", ""
    for candidate, name in _BOMS:
        if data.startswith(candidate):
            # UTF-16 LE text starting with U+0000 looks like a UTF-32 BOM: take the first that decodes.
            try:
                raw = data[len(candidate):].decode(name)
            except UnicodeDecodeError:
                continue
            bom, encoding = candidate, name
            break
    if not bom and is_binary(data):
        raise BinaryFileError("binary file")
    if not encoding:
        try:
            raw = data.decode("utf-8")
            encoding = "utf-8"
        except UnicodeDecodeError:
            # latin-1 maps every byte to one character, so any legacy 8-bit file round-trips exactly.
            raw = data.decode("latin-1")
            encoding = "latin-1"
    crlf = raw.count("\r\n")
    lone_cr = raw.count("\r") - crlf
    lf = raw.count("\n") - crlf
    newline = "\r\n" if crlf > max(lf, lone_cr) else ("\r" if lone_cr > lf else "\n")
    text = raw.replace("\r\n", "\n").replace("\r", "\n")
    trailing = text.endswith("\n") if text else True
    return text, TextFormat(encoding=encoding, bom=bom, newline=newline, trailing_newline=trailing)


def encode(text: str, fmt: TextFormat, *, keep_trailing: bool = True) -> bytes:
    """`text` (with `\\n` endings) in the file's format; `keep_trailing` restores its trailing-newline state."""
    if keep_trailing and text:
        # Add or drop one final newline only: blank lines at the end are content.
        if fmt.trailing_newline and not text.endswith("\n"):
            text += "\n"
        elif not fmt.trailing_newline and text.endswith("\n"):
            text = text[:-1]
    if fmt.newline != "\n":
        text = text.replace("\n", fmt.newline)
    try:
        return fmt.bom + text.encode(fmt.encoding)
    except UnicodeEncodeError:
        # The new text has characters the old encoding cannot hold: UTF-8 loses nothing.
        return text.encode("utf-8")


def read_text(path: Path, *, root: Path | None = None, limit: int = DEFAULT_READ_LIMIT) -> tuple[str, TextFormat]:
    """The text of the regular file `path` (never through a link; beneath `root` when given, every component
    link-free). Raises UnsafePath for a link, a FIFO or a device, FileTooLarge over `limit` bytes."""
    fs, rel = _beneath(path, root)
    return decode(fs.read_bytes(rel, limit))


def _beneath(path: Path, root: Path | None) -> tuple[WorkspaceFS, str]:
    if root is None:
        return WorkspaceFS(path.parent), path.name
    return WorkspaceFS(root), path.relative_to(root).as_posix()


def write_atomic(path: Path, data: bytes, *, root: Path | None = None, mode: int | None = None) -> None:
    """Replace `path` with `data` in one rename, keeping the original's permission bits (or setting `mode`).

    `path` should already be the real path: a symlink is resolved by the caller so the link stays a link, and
    one found in its place (or, with `root`, in any directory on the way) is refused, never written through.
    """
    if root is None:
        path.parent.mkdir(parents=True, exist_ok=True)
    fs, rel = _beneath(path, root)
    fs.write_atomic(rel, data, mode=mode)


def write_text(path: Path, text: str, fmt: TextFormat | None = None, *, root: Path | None = None) -> TextFormat:
    """Write `text` atomically in `fmt`, or in the existing file's format, or as new UTF-8 with `\\n`."""
    if fmt is None:
        try:
            _, fmt = read_text(path, root=root)
            keep = True
        except (FileNotFoundError, BinaryFileError):
            fmt, keep = NEW_FILE_FORMAT, False
    else:
        keep = True
    write_atomic(path, encode(text, fmt, keep_trailing=keep), root=root)
    return fmt
