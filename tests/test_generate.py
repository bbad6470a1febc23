"""The real tiny GGUF loads through llama-cpp-python and streams tokens; bad model files fail cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ornith_local.llm.backend import GenerateOptions
from ornith_local.llm.llama_cpp_backend import LlamaCppBackend

ORNITH = Path(sys.executable).with_name("ornith")
PROMPT = "def fibonacci(n):\n    "


@pytest.mark.model
def test_real_tiny_model_streams_tokens(tiny_model_path: Path) -> None:
    engine = LlamaCppBackend(tiny_model_path, n_ctx=512)
    pieces: list[str] = []
    engine.complete(PROMPT, GenerateOptions(max_tokens=24, temperature=0.0), on_text=pieces.append)
    assert len(pieces) >= 2  # streamed, not returned in one block
    assert "".join(pieces).strip()
    stats = engine.last_stats
    assert stats.prompt_tokens > 3
    assert 2 <= stats.generated_tokens <= 24
    assert stats.time_to_first_token_s > 0
    assert stats.decode_tokens_per_s > 0


@pytest.mark.model
def test_greedy_generation_is_repeatable(tiny_model_path: Path) -> None:
    engine = LlamaCppBackend(tiny_model_path, n_ctx=512)
    first = engine.complete(PROMPT, GenerateOptions(max_tokens=16, temperature=0.0)).text
    second = engine.complete(PROMPT, GenerateOptions(max_tokens=16, temperature=0.0)).text
    assert first == second


@pytest.mark.model
def test_ornith_generate_json_through_the_entry_point(tiny_model_path: Path) -> None:
    result = subprocess.run(
        [str(ORNITH), "generate", "--model", "gemma3-270m", "--max-tokens", "12", "--json", PROMPT],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["model"] == str(tiny_model_path)
    assert 1 <= report["generated_tokens"] <= 12
    assert report["text"]


@pytest.mark.model
def test_prompt_file_is_followed_by_the_prompt(tiny_model_path: Path, example_repo: Path) -> None:
    result = subprocess.run(
        [str(ORNITH), "generate", "--model", str(tiny_model_path), "--max-tokens", "8",
         "--prompt-file", str(example_repo / "invoicing" / "discounts.py"), "def test_bulk():"],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "prompt tokens" in result.stderr  # the speed line


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not a model at all\n", "not a GGUF model file"), (b"", "not a GGUF model file")],
)
def test_non_gguf_file_is_a_one_line_error(tmp_path: Path, content: bytes, message: str) -> None:
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(content)
    result = subprocess.run([str(ORNITH), "generate", "--model", str(bad), "hi"], capture_output=True, text=True)
    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.model
def test_truncated_gguf_is_a_one_line_error(tmp_path: Path, tiny_model_path: Path) -> None:
    truncated = tmp_path / "truncated.gguf"
    with tiny_model_path.open("rb") as source:
        truncated.write_bytes(source.read(2_000_000))
    result = subprocess.run(
        [str(ORNITH), "generate", "--model", str(truncated), "hi"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 1
    assert "truncated GGUF file" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_model_and_unknown_name_are_one_line_errors(tmp_path: Path) -> None:
    for model, message in [(str(tmp_path / "absent.gguf"), "no such model file"), ("nosuch", "unknown model")]:
        result = subprocess.run([str(ORNITH), "generate", "--model", model, "hi"], capture_output=True, text=True)
        assert result.returncode == 1
        assert message in result.stderr
        assert "Traceback" not in result.stderr


def test_empty_prompt_is_rejected(tmp_path: Path) -> None:
    result = subprocess.run([str(ORNITH), "generate", "   "], capture_output=True, text=True)
    assert result.returncode == 2
    assert "prompt is empty" in result.stderr
