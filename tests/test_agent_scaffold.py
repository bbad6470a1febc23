"""Scaffold parsing and clamping: a scaffold can narrow what the user allowed, never widen it."""

from __future__ import annotations

import json

import pytest

from ornith_local.agent.scaffold import (
    MAX_STEP_TURNS,
    Permissions,
    ScaffoldError,
    clamp,
    fixed_scaffold,
    scaffold_from_json,
    scaffold_json_schema,
)
from ornith_local.tools.base import Effect

ALL_TOOLS: dict[str, Effect] = {"read_file": "read", "list_dir": "read", "search": "read", "repo_map": "read",
                                "edit_file": "edit", "write_file": "edit", "run": "exec", "run_tests": "read"}


def model_scaffold(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "task_kind": "fix_bug",
        "goal": "make bulk discounts start at the tier minimum",
        "steps": [
            {"name": "locate", "intent": "find the discount code", "tools": ["search", "read_file"],
             "turn_budget": 4, "exit_condition": "found it", "on_failure": "replan"},
            {"name": "fix", "intent": "change the comparison", "tools": ["edit_file", "run_tests"],
             "turn_budget": 5, "exit_condition": "tests pass", "on_failure": "retry"},
        ],
        "acceptance_checks": ["python -m pytest -q tests/test_discounts.py"],
        "context": {"summarize_after_turns": 4},
        "max_total_turns": 12,
    }
    data.update(overrides)
    return data


def test_round_trip_from_model_json() -> None:
    scaffold = scaffold_from_json(json.dumps(model_scaffold()))
    assert scaffold.task_kind == "fix_bug"
    assert [step.name for step in scaffold.steps] == ["locate", "fix"]
    assert scaffold.steps[1].tools == ("edit_file", "run_tests")
    assert scaffold.context.summarize_after_turns == 4
    assert scaffold.max_total_turns == 12
    assert scaffold.total_turn_budget == 9


def test_clamp_keeps_an_allowed_scaffold_unchanged() -> None:
    scaffold = scaffold_from_json(model_scaffold())
    result = clamp(scaffold, Permissions(tools=ALL_TOOLS, mode="auto", max_turns=40))
    assert result.notes == ()
    assert result.scaffold.steps == scaffold.steps


def test_scaffold_cannot_grant_itself_tools_or_budgets() -> None:
    data = model_scaffold(max_total_turns=500)
    data["steps"][0]["tools"] = ["read_file", "shell_as_root", "network"]  # type: ignore[index]
    data["steps"][1]["turn_budget"] = 999  # type: ignore[index]
    result = clamp(scaffold_from_json(data), Permissions(tools=ALL_TOOLS, mode="auto", max_turns=15))
    assert result.scaffold.steps[0].tools == ("read_file",)
    assert result.scaffold.steps[1].turn_budget == min(MAX_STEP_TURNS, 15)
    assert result.scaffold.max_total_turns == 15
    assert any("shell_as_root" in note for note in result.notes)


def test_read_only_mode_strips_write_tools_and_drops_empty_steps() -> None:
    data = model_scaffold()
    data["steps"][1]["tools"] = ["edit_file"]  # type: ignore[index]
    result = clamp(scaffold_from_json(data), Permissions(tools=ALL_TOOLS, mode="read-only"))
    assert [step.name for step in result.scaffold.steps] == ["locate"]
    assert any("step removed" in note for note in result.notes)


def test_no_runnable_step_is_an_error() -> None:
    data = model_scaffold()
    for step in data["steps"]:  # type: ignore[attr-defined]
        step["tools"] = ["edit_file"]
    with pytest.raises(ScaffoldError, match="no step"):
        clamp(scaffold_from_json(data), Permissions(tools=ALL_TOOLS, mode="read-only"))


@pytest.mark.parametrize("bad", ["not json", "[1, 2]", json.dumps({"steps": []}), json.dumps({"steps": ["x"]})])
def test_unusable_documents_raise_scaffold_error(bad: str) -> None:
    with pytest.raises(ScaffoldError):
        scaffold_from_json(bad)


def test_small_slips_are_tolerated() -> None:
    data = model_scaffold(task_kind="bugfix", context="none")
    data["steps"][0]["turn_budget"] = "3"  # type: ignore[index]
    data["steps"][0]["on_failure"] = "panic"  # type: ignore[index]
    scaffold = scaffold_from_json(data)
    assert scaffold.task_kind == "other"
    assert scaffold.steps[0].turn_budget == 3
    assert scaffold.steps[0].on_failure == "replan"


