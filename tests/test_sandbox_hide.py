"""Host paths a run's commands must not see (a benchmark's held-back tests): hidden by the sandbox itself, so a
`run cat` finds nothing where the guard, which reads only path arguments, would not notice."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sandbox_support import shown_folder

from ornith_local.config import load_config
from ornith_local.llm.scripted import ScriptedBackend
from ornith_local.sandbox import TierSandbox
from ornith_local.sandbox.probe import probe_tiers
from ornith_local.sandbox.tiers import make_tier
from ornith_local.session import RunRequest, open_run

SECRET = "def test_hidden(): assert average([]) == 0  # held back"
SANDBOXED = [probe.name for probe in probe_tiers() if probe.works and probe.name != "fallback"]


@pytest.fixture
def heldback() -> Iterator[Path]:
    """A held-back test in a folder every tier shows by default (not under /tmp or a home)."""
    for folder in shown_folder("ornith-test-tasks-", 0o755):
        (folder / "heldback").mkdir()
        (folder / "heldback" / "test_hidden.py").write_text(SECRET)
        yield folder


@pytest.mark.parametrize("tier", SANDBOXED)
def test_a_hidden_host_folder_is_not_there_for_commands(tier: str, heldback: Path, tmp_path: Path) -> None:
    command = f"cat {heldback}/heldback/test_hidden.py; ls {heldback}"
    hidden = TierSandbox(make_tier(tier), hide=[heldback]).run(command, workspace=tmp_path)
    assert SECRET not in hidden.stdout and "heldback" not in hidden.stdout, hidden
    shown = TierSandbox(make_tier(tier)).run(command, workspace=tmp_path)  # the control: the tier shows it
    assert SECRET in shown.stdout


def test_a_run_hides_what_its_request_hides(heldback: Path, example_repo: Path) -> None:
    """Through open_run and the model's own `run` tool, as the agent suite runs its tasks."""
    if not SANDBOXED:
        pytest.skip("no sandboxed tier works here")
    def read_through_the_run_tool(hide: tuple[Path, ...]) -> str:
        request = RunRequest(task="t", repo=example_repo, config=load_config(example_repo, environ={}), mode="auto",
                             use_judge=False, use_library=False, quirks=(), hide=hide)
        with open_run(request, emit=lambda event: None, backend=ScriptedBackend([])) as run:
            tool = run.loop.tools.get("run")
            assert tool is not None
            return tool.run({"command": f"cat {heldback}/heldback/test_hidden.py"}).text

    assert SECRET not in read_through_the_run_tool((heldback,))
    assert SECRET in read_through_the_run_tool(())  # the control: the same run without it reads the test
