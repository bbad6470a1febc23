"""Turn each runner's machine-readable (or, where it has none, its verbose) output into TestCases."""

from __future__ import annotations

import json
import re
import textwrap
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

import yaml

from ornith_local.tools.testing.model import Frame, Outcome, TestCase, parse_frames


def _first_line(text: str) -> str:
    for line in text.strip().splitlines():
        if line.strip():
            return line.strip()[:300]
    return ""


def parse_junit(xml_text: str) -> list[TestCase]:
    """pytest's JUnit XML (xunit1 family: each testcase carries file and line)."""
    root = ElementTree.fromstring(xml_text)
    cases: list[TestCase] = []
    for element in root.iter("testcase"):
        name = element.get("name", "?")
        classname = element.get("classname", "")
        file = element.get("file")
        line_attr = element.get("line")
        outcome: Outcome = "passed"
        message, details = "", ""
        for child in element:
            if child.tag in {"failure", "error", "skipped"}:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[child.tag]  # type: ignore[assignment]
                message = child.get("message", "") or _first_line(child.text or "")
                details = child.text or ""
                break
        node_id = name
        if file:
            module = file[:-3].replace("/", ".") if file.endswith(".py") else file
            klass = classname[len(module) + 1:] if classname.startswith(module + ".") else ""
            node_id = "::".join(part for part in (file, *klass.split("."), name) if part)
        elif classname:
            node_id = f"{classname}::{name}"
        frames = parse_frames(details)
        # Where the test failed, in its own file; else where it is defined. pytest's `line` attribute is the
        # definition's, and came out one higher here when bytecode was written than with PYTHONPYCACHEPREFIX set.
        own = [frame.line for frame in frames if frame.path == file]
        line = own[-1] if own else int(line_attr) + 1 if line_attr else None
        cases.append(TestCase(
            id=node_id, outcome=outcome, file=file, line=line,
            duration_s=float(element.get("time", "0") or 0), message=message.strip()[:500], details=details,
            frames=frames,
        ))
    return cases


def parse_go_json(output: str) -> list[TestCase]:
    """`go test -json` events: one JSON object per line, per test action and output line."""
    outputs: dict[tuple[str, str], list[str]] = {}
    results: dict[tuple[str, str], tuple[Outcome, float]] = {}
    for raw in output.splitlines():
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        test = event.get("Test")
        if not isinstance(event, dict) or not test:
            continue
        key = (event.get("Package", ""), test)
        action = event.get("Action")
        if action == "output":
            outputs.setdefault(key, []).append(event.get("Output", ""))
        elif action in {"pass", "fail", "skip"}:
            outcome: Outcome = {"pass": "passed", "fail": "failed", "skip": "skipped"}[action]  # type: ignore[assignment]
            results[key] = (outcome, float(event.get("Elapsed", 0) or 0))
    cases = []
    for (package, test), (outcome, elapsed) in results.items():
        details = "".join(outputs.get((package, test), []))
        interesting = [line.strip() for line in details.splitlines()
                       if line.strip() and not line.strip().startswith(("=== ", "--- "))]
        frames = parse_frames(details)
        cases.append(TestCase(
            id=f"{package}/{test}", outcome=outcome, file=frames[0].path if frames else None,
            line=frames[0].line if frames else None, duration_s=elapsed,
            message=interesting[0][:500] if outcome == "failed" and interesting else "", details=details,
            frames=frames,
        ))
    return cases


_CARGO_LINE = re.compile(r"^test (?P<name>\S+) \.\.\. (?P<result>ok|FAILED|ignored)", re.M)
_CARGO_SECTION = re.compile(r"^---- (?P<name>\S+) stdout ----\n(?P<body>.*?)(?=^---- |^failures:|\Z)", re.M | re.S)
_RUST_PANIC = re.compile(r"panicked at (?P<path>[\w./-]+):(?P<line>\d+):\d+:?\n?(?P<message>.*)")


def parse_cargo(output: str) -> list[TestCase]:
    """`cargo test`'s verbose lines (its JSON format is nightly-only)."""
    sections = {m["name"]: m["body"] for m in _CARGO_SECTION.finditer(output)}
    cases = []
    for match in _CARGO_LINE.finditer(output):
        name = match["name"]
        outcome: Outcome = {"ok": "passed", "FAILED": "failed", "ignored": "skipped"}[match["result"]]  # type: ignore[assignment]
        details = sections.get(name, "")
        panic = _RUST_PANIC.search(details)
        cases.append(TestCase(
            id=name, outcome=outcome, file=panic["path"] if panic else None,
            line=int(panic["line"]) if panic else None,
            message=(panic["message"].strip() if panic else _first_line(details)),
            details=details, frames=parse_frames(details),
        ))
    return cases


_UNITTEST_LINE = re.compile(
    r"^(?P<name>\w+) \((?P<where>[\w.]+)\)(?:\n.*?)? \.\.\. (?P<result>ok|FAIL|ERROR|skipped.*|expected failure"
    r"|unexpected success)$", re.M)
_UNITTEST_BLOCK = re.compile(r"^(?P<kind>FAIL|ERROR): (?P<name>\w+) \((?P<where>[\w.]+)\)\n-{20,}\n(?P<body>.*?)"
                             r"(?=^={20,}|^-{20,}\nRan |\Z)", re.M | re.S)


