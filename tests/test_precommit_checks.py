"""`ornith precommit` without a model: the checks see exactly the staged content, nothing else is touched,
exit codes follow hook conventions, and user errors are one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from precommit_helpers import (
    STATS,
    Snapshot,
    add_unstaged_edits,
    git,
    make_project,
    ornith,
    stage_broken_mean,
)

from ornith_local.config import ConfigError
from ornith_local.precommit.checks import Check, Context, configured_checks, default_checks, expand
from tests.conftest import trust


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_project(tmp_path / "calc-project")


def run_json(repo: Path, *args: str) -> tuple[int, dict[str, Any]]:
    result = ornith(repo, "precommit", "--json", *args)
    assert result.stdout.strip(), result.stderr
    return result.returncode, json.loads(result.stdout)


def test_staged_break_is_caught_and_unstaged_edits_survive_byte_for_byte(repo: Path) -> None:
    stage_broken_mean(repo)
    add_unstaged_edits(repo)
    before = Snapshot.take(repo)
    staged_before = git(repo, "diff", "--cached").stdout

    result = ornith(repo, "precommit", "--no-model")

    assert result.returncode == 1, result.stdout + result.stderr
    assert "✗ pytest" in result.stdout and "test_mean" in result.stdout
    assert "commit blocked" in result.stdout
    assert "Traceback" not in result.stderr
    after = Snapshot.take(repo)
    assert after == before  # working tree files, their modes, and the raw index file
    assert git(repo, "diff", "--cached").stdout == staged_before
    assert not (repo / ".git" / "ornith" / "suggestion.patch").exists()


def test_checks_read_the_index_not_the_working_tree(repo: Path) -> None:
    # Staged: a harmless change. Unstaged: a break. The commit content is fine, so the checks pass.
    (repo / "calc" / "stats.py").write_text(STATS + "\n\ndef spread(values):\n    return max(values) - min(values)\n")
    git(repo, "add", "calc/stats.py")
    (repo / "calc" / "stats.py").write_text(STATS.replace("return sum(values)", "return 0"))
    before = Snapshot.take(repo)

    code, report = run_json(repo, "--no-model")

    assert code == 0 and report["status"] == "passed"
    checks = report["checks"]
    assert checks[0]["status"] == "passed"
    assert "tests/test_stats.py" in checks[0]["command"]
    assert Snapshot.take(repo) == before


def test_an_unstaged_fix_does_not_hide_a_staged_break(repo: Path) -> None:
    stage_broken_mean(repo)
    (repo / "calc" / "stats.py").write_text(STATS)  # fixed in the working tree only: not what gets committed
    code, report = run_json(repo, "--no-model")
    assert code == 1 and report["status"] == "failed"


def test_placeholders_expand_to_staged_files_and_related_tests(repo: Path) -> None:
    (repo / ".ornith.toml").write_text(
        "[precommit]\nchecks = [\n"
        "  \"{python} -c 'import sys; print(sys.argv[1:])' {files}\",\n"
        "  \"{python} -c 'import sys; print(sys.argv[1:])' {files:*.txt}\",\n"
        "  \"{python} -c 'import sys; print(sys.argv[1:])' {related_tests}\",\n"
        "]\n")
    trust(repo)
    (repo / "calc" / "text.py").write_text("def shout(s):\n    return s.upper() + '!!'\n")
    (repo / "README.md").write_text("# calc\n")
    git(repo, "add", "calc/text.py", "README.md")
    (repo / "calc" / "stats.py").write_text(BROKEN := STATS + "# unstaged\n")
    assert BROKEN
    code, report = run_json(repo, "--no-model")
    assert code == 0
    files, txt, related = report["checks"]
    assert files["status"] == "passed" and files["command"].endswith("calc/text.py")
    assert "calc/stats.py" not in files["command"] and ".ornith.toml" not in files["command"]
    assert txt["status"] == "skipped" and "no staged files match" in txt["note"]
    assert related["command"].endswith("tests/test_text.py")


def test_warn_only_reports_but_lets_the_commit_through(repo: Path) -> None:
    (repo / ".ornith.toml").write_text("[precommit]\nwarn_only = true\n")
    trust(repo)
    stage_broken_mean(repo)
    result = ornith(repo, "precommit", "--no-model")
    assert result.returncode == 0
    assert "warn-only" in result.stdout and "✗ pytest" in result.stdout


def test_a_check_that_hangs_is_cut_off_and_fails(repo: Path) -> None:
    (repo / ".ornith.toml").write_text("[sandbox]\ntimeout_s = 1\n\n[precommit]\nchecks = [\"sleep 30\"]\n")
    trust(repo)
    stage_broken_mean(repo)
    code, report = run_json(repo, "--no-model")
    assert code == 1
    assert report["checks"][0]["status"] == "timeout"


def test_deleting_an_imported_module_runs_its_importers_tests(repo: Path) -> None:
    git(repo, "rm", "-q", "calc/text.py")
    code, report = run_json(repo, "--no-model")
    assert code == 1
    assert "tests/test_text.py" in report["checks"][0]["command"]


@pytest.mark.parametrize(("args", "setup", "message", "exit_code"), [
    ((), "nothing", "nothing is staged", 2),
    ((), "not-a-repo", "not inside a git working tree", 2),
    ((), "bad-placeholder", "unknown placeholder {file}", 2),
    ((), "bad-toml", "invalid TOML", 2),
    (("--budget", "0"), "staged", "--budget must be positive", 2),
])
def test_user_errors_are_one_line(tmp_path: Path, repo: Path, args: tuple[str, ...], setup: str, message: str,
                                  exit_code: int) -> None:
    where = repo
    if setup == "not-a-repo":
        where = tmp_path / "plain"
        where.mkdir()
    elif setup == "bad-placeholder":
        (repo / ".ornith.toml").write_text("[precommit]\nchecks = [\"ruff check {file}\"]\n")
        trust(repo)
        stage_broken_mean(repo)
    elif setup == "bad-toml":
        (repo / ".ornith.toml").write_text("[precommit\n")
        stage_broken_mean(repo)
    elif setup == "staged":
        stage_broken_mean(repo)
    result = ornith(where, "precommit", *args)
    assert result.returncode == exit_code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_hook_mode_with_nothing_staged_is_quiet_success(repo: Path) -> None:
    result = ornith(repo, "precommit", "--hook")
    assert result.returncode == 0 and result.stderr == ""


def test_no_checks_at_all_passes_with_a_hint(tmp_path: Path) -> None:
    repo = tmp_path / "docs"
    repo.mkdir()
    (repo / "notes.md").write_text("hello\n")
    git(repo, "init", "-q")
    git(repo, "add", "notes.md")
    result = ornith(repo, "precommit")
    assert result.returncode == 0 and "no checks configured or detected" in result.stdout


def test_no_model_installed_says_how_to_get_suggestions(repo: Path) -> None:
    stage_broken_mean(repo)
    result = ornith(repo, "precommit")
    assert result.returncode == 1
    assert "no model installed" in result.stdout and "ornith models pull" in result.stdout


# --- units ------------------------------------------------------------------------------------------

def test_expand_quotes_filters_and_skips() -> None:
    context = Context(files=("a.py", "docs/it's.md", "b.pyi"), related_tests=(), python="/opt/py thon/bin/python")
    assert expand("ruff {files:*.py,*.pyi}", context) == ("ruff a.py b.pyi", "")
    assert expand("cat {files}", context)[0] == "cat a.py 'docs/it'\"'\"'s.md' b.pyi"
    assert expand("{python} -m x", context)[0] == "'/opt/py thon/bin/python' -m x"
    assert expand("pytest {related_tests}", context) == (None, "no related tests")
    assert expand("echo ${HOME} {{literal}}", context)[0] == "echo ${HOME} {literal}"


def test_unknown_placeholders_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="unknown placeholder"):
        configured_checks(["pytest {tests}"], ".ornith.toml [precommit] checks")
    with pytest.raises(ConfigError, match="only \\{files\\} takes globs"):
        configured_checks(["pytest {related_tests:*.py}"], "x")
    assert configured_checks(["awk '{{print}}' {files}"], "x") == [Check("awk '{{print}}' {files}", "x")]


def test_defaults_follow_the_project(repo: Path, tmp_path: Path) -> None:
    import sys

    path = str(Path(sys.executable).parent)
    names = [check.name for check in default_checks(repo, path)]
    assert names == ["pytest"]
    (repo / "ruff.toml").write_text("line-length = 100\n")
    assert [check.name for check in default_checks(repo, path)] == ["ruff check", "pytest"]
    assert default_checks(tmp_path, path) == []


def test_the_projects_venv_under_home_is_readable_but_not_writable(tmp_path: Path) -> None:
    """The sandbox hides $HOME; the staged copy lives elsewhere, so the project's .venv is shown read-only."""
    import os

    from ornith_local.sandbox import active_tier, probe_tiers

    if active_tier(probe_tiers()).name == "fallback":
        pytest.skip("no isolating sandbox tier here: nothing is hidden")
    home = tmp_path / "home"
    repo = make_project(home / "code" / "calc")
    tool = repo / ".venv" / "bin" / "project-tool"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho tool ran\ntouch \"$(dirname \"$0\")/written\" && exit 3\nexit 0\n")
    tool.chmod(0o755)
    (repo / ".ornith.toml").write_text("[precommit]\nchecks = [\".venv/bin/project-tool\", \"project-tool\"]\n")
    trust(repo)
    stage_broken_mean(repo)
    env = {**os.environ, "HOME": str(home)}
    result = ornith(repo, "precommit", "--no-model", "--json", env=env)
    report = json.loads(result.stdout)
    assert result.returncode == 0, report
    assert [check["status"] for check in report["checks"]] == ["passed", "passed"]  # found, ran, could not write
    assert not (tool.parent / "written").exists()


