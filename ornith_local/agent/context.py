"""The conversation of one scaffold run, kept inside the model's context window.

Messages are only appended, so the backend can reuse its KV cache turn after turn. Only when the next
turn would not fit does the scaffold's context policy rewrite history once: old observations shrink to
their first line, long ones are cut to head and tail. The backend re-evaluates once, then appends again.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ornith_local.agent.events import Compacted, Event, MessageAdded
from ornith_local.agent.scaffold import ContextPolicy
from ornith_local.llm.backend import Backend, Completion, GenerateOptions, Message, OnText

COMPACT_AT = 0.8  # share of n_ctx the prompt plus the reply may fill before history is compacted
# A compaction shrinks history to this share of the budget, not just under it. Every compaction rewrites early
# messages, so the backend re-evaluates the whole prompt: compacted only to the budget, a 1.5B run at 8K
# compacted on three turns in a row, re-evaluating ~4,000 tokens each time (~90 s a turn on 2 cores).
COMPACT_TO = 0.7
CHARS_PER_TOKEN = 4  # rough, for cutting text before it is tokenized


def cut_middle(text: str, max_tokens: int) -> str:
    """Keep the head and tail of a long observation; say how much was left out."""
    limit = max_tokens * CHARS_PER_TOKEN
    if len(text) <= limit:
        return text
    head, tail = text[: limit * 2 // 3], text[-limit // 3 :]
    return f"{head}\n[... {len(text) - len(head) - len(tail)} characters left out ...]\n{tail}"


class Conversation:
    def __init__(
        self, backend: Backend, policy: ContextPolicy,
        log: Callable[[Event], None] = lambda event: None,
    ) -> None:
        self.backend = backend
        self.policy = policy
        self.messages: list[Message] = []
        self.compactions = 0
        self._tools_cost: dict[str, int] = {}
        self.log = log  # the trajectory records every message, so a run can be resumed or exported

    def add(self, message: Message) -> None:
        if message.role == "tool":
            message = replace(message, content=cut_middle(message.content, self.policy.max_observation_tokens))
        self.messages.append(message)
        self.log(MessageAdded(role=message.role, content=message.content, tool_call_id=message.tool_call_id,
                              name=message.name, reasoning=message.reasoning,
                              tool_calls=[dict(call) for call in message.tool_calls]))

    def tokens(self) -> int:
        return sum(self.backend.count_tokens(message.content) + 4 for message in self.messages)

    def reply(self, options: GenerateOptions, on_text: OnText | None = None,
              keep: Callable[[str], str] | None = None) -> Completion:
        """The model's next turn, added to the conversation. `keep`: the part of the reply worth keeping
        (the runtime drops what a model wrote after its tool calls); the completion itself is whole."""
        # The tool definitions are rendered into the prompt too (~1.5K tokens for the default tools): a budget
        # of the messages alone let a 4K-context run compact and still overflow the window.
        budget = int(self.backend.n_ctx * COMPACT_AT) - options.max_tokens - self._tools_tokens(options.tools)
        if self.tokens() > budget:
            self.compact(budget)
        completion = self.backend.chat(self.messages, options, on_text)
        # The raw text (reasoning and call markup included) goes back verbatim so the next turn's
        # prompt extends exactly the tokens the model produced; a trimmed reply costs one re-evaluation
        # of the few tokens after the cut, which the backend's prefix match handles. A server that parsed
        # the reply gets it back in its structured form, which its template renders as the model was trained.
        if completion.structured:
            self.add(completion.as_message())
        else:
            self.add(Message("assistant", keep(completion.text) if keep else completion.text))
        return completion

    def _tools_tokens(self, tools: tuple[dict[str, Any], ...]) -> int:
        if not tools:
            return 0
        key = json.dumps(tools, sort_keys=True)
        if key not in self._tools_cost:
            self._tools_cost[key] = self.backend.count_tokens(key)
        return self._tools_cost[key]

    def compact(self, budget: int) -> None:
        """Make the history fit with room to grow (COMPACT_TO of the budget): old observations shrink to one line,
        then long earlier requests and replies (stale planning prompts, old plans, rambling turns) are cut. The
        system message, the task and the latest exchange stay whole; only when all that cannot fit the budget
        are the newest observations cut too."""
        self.compactions += 1
        self.log(Compacted(tokens_before=self.tokens(), budget=budget))
        roomy = int(budget * COMPACT_TO)
        tool_positions = [i for i, message in enumerate(self.messages) if message.role == "tool"]
        keep_recent = max(self.policy.summarize_after_turns // 2, 1)
        for position in tool_positions[:-keep_recent] if len(tool_positions) > keep_recent else []:
            message = self.messages[position]
            first_line = message.content.strip().splitlines()[0][:160] if message.content.strip() else ""
            self.messages[position] = replace(message, content=f"[earlier result, summarised] {first_line}")
            if self.tokens() <= roomy:
                return
        task = next((i for i, message in enumerate(self.messages) if message.role == "user"), 0)
        if self._cut_earlier_messages(range(task + 1, len(self.messages) - 4), roomy):
            return
        if self.tokens() <= budget:
            return
        # Still too long: cut every observation hard, newest included, then the rest but the system message.
        for position in tool_positions:
            message = self.messages[position]
            self.messages[position] = replace(message, content=cut_middle(message.content, 200))
        self._cut_earlier_messages(range(1, len(self.messages) - 2), budget)

    def _cut_earlier_messages(self, positions: range, target: int) -> bool:
        """Cut long requests and replies at `positions` to head and tail, oldest first, until `target` is met."""
        for position in positions:
            if self.tokens() <= target:
                return True
            message = self.messages[position]
            if message.role not in ("system", "tool"):
                self.messages[position] = replace(message, content=cut_middle(message.content, 60))
        return self.tokens() <= target
