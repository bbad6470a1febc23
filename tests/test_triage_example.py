"""`ornith triage` end to end on real repos: the bundled example (two bugs, three red tests) run by the
real pytest in the real sandbox, and the broken suites a user meets: all green, none, hanging, unimportable."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ornith_local.cli.main import main
from ornith_local.sandbox import open_sandbox
from ornith_local.tools.testing import detect_test_command
from ornith_local.triage.engine import TriageOptions, triage
from ornith_local.triage.localize import Weights
from tests.conftest import git

BULK = ("invoicing/discounts.py", "bulk_discount_rate")
AVERAGE = ("invoicing/invoice.py", "Invoice.average_line_total")


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["triage", *args, "--json", "--no-model"])
    return code, json.loads(capsys.readouterr().out)


def test_example_json_contract(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(capsys, str(example_repo))
    assert code == 1
    assert report["test_command"].endswith("-m pytest")
    assert report["tests"] == {"passed": 9, "failed": 3, "errors": 0, "skipped": 0}
    assert report["coverage"] is True
    # Two bugs, two clusters: the wrong-value bug's two tests together, the raising bug's one test.
    clusters = {frozenset(c["tests"]): c for c in report["clusters"]}
    bulk_tests = frozenset({"tests/test_discounts.py::test_bulk_discount_starts_at_tier_minimum",
                            "tests/test_invoice.py::test_bulk_line_is_discounted"})
    average_tests = frozenset({"tests/test_invoice.py::test_average_of_empty_invoice_is_zero"})
    assert set(clusters) == {bulk_tests, average_tests}
    # The tier table (BULK_TIERS, import-time code of discounts.py) is as plausible a place for this bug as the
    # function that reads it: the learned ranking may list the module's code first, nothing else.
    bulk_top = [(s["path"], s["symbol"]) for s in clusters[bulk_tests]["suspects"][:2]]
    assert BULK in bulk_top and set(bulk_top) <= {BULK, ("invoicing/discounts.py", "<module>")}
    assert clusters[bulk_tests]["kind"] == "wrong-value"
    assert (clusters[average_tests]["suspects"][0]["path"], clusters[average_tests]["suspects"][0]["symbol"]) == AVERAGE
    assert "InvalidOperation" in clusters[average_tests]["signature"]
    # The overall list has both bugs near the top (it is one ranking over all failures; each cluster's own
    # list is where its bug leads), each item as the contract says.
    top_five = {(s["path"], s["symbol"]) for s in report["suspects"][:5]}
    assert {BULK, AVERAGE} <= top_five
    for suspect in report["suspects"]:
        assert {"path", "symbol", "line", "score"} <= set(suspect)
        assert 0 < suspect["score"] <= 1 and not Path(suspect["path"]).is_absolute()
    scores = [s["score"] for s in report["suspects"]]
    assert scores == sorted(scores, reverse=True)
    assert report["suspects"][0]["line"] in {22, 57}
    # Nothing is left behind in the user's tree.
    assert git(example_repo, "status", "--porcelain", "--ignored") == ""


def test_signals_alone(example_repo: Path) -> None:
    sandbox = open_sandbox()
    command = detect_test_command(example_repo)
    assert command is not None
    report, _ = triage(example_repo, sandbox, command, TriageOptions(weights=Weights().only("traceback")))
    # The traceback alone finds the raising bug and cannot see the wrong value at all.
    assert (report.suspects[0].path, report.suspects[0].symbol) == AVERAGE
    assert BULK not in {(s.path, s.symbol) for s in report.suspects}


def test_recent_change_is_a_signal(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    file = example_repo / "invoicing" / "discounts.py"
    file.write_text(file.read_text().replace("if quantity > minimum:", "if quantity > minimum:  # tiers"))
    git(example_repo, "commit", "-q", "-am", "touch the tiers")
    _, report = run_json(capsys, str(example_repo))
    bulk = next(s for s in report["suspects"] if (s["path"], s["symbol"]) == BULK)
    average = next(s for s in report["suspects"] if (s["path"], s["symbol"]) == AVERAGE)
    assert bulk["signals"]["git"] == 0.5 and average["signals"]["git"] == 0.0


def test_all_green(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    discounts = example_repo / "invoicing" / "discounts.py"
    discounts.write_text(discounts.read_text().replace("quantity > minimum", "quantity >= minimum"))
    invoice = example_repo / "invoicing" / "invoice.py"
    invoice.write_text(invoice.read_text().replace(
        "return round_cents(self.subtotal / len(self.lines))",
        "return round_cents(self.subtotal / len(self.lines)) if self.lines else Decimal(\"0\")"))
    code, report = run_json(capsys, str(example_repo))
    assert code == 0
    assert report["status"] == "all-passed" and report["clusters"] == [] and report["suspects"] == []
    assert report["tests"]["passed"] == 12


def test_no_suite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README.md").write_text("nothing to test\n")
    code, report = run_json(capsys, str(tmp_path))
    assert code == 3
    assert report["status"] == "no-suite" and report["test_command"] is None and report["suspects"] == []


def test_import_failure(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    money = example_repo / "invoicing" / "money.py"
    money.write_text(money.read_text() + "\nimport not_installed_anywhere\n")
    code, report = run_json(capsys, str(example_repo))
    assert code == 1
    assert report["status"] == "import-error"
    assert len(report["clusters"]) == 1  # three test modules, one broken import
    cluster = report["clusters"][0]
    assert cluster["kind"] == "collection" and "ModuleNotFoundError" in cluster["signature"]
    assert report["suspects"][0]["path"] == "invoicing/money.py"
    assert report["suspects"][0]["symbol"] == "<module>"


def test_broken_conftest(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (example_repo / "conftest.py").write_text("import not_installed_anywhere\n")
    code, report = run_json(capsys, str(example_repo))
    assert code in {1, 3}
    assert report["status"] in {"import-error", "error"}
    assert "not_installed_anywhere" in json.dumps(report)


def test_hang_is_reported_with_where_it_hangs(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    money = example_repo / "invoicing" / "money.py"
    money.write_text(money.read_text() + "\n\ndef spin():\n    while True:\n        pass\n")
    (example_repo / "tests" / "test_spin.py").write_text(
        "from invoicing.money import spin\n\n\ndef test_spin():\n    spin()\n")
    code, report = run_json(capsys, str(example_repo), "--timeout", "8")
    assert code == 1
    assert report["status"] == "timeout"
    assert "tests/test_spin.py::test_spin" in report["summary"]
    assert report["clusters"][0]["kind"] == "hang"
    assert (report["suspects"][0]["path"], report["suspects"][0]["symbol"]) == ("invoicing/money.py", "spin")


def test_without_coverage_tracebacks_still_rank(example_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, report = run_json(capsys, str(example_repo), "--no-coverage")
    assert code == 1 and report["coverage"] is False
    assert (report["suspects"][0]["path"], report["suspects"][0]["symbol"]) == AVERAGE
    assert any("coverage off" in note for note in report["notes"])


def test_markdown_and_sarif(example_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sarif_file = tmp_path / "triage.sarif"
    assert main(["triage", str(example_repo), "--sarif", "--no-model", "-o", str(sarif_file)]) == 1
    sarif = json.loads(sarif_file.read_text())
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    assert run["tool"]["driver"]["name"] == "ornith-triage" and len(run["results"]) == 2
    locations = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                  r["locations"][0]["logicalLocations"][0]["fullyQualifiedName"]) for r in run["results"]}
    # One result per cluster at its top suspect; the bulk bug's may be discounts.py's tier table (see above).
    assert AVERAGE in locations and {path for path, _ in locations} == {BULK[0], AVERAGE[0]}
    assert main(["triage", str(example_repo), "--markdown", "--no-model"]) == 1
    markdown = capsys.readouterr().out
    assert markdown.startswith("## ornith triage: 3 failing tests in 2 clusters")
    assert "| 1 |" in markdown and "```python" in markdown and "bulk_discount_rate" in markdown


def test_rich_report_through_the_entry_point(example_repo: Path) -> None:
    ornith = Path(__import__("sys").executable).with_name("ornith")
    result = subprocess.run([str(ornith), "triage", "--no-model"], cwd=example_repo, capture_output=True, text=True,
                            timeout=300, env={**__import__("os").environ, "COLUMNS": "160"})
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "3 failing tests in 2 clusters" in result.stdout
    assert "bulk_discount_rate" in result.stdout and "average_line_total" in result.stdout


@pytest.mark.parametrize("args", [["--timeout", "0"], ["--top", "0"], ["--model-budget", "-1"]])
def test_bad_options_are_one_line_errors(args: list[str], example_repo: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triage", str(example_repo), *args]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_missing_path_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["triage", str(tmp_path / "nope")]) == 2
    assert "not a directory" in capsys.readouterr().err
