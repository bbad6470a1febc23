"""`ornith doctor`: what this machine can do, what ornith found, and what to fix."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from ornith_local import __version__
from ornith_local.cli.output import plain, stdout
from ornith_local.config import ConfigError, app_dirs, load_config
from ornith_local.config.settings import ModelSettings
from ornith_local.models.catalog import CatalogError
from ornith_local.models.choice import ModelPick, choose_model
from ornith_local.models.gguf import ModelFileError, read_gguf
from ornith_local.models.hardware import Hardware, detect_hardware
from ornith_local.models.local import LocalModel, find_local_models, resolve_model_path
from ornith_local.models.plan import DoesNotFit, plan_offload
from ornith_local.models.threads import BUSY_HINT, thread_plan
from ornith_local.models.tiny import TINY_MODEL_NAME, TinyModelUnavailable
from ornith_local.sandbox import TierProbe, active_tier, probe_tiers
from ornith_local.sandbox.cgroup import cgroup_support
from ornith_local.sandbox.owner import commands_run_as

NAME = "doctor"
HELP = "report hardware, llama.cpp build, models, sandbox tiers and what to fix"


@dataclass(frozen=True)
class Problem:
    problem: str
    fix: str


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object for scripts")
    parser.add_argument("--repo", type=Path, default=Path.cwd(), help="repo whose .ornith.toml to read")


def _problems(
    hardware: Hardware, models: list[LocalModel], tiers: list[TierProbe], config_error: str | None
) -> list[Problem]:
    problems: list[Problem] = []
    llama = hardware.llama
    if not llama.installed:
        problems.append(Problem(llama.error or "llama-cpp-python is missing", "pip install llama-cpp-python"))
    cuda_gpus = [gpu for gpu in hardware.gpus if gpu.kind == "cuda"]
    if llama.installed and cuda_gpus and not llama.gpu_offload:
        problems.append(Problem(
            "an NVIDIA GPU is present but this llama-cpp-python build is CPU-only",
            'CMAKE_ARGS="-DGGML_CUDA=on" pip install --force-reinstall --no-cache-dir llama-cpp-python',
        ))
    metal = [gpu for gpu in hardware.gpus if gpu.kind == "metal"]
    if llama.installed and metal and not llama.gpu_offload:
        problems.append(Problem(
            "Apple Silicon is present but this llama-cpp-python build has no Metal",
            'CMAKE_ARGS="-DGGML_METAL=on" pip install --force-reinstall --no-cache-dir llama-cpp-python',
        ))
    if llama.backend == "cuda" and not cuda_gpus:
        problems.append(Problem(
            "this llama-cpp-python build uses CUDA but no NVIDIA driver answered (nvidia-smi)",
            "install the NVIDIA driver, or reinstall the CPU build: pip install --force-reinstall "
            "--no-cache-dir llama-cpp-python",
        ))
    if not hardware.gpus:
        problems.append(Problem(
            "no GPU: models run on the CPU, slowly (a 1.5B model decodes ~28 tokens/s on 2 cores)",
            "use a small model (ornith models list), or a machine with an NVIDIA GPU or Apple Silicon",
        ))
    if not any(model.status != "not downloaded" for model in models):
        problems.append(Problem(
            "no model is available locally",
            "pip install 'ornith-local[demo]' for the tiny test model, or ornith models pull NAME",
        ))
    strongest = tiers[0]
    if not strongest.works and strongest.remedy:
        problems.append(Problem(f"sandbox tier '{strongest.name}' unavailable: {strongest.detail}", strongest.remedy))
    if config_error:
        problems.append(Problem(config_error, "fix or remove that setting"))
    return problems


def _driven_with(model_name: str) -> dict[str, str]:
    """The template, tool-call format and reasoning convention the configured model is driven with."""
    from ornith_local.llm.tool_format import tool_format_for
    from ornith_local.models.catalog import load_catalog

    try:
        entry = load_catalog().get(model_name)
    except CatalogError:
        entry = None
    return tool_format_for(entry).describe()


def _offload_plan(model_name: str, hardware: Hardware) -> dict[str, Any]:
    """How the configured model would run here; never loads it, never raises."""
    try:
        path = resolve_model_path(model_name)
        plan = plan_offload(read_gguf(path), hardware)
    except (LookupError, FileNotFoundError, ModelFileError, DoesNotFit, TinyModelUnavailable) as error:
        return {"model": model_name, "n_gpu_layers": None, "n_ctx": None, "explain": str(error).strip("'\"")}
    return {"model": model_name, "n_gpu_layers": plan.n_gpu_layers, "n_ctx": plan.n_ctx, "explain": plan.explain()}


def collect(repo: Path) -> dict[str, Any]:
    """Everything the report shows, as plain data (this is also the --json contract)."""
    dirs = app_dirs()
    config_error = None
    config_sources: list[str] = []
    try:
        config_sources = list(load_config(repo).sources)
    except ConfigError as error:
        config_error = str(error)
    hardware = detect_hardware()
    try:
        models = find_local_models()
        catalog_error = None
    except CatalogError as error:
        models, catalog_error = [], str(error)
    tiers = probe_tiers()
    settings = load_config(repo).model if config_error is None else ModelSettings()
    pick = choose_model(settings) if catalog_error is None else ModelPick(TINY_MODEL_NAME, "the catalog is broken")
    model_name = pick.name or TINY_MODEL_NAME
    offload = _offload_plan(model_name, hardware)
    offload["driven_with"] = _driven_with(model_name)
    threads = thread_plan(settings.threads)
    problems = _problems(hardware, models, tiers, config_error or catalog_error)
    if threads.busy:
        problems.append(Problem(threads.busy.split(";")[0], BUSY_HINT + " (and compare: ornith generate "
                                "'hello' with each)"))
    tests = _tests(repo) if config_error is None else None
    if tests and tests["missing"]:
        problems.append(Problem(f"{repo}: the tests cannot run: {tests['missing']}",
                                "until then ornith cannot verify a change in this repo"))
    return {
        "ornith": __version__,
        "python": {"version": platform.python_version(), "executable": sys.executable},
        "llama_cpp": asdict(hardware.llama) | {"system_info": hardware.llama.system_info[:500]},
        "hardware": {
            "os": hardware.os,
            "machine": hardware.machine,
            "cpu_count": hardware.cpu_count,
            "ram_total_mib": hardware.ram_total_mib,
            "ram_available_mib": hardware.ram_available_mib,
            "gpus": [asdict(gpu) for gpu in hardware.gpus],
            "notes": hardware.notes,
        },
        "dirs": {
            "config": str(dirs.config), "cache": str(dirs.cache), "data": str(dirs.data), "models": str(dirs.models),
        },
        "config": {"sources": config_sources, "error": config_error},
        "models": [
            {"name": m.name, "path": str(m.path) if m.path else None, "size_bytes": m.size_bytes, "status": m.status}
            for m in models
        ],
        "default_model": {"name": pick.name, "reason": pick.reason},
        "threads": {"count": threads.count, "reason": threads.reason, "busy": threads.busy},
        "offload_plan": offload,
        "sandbox": {"active": active_tier(tiers).name, "tiers": [asdict(tier) for tier in tiers],
                    "limits": cgroup_support(), "runs_as": commands_run_as(repo)},
        "tests": tests,
        "problems": [asdict(problem) for problem in problems],
    }


def _tests(repo: Path) -> dict[str, Any] | None:
    """How this repo's tests would run (the verifier's command), or None where it has no suite."""
    from ornith_local.tools.testing import detect_test_command

    command = detect_test_command(repo)
    if command is None:
        return None
    return {"command": command.display, "runner": command.runner, "source": command.source,
            "missing": command.missing}


def _mark(ok: bool) -> str:
    return "[green]✓[/]" if ok else "[red]✗[/]"


def render(report: dict[str, Any]) -> None:
    llama = report["llama_cpp"]
    hw = report["hardware"]
    stdout.print(f"[bold]ornith {report['ornith']}[/] — doctor\n")
    system = Table(title="System", show_header=False, title_justify="left", box=None, padding=(0, 2))
    system.add_row("Python", f"{report['python']['version']} ({report['python']['executable']})")
    system.add_row("OS", f"{hw['os']} {hw['machine']}, {hw['cpu_count']} cores")
    threads = report["threads"]
    system.add_row("Threads", f"{threads['count']} for llama.cpp ({plain(threads['reason'])}); "
                              "[dim]on a busy machine fewer threads can be faster[/]")
    system.add_row("RAM", f"{hw['ram_available_mib'] / 1024:.1f} GiB free of {hw['ram_total_mib'] / 1024:.1f} GiB")
    build = f"{llama['version']} — offload: {llama['backend'].upper() if llama['gpu_offload'] else 'none (CPU build)'}"
    build_text = build if llama["installed"] else llama["error"]
    system.add_row("llama-cpp-python", f"{_mark(llama['installed'])} {build_text}")
    if hw["gpus"]:
        for gpu in hw["gpus"]:
            system.add_row("GPU", f"{gpu['name']} ({gpu['kind']}): {gpu['free_mib'] / 1024:.1f} GiB free "
                                  f"of {gpu['total_mib'] / 1024:.1f} GiB")
    else:
        system.add_row("GPU", "none detected (CPU only)")
    stdout.print(system)

    dirs = Table(title="\nDirectories", show_header=False, title_justify="left", box=None, padding=(0, 2))
    for key, value in report["dirs"].items():
        dirs.add_row(key, value)
    tests = report["tests"]
    dirs.add_row("tests here", "none detected" if tests is None else escape(
        f"{tests['command']}  ({tests['source']})" + (f" — missing: {tests['missing']}" if tests["missing"] else "")))
    dirs.add_row("config files", ", ".join(report["config"]["sources"]) or "none (defaults)")
    stdout.print(dirs)

    models = Table(title="\nModels", title_justify="left")
    models.add_column("name")
    models.add_column("status")
    models.add_column("size", justify="right")
    models.add_column("path")
    for model in report["models"]:
        ok = model["status"] != "not downloaded"
        size = f"{model['size_bytes'] / 1e6:.0f} MB" if model["size_bytes"] else "?"
        models.add_row(model["name"], f"{_mark(ok)} {model['status']}", size, model["path"] or "")
    stdout.print(models)

    plan = report["offload_plan"]
    choice = report["default_model"]
    stdout.print(f"\n[bold]Default model[/]: {plain(choice['name'] or 'the endpoint default')} "
                 f"({plain(choice['reason'])})", soft_wrap=True)
    stdout.print(f"[bold]Offload plan[/] for {plain(plan['model'])}: {plain(plan['explain'])}", soft_wrap=True)
    driven = plan.get("driven_with") or {}
    if driven:
        stdout.print(f"[bold]Driven with[/]: template {driven['chat_template']}; tool calls "
                     f"{driven['tool_call_format']}; reasoning: {driven['reasoning']}", soft_wrap=True)

    tiers = Table(title="\nSandbox tiers (each tried here)", title_justify="left")
    tiers.add_column("tier")
    tiers.add_column("works")
    tiers.add_column("detail")
    for tier in report["sandbox"]["tiers"]:
        active = " [bold](active)[/]" if tier["name"] == report["sandbox"]["active"] else ""
        tiers.add_row(tier["name"] + active, _mark(tier["works"]), tier["detail"])
    stdout.print(tiers)
    stdout.print(f"limits: {report['sandbox']['limits']}")
    stdout.print(f"commands here run {report['sandbox']['runs_as']}")

    if report["problems"]:
        stdout.print("\n[bold]What to do[/]")
        for problem in report["problems"]:
            stdout.print(f"  [yellow]•[/] {plain(problem['problem'])}\n    [dim]→[/] {plain(problem['fix'])}",
                         soft_wrap=True)
    else:
        stdout.print("\n[green]No problems found.[/]")


def run(args: argparse.Namespace) -> int:
    report = collect(args.repo)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        render(report)
    return 0
