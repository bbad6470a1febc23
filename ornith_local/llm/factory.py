"""Open the backend the configuration asks for: an HTTP endpoint, or a local GGUF with its offload plan."""

from __future__ import annotations

from ornith_local.config.settings import ModelSettings
from ornith_local.llm.backend import Backend
from ornith_local.llm.http_backend import HttpBackend
from ornith_local.llm.llama_cpp_backend import LlamaCppBackend
from ornith_local.llm.warm import open_store
from ornith_local.models.catalog import find_entry, load_catalog
from ornith_local.models.choice import choose_model
from ornith_local.models.gguf import read_gguf
from ornith_local.models.hardware import Hardware, detect_hardware
from ornith_local.models.local import resolve_model_path
from ornith_local.models.plan import plan_offload
from ornith_local.models.tiny import TINY_MODEL_NAME


def open_backend(settings: ModelSettings, *, model: str | None = None, hardware: Hardware | None = None) -> Backend:
    """The configured backend. Raises LookupError / FileNotFoundError / ModelFileError / DoesNotFit (one line)."""
    if settings.endpoint:
        served = model or settings.name or "default"
        entry = load_catalog().get(served)
        return HttpBackend(settings.endpoint, model=served, sampling=entry.sampling if entry else None)
    name = choose_model(settings, model).name or TINY_MODEL_NAME
    path = resolve_model_path(name)
    info = read_gguf(path)
    catalog = load_catalog()
    entry = catalog.get(name) or find_entry(catalog, path.name)
    plan = plan_offload(info, hardware or detect_hardware(), want_ctx=settings.n_ctx)
    return LlamaCppBackend(
        path,
        n_ctx=settings.n_ctx or plan.n_ctx,
        n_gpu_layers=plan.n_gpu_layers if settings.n_gpu_layers is None else settings.n_gpu_layers,
        threads=settings.threads,
        template_family=entry.chat_template if entry else None,
        sampling=entry.sampling if entry else None,
        info=info,
        warm=open_store(settings.warm_start_mb),
    )


def open_backends(settings: ModelSettings, *, model: str | None = None, n: int,
                  hardware: Hardware | None = None) -> list[Backend]:
    """`n` backends for parallel attempts: N clients of an endpoint (its server's parallel slots serve them), or
    the N sequences of one in-process context (`parallel_backend.py`), its memory planned for N contexts."""
    if n < 1:
        raise ValueError(f"the number of parallel attempts must be at least 1, not {n}")
    if settings.endpoint:
        return [open_backend(settings, model=model, hardware=hardware) for _ in range(n)]
    from ornith_local.llm.parallel_backend import open_parallel
    from ornith_local.models.hardware import free_cores

    name = choose_model(settings, model).name or TINY_MODEL_NAME
    path = resolve_model_path(name)
    info = read_gguf(path)
    catalog = load_catalog()
    entry = catalog.get(name) or find_entry(catalog, path.name)
    plan = plan_offload(info, hardware or detect_hardware(), want_ctx=settings.n_ctx, sequences=n)
    _, backends = open_parallel(
        path, n,
        n_ctx_per_seq=settings.n_ctx or plan.n_ctx,
        threads=settings.threads or free_cores(),
        n_gpu_layers=plan.n_gpu_layers if settings.n_gpu_layers is None else settings.n_gpu_layers,
        template_family=entry.chat_template if entry else None,
        sampling=entry.sampling if entry else None,
        info=info,
    )
    return list(backends)
