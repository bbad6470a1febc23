"""run and run_tests on the real sandbox: the example's pytest suite, unittest, cargo, detection,
timeouts, suites that cannot start; and the parsers on real runner output."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ornith_local.sandbox import open_sandbox
from ornith_local.tools.base import call_tool
from ornith_local.tools.run import RunCommand
from ornith_local.tools.testing import RunTests, detect_test_command, format_report, run_tests
from ornith_local.tools.testing.detect import TestCommand
from ornith_local.tools.testing.parsers import parse_go_json, parse_tap
from ornith_local.tools.workspace import Workspace
from tests.conftest import git, trust


def test_example_suite_gives_per_test_results_with_locations(example_repo: Path) -> None:
    report = run_tests(example_repo)
    assert report.runner == "pytest" and report.exit_code == 1 and report.error is None
    assert report.counts == {"passed": 9, "failed": 3, "errors": 0, "skipped": 0}
    failing = {case.id: case for case in report.failures}
    assert set(failing) == {
        "tests/test_discounts.py::test_bulk_discount_starts_at_tier_minimum",
        "tests/test_invoice.py::test_bulk_line_is_discounted",
        "tests/test_invoice.py::test_average_of_empty_invoice_is_zero",
    }
    crash = failing["tests/test_invoice.py::test_average_of_empty_invoice_is_zero"]
    assert crash.file == "tests/test_invoice.py" and crash.line == 38  # the line that failed, not the def
    assert failing["tests/test_discounts.py::test_bulk_discount_starts_at_tier_minimum"].line == 14
    assert "InvalidOperation" in crash.message
    assert (crash.frames[-1].path, crash.frames[-1].line, crash.frames[-1].function) == \
        ("invoicing/invoice.py", 57, "average_line_total")
    text = format_report(report)
    assert text.startswith("pytest: 3 failed, 9 passed, 0 errors, 0 skipped")
    assert "at invoicing/invoice.py:57 in average_line_total" in text
    # The run leaves nothing behind: no JUnit file, no caches, nothing for git to see.
    assert git(example_repo, "status", "--porcelain", "--ignored") == ""


def test_run_tests_tool_selects_tests_and_refuses_options(example_repo: Path) -> None:
    tool = RunTests(Workspace.at(example_repo))
    result = call_tool(tool, {"tests": ["tests/test_money.py"]})
    assert result.ok and result.data["counts"]["passed"] == 2 and result.data["failing"] == []
    assert "not options" in call_tool(tool, {"tests": ["--co"]}).text
    failing = call_tool(tool, {})
    assert not failing.ok and len(failing.data["failing"]) == 3 and tool.last_report is not None


def test_config_overrides_the_detected_command_and_timeouts_are_reported(example_repo: Path) -> None:
    (example_repo / ".ornith.toml").write_text(
        '[tests]\ncommand = "python3 -c \'import time; time.sleep(30)\'"\ntimeout_s = 1.5\n')
    trust(example_repo)
    command = detect_test_command(example_repo)
    assert command is not None and command.runner == "custom" and command.argv[0] == "python3"
    report = run_tests(example_repo)
    assert report.timed_out and report.error == "the test command timed out after 2 s"
    assert "timed out" in format_report(report)


def test_tests_env_from_config_reaches_the_sandboxed_run(tmp_path: Path) -> None:
    (tmp_path / "test_settings.py").write_text(
        "import os\n\n\ndef test_runs_against_the_test_database():\n"
        "    assert os.environ.get('APP_DB') == 'sqlite:///:memory:'\n")
    assert run_tests(tmp_path).counts["failed"] == 1
    (tmp_path / ".ornith.toml").write_text('[tests]\nenv = ["APP_DB=sqlite:///:memory:"]\n')
    trust(tmp_path)
    report = run_tests(tmp_path)
    assert report.ok and report.counts["passed"] == 1


def test_no_suite_collection_errors_and_missing_commands(tmp_path: Path) -> None:
    assert detect_test_command(tmp_path) is None
    assert run_tests(tmp_path).error == "no test suite detected (set [tests] command in .ornith.toml)"
    (tmp_path / "test_broken.py").write_text("import not_a_module_anywhere\n\ndef test_x():\n    pass\n")
    report = run_tests(tmp_path)
    assert report.exit_code == 2 and report.counts["errors"] == 1
    assert "not_a_module_anywhere" in report.failures[0].message + report.failures[0].details
    missing = run_tests(tmp_path, command=TestCommand("custom", ("no-such-runner-xyz",), "test"))
    assert missing.error is not None and missing.exit_code != 0


def test_unittest_results_when_pytest_is_absent(tmp_path: Path) -> None:
    (tmp_path / "test_math.py").write_text(
        "import unittest\n\n\ndef half(x):\n    return x // 3\n\n\n"
        "class MathTest(unittest.TestCase):\n"
        "    def test_half(self):\n        self.assertEqual(half(4), 2)\n\n"
        "    def test_ok(self):\n        self.assertTrue(True)\n\n"
        "    def test_crash(self):\n        raise KeyError('boom')\n\n"
        "    @unittest.skip('later')\n    def test_skip(self):\n        pass\n")
    command = TestCommand("unittest", (sys.executable, "-m", "unittest", "discover", "-v"), "test")
    report = run_tests(tmp_path, command=command)
    outcomes = {case.id: case.outcome for case in report.cases}
    assert outcomes == {"test_math.MathTest.test_half": "failed", "test_math.MathTest.test_ok": "passed",
                        "test_math.MathTest.test_crash": "error", "test_math.MathTest.test_skip": "skipped"}
    half = next(case for case in report.cases if case.id.endswith("test_half"))
    assert half.message == "AssertionError: 1 != 2" and half.line == 10


@pytest.mark.skipif(shutil.which("cargo") is None, reason="cargo is not installed")
def test_cargo_results_from_a_real_crate(tmp_path: Path) -> None:
    crate = tmp_path / "crate"
    (crate / "src").mkdir(parents=True)
    (crate / "Cargo.toml").write_text('[package]\nname = "demo"\nversion = "0.1.0"\nedition = "2021"\n')
    (crate / "src" / "lib.rs").write_text(
        "pub fn add(a: i32, b: i32) -> i32 { a - b }\n\n#[cfg(test)]\nmod tests {\n    use super::*;\n"
        "    #[test]\n    fn adds() { assert_eq!(add(2, 2), 4); }\n"
        "    #[test]\n    fn zero() { assert_eq!(add(0, 0), 0); }\n}\n")
    detected = detect_test_command(crate)
    assert detected is not None and (detected.runner, detected.argv, detected.missing) == (
        "cargo", ("cargo", "test"), None)
    report = run_tests(crate, command=TestCommand("cargo", ("cargo", "test", "--offline"), "test"))
    assert {case.id: case.outcome for case in report.cases} == {"tests::adds": "failed", "tests::zero": "passed"}
    failed = report.failures[0]
    assert (failed.file, failed.line) == ("src/lib.rs", 7) and "left: 0" in failed.message + failed.details


GO_OUTPUT = """\
{"Action":"start","Package":"example.com/shop"}
{"Action":"run","Package":"example.com/shop","Test":"TestTotal"}
{"Action":"output","Package":"example.com/shop","Test":"TestTotal","Output":"=== RUN   TestTotal\\n"}
{"Action":"output","Package":"example.com/shop","Test":"TestTotal","Output":"    cart_test.go:12: total = 3, want 4\\n"}
{"Action":"output","Package":"example.com/shop","Test":"TestTotal","Output":"--- FAIL: TestTotal (0.00s)\\n"}
{"Action":"fail","Package":"example.com/shop","Test":"TestTotal","Elapsed":0.01}
{"Action":"run","Package":"example.com/shop","Test":"TestEmpty"}
{"Action":"pass","Package":"example.com/shop","Test":"TestEmpty","Elapsed":0}
{"Action":"fail","Package":"example.com/shop","Elapsed":0.02}
"""


def test_go_json_events_become_cases(tmp_path: Path) -> None:
    cases = {case.id: case for case in parse_go_json(GO_OUTPUT)}
    assert set(cases) == {"example.com/shop/TestTotal", "example.com/shop/TestEmpty"}
    total = cases["example.com/shop/TestTotal"]
    assert (total.outcome, total.file, total.line) == ("failed", "cart_test.go", 12)
    assert total.message == "cart_test.go:12: total = 3, want 4"
    (tmp_path / "go.mod").write_text("module example.com/shop\n")
    command = detect_test_command(tmp_path)
    assert command is not None and (command.runner, command.argv, command.source) == (
        "go", ("go", "test", "-json", "./..."), "go.mod")


NODE_TESTS = """const { describe, it, test } = require("node:test");
const assert = require("node:assert");
describe("cents", () => {
  it("rounds half up", () => { assert.strictEqual(Math.round(2.5), 3); });
  it("adds", () => {
    assert.strictEqual(0.1 + 0.2, 0.3);
  });
});
test("later", { skip: "not yet" }, () => {});
"""


@pytest.mark.skipif(shutil.which("npm") is None, reason="node and npm are not installed")
def test_node_test_runner_results_through_npm(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"name": "shop", "scripts": {"test": "node --test"}}')
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "money.test.js").write_text(NODE_TESTS)
    (tmp_path / "test" / "other.test.js").write_text('require("node:test")("other", () => {});\n')
    report = run_tests(tmp_path)
    assert report.runner == "npm" and report.error is None
    assert report.counts == {"passed": 2, "failed": 1, "errors": 0, "skipped": 1}
    [adds] = report.failures
    assert adds.id == "test/money.test.js::cents > adds"  # the suite is named, not counted as a test
    assert adds.message == "Expected values to be strictly equal:"
    assert (adds.file, adds.line) == ("test/money.test.js", 5)
    assert adds.frames[-1].line == 6  # the assertion, from the stack
    assert "0.30000000000000004" in format_report(report) and "problem:" not in format_report(report)
    # A failing test's id selects its file; a name that is no file runs everything.
    rerun = run_tests(tmp_path, select=[adds.id])
    assert rerun.command == "npm test test/money.test.js" and len(rerun.cases) == 3
    assert len(run_tests(tmp_path, select=["cents > adds"]).cases) == 4


def test_tap_without_diagnostics_or_locations() -> None:
    output = "TAP version 13\n# sums\nok 1 adds small numbers\nnot ok 2 carries\nok 3 big # skip slow\n1..3\n"
    cases = parse_tap(output)
    assert [(case.id, case.outcome) for case in cases] == [
        ("adds small numbers", "passed"), ("carries", "failed"), ("big", "skipped")]


def test_npm_detection_skips_the_placeholder(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"scripts": {"test": "echo \\"Error: no test specified\\" && exit 1"}}')
    assert detect_test_command(tmp_path) is None
    (tmp_path / "package.json").write_text('{"scripts": {"test": "vitest run"}}')
    (tmp_path / "pnpm-lock.yaml").write_text("")
    command = detect_test_command(tmp_path)
    assert command is not None and command.argv == ("pnpm", "test")


def test_run_tool_in_the_sandbox(example_repo: Path, tmp_path: Path) -> None:
    tool = RunCommand(Workspace.at(example_repo), open_sandbox())
    result = call_tool(tool, {"command": "echo out; echo err >&2; exit 3"})
    assert not result.ok and result.data["exit_code"] == 3
    assert "stdout:\nout" in result.text and "stderr:\nerr" in result.text and "[exit 3" in result.text
    assert call_tool(tool, {"command": "pwd"}).text.splitlines()[3] == str(example_repo.resolve())
    slow = call_tool(tool, {"command": "sleep 20", "timeout_s": 1})
    assert not slow.ok and slow.data["timed_out"] and "timed out after 1 s" in slow.text
    assert "command is empty" in call_tool(tool, {"command": "  "}).text
    assert subprocess.run(["git", "status", "--porcelain"], cwd=example_repo, capture_output=True,
                          text=True).stdout == ""
