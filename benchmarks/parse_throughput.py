"""Parser throughput (MB/s) per format: one-shot, and streamed token by token (~4 characters a piece).

Run: .venv/bin/python -m benchmarks.parse_throughput [--mb 1.0]
The text is a realistic agent turn repeated: reasoning, prose, and calls whose values are source code
(one large write_file among them), so the scanners' raw-value paths dominate as they do in real use.
"""

from __future__ import annotations

import argparse
import json
import time

from ornith_local.llm.parsing import StreamParser, parse_output

CODE = "\n".join(f"def handler_{i}(x: int) -> int:\n    if x < {i} and x > 0:\n        return x * {i}\n"
                 f"    return {{'k': [x, \"</tool_call>\"]}}[\"k\"][0]\n" for i in range(40))
TOOLS = [{"type": "function", "function": {"name": "write_file", "parameters": {"type": "object", "properties": {
    "path": {"type": "string"}, "content": {"type": "string"}, "mode": {"type": "integer"}},
    "required": ["path", "content"]}}}]


def turn(format: str) -> str:
    if format == "gemma4":
        reasoning = "<|channel>thought\nI should write the handlers, then run the tests.<channel|>"
        call = f'<|tool_call>call:write_file{{path:<|"|>src/h.py<|"|>,content:<|"|>{CODE}<|"|>,mode:420}}<tool_call|>'
    elif format == "qwen3_xml":
        reasoning = "<think>\nI should write the handlers, then run the tests.\n</think>\n\n"
        call = (f"<tool_call>\n<function=write_file>\n<parameter=path>\nsrc/h.py\n</parameter>\n"
                f"<parameter=content>\n{CODE}\n</parameter>\n<parameter=mode>\n420\n</parameter>\n</function>\n</tool_call>")
    else:
        reasoning = "<think>\nI should write the handlers, then run the tests.\n</think>\n\n"
        args = {"path": "src/h.py", "content": CODE, "mode": 420}
        call = f"<tool_call>\n{json.dumps({'name': 'write_file', 'arguments': args})}\n</tool_call>"
    return reasoning + "Writing the handlers now.\n" + call + "\nDone.\n"


def measure(text: str, format: str, piece: int) -> float:
    """MB/s over the whole text; piece=0 means one-shot."""
    started = time.perf_counter()
    if piece == 0:
        parse_output(text, format=format, tools=TOOLS)
    else:
        parser = StreamParser(format, TOOLS)
        for start in range(0, len(text), piece):
            parser.feed(text[start:start + piece])
        parser.finish()
    elapsed = time.perf_counter() - started
    return len(text.encode("utf-8")) / elapsed / 1e6


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("--mb", type=float, default=1.0, help="size of the text per format (default 1 MB)")
    args = cli.parse_args()
    print(f"{'format':<10} {'size':>8} {'calls':>6} {'one-shot MB/s':>14} {'streamed MB/s':>14}")
    for format in ("hermes", "qwen3_xml", "gemma4"):
        one = turn(format)
        text = one * max(1, int(args.mb * 1e6 / len(one)))
        calls = len(parse_output(text, format=format, tools=TOOLS).tool_calls)
        whole = max(measure(text, format, 0) for _ in range(3))
        streamed = max(measure(text, format, 4) for _ in range(2))
        print(f"{format:<10} {len(text) / 1e6:>6.2f}MB {calls:>6} {whole:>14.1f} {streamed:>14.1f}")
    big = turn("qwen3_xml").replace(CODE, CODE * 40)  # one ~250 KB write_file, streamed
    rate = measure(big, "qwen3_xml", 4)
    print(f"one {len(big) // 1000} KB qwen3_xml call streamed in 4-char pieces: {rate:.1f} MB/s")


if __name__ == "__main__":
    main()