def test_json_schema_offers_only_given_tools_and_bounds_everything() -> None:
    schema = scaffold_json_schema(["read_file", "edit_file"])
    step = schema["properties"]["steps"]["items"]
    assert step["properties"]["tools"]["items"]["enum"] == ["edit_file", "read_file"]
    assert schema["properties"]["steps"]["maxItems"] >= 1
    assert schema["properties"]["goal"]["maxLength"] <= 200
    assert schema["additionalProperties"] is False


def test_schema_converts_to_a_grammar() -> None:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    gbnf = json_schema_to_gbnf(json.dumps(scaffold_json_schema(sorted(ALL_TOOLS))))
    assert "root ::=" in gbnf
    assert '\\"run_tests\\"' in gbnf


def test_fixed_scaffold_is_valid_under_full_permissions() -> None:
    scaffold = fixed_scaffold("Fix the bulk discount bug\nmore detail")
    assert scaffold.goal == "Fix the bulk discount bug"
    result = clamp(scaffold, Permissions(tools=ALL_TOOLS, mode="auto"))
    assert [step.name for step in result.scaffold.steps] == ["understand", "change", "verify"]
    assert result.notes == ()


def test_a_low_max_turns_is_one_note_and_the_budget_the_loop_spends() -> None:
    result = clamp(fixed_scaffold("fix it"), Permissions(tools=ALL_TOOLS, mode="auto", max_turns=3, max_wall_s=60))
    assert result.notes == ("turn budgets cut to the run's 3 turns: understand 8 -> 3, change 8 -> 3, "
                            "verify 8 -> 3, total 30 -> 3",)
    assert (result.budget.turns, result.budget.wall_s) == (3, 60)
    assert result.budget.spent(3, 0.0) and result.budget.spent(0, 61.0) and not result.budget.spent(2, 59.0)


def test_the_grammar_asks_only_for_what_the_loop_reads() -> None:
    context = scaffold_json_schema(["read_file"])["properties"]["context"]
    assert context["required"] == ["summarize_after_turns"] and "keep" not in context["properties"]


def test_a_fix_with_no_failing_test_is_clamped_to_reproduce_the_problem_first() -> None:
    scaffold = scaffold_from_json(model_scaffold())
    result = clamp(scaffold, Permissions(tools=ALL_TOOLS, mode="auto", reproduce=True))
    assert [step.name for step in result.scaffold.steps] == ["locate", "reproduce", "fix"]
    assert "write_file" in result.scaffold.steps[1].tools and "run_tests" in result.scaffold.steps[1].tools
    assert any("step 'reproduce' added before 'fix'" in note for note in result.notes)
    # A plan that already reproduces is left as it is; so is one where a test already fails (reproduce=False),
    # a read-only run (no new test can be written) and a task that changes no behaviour.
    own = model_scaffold(steps=[{"name": "reproduce-it", "intent": "write a failing test", "tools": ["write_file"],
                                 "turn_budget": 3, "exit_condition": "it fails", "on_failure": "replan"},
                                *model_scaffold()["steps"]])  # type: ignore[misc]
    assert [s.name for s in clamp(scaffold_from_json(own), Permissions(tools=ALL_TOOLS, reproduce=True))
            .scaffold.steps] == ["reproduce-it", "locate", "fix"]
    assert len(clamp(scaffold, Permissions(tools=ALL_TOOLS, mode="auto")).scaffold.steps) == 2
    read_only = clamp(scaffold, Permissions(tools=ALL_TOOLS, mode="read-only", reproduce=True)).scaffold.steps
    assert [step.name for step in read_only] == ["locate", "fix"]
    refactor = scaffold_from_json(model_scaffold(task_kind="refactor"))
    assert len(clamp(refactor, Permissions(tools=ALL_TOOLS, reproduce=True)).scaffold.steps) == 2


def test_the_fixed_scaffold_gains_the_reproduction_when_no_test_fails() -> None:
    steps = clamp(fixed_scaffold("fix the bug"), Permissions(tools=ALL_TOOLS, reproduce=True)).scaffold.steps
    assert [step.name for step in steps] == ["understand", "reproduce", "change", "verify"]
