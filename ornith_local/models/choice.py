"""Which model a command uses when none is named: one rule for `ornith`, `run`, `precommit` and `triage`.

A named model (`--model`, then the config's `[model] name` or endpoint) always wins. Otherwise the most capable
installed model, ranked by the catalog's own data: its role (an agent model before the demo coder, an
unknown imported GGUF after both, the tiny test model last) and then its parameter count. The tiny Gemma
270M proves the engine runs but cannot do a task, so it is only a last resort, and callers that need
real answers (precommit suggestions, triage explanations) can refuse it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ornith_local.config.settings import ModelSettings
from ornith_local.models.local import LocalModel, find_local_models
from ornith_local.models.tiny import TINY_MODEL_NAME

# The catalog's `role` field, best first. "server" (too large for in-process use) is never a default.
ROLE_RANK = {"agent": 3, "demo": 2, "test": 0}
UNKNOWN_ROLE_RANK = 1  # an imported or hand-placed GGUF: someone chose it, but the catalog cannot vouch for it
PULL_HINT = "ornith models pull qwen2.5-coder-1.5b"
_SCALE = {"K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}


@dataclass(frozen=True)
class ModelPick:
    name: str | None  # None: the configured endpoint's default model, or nothing usable is installed
    reason: str  # why, in words for the user

    def describe(self) -> str:
        return f"model: {self.name or 'the endpoint default'} ({self.reason})"


def parameter_count(text: str) -> float:
    """'1.5B' -> 1.5e9, '35B-A3B' -> 35e9 (total, the catalog's first figure), '?' -> 0."""
    match = re.match(r"\s*(\d+(?:\.\d+)?)\s*([KMBT])", text.upper())
    return float(match.group(1)) * _SCALE[match.group(2)] if match else 0.0


def _usable(model: LocalModel) -> bool:
    on_disk = model.status.startswith("ready")
    assembles = model.name == TINY_MODEL_NAME and model.status == "assemble on first use"
    return (on_disk or assembles) and not (model.entry is not None and model.entry.server_only)


def _rank(model: LocalModel) -> tuple[int, float, int]:
    if model.entry is None:
        return UNKNOWN_ROLE_RANK, 0.0, model.size_bytes
    if model.entry.role not in ROLE_RANK:
        return -1, 0.0, 0
    return ROLE_RANK[model.entry.role], parameter_count(model.entry.parameters), model.size_bytes


def installed_by_capability() -> list[LocalModel]:
    """Usable installed models, most capable first."""
    ranked = sorted((m for m in find_local_models() if _usable(m)), key=_rank, reverse=True)
    return [m for m in ranked if _rank(m)[0] >= 0]


def choose_model(settings: ModelSettings, requested: str | None = None, *,
                 allow_test_model: bool = True) -> ModelPick:
    """The model to load. Never raises for a missing model: naming it is the loader's job."""
    if requested:
        return ModelPick(requested, "--model")
    if settings.name:
        return ModelPick(settings.name, "configured [model] name")
    if settings.endpoint:
        return ModelPick(None, f"served by {settings.endpoint}")
    for model in installed_by_capability():
        if model.name == TINY_MODEL_NAME:
            break
        return ModelPick(model.name, "most capable installed; --model to choose")
    if allow_test_model:
        return ModelPick(TINY_MODEL_NAME, f"the tiny test model, the only one installed: it cannot do real "
                                          f"tasks; {PULL_HINT}")
    return ModelPick(None, f"no model installed ({PULL_HINT})")
