"""Synthetic twins of the real `qwen35` / `qwen35moe` architectures in the bundled llama.cpp.

Random weights, so the text is gibberish; what is tested is the engine's: the GGUF's template, special tokens,
grammar after free thinking, and KV plus recurrent-state reuse across a 12-turn agent conversation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ornith_local.agent.events import Event, Proposed
from ornith_local.agent.propose import StageOne, propose_scaffold
from ornith_local.agent.scaffold import ClampResult, Permissions, Scaffold, clamp
from ornith_local.llm.backend import GenerateOptions, Message
from ornith_local.llm.llama_cpp_backend import LlamaCppBackend
from ornith_local.llm.twin import ARCHITECTURES, twin_path
from ornith_local.session import catalog_entry, thinking_budget

pytest.importorskip("gguf", reason="the synthetic twins are written with the gguf package (dev extra)")

TOOLS = tuple({"type": "function", "function": {"name": name, "description": f"{name} a file", "parameters": {
    "type": "object", "required": ["path"], "properties": {"path": {"type": "string"}}}}}
    for name in ("read", "write", "run_tests"))
SCAFFOLD = {"type": "object", "required": ["steps"], "additionalProperties": False, "properties": {
    "steps": {"type": "array", "minItems": 1, "maxItems": 2, "items": {
        "type": "object", "required": ["name", "done_when"], "additionalProperties": False,
        "properties": {"name": {"type": "string", "maxLength": 8}, "done_when": {"type": "string", "maxLength": 8}}}}}}


def _backend(arch: str, **kwargs: object) -> LlamaCppBackend:
    return LlamaCppBackend(twin_path(arch), n_ctx=8192, threads=1, template_family="ornith",
                           sampling={"temperature": 0.6, "top_p": 0.95, "top_k": 20, "min_p": 0.0}, **kwargs)


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_the_twin_is_the_real_architecture_with_the_ornith_template(arch: str) -> None:
    backend = _backend(arch)
    assert backend.info.architecture == arch and backend.recurrent  # hybrid: KV cache plus recurrent state
    assert backend.template.source == "gguf"  # its own template, accepted by the stability probe
    prompt = backend.render([Message("user", "hi")], TOOLS)
    assert prompt.startswith("<|im_start|>system\n# Tools\n") and prompt.endswith("<|im_start|>assistant\n<think>\n")
    for marker in ("<think>", "</think>", "<tool_call>", "<|im_end|>"):
        assert backend.count_tokens(marker) == 1


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_twelve_turns_evaluate_only_their_new_tokens(arch: str) -> None:
    backend = _backend(arch)
    messages = [Message("system", "You fix bugs in this repository."), Message("user", "Fix the failing test.")]
    previous_prompt = 0
    for turn in range(12):
        completion = backend.chat(messages, GenerateOptions(max_tokens=24, max_reasoning_tokens=12, seed=turn,
                                                            tools=TOOLS))
        stats = completion.stats
        new = stats.prompt_tokens - previous_prompt  # the tokens this turn's prompt adds to the last one
        if turn:
            assert stats.evaluated_prompt_tokens <= new + 16, (turn, stats)
        previous_prompt = stats.prompt_tokens
        # The reply goes back as generated, the tool result after it, as the agent sends them.
        messages += [Message("assistant", completion.text), Message("tool", f"ok: step {turn} done\nsrc/a.py")]
    assert backend.reprefill_tokens == 0 or backend.checkpoints is not None


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_a_rewritten_reply_restores_a_saved_state_instead_of_re_reading_everything(arch: str) -> None:
    backend = _backend(arch)
    messages = [Message("system", "You fix bugs."), Message("user", "Fix it.")]
    sizes = []
    for turn in range(3):
        completion = backend.chat(messages, GenerateOptions(max_tokens=16, seed=turn, tools=TOOLS))
        sizes.append(completion.stats.prompt_tokens)
        # The agent keeps a cleaned reply, not the raw one: the history differs from what the cache holds.
        messages += [Message("assistant", f"cleaned reply {turn}"), Message("tool", "ok")]
    stats = backend.chat(messages, GenerateOptions(max_tokens=4, tools=TOOLS)).stats
    assert stats.restored_at is not None and stats.restored_at >= sizes[-1] - 1
    assert stats.evaluated_prompt_tokens <= stats.prompt_tokens - sizes[-1] + 1
    assert backend.reprefills > 0 and backend.checkpoints is not None and backend.checkpoints.restores > 0

    # Control: the same conversation without checkpoints re-reads the whole prompt from token 0.
    bare = _backend(arch)
    bare.checkpoints = None
    replay = [Message("system", "You fix bugs."), Message("user", "Fix it.")]
    for turn in range(3):
        bare.chat(replay, GenerateOptions(max_tokens=16, seed=turn, tools=TOOLS))
        replay += [Message("assistant", f"cleaned reply {turn}"), Message("tool", "ok")]
    control = bare.chat(replay, GenerateOptions(max_tokens=4, tools=TOOLS)).stats
    assert control.evaluated_prompt_tokens == control.prompt_tokens and control.restored_at is None


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_the_scaffold_after_free_thinking_always_parses(arch: str) -> None:
    backend = _backend(arch)
    for seed in range(6):
        backend.reset()
        completion = backend.chat(
            [Message("system", "Plan the work."), Message("user", f"Task {seed}: make the tests pass.")],
            GenerateOptions(max_tokens=400, temperature=0.0, json_schema=SCAFFOLD, think_first=True,
                            max_reasoning_tokens=8 + seed * 4, seed=seed))
        _, _, answer = completion.text.partition("</think>")
        assert answer.startswith("\n\n") and completion.stats.reasoning_tokens >= 1
        plan = json.loads(answer)  # the constrained part always parses, whatever the thought was
        assert 1 <= len(plan["steps"]) <= 2
    # Control: the same budget without think_first lets the free thought run into the answer: not JSON.
    free = backend.chat([Message("user", "Plan.")], GenerateOptions(max_tokens=24, max_reasoning_tokens=8))
    try:
        unconstrained = json.loads(free.text.partition("</think>")[2])
    except json.JSONDecodeError:
        unconstrained = None
    assert not (isinstance(unconstrained, dict) and "steps" in unconstrained)


def test_twin_files_are_cached_and_not_in_the_repository(tmp_path: Path) -> None:
    first = twin_path("qwen35", folder=tmp_path)
    assert twin_path("qwen35", folder=tmp_path) == first and first.stat().st_size < 4_000_000
    assert not list(Path(__file__).resolve().parent.parent.glob("**/*twin*.gguf"))


@pytest.mark.parametrize("arch", ["qwen35"])
def test_stage_one_on_the_twin_thinks_before_the_scaffold_grammar_holds(arch: str) -> None:
    """The agent's own planning call, on the real engine and template: a model that opens `<think>` is planned
    with (the template says so for a GGUF the catalog does not know), thinks freely, then the scaffold parses."""
    backend = _backend(arch)
    assert thinking_budget(catalog_entry(str(twin_path(arch))), backend, 16) == 16
    assert thinking_budget(catalog_entry("qwen2.5-coder-1.5b"), backend, 16) is None
    effects = {"read_file": "read", "edit_file": "edit"}
    permissions = Permissions(tools=effects, mode="auto", max_turns=12)  # type: ignore[arg-type]

    def do_clamp(scaffold: Scaffold) -> ClampResult:
        return clamp(scaffold, permissions)

    seen: list[Event] = []
    for seed in range(3):
        backend.reset()
        stage = StageOne(backend=backend, clamp=do_clamp, emit=seen.append, tool_names=list(effects),
                         edit_tools=frozenset({"edit_file"}), mode="read-only", seed=seed, max_tokens=3000,
                         thinking=16)
        proposal = propose_scaffold(stage, "Fix the failing test in a.py", None)
        assert proposal.stats.reasoning_tokens >= 1 and proposal.clamped.scaffold.steps
    texts = [event.text for event in seen if isinstance(event, Proposed)]
    assert len(texts) == 3 and all("</think>" in text for text in texts)
