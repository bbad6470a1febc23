"""Loose tool calls: what a small model writes instead of tagged calls, recovered and trimmed."""

from __future__ import annotations

import json
from typing import Any

from ornith_local.llm.parsing.loose import kept_reply, loose_tool_calls, repair_triple_quotes


def spec(name: str, *params: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "description": name, "parameters": {
        "type": "object", "properties": {p: {"type": "string"} for p in params}, "required": list(params)}}}


SPECS = [spec("edit_file", "path", "old_string", "new_string"), spec("read_file", "path")]

# Verbatim shape from a Qwen2.5-Coder 1.5B trajectory (contacts-initials-feature): triple-quoted code holding a
# docstring of its own, and no comma before the next key.
TRIPLE_QUOTED = '''```json
{
  "name": "edit_file",
  "arguments": {
    "path": "contacts/names.py",
    "old_string": """def normalize(name: str) -> str:
    """Collapse runs of whitespace: '  Ada ' -> 'Ada'."""
    return " ".join(name.split())
"""
    "new_string": """def initials(name: str) -> str:
    return "".join(word[0].upper() for word in name.split())
"""
  }
}
```'''


def the_only_calls_arguments(text: str) -> dict[str, Any]:
    parsed = loose_tool_calls(text, SPECS)
    assert parsed is not None and len(parsed.tool_calls) == 1
    return dict(parsed.tool_calls[0].arguments)


def test_triple_quoted_code_becomes_the_exact_strings() -> None:
    arguments = the_only_calls_arguments(TRIPLE_QUOTED)
    assert arguments["old_string"] == ('def normalize(name: str) -> str:\n'
                                       '    """Collapse runs of whitespace: \'  Ada \' -> \'Ada\'."""\n'
                                       '    return " ".join(name.split())\n')
    assert arguments["new_string"].startswith("def initials(name: str) -> str:\n    return \"\".join(")


def test_the_kept_reply_is_the_repaired_call_and_nothing_after_it() -> None:
    kept = kept_reply(TRIPLE_QUOTED + "\n\nStep 3/3: check. run the tests", SPECS)
    assert kept.startswith("```json\n{") and kept.endswith("}\n```")
    body = json.loads(kept.removeprefix("```json").removesuffix("```"))
    assert body["arguments"]["path"] == "contacts/names.py"


def test_valid_json_and_plain_text_are_left_alone() -> None:
    plain = '{"name": "read_file", "arguments": {"path": "a.py", "note": "x = \\"\\"\\"doc\\"\\"\\""}}'
    assert repair_triple_quotes("no code here") == "no code here"
    assert kept_reply(plain + " and then some", SPECS) == plain
    assert kept_reply("I think the bug is on line 3.", SPECS) == "I think the bug is on line 3."
    assert loose_tool_calls('{"name": "Ada", "arguments": {}}', SPECS) is None
    tagged = '<tool_call>{"name": "read_file", "arguments": {"path": "a.py"}}</tool_call>'
    assert kept_reply(tagged + "\nStep 2/2", SPECS) == tagged


def test_bare_docstring_quotes_inside_a_json_string_are_escaped() -> None:
    # Verbatim from a Qwen2.5-Coder 1.5B turn (invoicing-empty-average): the docstring's quotes left unescaped
    # made the call unreadable, turn after turn, and the run failed a task the model had got right.
    text = ('```json\n{\n  "name": "edit_file",\n  "arguments": {\n    "path": "invoicing/invoice.py",\n'
            '    "old_string": "def average_line_total(self) -> Decimal:\\n    """Mean of the line totals; an empty '
            'invoice averages to zero."""\\n    return round_cents(self.subtotal / len(self.lines))",\n'
            '    "new_string": "def average_line_total(self) -> Decimal:\\n    """Mean of the line totals; an empty '
            'invoice averages to zero."""\\n    if not self.lines:\\n        return Decimal(\'0\')\\n'
            '    return round_cents(self.subtotal / len(self.lines))"\n  }\n}\n```')
    arguments = the_only_calls_arguments(text)
    assert arguments["old_string"] == ('def average_line_total(self) -> Decimal:\n'
                                       '    """Mean of the line totals; an empty invoice averages to zero."""\n'
                                       '    return round_cents(self.subtotal / len(self.lines))')
    assert "    if not self.lines:\n        return Decimal('0')\n" in arguments["new_string"]
    assert json.loads(kept_reply(text, SPECS).removeprefix("```json").removesuffix("```"))["name"] == "edit_file"
