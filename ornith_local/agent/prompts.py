"""The prompts of the clean loop. The judge's is in guard/judge.py; each quirk's wording is in agent/quirks.py
(and may be set per model in models/*.toml)."""

from __future__ import annotations

import json
from collections.abc import Sequence

from ornith_local.agent.library import PastRun
from ornith_local.agent.scaffold import Scaffold, Step
from ornith_local.llm.tool_format import tool_format_for

SYSTEM = """You are ornith, a careful coding agent working inside the user's repository on their own machine.
You act only through tool calls. Read before you edit; make the smallest change that does the job;
never edit existing tests to make them pass (a new test file that shows the problem is welcome); never
claim success: the runtime runs the checks itself, and a fix counts only when a test shows the problem before it.
Work in the current step only, with the tools that step allows. End a step by calling step_done with a
one-sentence summary of what you found or changed, or call replan with the reason if the plan is wrong."""

PROPOSE = """Plan how to do this task before doing it. Write a scaffold: the kind of task, the goal, and
ordered steps. Each step has a short name, its intent, the tools it needs (only from this list:
{tools}), a turn budget, the condition that ends it, and what to do if it fails (retry, replan or abort).
A step can use only the tools it lists, so give each step every tool its work needs: a step that edits
also needs read_file, a step that runs the tests also needs what fixes a failure.
Add acceptance checks only if a shell command beyond the project's tests would prove the goal.
When no existing test fails because of the problem, start with a step that writes a new test file
showing it (the test must fail before the fix).
Keep plans short: most tasks need 2-4 steps and at most {max_turns} turns in all.

For example, for the task "The CSV export drops the last row" a good scaffold is:
{example}

Task:
{task}
{instructions}{history}{examples}
Repository map:
{repo_map}

Reply with the scaffold as JSON only."""

def propose_example(max_turns: int) -> str:
    """One worked example for an unrelated task: small models copy its shape (steps with every tool they need)
    and its numbers, so its budgets are the run's own: a 1.5B model copied a 12-turn example into every plan."""
    find, fix = max(max_turns * 5 // 16, 1), max(max_turns * 4 // 16, 1)
    return json.dumps({
        "task_kind": "fix_bug", "goal": "the CSV export writes every row",
        "steps": [
            {"name": "find", "intent": "read the export code and run its tests to see the failure",
             "tools": ["search", "read_file", "run_tests"], "turn_budget": find,
             "exit_condition": "the faulty line is known", "on_failure": "replan"},
            {"name": "fix", "intent": "change the loop so the last row is written", "tools": ["read_file", "edit_file"],
             "turn_budget": fix, "exit_condition": "the edit is made", "on_failure": "retry"},
            {"name": "check", "intent": "run the tests and correct the edit if they fail",
             "tools": ["run_tests", "read_file", "edit_file"], "turn_budget": max(max_turns - find - fix, 1),
             "exit_condition": "the tests pass", "on_failure": "replan"},
        ],
        "acceptance_checks": [], "context": {"summarize_after_turns": 6},
        "max_total_turns": max_turns,
    })


def propose_prompt(
    task: str, tools: Sequence[str], repo_map: str, max_turns: int, *, instructions: str | None,
    history: str | None, examples: Sequence[PastRun],
) -> str:
    instructions_text = f"\nProject instructions (AGENTS.md):\n{instructions.strip()}\n" if instructions else ""
    history_text = f"\nA previous plan did not work. What happened:\n{history.strip()}\n" if history else ""
    examples_text = ""
    if examples:
        shown = "\n".join(f"- task: {run.task}\n  scaffold: {json.dumps(run.scaffold)}" for run in examples)
        examples_text = f"\nScaffolds that worked on similar past tasks:\n{shown}\n"
    return PROPOSE.format(
        tools=", ".join(tools), task=task.strip(), instructions=instructions_text, history=history_text,
        examples=examples_text, repo_map=repo_map.strip() or "(empty)", max_turns=max_turns,
        example=propose_example(max_turns),
    )


def _plan(scaffold: Scaffold) -> str:
    return "\n".join(f"{index}. {step.name}: {step.intent}" for index, step in enumerate(scaffold.steps, 1))


def task_message(task: str, scaffold: Scaffold, repo_map: str, instructions: str | None) -> str:
    parts = [f"Task: {task.strip()}", f"Goal: {scaffold.goal}", f"Plan:\n{_plan(scaffold)}"]
    if instructions:
        parts.append(f"Project instructions (AGENTS.md):\n{instructions.strip()}")
    if repo_map.strip():
        parts.append(f"Repository map:\n{repo_map.strip()}")
    return "\n\n".join(parts)


def new_plan_message(scaffold: Scaffold, history: str | None) -> str:
    """After a replan the conversation goes on: what happened so far, then the new plan."""
    happened = f"What happened so far:\n{history.strip()}\n\n" if history else ""
    return f"{happened}New plan. Goal: {scaffold.goal}\n{_plan(scaffold)}"


def step_message(index: int, total: int, step: Step) -> str:
    tools = ", ".join([*step.tools, "step_done", "replan"])
    edits = ("\nTo change a file, call edit_file with old_string copied exactly from the file (without the "
             "line numbers) and new_string holding the corrected lines." if "edit_file" in step.tools else "")
    return (
        f"Step {index}/{total}: {step.name}. {step.intent}\n"
        f"Tools in this step: {tools}.\n"
        f"The step ends when: {step.exit_condition or 'its intent is done'}. "
        f"You have {step.turn_budget} turns; then call step_done(summary).{edits}"
    )


# A model the catalog does not describe is reminded in Hermes JSON; session.py passes each model's own wording.
NO_TOOL_CALL = tool_format_for(None).nudge