def parse_unittest(output: str) -> list[TestCase]:
    """`python -m unittest -v`: one status line per test, then a block per failure."""
    blocks = {(m["where"], m["name"]): m["body"] for m in _UNITTEST_BLOCK.finditer(output)}
    cases = []
    for match in _UNITTEST_LINE.finditer(output):
        where, name, result = match["where"], match["name"], match["result"]
        # Python 3.11+ prints `(module.Class.test)`, older ones `(module.Class)`.
        qualified = where if where.endswith("." + name) else f"{where}.{name}"
        outcome: Outcome = ("passed" if result in {"ok", "expected failure"} else "failed" if result in
                            {"FAIL", "unexpected success"} else "error" if result == "ERROR" else "skipped")
        details = blocks.get((where, name), "")
        lines = [line for line in details.strip().splitlines() if line.strip()]
        frames = parse_frames(details)
        cases.append(TestCase(
            id=qualified, outcome=outcome, file=frames[-1].path if frames else None,
            line=frames[-1].line if frames else None, message=lines[-1].strip()[:500] if lines else "",
            details=details, frames=frames,
        ))
    return cases


_TAP_SUBTEST = re.compile(r"^(?P<indent> *)# Subtest: (?P<name>.*)$")
_TAP_POINT = re.compile(r"^(?P<indent> *)(?P<status>not ok|ok)\b *(?:\d+)? *(?:- *)?(?P<name>.*?)"
                        r"(?: +# *(?P<directive>SKIP|TODO)\b.*)?$", re.I)
# A JavaScript stack frame: "at f (/repo/src/x.js:8:10)" or "TestContext.<anonymous> (/repo/test/x.test.js:8:10)".
_JS_FRAME = re.compile(r"\(?(?P<path>[^\s():]+\.[cm]?[jt]sx?):(?P<line>\d+):\d+\)?\s*$")


def looks_like_tap(output: str) -> bool:
    return "TAP version" in output or re.search(r"^(?:not )?ok \d+ ", output, re.M) is not None


def _tap_diagnostics(lines: list[str], start: int, indent: str) -> tuple[dict[str, Any], int]:
    """The YAML block after a test point (TAP 13: `---` ... `...`, indented two more), and where it ends."""
    if start >= len(lines) or lines[start].strip() != "---" or not lines[start].startswith(indent + "  "):
        return {}, start
    end = start + 1
    while end < len(lines) and lines[end].strip() != "...":
        end += 1
    try:
        data = yaml.safe_load(textwrap.dedent("\n".join(lines[start + 1:end])))
    except yaml.YAMLError:
        data = None
    return (data if isinstance(data, dict) else {}), end + 1


def _relative(path: str, root: Path | None) -> str:
    if path.startswith("file://"):
        path = path[len("file://"):]
    if root is not None and path.startswith(str(root) + "/"):
        return path[len(str(root)) + 1:]
    return path


def parse_tap(output: str, root: Path | None = None) -> list[TestCase]:
    """TAP from `node --test` (and tape, tap, mocha's tap reporter): one case per test, suites left out.

    Node indents the tests of a `describe` under the suite's own point, whose diagnostics say `type: 'suite'`;
    the YAML block carries the error, the location and the stack.
    """
    lines = output.splitlines()
    cases: list[TestCase] = []
    suites: dict[int, str] = {}  # the `# Subtest:` open at each indentation: a nested test's id names its suites
    index = 0
    while index < len(lines):
        subtest = _TAP_SUBTEST.match(lines[index])
        if subtest is not None:
            depth = len(subtest["indent"])
            suites = {level: name for level, name in suites.items() if level < depth} | {depth: subtest["name"]}
        match = _TAP_POINT.match(lines[index])
        index += 1
        if match is None:
            continue
        diagnostics, index = _tap_diagnostics(lines, index, match["indent"])
        if diagnostics.get("type") == "suite":
            continue
        directive = (match["directive"] or "").upper()
        failed = match["status"].lower() == "not ok"
        outcome: Outcome = "skipped" if directive == "SKIP" or (failed and directive == "TODO") else \
            "failed" if failed else "passed"
        error = str(diagnostics.get("error") or "")
        frames = tuple(reversed([
            Frame(_relative(frame["path"], root), int(frame["line"]))
            for frame in (_JS_FRAME.search(line) for line in str(diagnostics.get("stack") or "").splitlines())
            if frame is not None and not frame["path"].startswith("node:") and "node_modules/" not in frame["path"]
        ]))
        location = str(diagnostics.get("location") or "")
        file, _, rest = _relative(location, root).partition(":")
        details = "\n".join(f"{key}: {diagnostics[key]}" for key in ("error", "expected", "actual", "operator")
                            if key in diagnostics) if failed else ""
        depth = len(match["indent"])
        name = " > ".join([suites[level] for level in sorted(suites) if level < depth]
                          + [match["name"].strip() or "(unnamed)"])
        cases.append(TestCase(
            id=f"{file}::{name}" if file else name, outcome=outcome, file=file or None,
            line=int(rest.split(":")[0]) if rest.split(":")[0].isdigit() else None,
            duration_s=float(diagnostics.get("duration_ms") or 0) / 1000,
            message=_first_line(error) if failed else "", details=details, frames=frames,
        ))
    return cases