def test_interpreter_dirs_never_include_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from ornith_local.tools.testing.environments import interpreter_dirs

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "bin").mkdir()
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    assert tmp_path not in interpreter_dirs(str(tmp_path / "bin" / "python"))
    assert tmp_path / ".venv" in interpreter_dirs(str(tmp_path / ".venv" / "bin" / "python"))


def test_a_planted_interpreter_link_does_not_show_a_secret_folder(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    """A repo's `.venv/bin/python` linking into ~/.ssh must not make the sandbox show ~/.ssh read-only."""
    from ornith_local.tools.testing.environments import interpreter_dirs

    home = tmp_path / "home"
    secret = home / ".ssh" / "keys"
    secret.mkdir(parents=True)
    (secret / "id_ed25519").write_text("PRIVATE")
    monkeypatch.setenv("HOME", str(home))
    venv_bin = tmp_path / "repo" / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(secret / "id_ed25519")
    # Control: the folders a plain "parent of the resolved interpreter" rule would show include ~/.ssh.
    resolved = (venv_bin / "python").resolve()
    assert resolved.parent.parent == home / ".ssh"
    assert not any(home / ".ssh" in (d, *d.parents) for d in interpreter_dirs(str(venv_bin / "python")))


def write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


def test_related_tests_follow_imports_names_and_conftests(tmp_path: Path) -> None:
    from ornith_local.precommit.related import related_tests

    tree = write_tree(tmp_path, {
        "src/shop/__init__.py": "",
        "src/shop/prices.py": "def price(x):\n    return x\n",
        "src/shop/cart.py": "from .prices import price\n",  # relative import: cart depends on prices
        "src/shop/unrelated.py": "import json\n",
        "tests/conftest.py": "",
        "tests/test_cart.py": "from shop.cart import *\n",
        "tests/test_prices.py": "# no import: related by name\n",
        "tests/test_multi.py": "from shop import (\n    unrelated,\n    cart,\n)\n",
        "tests/test_other.py": "import shop.unrelated\n",
        "tests/unit/test_deep.py": "import os\n",
        "other/test_far.py": "import os\n",
    })
    assert related_tests(tree, ["src/shop/prices.py"], []) == [
        "tests/test_cart.py", "tests/test_multi.py", "tests/test_prices.py"]
    assert related_tests(tree, ["tests/test_other.py"], []) == ["tests/test_other.py"]
    assert related_tests(tree, ["tests/conftest.py"], []) == [
        "tests/test_cart.py", "tests/test_multi.py", "tests/test_other.py", "tests/test_prices.py",
        "tests/unit/test_deep.py"]
    assert related_tests(tree, [], ["src/shop/unrelated.py"]) == ["tests/test_multi.py", "tests/test_other.py"]
    assert related_tests(tree, ["README.md"], []) == []
