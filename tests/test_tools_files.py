"""read_file, list_dir, write_file, the workspace boundary and format-preserving atomic writes."""

from __future__ import annotations

import codecs
import os
import stat
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ornith_local.tools import default_tools
from ornith_local.tools.base import Tool, call_tool, function_spec
from ornith_local.tools.fileio import decode, encode, write_text
from ornith_local.tools.files import ListDir, ReadFile, WriteFile
from ornith_local.tools.listing import parse_gitignore, walk_files
from ornith_local.tools.workspace import Workspace


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    root = tmp_path / "ws"
    root.mkdir()
    return Workspace.at(root)


def test_every_tool_has_an_openai_style_schema(ws: Workspace) -> None:
    tools = default_tools(ws)
    names = [tool.name for tool in tools]
    assert len(names) == len(set(names))
    assert {"read_file", "list_dir", "search", "edit_file", "write_file", "run", "run_tests",
            "repo_map", "git_diff"} <= set(names)
    for tool in tools:
        assert isinstance(tool, Tool)
        spec = function_spec(tool)
        assert spec["type"] == "function"
        assert spec["function"]["parameters"]["type"] == "object"
        assert set(spec["function"]["parameters"]["required"]) <= set(spec["function"]["parameters"]["properties"])


def test_bad_arguments_are_a_failed_result_not_an_exception(ws: Workspace) -> None:
    read = ReadFile(ws)
    assert not call_tool(read, {}).ok
    assert "unknown argument" in call_tool(read, {"path": "a", "bogus": 1}).text
    assert "must be integer" in call_tool(read, {"path": "a", "start_line": "3"}).text
    assert "no such file" in call_tool(read, {"path": "missing.py"}).text


def test_read_file_numbers_lines_and_pages_large_files(ws: Workspace) -> None:
    (ws.root / "big.txt").write_text("".join(f"line {i}\n" for i in range(1, 1001)))
    first = call_tool(ReadFile(ws), {"path": "big.txt"})
    assert first.ok and first.text.startswith("  1│line 1\n")
    assert "showing lines 1-400 of 1000" in first.text and "start_line=401" in first.text
    part = call_tool(ReadFile(ws), {"path": "big.txt", "start_line": 998, "end_line": 2000})
    assert part.text.splitlines() == [" 998│line 998", " 999│line 999", "1000│line 1000"]
    assert "past the end" in call_tool(ReadFile(ws), {"path": "big.txt", "start_line": 5000}).text


def test_read_file_binary_and_directory(ws: Workspace) -> None:
    (ws.root / "blob.bin").write_bytes(b"\x89PNG\x00\x01\x02" * 10)
    result = call_tool(ReadFile(ws), {"path": "blob.bin"})
    assert result.ok and "binary file (70 bytes)" in result.text
    (ws.root / "sub").mkdir()
    assert "is a directory" in call_tool(ReadFile(ws), {"path": "sub"}).text


