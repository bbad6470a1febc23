"""Grammars for constrained decoding, built only from JSON schemas.

llama.cpp does not validate a GBNF string: a malformed one crashes the process. So grammars come from
llama-cpp-python's own JSON-schema converter, and the schema is checked before it gets there.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from ornith_local.llm.backend import BackendError

_RULE = re.compile(r"^[a-zA-Z0-9_-]+ ::= ", re.MULTILINE)
_LOOSE_CHAR = 'char ::= [^"\\\\] |'
_JSON_CHAR = 'char ::= [^"\\\\\\x7F\\x00-\\x1F] |'


def schema_to_gbnf(schema: dict[str, Any]) -> str:
    """GBNF text for `schema`; BackendError (one line) for a schema the converter cannot handle."""
    if not isinstance(schema, dict):
        raise BackendError("a JSON schema must be a JSON object")
    try:
        # Keys keep their declared order: the converter emits object properties in that order, and a model
        # writes better JSON when it states e.g. a step's name and intent before its exit condition.
        text = json.dumps(schema)
    except (TypeError, ValueError) as error:
        raise BackendError(f"the JSON schema is not serialisable: {error}") from None
    return _convert(text)


@lru_cache(maxsize=32)
def _convert(schema_json: str) -> str:
    from llama_cpp.llama_grammar import json_schema_to_gbnf

    try:
        gbnf = str(json_schema_to_gbnf(schema_json))
    except Exception as error:  # the converter raises bare Exception / KeyError / ValueError
        raise BackendError(f"unsupported JSON schema: {error}") from None
    # The converter's string character admits raw control characters, which JSON forbids (json.loads rejects
    # them): a model sampling bytes at random (seen on the synthetic twins) wrote them into strings.
    gbnf = gbnf.replace(_LOOSE_CHAR, _JSON_CHAR)
    # The converter's own output; still refuse anything that does not look like rules with a root.
    if not gbnf.strip() or "root ::= " not in gbnf or not _RULE.search(gbnf):
        raise BackendError("the JSON schema produced no grammar")
    return gbnf


def grammar_for_schema(schema: dict[str, Any]) -> Any:
    """A `llama_cpp.LlamaGrammar` constraining output to `schema`."""
    from llama_cpp.llama_grammar import LlamaGrammar

    return LlamaGrammar.from_string(schema_to_gbnf(schema), verbose=False)
