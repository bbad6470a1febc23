"""Offline repo triage: run the suite once, cluster the failures, rank the suspect code, optionally explain it.

    report, collected = triage(root, open_sandbox(), detect_test_command(root), TriageOptions())
    report.clusters     # by root-cause signature, largest first, each with its ranked suspects
    report.suspects     # across all failures, best first: path, symbol, line, score, signals
    formats.to_json(report) / to_markdown / to_sarif; render.render(report) for a terminal

`analyze(collected, options)` re-ranks one run under other `Weights` (the benchmark does, per signal).
Models come in through `explain.explain_in_subprocess`, under a time budget; nothing here needs one.
"""

from ornith_local.triage.engine import Collected, TriageOptions, analyze, no_suite_report, triage
from ornith_local.triage.localize import Weights
from ornith_local.triage.model import Cluster, Explanation, Suspect, TriageReport

__all__ = ["Cluster", "Collected", "Explanation", "Suspect", "TriageOptions", "TriageReport", "Weights", "analyze",
           "no_suite_report", "triage"]
