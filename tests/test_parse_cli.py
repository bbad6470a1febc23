"""`ornith parse`: stdin in, one JSON object out; bad options are one-line errors."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from parse_helpers import TOOLS

from ornith_local.cli.main import main


class _Stdin(io.TextIOWrapper):
    def isatty(self) -> bool:
        return False


def _run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str,
         *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr("sys.stdin", _Stdin(io.BytesIO(text.encode("utf-8")), encoding="utf-8"))
    code = main(["parse", *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_prints_one_json_object(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                tmp_path: Path) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(TOOLS))
    text = ("<think>plan</think>Reading.<tool_call><function=read_file><parameter=path>a.py</parameter>"
            "<parameter=limit>5</parameter></function></tool_call>")
    code, out, _ = _run(monkeypatch, capsys, text, "--tools", str(tools))
    assert code == 0
    data = json.loads(out)
    assert data["reasoning"] == "plan" and data["content"] == "Reading."
    assert data["tool_calls"][0]["name"] == "read_file"
    assert data["tool_calls"][0]["arguments"] == {"path": "a.py", "limit": 5}
    assert data["problems"] == []


def test_events_mode_streams_then_prints_the_result(monkeypatch: pytest.MonkeyPatch,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(monkeypatch, capsys, '<tool_call>{"name": "x", "arguments": {}}</tool_call> hi',
                        "--events", "--chunk-size", "3", "--format", "hermes")
    lines = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [e["event"] for e in lines[:-1]] == ["ToolCallStarted", "ToolCallDone", "ContentDelta"]
    assert lines[-1]["content"] == "hi"


def test_problems_are_listed_not_raised(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(monkeypatch, capsys, '<tool_call>{"name": "write_file", "arguments": {"content": "x')
    data = json.loads(out)
    assert code == 0 and data["tool_calls"] == [] and data["problems"][0]["code"] == "call_truncated"


@pytest.mark.parametrize(("args", "tools_text", "message"), [
    (["--format", "xml"], None, "unknown --format 'xml'"),
    (["--tools", "MISSING"], None, "cannot read"),
    (["--tools", "TOOLS"], "{not json", "not valid JSON"),
    (["--tools", "TOOLS"], '{"name": "x"}', "JSON list"),
    (["--tools", "TOOLS"], '[{"parameters": {}}]', "has no \"name\""),
])
def test_bad_options_are_one_line_errors(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                         tmp_path: Path, args: list[str], tools_text: str | None,
                                         message: str) -> None:
    path = tmp_path / "tools.json"
    if tools_text is not None:
        path.write_text(tools_text)
    args = [str(path) if a == "TOOLS" else str(tmp_path / "missing.json") if a == "MISSING" else a for a in args]
    code, out, err = _run(monkeypatch, capsys, "text", *args)
    assert code != 0 and out == ""
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_repairs_are_listed_as_warnings_and_values_typed(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    tools = tmp_path / "tools.json"
    tools.write_text(json.dumps(TOOLS))
    text = ("<think>\nRead it first.\n<tool_call>\n<function=configure>\n<parameter=n>\n3\n<parameter=maybe>\nnull\n"
            "</parameter>\n</function>\n</tool_call>")
    code, out, _ = _run(monkeypatch, capsys, text, "--tools", str(tools), "--events", "--chunk-size", "5")
    result = json.loads(out.splitlines()[-1])
    assert code == 0 and result["reasoning"] == "Read it first."
    assert result["tool_calls"][0]["arguments"] == {"n": 3, "maybe": None}
    assert [(p["code"], p["severity"]) for p in result["problems"]] == [("missing_close_tag", "warning")]
