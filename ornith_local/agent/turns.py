"""The model's side of a turn: the request (every tool of the run, the run's sampling), the reply parsed into
calls, and its cost in the ledger and the trajectory. The tool side of a turn is `agent/calls.py`."""

from __future__ import annotations

from typing import Any

from ornith_local.agent import events
from ornith_local.agent.deps import AgentDeps, AgentOptions, stats_json
from ornith_local.agent.ledger import Ledger
from ornith_local.agent.state import StepState
from ornith_local.llm.backend import GenerateOptions, Message
from ornith_local.llm.parsing import ParsedOutput, parse_output, parse_server_calls


class ModelTurns:
    def __init__(self, deps: AgentDeps, options: AgentOptions, ledger: Ledger, specs: list[dict[str, Any]]) -> None:
        self.deps, self.options, self.ledger, self.specs = deps, options, ledger, specs

    def take(self, state: StepState) -> ParsedOutput:
        """One turn of the step: the model's reply and the calls read from it."""
        options = self.deps.quirks.before_turn(state, self._options())
        completion = state.conversation.reply(options, self.deps.on_text,
                                              keep=lambda text: self.deps.quirks.keep_reply(text, self.specs))
        self.ledger.turns += 1  # after the call: a call that failed (BackendError) took no turn
        self.ledger.account(completion.stats)
        if completion.tool_calls:  # the server parsed the reply: its calls, typed by the same schemas
            parsed = parse_server_calls([(call.id, call.name, call.arguments) for call in completion.tool_calls],
                                        content=completion.text, reasoning=completion.reasoning, tools=self.specs)
        else:
            parsed = parse_output(completion.text, format=self.options.tool_call_format, tools=self.specs)
        parsed, read_by = self.deps.quirks.on_reply(state, completion.text, parsed, self.specs)
        if read_by is not None:
            self.deps.record(events.QuirkApplied(quirk=read_by, step=state.step.name,
                                                 detail="call read from loose JSON"))
        self.deps.record(events.ModelTurn(step=state.step.name, turn=state.turn, text=completion.text,
                                          finish_reason=completion.finish_reason, stats=stats_json(completion.stats),
                                          problems=[problem.message for problem in parsed.problems]))
        return parsed

    def ask_plainly(self, state: StepState, prompt: str, max_tokens: int) -> str:
        """A plain-text turn (a quirk's question between steps): counted as a turn, its text not parsed."""
        self.ledger.turns += 1
        state.conversation.add(Message("user", prompt))
        completion = state.conversation.reply(self._options(max_tokens))
        self.ledger.account(completion.stats)
        self.deps.record(events.ModelTurn(step=state.step.name, turn=state.turn + 1, text=completion.text,
                                          finish_reason=completion.finish_reason, stats=stats_json(completion.stats),
                                          reflection=True))
        return completion.text

    def _options(self, max_tokens: int | None = None) -> GenerateOptions:
        # Every tool of the run in every turn: a stable prompt prefix keeps the KV cache valid across steps;
        # the step's allow-list is enforced by the monitor and named in the step message.
        return GenerateOptions(max_tokens=max_tokens or self.options.max_tokens_per_turn, tools=tuple(self.specs),
                               seed=self.options.seed, temperature=self.options.temperature,
                               max_reasoning_tokens=self.options.max_reasoning_tokens)
