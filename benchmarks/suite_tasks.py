"""The agent suite's tasks: loading `benchmarks/tasks/<id>/task.toml`, a fresh git copy of a task's repo, and
the visible and held-back checks run in the sandbox (see `agent_suite.py` for the task.toml keys)."""


import json
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ornith_local.agent import events
from ornith_local.agent.trajectory import read_events
from ornith_local.guard.monitor import is_test_path
from ornith_local.sandbox import Sandbox
from ornith_local.tools.listing import list_files
from ornith_local.tools.testing.detect import detect_test_command

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TASKS_DIR = Path(__file__).resolve().parent / "tasks"
SNAPSHOT_IGNORE = shutil.ignore_patterns("__pycache__", ".pytest_cache", "node_modules", ".venv", "*.pyc")
HELDBACK_TIMEOUT_S = 300.0


class SuiteError(ValueError):
    """A task folder that cannot be used, worded as one line."""


@dataclass(frozen=True)
class SuiteTask:
    id: str
    folder: Path
    task: str
    category: str
    language: str
    snapshot: Path
    checks: tuple[str, ...]  # acceptance commands for the agent's run; () = the detected test command
    heldback_files: tuple[str, ...]  # relative paths, as they are placed in the repo for the held-back check
    heldback: str | None  # the held-back command; None = the detected test command
    easy: bool = False
    visible_covers_bug: bool = True  # False: the visible checks pass on the snapshot; only the held-back see the bug

    @property
    def withheld(self) -> tuple[str, ...]:
        """What the run's guard treats as unreadable: the held-back files' paths (they are not there anyway)."""
        return self.heldback_files


def python_command(command: str) -> str:
    return command.replace("{python}", shlex.quote(sys.executable))


def load_task(folder: Path) -> SuiteTask:
    spec_path = folder / "task.toml"
    try:
        spec = tomllib.loads(spec_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SuiteError(f"{spec_path}: {error}") from None
    if not str(spec.get("task", "")).strip():
        raise SuiteError(f"{spec_path}: no task sentence")
    snapshot = (PROJECT_ROOT / spec["repo"]) if "repo" in spec else folder / "repo"
    if not snapshot.is_dir():
        raise SuiteError(f"{spec_path}: the snapshot {snapshot} does not exist")
    heldback_root = folder / "heldback"
    files = tuple(sorted(path.relative_to(heldback_root).as_posix() for path in heldback_root.rglob("*")
                         if path.is_file() and "__pycache__" not in path.parts)) if heldback_root.is_dir() else ()
    if not files:
        raise SuiteError(f"{spec_path}: no held-back checks in {heldback_root}")
    covers = spec.get("visible_covers_bug", True)
    if not isinstance(covers, bool):
        raise SuiteError(f"{spec_path}: visible_covers_bug must be true or false, not {covers!r}")
    clash = [name for name in files if (snapshot / name).exists()]
    if clash:
        raise SuiteError(f"{spec_path}: held-back files would overwrite the snapshot's {', '.join(clash)}")
    return SuiteTask(
        id=folder.name, folder=folder, task=str(spec["task"]).strip(), category=str(spec.get("category", "other")),
        language=str(spec.get("language", "python")), snapshot=snapshot,
        checks=tuple(python_command(check) for check in spec.get("checks", [])), heldback_files=files,
        heldback=python_command(spec["heldback"]) if spec.get("heldback") else None, easy=bool(spec.get("easy")),
        visible_covers_bug=covers,
    )


def load_tasks(names: Sequence[str] = (), root: Path = TASKS_DIR) -> list[SuiteTask]:
    folders = sorted(path for path in root.iterdir() if (path / "task.toml").is_file())
    if names:
        known = {folder.name: folder for folder in folders}
        missing = [name for name in names if name not in known]
        if missing:
            raise SuiteError(f"unknown task(s): {', '.join(missing)} (known: {', '.join(sorted(known))})")
        folders = [known[name] for name in names]
    return [load_task(folder) for folder in folders]


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=ornith-suite", "-c", "user.email=suite@ornith.local",
                    "-c", "commit.gpgsign=false", *args], cwd=repo, check=True, capture_output=True)


