"""Stage 1: the model writes the scaffold for this task, as JSON under a grammar, then it is clamped."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ornith_local.agent import prompts
from ornith_local.agent.events import Event, Proposed
from ornith_local.agent.library import ScaffoldLibrary
from ornith_local.agent.scaffold import (
    SCAFFOLD_MAX_TOKENS,
    ClampResult,
    Scaffold,
    ScaffoldError,
    scaffold_from_json,
    scaffold_json_schema,
)
from ornith_local.llm.backend import (
    Backend,
    GenerateOptions,
    GenerationStats,
    Message,
    OnText,
    answer_after_thinking,
)

# Kinds of task that cannot succeed without changing a file.
CHANGES_FILES = frozenset({"fix_bug", "feature", "refactor", "tests"})


@dataclass(frozen=True)
class StageOne:
    """Everything Stage 1 needs, fixed for the run."""

    backend: Backend
    clamp: Callable[[Scaffold], ClampResult]
    emit: Callable[[Event], None]
    tool_names: Sequence[str]  # what a step may choose from (not the control tools)
    edit_tools: frozenset[str]  # tools whose effect is an edit: a plan that changes files needs one
    tool_specs: Sequence[dict[str, Any]] = ()  # every tool of the run, as each step turn renders them
    repo_map: Callable[[str], str] = lambda task: ""
    instructions: str | None = None
    library: ScaffoldLibrary | None = None
    library_examples: int = 2
    max_turns: int = 40
    mode: str = "ask"
    seed: int = 0
    max_tokens: int = SCAFFOLD_MAX_TOKENS
    repo: str = ""  # the run's repository: the library offers this repo's scaffolds first
    writing: Callable[[str], OnText] | None = None  # progress of the scaffold's (unstreamed) text
    thinking: int | None = None  # a reasoning model's budget to think before the grammar holds its answer


@dataclass(frozen=True)
class Proposal:
    """A clamped scaffold, and the request and reply that produced it (kept when a replan continues a conversation)."""

    clamped: ClampResult
    exchange: tuple[Message, Message]
    stats: GenerationStats


def propose_scaffold(stage: StageOne, task: str, history: str | None,
                     conversation: Sequence[Message] = ()) -> Proposal:
    """The model's scaffold, clamped. The run's tools are rendered into the system prompt exactly as every step
    turn renders them, so the run reuses this call's cached system-and-tools prefix.

    `conversation`: on a replan, the conversation so far. The request is appended to it instead of starting a
    fresh prompt: the model plans with everything it read in view, and the KV cache keeps that conversation
    (a fresh prompt cost a 1.5B model on 2 cores ~25 s of re-evaluation before and after every replan).
    """
    tool_names = sorted(stage.tool_names)
    examples = []
    if stage.library is not None:
        examples = stage.library.similar_successes(task, k=stage.library_examples, repo=stage.repo)
    repo_map = "(shown earlier in this conversation)" if conversation else stage.repo_map(task)
    prompt = prompts.propose_prompt(
        task, tool_names, repo_map, stage.max_turns,
        instructions=stage.instructions, history=history, examples=examples,
    )
    opening = list(conversation) or [Message("system", prompts.SYSTEM)]
    completion = stage.backend.chat(
        [*opening, Message("user", prompt)],
        GenerateOptions(max_tokens=stage.max_tokens, json_schema=scaffold_json_schema(tool_names),
                        seed=stage.seed, temperature=0.0, tools=tuple(stage.tool_specs),
                        schema_name="propose_scaffold", think_first=stage.thinking is not None,
                        max_reasoning_tokens=stage.thinking),
        stage.writing("the plan") if stage.writing else None,
    )
    stage.emit(Proposed(prompt=prompt, text=completion.text, examples=len(examples),
                        finish_reason=completion.finish_reason, in_conversation=bool(conversation),
                        stats={"prompt_tokens": completion.stats.prompt_tokens,
                               "generated_tokens": completion.stats.generated_tokens}))
    try:
        scaffold = scaffold_from_json(answer_after_thinking(completion.text, stage.thinking is not None))
    except ScaffoldError as error:
        if completion.finish_reason != "length":
            raise ProposalFailed(str(error), completion.stats) from None
        # The grammar keeps the JSON well-formed but a token limit can still cut it: say so precisely.
        raise ProposalFailed(f"the scaffold was cut off at {stage.max_tokens} tokens ({error})",
                             completion.stats) from None
    try:
        clamped = stage.clamp(scaffold)
    except ScaffoldError as error:
        raise ProposalFailed(str(error), completion.stats) from None
    can_edit = any(stage.edit_tools & set(step.tools) for step in clamped.scaffold.steps)
    if clamped.scaffold.task_kind in CHANGES_FILES and stage.mode != "read-only" and not can_edit:
        # Seen with small models: a "fix_bug" plan of checking steps only, which can never succeed.
        raise ProposalFailed(f"the plan is for a {clamped.scaffold.task_kind} task but no step may edit a file",
                             completion.stats)
    return Proposal(clamped, (Message("user", prompt), Message("assistant", completion.text)), completion.stats)


class ProposalFailed(ScaffoldError):
    """An unusable scaffold; the model's call still cost tokens, which the run accounts for."""

    def __init__(self, message: str, stats: GenerationStats) -> None:
        super().__init__(message)
        self.stats = stats
