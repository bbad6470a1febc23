"""Parser throughput (MB/s) per format: one-shot, and streamed token by token (~4 characters a piece), on a
1 MB and a 2 MB output, with the ratio of their times (x2 means linear in the output length).

Run: .venv/bin/python -m benchmarks.parse_throughput [--mb 1.0]
The text is a realistic agent turn repeated: reasoning, prose, and calls whose values are source code
(one large write_file among them), so the scanners' raw-value paths dominate as they do in real use.
"""

from __future__ import annotations

import argparse
import gc
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
    """CPU seconds to parse the whole text (another process on the machine does not count); piece=0 means
    one-shot, else streamed `piece` characters at a time."""
    started = time.process_time()
    if piece == 0:
        parse_output(text, format=format, tools=TOOLS)
    else:
        parser = StreamParser(format, TOOLS)
        for start in range(0, len(text), piece):
            parser.feed(text[start:start + piece])
        parser.finish()
    return time.process_time() - started


def sized(one: str, mb: float) -> str:
    return one * max(1, int(mb * 1e6 / len(one)))


def best(text: str, format: str, piece: int, runs: int) -> float:
    return min(measure(text, format, piece) for _ in range(runs))


def side_by_side(texts: list[str], format: str, piece: int, runs: int) -> list[float]:
    """The best time of each text, the texts measured in turn (small, large, small, ...) with the garbage collector
    off: a collection landing in one size's run, or a machine busy for a moment, no longer skews the ratio."""
    gc.collect()
    gc.disable()
    try:
        times = [[measure(text, format, piece) for text in texts] for _ in range(runs)]
    finally:
        gc.enable()
    return [min(run[i] for run in times) for i in range(len(texts))]


def main() -> None:
    cli = argparse.ArgumentParser(description=__doc__)
    cli.add_argument("--mb", type=float, default=1.0, help="size of the smaller text per format (default 1 MB); "
                     "the larger one is twice that, and the time ratio shows whether parsing stays linear")
    args = cli.parse_args()
    small, large = args.mb, 2 * args.mb
    print(f"{'format':<10} {'size':>7} {'calls':>6} {'one-shot MB/s':>14} {'streamed MB/s':>14}")
    for format in ("hermes", "qwen3_xml", "gemma4"):
        texts = [sized(turn(format), mb) for mb in (small, large)]
        wholes, streams = side_by_side(texts, format, 0, 5), side_by_side(texts, format, 4, 3)
        for text, whole, streamed in zip(texts, wholes, streams, strict=True):
            calls = len(parse_output(text, format=format, tools=TOOLS).tool_calls)
            size = len(text.encode("utf-8")) / 1e6
            print(f"{format:<10} {size:>5.2f}MB {calls:>6} {size / whole:>14.1f} {size / streamed:>14.1f}")
        ratio_whole, ratio_streamed = wholes[1] / wholes[0], streams[1] / streams[0]
        print(f"{format:<10} time {large:g} MB / {small:g} MB: one-shot x{ratio_whole:.2f}, "
              f"streamed x{ratio_streamed:.2f} (x2.00 is linear)")
    for mb in (small, large):  # one write_file whose content is the whole output
        big = turn("qwen3_xml").replace(CODE, sized(CODE, mb))
        whole, streamed = best(big, "qwen3_xml", 0, 2), best(big, "qwen3_xml", 4, 1)
        size = len(big.encode("utf-8")) / 1e6
        print(f"one {size:.2f} MB qwen3_xml call: one-shot {size / whole:.1f} MB/s ({whole:.3f}s), "
              f"streamed in 4-char pieces {size / streamed:.1f} MB/s ({streamed:.3f}s)")


if __name__ == "__main__":
    main()