def test_paths_outside_the_workspace_are_refused(ws: Workspace, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("top secret\n")
    os.symlink(secret, ws.root / "link.txt")
    os.symlink(tmp_path, ws.root / "dirlink")
    for path in ["../secret.txt", str(secret), "link.txt", "dirlink/secret.txt"]:
        result = call_tool(ReadFile(ws), {"path": path})
        assert not result.ok and "outside the workspace" in result.text, path
        assert not call_tool(WriteFile(ws), {"path": path, "content": "x"}).ok
    assert secret.read_text() == "top secret\n"
    assert "inside .git/" in call_tool(WriteFile(ws), {"path": ".git/config", "content": "x"}).text


def test_write_file_creates_and_preserves_the_existing_format(ws: Workspace) -> None:
    created = call_tool(WriteFile(ws), {"path": "pkg/new.py", "content": "x = 1\n"})
    assert created.ok and created.data["created"]
    assert (ws.root / "pkg/new.py").read_bytes() == b"x = 1\n"
    target = ws.root / "win.txt"
    target.write_bytes(codecs.BOM_UTF8 + "caf\u00e9\r\nline\r\n".encode())
    target.chmod(0o755)
    assert call_tool(ReadFile(ws), {"path": "win.txt"}).ok  # replacing an existing file needs a read first
    result = call_tool(WriteFile(ws), {"path": "win.txt", "content": "caf\u00e9\nother\nmore"})
    assert result.ok and result.data["added"] == 2
    assert target.read_bytes() == codecs.BOM_UTF8 + "caf\u00e9\r\nother\r\nmore\r\n".encode()
    assert stat.S_IMODE(target.stat().st_mode) == 0o755
    assert not any(p.name.endswith(".ornith-tmp") for p in ws.root.iterdir())


def test_write_keeps_a_symlink_a_symlink(ws: Workspace) -> None:
    (ws.root / "real.txt").write_text("a\n")
    os.symlink("real.txt", ws.root / "alias.txt")
    assert call_tool(ReadFile(ws), {"path": "alias.txt"}).ok
    assert call_tool(WriteFile(ws), {"path": "alias.txt", "content": "b\n"}).ok
    assert os.path.islink(ws.root / "alias.txt")
    assert (ws.root / "real.txt").read_text() == "b\n"


def test_latin1_and_utf16_round_trip(tmp_path: Path) -> None:
    legacy = tmp_path / "legacy.txt"
    legacy.write_bytes("na\u00efve\n".encode("latin-1"))
    text, fmt = decode(legacy.read_bytes())
    assert fmt.encoding == "latin-1"
    write_text(legacy, text.replace("na", "NA"), fmt)
    assert legacy.read_bytes() == "NA\u00efve\n".encode("latin-1")
    wide = tmp_path / "wide.txt"
    wide.write_bytes(codecs.BOM_UTF16_LE + "a\r\nb".encode("utf-16-le"))
    text, fmt = decode(wide.read_bytes())
    assert (text, fmt.newline, fmt.trailing_newline) == ("a\nb", "\r\n", False)
    write_text(wide, "a\nc\n", fmt)
    assert wide.read_bytes() == codecs.BOM_UTF16_LE + "a\r\nc".encode("utf-16-le")


@settings(max_examples=200, deadline=None)
# NUL is left out: a UTF-16 file starting with U+0000 is indistinguishable from UTF-32 by its BOM.
@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\r\n\x00"), max_size=20), max_size=8),
       st.sampled_from(["\n", "\r\n", "\r"]), st.booleans(), st.sampled_from(["utf-8", "utf-16-le"]),
       st.booleans())
def test_decode_encode_round_trips_byte_for_byte(lines: list[str], newline: str, trailing: bool, encoding: str,
                                                 bom: bool) -> None:
    raw = newline.join(lines) + (newline if trailing and lines else "")
    if encoding == "utf-16-le":
        bom = True
    marker = {"utf-8": codecs.BOM_UTF8, "utf-16-le": codecs.BOM_UTF16_LE}[encoding] if bom else b""
    try:
        data = marker + raw.encode(encoding)
    except UnicodeEncodeError:
        return
    if not bom and b"\x00" in data:
        return
    text, fmt = decode(data)
    if len(lines) <= 1 and not trailing:
        return  # no line ending to learn the style from
    assert encode(text, fmt) == data


def test_list_dir_respects_gitignore_and_depth(ws: Workspace) -> None:
    (ws.root / ".gitignore").write_text("build/\n*.log\n!keep.log\n")
    for rel in ["src/a.py", "src/deep/b.py", "build/out.o", "x.log", "keep.log", "README.md"]:
        (ws.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws.root / rel).write_text("x\n")
    shallow = call_tool(ListDir(ws), {"depth": 1}).text.splitlines()
    assert shallow == [".gitignore", "README.md", "keep.log", "src/ (2 files)"]
    deep = call_tool(ListDir(ws), {"path": "src", "depth": 3}).text.splitlines()
    assert deep == ["a.py", "deep/ (1 files)", "  b.py"]


def test_gitignore_matcher_agrees_with_git(tmp_path: Path) -> None:
    import subprocess

    root = tmp_path / "g"
    root.mkdir()
    (root / ".gitignore").write_text("*.pyc\n/top.txt\ndocs/**/gen\nlogs/\n!logs/\n[ab].tmp\nnested/*.md\n")
    (root / "sub").mkdir()
    (root / "sub/.gitignore").write_text("local.txt\n")
    paths = ["a.pyc", "d/e.pyc", "top.txt", "sub/top.txt", "docs/x/y/gen", "docs/gen", "logs/l.txt",
             "a.tmp", "c.tmp", "nested/r.md", "nested/deeper/r.md", "sub/local.txt", "local.txt", "ok.py"]
    for rel in paths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("x")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    by_git = subprocess.run(["git", "ls-files", "--others", "--exclude-standard"], cwd=root, capture_output=True,
                            text=True, check=True).stdout.split()
    assert walk_files(root) == sorted(by_git)
    assert parse_gitignore("# comment\n\n")== []
