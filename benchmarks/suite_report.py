"""The agent suite's results: one `TaskRun` per task and mode, tallied per scaffold mode and task subset with
Wilson intervals, and printed as the table and summary `agent_suite.py` shows."""


from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from benchmarks.triage_score import wilson


@dataclass
class TaskRun:
    task: str
    category: str
    language: str
    scaffold: str
    solved: bool  # held-back checks pass and no guard flag
    heldback_passed: bool
    outcome: str  # the runtime's own verdict: verified / unverified / failed / flagged / aborted / error
    guard_flags: list[str]
    judge: str | None
    turns: int
    tokens_prompt: int
    tokens_evaluated: int
    tokens_generated: int
    wall_s: float
    steps: list[str] = field(default_factory=list)
    files_changed: list[str] = field(default_factory=list)
    scaffold_fallback: bool = False
    heldback: dict[str, Any] = field(default_factory=dict)
    session_id: str | None = None
    trajectory: str | None = None
    error: str | None = None
    quirks: list[str] = field(default_factory=list)  # the quirks asked for ("catalog": the model's own)
    visible_covers_bug: bool = True  # the task's: do its visible tests show the bug?
    diagnostics: bool = True  # edits carried their new syntax/lint errors (--diagnostics on)
    edits: int = 0  # edit_file / write_file calls that changed a file in a language the syntax check knows
    unparseable_edits: int = 0  # of those, the ones after which the file did not parse
    parse_recovery_turns: list[int] = field(default_factory=list)  # per broken file: turns until it parsed again
    unrecovered_parse: int = 0  # files still unparseable at the end
    attempts: list[str] = field(default_factory=list)  # --attempts N: every attempt's outcome, in order

    @property
    def false_verified(self) -> bool:
        """The runtime said `verified` and the held-back checks fail: the one verdict that must never happen."""
        return self.outcome == "verified" and not self.heldback_passed


SUBSETS = {True: "visible_covers_bug", False: "visible_misses_bug"}  # JSON keys of the two task subsets
SUBSET_LABELS = {"all": "all", "visible_covers_bug": "visible covers bug", "visible_misses_bug": "visible misses bug"}


def rate(successes: int, n: int) -> dict[str, Any]:
    """A share of the runs with its Wilson 95% interval (n is small: a bare percentage overstates what it shows)."""
    low, high = wilson(successes, n)
    return {"rate": round(successes / n, 4) if n else None, "ci95": [round(low, 4), round(high, 4)]}


def tally(runs: Sequence[TaskRun]) -> dict[str, Any]:
    """The counts and rates of a group of runs (one scaffold mode, or one subset of its tasks)."""
    n = len(runs)
    unverified = sum(run.outcome == "unverified" for run in runs)
    solved = sum(run.solved for run in runs)
    return {
        "tasks": n, "solved": solved, "heldback_passed": sum(run.heldback_passed for run in runs),
        "verified": sum(run.outcome == "verified" for run in runs), "unverified": unverified,
        "false_verified": sum(run.false_verified for run in runs),
        "flagged": sum(bool(run.guard_flags) for run in runs),
        "solve_rate": rate(solved, n), "unverified_rate": rate(unverified, n),
        "turns": sum(run.turns for run in runs), "tokens_evaluated": sum(run.tokens_evaluated for run in runs),
        "tokens_generated": sum(run.tokens_generated for run in runs),
        "wall_s": round(sum(run.wall_s for run in runs), 1),
        **parse_recovery(runs),
    }


def parse_recovery(runs: Sequence[TaskRun]) -> dict[str, Any]:
    """The share of edits that left a file unparseable, and the mean turns until such a file parsed again."""
    edits = sum(run.edits for run in runs)
    unparseable = sum(run.unparseable_edits for run in runs)
    turns = [count for run in runs for count in run.parse_recovery_turns]
    return {"edits": edits, "unparseable_edits": unparseable, "unparseable_share": rate(unparseable, edits),
            "mean_turns_to_parse": round(sum(turns) / len(turns), 2) if turns else None,
            "unrecovered_parse": sum(run.unrecovered_parse for run in runs)}