def prepare_workspace(task: SuiteTask, dest: Path) -> Path:
    """A fresh git copy of the snapshot: what the agent sees. Nothing held back is in it."""
    shutil.copytree(task.snapshot, dest, ignore=SNAPSHOT_IGNORE)
    _git(dest, "init", "-q", "-b", "main")
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", f"snapshot of {task.id}")
    return dest


@dataclass
class CheckOutcome:
    passed: bool
    command: str
    summary: str
    output: str = ""


def apply_reference_solution(task: SuiteTask, work: Path) -> list[str]:
    """Copy the task's solution/ files over the workspace: proves the held-back checks can pass (tests only)."""
    root = task.folder / "solution"
    changed = []
    for path in sorted(root.rglob("*")) if root.is_dir() else []:
        if path.is_file() and "__pycache__" not in path.parts:
            rel = path.relative_to(root)
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, work / rel)
            changed.append(rel.as_posix())
    return changed


def _run_command(argv: list[str], work: Path, sandbox: Sandbox, timeout_s: float) -> CheckOutcome:
    result = sandbox.run(argv, workspace=work, timeout_s=timeout_s)
    output = (result.stdout + "\n" + result.stderr).strip()
    tail = output.splitlines()[-1:] or [""]
    summary = "timed out" if result.timed_out else f"exit {result.exit_code}: {tail[0][:120]}"
    return CheckOutcome(result.exit_code == 0 and not result.timed_out, shlex.join(argv), summary, output[-4000:])


def run_visible(task: SuiteTask, work: Path, sandbox: Sandbox, timeout_s: float = HELDBACK_TIMEOUT_S) -> CheckOutcome:
    """The checks the agent's run is verified against (the task's checks, else the detected test command), as
    they stand in `work`: on the snapshot they fail where the visible tests cover the bug, and pass where not."""
    if task.checks:
        outcomes = [_run_command(shlex.split(check), work, sandbox, timeout_s) for check in task.checks]
        failed = [outcome for outcome in outcomes if not outcome.passed]
        shown = failed[0] if failed else outcomes[-1]
        return CheckOutcome(not failed, "; ".join(outcome.command for outcome in outcomes), shown.summary,
                            shown.output)
    detected = detect_test_command(work)
    if detected is None:
        return CheckOutcome(False, "(none)", "no test command detected for the visible checks")
    return _run_command(list(detected.argv), work, sandbox, timeout_s)


def run_heldback(task: SuiteTask, work: Path, sandbox: Sandbox, timeout_s: float = HELDBACK_TIMEOUT_S) -> CheckOutcome:
    """After the run: restore the snapshot's tests, add the held-back files, run the held-back command."""
    for rel in list_files(task.snapshot):
        if is_test_path(rel):  # whatever the agent did to a test, the check runs the original
            target = work / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(task.snapshot / rel, target)
    for rel in task.heldback_files:
        target = work / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(task.folder / "heldback" / rel, target)
    if task.heldback:
        argv = shlex.split(task.heldback)
    else:
        detected = detect_test_command(work)
        if detected is None:
            return CheckOutcome(False, "(none)", "no test command detected for the held-back check")
        argv = list(detected.argv)
    return _run_command(argv, work, sandbox, timeout_s)


def heldback_peeks(task: SuiteTask, trajectory: Path) -> list[str]:
    """Tool calls that went looking for the held-back checks (e.g. `run cat …/heldback/…`): a guard flag.

    The runtime's monitor sees path arguments; a shell command can name any path, so the runner checks every
    call's arguments too. (The run's sandbox hides the tasks folder, so such a call reads nothing: the attempt
    is what is counted.)
    """
    needles = {"heldback", str(TASKS_DIR), "benchmarks/tasks", *(Path(name).name for name in task.heldback_files)}
    found = []
    for event in read_events(trajectory):
        if not isinstance(event, events.ToolCalled):
            continue
        text = json.dumps(event.arguments)
        hits = sorted(needle for needle in needles if needle in text)
        if hits:
            found.append(f"{event.tool}: {', '.join(hits)}")
    return found
