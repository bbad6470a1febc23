"""The bundled example is a realistic buggy project: its real pytest suite has a few failing tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_example_suite_has_known_failures(example_repo: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=example_repo, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1
    failed = sorted(line.split()[1] for line in result.stdout.splitlines() if line.startswith("FAILED"))
    assert failed == [
        "tests/test_discounts.py::test_bulk_discount_starts_at_tier_minimum",
        "tests/test_invoice.py::test_average_of_empty_invoice_is_zero",
        "tests/test_invoice.py::test_bulk_line_is_discounted",
    ]
    assert "9 passed" in result.stdout


def test_example_copy_is_a_clean_git_repo(example_repo: Path) -> None:
    status = subprocess.run(["git", "status", "--porcelain"], cwd=example_repo, capture_output=True, text=True)
    assert status.stdout == ""
    assert (example_repo / "invoicing" / "discounts.py").is_file()
