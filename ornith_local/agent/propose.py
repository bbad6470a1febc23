"""Stage 1: the model writes the scaffold for this task, as JSON under a grammar, then it is clamped."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ornith_local.agent import prompts
from ornith_local.agent.deps import AgentDeps, AgentOptions
from ornith_local.agent.scaffold import EDIT_TOOLS, Scaffold, ScaffoldError, scaffold_from_json, scaffold_json_schema
from ornith_local.llm.backend import GenerateOptions, Message

# Kinds of task that cannot succeed without changing a file.
CHANGES_FILES = frozenset({"fix_bug", "feature", "refactor", "tests"})


@dataclass(frozen=True)
class Proposal:
    """A clamped scaffold, and the request and reply that produced it (kept when a replan continues a conversation)."""

    scaffold: Scaffold
    notes: tuple[str, ...]
    exchange: tuple[Message, Message]


def propose_scaffold(
    deps: AgentDeps, options: AgentOptions, task: str, history: str | None, account: Callable[[Any], None],
    tool_specs: Sequence[dict[str, Any]] = (), conversation: Sequence[Message] = (),
) -> Proposal:
    """The model's scaffold, clamped. `tool_specs`: the run's tools, rendered into the system prompt exactly
    as every step turn renders them, so the run reuses this call's cached system-and-tools prefix.

    `conversation`: on a replan, the conversation so far. The request is appended to it instead of starting a
    fresh prompt: the model plans with everything it read in view, and the KV cache keeps that conversation
    (a fresh prompt cost a 1.5B model on 2 cores ~25 s of re-evaluation before and after every replan).
    """
    tool_names = sorted(deps.tools)
    examples = []
    if options.use_library and deps.library is not None:
        examples = deps.library.similar_successes(task, k=options.library_examples, repo=options.repo or "")
    repo_map = "(shown earlier in this conversation)" if conversation else deps.repo_map(task)
    prompt = prompts.propose_prompt(
        task, tool_names, repo_map, options.max_turns,
        instructions=deps.instructions, history=history, examples=examples,
    )
    opening = list(conversation) or [Message("system", prompts.SYSTEM)]
    completion = deps.backend.chat(
        [*opening, Message("user", prompt)],
        GenerateOptions(max_tokens=options.max_scaffold_tokens, json_schema=scaffold_json_schema(tool_names),
                        seed=options.seed, temperature=0.0, tools=tuple(tool_specs)),
    )
    account(completion.stats)
    deps.trajectory.record("propose", prompt=prompt, text=completion.text, examples=len(examples),
                           finish_reason=completion.finish_reason, in_conversation=bool(conversation),
                           stats={"prompt_tokens": completion.stats.prompt_tokens,
                                  "generated_tokens": completion.stats.generated_tokens})
    try:
        scaffold = scaffold_from_json(completion.text)
    except ScaffoldError as error:
        if completion.finish_reason != "length":
            raise
        # The grammar keeps the JSON well-formed but a token limit can still cut it: say so precisely.
        raise ScaffoldError(f"the scaffold was cut off at {options.max_scaffold_tokens} tokens ({error})") from None
    clamped, notes = deps.clamp(scaffold)
    can_edit = any(EDIT_TOOLS & set(step.tools) for step in clamped.steps)
    if clamped.task_kind in CHANGES_FILES and options.mode != "read-only" and not can_edit:
        # Seen with small models: a "fix_bug" plan of checking steps only, which can never succeed.
        raise ScaffoldError(f"the plan is for a {clamped.task_kind} task but no step may edit a file")
    return Proposal(clamped, notes, (Message("user", prompt), Message("assistant", completion.text)))


def make_judge(deps_backend: Any, seed: int = 0) -> Callable[[str, str], dict[str, str]]:
    """A fresh-context reviewer: same local model, frozen prompt, grammar-constrained verdict."""

    def judge(task: str, diff: str) -> dict[str, str]:
        completion = deps_backend.chat(
            [Message("user", prompts.judge_prompt(task, diff[:12000]))],
            GenerateOptions(max_tokens=160, json_schema=prompts.JUDGE_SCHEMA, temperature=0.0, seed=seed),
        )
        try:
            verdict = json.loads(completion.text)
        except json.JSONDecodeError:
            return {"verdict": "approve", "reason": "the judge's reply was cut off; no veto"}
        return {"verdict": str(verdict.get("verdict", "approve")), "reason": str(verdict.get("reason", ""))}

    return judge
