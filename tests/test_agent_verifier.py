"""The runtime's own test check on the real example repo, in the real sandbox: judged against the suite's
state before the run, so failures the task never asked about do not fail it."""

from __future__ import annotations

from pathlib import Path

from ornith_local.agent.verifier import SandboxVerifier
from ornith_local.sandbox import open_sandbox

GUARDED_AVERAGE = ("        if not self.lines:\n            return Decimal(\"0\")\n"
                   "        return round_cents(self.subtotal / len(self.lines))")


def fix_the_empty_average(repo: Path) -> None:
    source = repo / "invoicing" / "invoice.py"
    text = source.read_text()
    source.write_text(text.replace("        return round_cents(self.subtotal / len(self.lines))", GUARDED_AVERAGE))


def test_failures_that_were_there_before_the_run_do_not_fail_it(example_repo: Path) -> None:
    verifier = SandboxVerifier(example_repo, open_sandbox(), (), timeout_s=120)
    already = verifier.baseline()
    assert already is not None and len(already) == 3  # two bulk-tier tests and the empty average
    [tests] = verifier.verify(())
    assert not tests.passed  # nothing fixed yet

    fix_the_empty_average(example_repo)
    [tests] = verifier.verify(())
    assert tests.passed and "2 were failing before the run; 1 fixed" in tests.summary


def test_a_new_failure_still_fails_the_run(example_repo: Path) -> None:
    verifier = SandboxVerifier(example_repo, open_sandbox(), (), timeout_s=120)
    verifier.baseline()
    fix_the_empty_average(example_repo)
    money = example_repo / "invoicing" / "money.py"
    money.write_text(money.read_text() + "\nraise RuntimeError('broken import')\n")
    [tests] = verifier.verify(())
    assert not tests.passed


def test_without_a_baseline_the_whole_suite_must_pass(example_repo: Path) -> None:
    verifier = SandboxVerifier(example_repo, open_sandbox(), (), timeout_s=120)
    fix_the_empty_average(example_repo)
    [tests] = verifier.verify(())
    assert not tests.passed and "2 failed" in tests.summary
