"""The tools of one run, by name and by effect. Every set of tool names anyone needs comes from here."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from ornith_local.tools.base import Effect, Tool, function_spec


class ToolRegistry:
    def __init__(self, tools: Iterable[Tool]) -> None:
        self._tools = {tool.name: tool for tool in tools}

    def get(self, name: str) -> Tool | None:
        return self._tools.get(name)

    def effect_of(self, name: str) -> Effect | None:
        tool = self._tools.get(name)
        return tool.effect if tool is not None else None

    def named(self, *effects: Effect) -> frozenset[str]:
        """The names of the tools with one of `effects`."""
        return frozenset(name for name, tool in self._tools.items() if tool.effect in effects)

    def effects(self) -> dict[str, Effect]:
        return {name: tool.effect for name, tool in self._tools.items()}

    def specs(self) -> list[dict[str, Any]]:
        """Every tool as the chat template lists it, in a fixed order (a stable prompt prefix keeps the KV cache)."""
        return [function_spec(tool) for tool in self._tools.values()]

    def with_tools(self, tools: Iterable[Tool]) -> ToolRegistry:
        return ToolRegistry([*self._tools.values(), *(tool for tool in tools if tool.name not in self._tools)])

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[str]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)
