"""How a run ends: the loop's own checks decide, whatever the steps said; the guard and the judge can only take
success away.

Flagged (the monitor found gaming) beats everything. Passing checks are `verified` only with the evidence
`agent/evidence.py` asks for (else `unverified`), and a verified diff still goes to the judge, which may veto it.
Failing checks keep the steps' outcome, unless nothing could run them (then the change is `unverified`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ornith_local.agent.state import Outcome
from ornith_local.agent.verifier import Verification
from ornith_local.guard.monitor import Finding


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    reason: str
    judge: dict[str, str] | None = None  # the judge's verdict, when it was asked


def decide(outcome: Outcome, reason: str, verification: Verification, findings: Sequence[Finding],
           review: Callable[[], dict[str, str]] | None) -> Verdict:
    """The run's outcome from what its steps ended with (`outcome`, `reason`), the final checks, the guard's
    findings and the judge (`review`: asked only for a diff the checks verified; None: no judge)."""
    checks, evidence = verification.checks, verification.evidence
    if flags := [finding for finding in findings if finding.flags_run]:
        return Verdict("flagged", "; ".join(f"{f.rule} ({f.path or f.detail})" for f in flags))
    if checks and all(check.passed for check in checks):
        if missing := evidence.missing():
            return Verdict("unverified", "the checks pass, but " + "; ".join(missing))
        judge = review() if review is not None else None
        if judge is not None and judge.get("verdict") == "veto":
            return Verdict("failed", f"the judge vetoed the diff: {judge.get('reason', '')}", judge)
        return Verdict("verified", "the checks pass and show the problem fixed", judge)
    if outcome == "failed" and (unrunnable := [c.summary for c in checks if c.details.get("unrunnable")]):
        return Verdict("unverified", "nothing checked the change: " + "; ".join(unrunnable))
    if outcome == "failed":
        return Verdict(outcome, f"{reason}; the checks fail" if reason else "the checks fail")
    return Verdict(outcome, reason)
