"""`ornith generate`: stream a raw completion from a local model (a smoke test for a model and the engine)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ornith_local.cli.argtypes import context_size
from ornith_local.cli.output import CliError, stderr
from ornith_local.config import load_config
from ornith_local.llm.backend import BackendError, GenerateOptions
from ornith_local.llm.llama_cpp_backend import LlamaCppBackend
from ornith_local.models.gguf import ModelFileError
from ornith_local.models.local import resolve_model_path
from ornith_local.models.tiny import TINY_MODEL_NAME, TinyModelUnavailable

NAME = "generate"
HELP = "stream a raw completion from a local model, with speed figures"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("prompt", nargs="?", help="the prompt text (or use --prompt-file, or stdin)")
    parser.add_argument(
        "--prompt-file", type=Path, help="start the prompt with this file's text (PROMPT, if given, follows it)"
    )
    parser.add_argument("--model", help=f"catalog name or path to a .gguf (default: config, else {TINY_MODEL_NAME})")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--temperature", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-ctx", type=context_size, default=4096)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of streaming")


def _read_prompt(args: argparse.Namespace) -> str:
    if args.prompt_file is not None:
        try:
            text = str(args.prompt_file.read_text(encoding="utf-8"))
        except OSError as error:
            raise CliError(f"{args.prompt_file}: cannot read: {error.strerror}") from None
        except UnicodeDecodeError:
            raise CliError(f"{args.prompt_file}: not UTF-8 text") from None
        return text + (args.prompt or "")
    if args.prompt is not None:
        return str(args.prompt)
    if not sys.stdin.isatty():
        return sys.stdin.read()
    raise CliError("no prompt: pass PROMPT, --prompt-file FILE, or pipe text on stdin", exit_code=2)


def run(args: argparse.Namespace) -> int:
    prompt = _read_prompt(args)
    if not prompt.strip():
        raise CliError("the prompt is empty", exit_code=2)
    if args.max_tokens < 1:
        raise CliError("--max-tokens must be at least 1", exit_code=2)
    model_name = args.model or load_config(Path.cwd()).model.name or TINY_MODEL_NAME
    try:
        with stderr.status(f"loading {model_name}…"):
            path = resolve_model_path(model_name)
            engine = LlamaCppBackend(path, n_ctx=args.n_ctx)
    except (LookupError, FileNotFoundError, ModelFileError, TinyModelUnavailable) as error:
        raise CliError(str(error).strip("'\"")) from None
    if engine.count_tokens(prompt) + args.max_tokens > args.n_ctx:
        raise CliError(f"the prompt and --max-tokens do not fit in --n-ctx {args.n_ctx}", exit_code=2)

    def show(piece: str) -> None:
        if not args.json:
            sys.stdout.write(piece)
            sys.stdout.flush()

    options = GenerateOptions(max_tokens=args.max_tokens, temperature=args.temperature, seed=args.seed)
    try:
        completion = engine.complete(prompt, options, on_text=show)
    except BackendError as error:
        raise CliError(str(error)) from None
    stats = completion.stats
    if args.json:
        print(json.dumps({
            "model": str(path),
            "text": completion.text,
            "prompt_tokens": stats.prompt_tokens,
            "generated_tokens": stats.generated_tokens,
            "time_to_first_token_s": round(stats.time_to_first_token_s, 4),
            "decode_tokens_per_s": round(stats.decode_tokens_per_s, 2),
        }))
    else:
        sys.stdout.write("\n")
        stderr.print(
            f"[dim]{path.name}: {stats.prompt_tokens} prompt tokens, {stats.generated_tokens} generated, "
            f"first token {stats.time_to_first_token_s * 1000:.0f} ms, {stats.decode_tokens_per_s:.1f} tokens/s[/]"
        )
    return 0
