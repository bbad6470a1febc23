"""Stage 1: the model writes the scaffold for this task, as JSON under a grammar, then it is clamped."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ornith_local.agent import prompts
from ornith_local.agent.deps import AgentDeps, AgentOptions
from ornith_local.agent.scaffold import Scaffold, ScaffoldError, scaffold_from_json, scaffold_json_schema
from ornith_local.llm.backend import GenerateOptions, Message


def propose_scaffold(
    deps: AgentDeps, options: AgentOptions, task: str, history: str | None, account: Callable[[Any], None]
) -> tuple[Scaffold, tuple[str, ...]]:
    tool_names = sorted(deps.tools)
    examples = []
    if options.use_library and deps.library is not None:
        examples = deps.library.similar_successes(task, k=options.library_examples)
    prompt = prompts.propose_prompt(
        task, tool_names, deps.repo_map(task), options.max_turns,
        instructions=deps.instructions, history=history, examples=examples,
    )
    completion = deps.backend.chat(
        [Message("system", prompts.SYSTEM), Message("user", prompt)],
        GenerateOptions(max_tokens=options.max_scaffold_tokens, json_schema=scaffold_json_schema(tool_names),
                        seed=options.seed, temperature=0.0),
    )
    account(completion.stats)
    deps.trajectory.record("propose", prompt=prompt, text=completion.text, examples=len(examples),
                           finish_reason=completion.finish_reason,
                           stats={"prompt_tokens": completion.stats.prompt_tokens,
                                  "generated_tokens": completion.stats.generated_tokens})
    try:
        scaffold = scaffold_from_json(completion.text)
    except ScaffoldError as error:
        if completion.finish_reason != "length":
            raise
        # The grammar keeps the JSON well-formed but a token limit can still cut it: say so precisely.
        raise ScaffoldError(f"the scaffold was cut off at {options.max_scaffold_tokens} tokens ({error})") from None
    return deps.clamp(scaffold)


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