def _by_mode(runs: Sequence[TaskRun]) -> dict[str, list[TaskRun]]:
    groups: dict[str, list[TaskRun]] = {}
    for run in runs:
        groups.setdefault(run.scaffold, []).append(run)
    return groups


def totals(runs: Sequence[TaskRun]) -> dict[str, dict[str, Any]]:
    """Per scaffold mode, every task."""
    return {mode: tally(group) for mode, group in _by_mode(runs).items()}


def subset_totals(runs: Sequence[TaskRun]) -> dict[str, dict[str, dict[str, Any]]]:
    """Per scaffold mode, the tasks whose visible tests cover the bug and those whose tests miss it (when any)."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for mode, group in _by_mode(runs).items():
        out[mode] = {}
        for covers, name in SUBSETS.items():
            members = [run for run in group if run.visible_covers_bug is covers]
            if members:
                out[mode][name] = tally(members)
    return out


def _rate_cell(counted: dict[str, Any]) -> str:
    low, high = counted["ci95"]
    return "n/a" if counted["rate"] is None else f"{counted['rate']:.0%} [{low * 100:.0f}-{high:.0%}]"


def _columns(rows: list[tuple[str, ...]], rule_after: Sequence[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    rule = "  ".join("-" * width for width in widths)
    lines = []
    for index, row in enumerate(rows):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index in rule_after:
            lines.append(rule)
    return lines


def format_summary(runs: Sequence[TaskRun]) -> str:
    """Per scaffold mode: every task, then each subset (visible tests cover the bug / miss it)."""
    header = ("scaffold", "tasks", "runs", "solved", "solve rate (95% CI)", "held-back", "verified", "unverified",
              "unverified rate (95% CI)", "false-verified", "flagged", "turns", "tok eval", "tok gen", "wall s",
              "unparseable edits", "turns to parse")
    rows: list[tuple[str, ...]] = [header]
    subsets = subset_totals(runs)
    for mode, total in totals(runs).items():
        groups = [("all", total)]
        if len(subsets[mode]) > 1:  # one subset only: it is the same as "all"
            groups += list(subsets[mode].items())
        for name, counted in groups:
            rows.append((mode, SUBSET_LABELS[name], str(counted["tasks"]), f"{counted['solved']}/{counted['tasks']}",
                         _rate_cell(counted["solve_rate"]), str(counted["heldback_passed"]), str(counted["verified"]),
                         str(counted["unverified"]), _rate_cell(counted["unverified_rate"]),
                         str(counted["false_verified"]), str(counted["flagged"]), str(counted["turns"]),
                         str(counted["tokens_evaluated"]), str(counted["tokens_generated"]),
                         f"{counted['wall_s']:.0f}", f"{counted['unparseable_edits']}/{counted['edits']}",
                         "n/a" if counted["mean_turns_to_parse"] is None else f"{counted['mean_turns_to_parse']:g}"))
    return "\n".join(_columns(rows, rule_after=[0]))


def format_table(runs: Sequence[TaskRun]) -> str:
    """A row per run, then the summary per scaffold mode (`format_summary`)."""
    header = ("task", "visible", "scaffold", "solved", "held-back", "outcome", "guard", "turns", "tok eval", "tok gen",
              "wall s")
    rows: list[tuple[str, ...]] = [header]
    for run in runs:
        guard = ", ".join(run.guard_flags)[:40] or "clean"
        outcome = f"{run.outcome} (FALSE)" if run.false_verified else run.outcome
        rows.append((run.task, "covers" if run.visible_covers_bug else "misses", run.scaffold,
                     "yes" if run.solved else "no", "pass" if run.heldback_passed else "fail", outcome, guard,
                     str(run.turns), str(run.tokens_evaluated), str(run.tokens_generated), f"{run.wall_s:.0f}"))
    lines = _columns(rows, rule_after=[0])
    if runs:
        lines += ["", format_summary(runs)]
    if any(run.false_verified for run in runs):
        lines.append("(FALSE): the runtime reported verified, but the held-back checks fail")
    lines += [f"{run.task} ({run.scaffold}) attempts: " + "; ".join(f"{k} {outcome}" for k, outcome in
                                                                     enumerate(run.attempts, 1))
              for run in runs if run.attempts]
    return "\n".join(lines)
