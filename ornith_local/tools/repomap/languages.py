"""Which tree-sitter grammar parses which file, and the queries that find definitions and references.

Grammars come from tree-sitter-language-pack's 0.x line, which ships every compiled parser inside its
wheel and works offline (pyproject.toml pins it below 1.0: from 1.x it downloads parsers at first use,
and ornith must never touch the network behind the user's back).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import tree_sitter

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript", ".tsx": "tsx",
    ".go": "go", ".rs": "rust", ".java": "java",
    ".c": "c", ".h": "c",
    ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp", ".hh": "cpp", ".hxx": "cpp",
}

# Our language names -> the pack's.
_PACK_NAMES: dict[str, str] = {
    "python": "python", "javascript": "javascript", "typescript": "typescript", "tsx": "tsx", "go": "go",
    "rust": "rust", "java": "java", "c": "c", "cpp": "cpp",
}

_JS_DEFS = """
(function_declaration name: (identifier) @name) @def.function
(generator_function_declaration name: (identifier) @name) @def.function
(method_definition name: (property_identifier) @name) @def.method
(variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)]) @def.function
"""
_C_DEFS = """
(function_definition declarator: (function_declarator declarator: (identifier) @name)) @def.function
(function_definition declarator: (pointer_declarator declarator: (function_declarator
  declarator: (identifier) @name))) @def.function
(struct_specifier name: (type_identifier) @name body: (_)) @def.class
(enum_specifier name: (type_identifier) @name body: (_)) @def.type
(type_definition declarator: (type_identifier) @name) @def.type
"""

DEFINITIONS: dict[str, str] = {
    "python": """
(function_definition name: (identifier) @name) @def.function
(class_definition name: (identifier) @name) @def.class
""",
    "javascript": _JS_DEFS + "(class_declaration name: (identifier) @name) @def.class\n",
    "typescript": _JS_DEFS + """
(class_declaration name: (type_identifier) @name) @def.class
(abstract_class_declaration name: (type_identifier) @name) @def.class
(interface_declaration name: (type_identifier) @name) @def.interface
(type_alias_declaration name: (type_identifier) @name) @def.type
(enum_declaration name: (identifier) @name) @def.type
""",
    "go": """
(function_declaration name: (identifier) @name) @def.function
(method_declaration name: (field_identifier) @name) @def.method
(type_spec name: (type_identifier) @name) @def.type
""",
    "rust": """
(function_item name: (identifier) @name) @def.function
(function_signature_item name: (identifier) @name) @def.function
(struct_item name: (type_identifier) @name) @def.class
(enum_item name: (type_identifier) @name) @def.class
(trait_item name: (type_identifier) @name) @def.interface
(type_item name: (type_identifier) @name) @def.type
(mod_item name: (identifier) @name) @def.module
(macro_definition name: (identifier) @name) @def.macro
""",
    "java": """
(class_declaration name: (identifier) @name) @def.class
(interface_declaration name: (identifier) @name) @def.interface
(enum_declaration name: (identifier) @name) @def.class
(record_declaration name: (identifier) @name) @def.class
(method_declaration name: (identifier) @name) @def.method
(constructor_declaration name: (identifier) @name) @def.method
""",
    "c": _C_DEFS,
    "cpp": _C_DEFS + """
(function_definition declarator: (function_declarator
  declarator: [(field_identifier) (qualified_identifier) (destructor_name)] @name)) @def.function
(class_specifier name: (type_identifier) @name body: (_)) @def.class
(namespace_definition name: (namespace_identifier) @name) @def.module
""",
}
DEFINITIONS["tsx"] = DEFINITIONS["typescript"]

# Every identifier-like leaf counts as a reference: cheap, language-neutral, and good enough for
# ranking (the same trade-off aider's repo map makes when a grammar has no reference queries).
_REF_NODES: dict[str, str] = {
    "python": "(identifier) @ref",
    "javascript": "[(identifier) (property_identifier)] @ref",
    "typescript": "[(identifier) (property_identifier) (type_identifier)] @ref",
    "go": "[(identifier) (field_identifier) (type_identifier)] @ref",
    "rust": "[(identifier) (field_identifier) (type_identifier)] @ref",
    "java": "[(identifier) (type_identifier)] @ref",
    "c": "[(identifier) (field_identifier) (type_identifier)] @ref",
    "cpp": "[(identifier) (field_identifier) (type_identifier) (namespace_identifier)] @ref",
}
_REF_NODES["tsx"] = _REF_NODES["typescript"]


@dataclass(frozen=True)
class Grammar:
    name: str
    language: tree_sitter.Language
    definitions: tree_sitter.Query
    references: tree_sitter.Query

    def parser(self) -> tree_sitter.Parser:
        return tree_sitter.Parser(self.language)


def language_for(path: str) -> str | None:
    dot = path.rfind(".")
    return EXTENSIONS.get(path[dot:].lower()) if dot != -1 else None


def _load_language(name: str) -> tree_sitter.Language | None:
    try:
        import tree_sitter_language_pack as pack

        return pack.get_language(_PACK_NAMES[name])  # type: ignore[arg-type]
    except Exception:  # the pack raises its own error types; any of them means "not available"
        return None


@functools.cache
def grammar(name: str) -> Grammar | None:
    """The grammar and compiled queries for a language, or None when no grammar is installed."""
    language = _load_language(name)
    if language is None:
        return None
    return Grammar(name, language, tree_sitter.Query(language, DEFINITIONS[name]),
                   tree_sitter.Query(language, _REF_NODES[name]))


def available() -> list[str]:
    return [name for name in _PACK_NAMES if grammar(name) is not None]
