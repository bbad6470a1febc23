"""What a newcomer meets on the first day (issue 26), through the real `ornith` command line.

Each test runs `python -m ornith_local.cli.main` in a subprocess with this checkout first on the path, in
the isolated ornith dirs of conftest.py, and checks what the user sees: the line printed, the exit status,
the files in a real git repo.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ornith_local.agent.events import Checkpointed, RunEnded, RunStarted
from ornith_local.agent.trajectory import Trajectory
from ornith_local.models.catalog import load_catalog
from ornith_local.tools.checkpoint import create_checkpoint
from tests.conftest import REPO_ROOT, git


def ornith(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
           stdin: int | None = subprocess.DEVNULL) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "ornith_local.cli.main", *args], capture_output=True, text=True,
                          cwd=cwd, env=environ, stdin=stdin, timeout=300)


def one_line_error(result: subprocess.CompletedProcess[str], exit_code: int) -> str:
    assert result.returncode == exit_code, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if line.startswith("ornith: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def install_fake(name: str) -> None:
    """A file where `ornith models pull NAME` puts the model: enough for the choice, which never reads it."""
    entry = load_catalog()[name]
    entry.local_path.parent.mkdir(parents=True, exist_ok=True)
    entry.local_path.write_bytes(b"not a real gguf")


# --- 1. the default model ----------------------------------------------------------------------------


def test_run_without_model_picks_the_installed_coder_over_the_test_model(example_repo: Path) -> None:
    install_fake("qwen2.5-coder-1.5b")
    result = ornith("run", "fix the discount", "--repo", str(example_repo), "--mode", "auto")
    assert "model: qwen2.5-coder-1.5b (most capable installed; --model to choose)" in result.stderr
    one_line_error(result, 1)  # the fake file then fails to load: one line, not the tiny model instead


def test_an_installed_agent_model_outranks_the_demo_coder(example_repo: Path) -> None:
    install_fake("qwen2.5-coder-1.5b")
    install_fake("ornith-1.0-9b")
    result = ornith("run", "fix the discount", "--repo", str(example_repo), "--mode", "auto")
    assert "model: ornith-1.0-9b (most capable installed" in result.stderr


def test_the_test_model_is_the_last_resort_and_says_so(tmp_path: Path) -> None:
    result = ornith("run", "fix it", "--repo", str(tmp_path), "--mode", "auto")  # not a git repo: stops early
    assert "model: gemma3-270m (the tiny test model, the only one installed" in result.stderr
    assert "ornith models pull qwen2.5-coder-1.5b" in result.stderr
    assert "not a git repository" in one_line_error(result, 1)


def test_precommit_and_triage_choose_with_the_same_rule() -> None:
    from argparse import Namespace

    from ornith_local.cli.commands.triage import _model_choice
    from ornith_local.config import load_config
    from ornith_local.precommit.model import choose_model

    config = load_config(None)
    assert choose_model(config, None, False).factory is None  # only the test model: no suggestions
    install_fake("qwen2.5-coder-1.5b")
    install_fake("ornith-1.0-9b")
    assert choose_model(config, None, False).label == "ornith-1.0-9b"
    assert _model_choice(Namespace(no_model=False, model=None), config)[1] == "ornith-1.0-9b"


# --- 2. threads ----------------------------------------------------------------------------------------


def test_doctor_says_how_many_threads_and_why() -> None:
    report = json.loads(ornith("doctor", "--json", env={"ORNITH_MODEL_THREADS": "1"}).stdout)
    assert report["threads"]["count"] == 1
    assert "ORNITH_MODEL_THREADS" in report["threads"]["reason"]
    text = ornith("doctor").stdout
    assert "Threads" in text and "fewer threads can be faster" in " ".join(text.split())


def test_run_header_names_the_threads(tmp_path: Path) -> None:
    result = ornith("run", "fix it", "--repo", str(tmp_path), "--mode", "auto", env={"ORNITH_MODEL_THREADS": "1"})
    assert "threads: 1 (set by ORNITH_MODEL_THREADS" in result.stderr


# --- 3. undo and sessions belong to a repo ---------------------------------------------------------------


def committed_repo(path: Path) -> Path:
    path.mkdir()
    (path / "app.py").write_text("original\n")
    git(path, "init", "-q", "-b", "main")
    git(path, "add", "-A")
    git(path, "commit", "-q", "-m", "initial")
    return path


def record_run(repo: Path, session_id: str, task: str) -> None:
    """What a run that edits records: its start (with the repo) and the checkpoint before its first edit."""
    with Trajectory(session_id) as trajectory:
        trajectory.record(RunStarted(task=task, repo=str(repo)))
        checkpoint = create_checkpoint(repo, f"session {session_id}")
        trajectory.record(Checkpointed(id=checkpoint.id, repo=str(repo)))
        (repo / "app.py").write_text(f"edited by {session_id}\n")
        trajectory.record(RunEnded(outcome="failed", turns=1))


@pytest.fixture
def two_repos(tmp_path: Path) -> tuple[Path, Path]:
    repo_a, repo_b = committed_repo(tmp_path / "a"), committed_repo(tmp_path / "b")
    record_run(repo_a, "20260101-000000-aaaaaa", "task in a")
    record_run(repo_b, "20260101-000001-bbbbbb", "task in b")  # newer: the old global undo took this one
    return repo_a, repo_b


def test_undo_acts_on_the_current_repos_run_only(two_repos: tuple[Path, Path]) -> None:
    repo_a, repo_b = two_repos
    result = ornith("undo", "--yes", cwd=repo_a)
    assert result.returncode == 0, result.stderr
    assert (repo_a / "app.py").read_text() == "original\n"
    assert (repo_b / "app.py").read_text() == "edited by 20260101-000001-bbbbbb\n"


def test_undo_refuses_another_repos_session_unless_repo_names_it(two_repos: tuple[Path, Path]) -> None:
    repo_a, repo_b = two_repos
    refused = ornith("undo", "--yes", "--session", "20260101-000001", cwd=repo_a)
    line = one_line_error(refused, 2)
    assert str(repo_b) in line and "--repo" in line
    assert (repo_b / "app.py").read_text() == "edited by 20260101-000001-bbbbbb\n"
    allowed = ornith("undo", "--yes", "--session", "20260101-000001", "--repo", str(repo_b), cwd=repo_a)
    assert allowed.returncode == 0, allowed.stderr
    assert (repo_b / "app.py").read_text() == "original\n"


def test_the_safety_checkpoint_undo_prints_is_restorable(two_repos: tuple[Path, Path]) -> None:
    repo_a, _ = two_repos
    (repo_a / "new.txt").write_text("made after the run\n")
    first = ornith("undo", "--yes", cwd=repo_a)
    assert first.returncode == 0, first.stderr
    assert not (repo_a / "new.txt").exists()
    command = next(line for line in first.stdout.splitlines() if "ornith undo --checkpoint" in line)
    argv = command[command.index("ornith undo") :].split()[1:]
    back = ornith(*argv, "--yes", cwd=repo_a)
    assert back.returncode == 0, back.stderr
    assert (repo_a / "app.py").read_text() == "edited by 20260101-000000-aaaaaa\n"
    assert (repo_a / "new.txt").read_text() == "made after the run\n"


def test_sessions_list_shows_this_repo_and_the_repo_column(two_repos: tuple[Path, Path]) -> None:
    repo_a, repo_b = two_repos
    here = json.loads(ornith("sessions", "list", "--json", cwd=repo_a).stdout)
    assert [s["task"] for s in here] == ["task in a"]
    everywhere = json.loads(ornith("sessions", "list", "--json", "--all", cwd=repo_a).stdout)
    assert {s["repo"] for s in everywhere} == {str(repo_a), str(repo_b)}
    table = ornith("sessions", "list", "--all", cwd=repo_a, env={"COLUMNS": "200"}).stdout
    assert "repo" in table and str(repo_b) in table


# --- 5. errors -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [["run", "x", "--endpoint", "notaurl"], ["--endpoint", "notaurl"],
                                  ["run", "x", "--n-ctx", "-5"], ["generate", "hi", "--n-ctx", "-5"]])
def test_bad_endpoint_and_context_are_one_line_exit_2(args: list[str], example_repo: Path) -> None:
    line = one_line_error(ornith(*args, cwd=example_repo), 2)
    assert ("http://" in line) if "--endpoint" in args else ("at least 256" in line)


def test_a_bad_endpoint_in_the_config_is_one_line(example_repo: Path) -> None:
    (example_repo / ".ornith.toml").write_text('[model]\nendpoint = "notaurl"\n')
    line = one_line_error(ornith("run", "x", "--mode", "auto", cwd=example_repo), 2)
    assert "model.endpoint" in line and "notaurl" in line


def test_bracketed_text_in_messages_is_shown_not_eaten(example_repo: Path) -> None:
    (example_repo / ".ornith.toml").write_text("[agnet]\nmode = 'auto'\n")
    line = one_line_error(ornith("run", "x", cwd=example_repo), 2)
    assert "unknown section [agnet] (known: agent," in line


def test_a_path_with_markup_in_it_does_not_crash_the_error_handler(tmp_path: Path) -> None:
    weird = tmp_path / "x[/]y[bold]"
    line = one_line_error(ornith("run", "x", "--repo", str(weird), "--mode", "auto"), 2)
    assert "x[/]y[bold]" in line and "not a directory" in line


def test_a_misspelt_ornith_variable_is_an_error_naming_the_closest(example_repo: Path) -> None:
    line = one_line_error(ornith("sessions", "list", cwd=example_repo, env={"ORNITH_AGENT_MOD": "auto"}), 2)
    assert "ORNITH_AGENT_MOD" in line and "did you mean ORNITH_AGENT_MODE?" in line
    # Control: the documented non-setting variables and real settings pass.
    fine = ornith("sessions", "list", cwd=example_repo, env={"ORNITH_AGENT_MODE": "auto", "ORNITH_MODEL_THREADS": "1",
                                                             "ORNITH_CACHE_DIR": str(example_repo.parent / "c")})
    assert fine.returncode == 0, fine.stderr


def test_unknown_model_is_reported_before_the_missing_mode(example_repo: Path) -> None:
    # No --mode and no terminal: the default ask mode cannot work, but the unknown model is the real error.
    line = one_line_error(ornith("run", "x", "--model", "no-such-model", cwd=example_repo), 1)
    assert "unknown model 'no-such-model'" in line
