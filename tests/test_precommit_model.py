"""The real tiny GGUF (Gemma 3 270M base) through the whole path: `git commit`, the installed hook, the
checks, the model in its child process under the grammar, the guard and the re-check.

The 270M base model cannot fix code. What must hold: the run is well formed (each proposal was generated,
parsed and judged, the budget held), and its bad proposals are not offered.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from precommit_helpers import Snapshot, add_unstaged_edits, git, make_project, ornith, stage_broken_mean


@pytest.mark.model
@pytest.mark.timeout(1200)
def test_the_tiny_model_through_a_real_commit(tiny_model_path: Path, tmp_path: Path) -> None:
    repo = make_project(tmp_path / "calc-project")
    assert ornith(repo, "hook", "install").returncode == 0
    stage_broken_mean(repo)
    add_unstaged_edits(repo)
    before_files = Snapshot.take(repo).files
    before_head = git(repo, "rev-parse", "HEAD").stdout
    staged = git(repo, "ls-files", "--stage").stdout
    env = {**os.environ, "ORNITH_PRECOMMIT_MODEL": "gemma3-270m", "ORNITH_PRECOMMIT_TIME_BUDGET_S": "150"}

    attempt = git(repo, "commit", "-m", "break the mean", env=env, check=False)

    output = attempt.stdout + attempt.stderr
    assert attempt.returncode != 0
    assert "✗ pytest" in output and "commit blocked" in output
    assert "Traceback" not in output
    # Judged and refused (or the budget ran out first), never offered: a 270M base model's edit does not
    # survive the anchor check, the guard and the re-run of the checks.
    assert "suggested fix" not in output
    assert "no fix suggested" in output
    assert re.search(r"not offered: |time budget ran out", output)
    assert not (repo / ".git" / "ornith" / "suggestion.patch").exists()
    assert git(repo, "rev-parse", "HEAD").stdout == before_head
    assert git(repo, "ls-files", "--stage").stdout == staged
    assert Snapshot.take(repo).files == before_files


@pytest.mark.model
@pytest.mark.timeout(1200)
def test_the_tiny_model_report_is_well_formed(tiny_model_path: Path, tmp_path: Path) -> None:
    repo = make_project(tmp_path / "calc-project")
    stage_broken_mean(repo)
    before = Snapshot.take(repo)
    result = ornith(repo, "precommit", "--model", "gemma3-270m", "--budget", "150", "--json", timeout=1100)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "failed" and report["suggestion"] is None
    assert report["model"].endswith(".gguf")  # the engine loaded the real file in the child process
    assert all(attempt["outcome"] != "offered" for attempt in report["attempts"])
    assert report["attempts"] or "time budget" in report["note"]
    assert Snapshot.take(repo) == before
