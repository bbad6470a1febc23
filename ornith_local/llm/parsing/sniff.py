"""`<tool_call>` is shared by Hermes JSON and Qwen3 XML: read the body by what it starts with."""

from __future__ import annotations

from collections.abc import Mapping

from ornith_local.llm.parsing import qwen_xml
from ornith_local.llm.parsing.hermes import HermesScanner
from ornith_local.llm.parsing.qwen_xml import XmlScanner
from ornith_local.llm.parsing.scanning import CallScanner, ScanOutcome, could_become, skip_ws
from ornith_local.llm.parsing.schema import ToolSpec


class SniffingScanner:
    def __init__(self, prefer_xml: bool, tools: Mapping[str, ToolSpec] | None = None) -> None:
        self._prefer_xml = prefer_xml
        self._tools = tools
        self._inner: CallScanner | None = None

    @property
    def holds_to_end(self) -> bool:
        return bool(getattr(self._inner, "holds_to_end", False))

    def advance(self, body: str, at_end: bool, start: int = 0) -> ScanOutcome | None:
        if self._inner is None:
            first = skip_ws(body, start)
            if not at_end and (first == len(body) or could_become(body, first, (qwen_xml.FUNC,))):
                return None
            if body.startswith(qwen_xml.FUNC, first):
                self._inner = XmlScanner(tools=self._tools)
            elif body[first:first + 1] in ("{", "["):
                self._inner = HermesScanner()
            else:  # neither: let the expected format's scanner word the problem
                self._inner = XmlScanner(tools=self._tools) if self._prefer_xml else HermesScanner()
        return self._inner.advance(body, at_end, start)
