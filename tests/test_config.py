"""Layered configuration: user file < repo .ornith.toml < ORNITH_* env; errors name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from ornith_local.config import ConfigError, app_dirs, load_config, project_instructions
from tests.conftest import trust


def write_user_config(text: str) -> Path:
    path = app_dirs().config_file
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_defaults_without_any_file(tmp_path: Path) -> None:
    config = load_config(tmp_path, environ={})
    assert config.agent.mode == "ask"
    assert config.sandbox.allow_network is False
    assert config.sources == ()


def test_repo_file_overrides_user_file_and_env_overrides_both(tmp_path: Path) -> None:
    user = write_user_config('[agent]\nmode = "read-only"\nmax_turns = 10\n[model]\nname = "gemma3-270m"\n')
    (tmp_path / ".ornith.toml").write_text('[agent]\nmode = "auto"\n[tests]\ncommand = "pytest -x"\n')
    trust(tmp_path)
    config = load_config(tmp_path, environ={"ORNITH_AGENT_MAX_TURNS": "7", "ORNITH_SANDBOX_ALLOW_NETWORK": "yes"})
    assert config.agent.mode == "auto"  # repo beats user
    assert config.agent.max_turns == 7  # env beats both
    assert config.model.name == "gemma3-270m"  # untouched user value survives
    assert config.tests.command == "pytest -x"
    assert config.sandbox.allow_network is True
    assert config.sources == (str(user), str(tmp_path / ".ornith.toml"), "environment (ORNITH_*)")


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    (tmp_path / ".ornith.toml").write_text("[sandbox]\nallow_netwrok = true\n")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path, environ={})
    assert str(tmp_path / ".ornith.toml") in str(error.value)
    assert "sandbox.allow_netwrok" in str(error.value)


def test_unknown_section_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".ornith.toml").write_text("[modle]\nname = 'x'\n")
    with pytest.raises(ConfigError, match=r"unknown section \[modle\]"):
        load_config(tmp_path, environ={})


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[agent]\nmax_turns = "ten"', "agent.max_turns': expected an integer"),
        ('[agent]\nmode = "yolo"', "agent.mode': expected one of"),
        ("[sandbox]\nallow_network = 1", "sandbox.allow_network': expected true or false"),
        ("[precommit]\nchecks = 'ruff'", "precommit.checks': expected a list of strings"),
        ("[agent]\nmax_turns = true", "agent.max_turns': expected an integer"),
        ("[agent]\nmax_turns = 0", "agent.max_turns': must be at least 1, got 0"),
        ("[agent]\nmax_tokens_per_turn = 8", "agent.max_tokens_per_turn': must be at least 64, got 8"),
        ('[tests]\nenv = ["DEBUG"]', "tests.env': expected NAME=value entries, got 'DEBUG'"),
        ('[tests]\nenv = ["=1"]', "tests.env': expected NAME=value entries, got '=1'"),
    ],
)
def test_wrong_types_are_named(tmp_path: Path, toml: str, expected: str) -> None:
    (tmp_path / ".ornith.toml").write_text(toml + "\n")
    with pytest.raises(ConfigError, match=expected.replace("[", r"\[")):
        load_config(tmp_path, environ={})


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = write_user_config("[agent\nmode=")
    with pytest.raises(ConfigError, match="invalid TOML") as error:
        load_config(None, environ={})
    assert str(path) in str(error.value)


def test_env_values_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="environment"):
        load_config(tmp_path, environ={"ORNITH_AGENT_MODE": "reckless"})


def test_env_lists_are_comma_separated(tmp_path: Path) -> None:
    config = load_config(tmp_path, environ={"ORNITH_PRECOMMIT_CHECKS": "ruff check {files}, pytest -x"})
    assert config.precommit.checks == ["ruff check {files}", "pytest -x"]


def test_dirs_follow_env_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORNITH_CACHE_DIR", str(tmp_path / "c"))
    assert app_dirs().cache == tmp_path / "c"
    assert app_dirs().models == Path(app_dirs().data) / "models"


def test_agents_md_is_read_as_project_instructions(tmp_path: Path) -> None:
    assert project_instructions(tmp_path) is None
    (tmp_path / "AGENTS.md").write_text("Run tests with `make test`.\n")
    assert project_instructions(tmp_path) == "Run tests with `make test`.\n"
