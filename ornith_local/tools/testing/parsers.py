"""Turn each runner's machine-readable (or, where it has none, its verbose) output into TestCases."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ElementTree

from ornith_local.tools.testing.model import Outcome, TestCase, parse_frames


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
        cases.append(TestCase(
            id=node_id, outcome=outcome, file=file, line=int(line_attr) + 1 if line_attr else None,
            duration_s=float(element.get("time", "0") or 0), message=message.strip()[:500], details=details,
            frames=parse_frames(details),
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
