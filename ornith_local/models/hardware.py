"""What this machine can run models on: GPUs, free VRAM / unified memory, RAM, cores, llama.cpp build."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Gpu:
    name: str
    kind: str  # "cuda" | "metal"
    total_mib: int
    free_mib: int
    driver: str | None = None


@dataclass(frozen=True)
class LlamaBuild:
    installed: bool
    version: str | None
    gpu_offload: bool  # the build itself can offload (compiled with CUDA / Metal / ...)
    backend: str  # "cuda" | "metal" | "vulkan" | "cpu" | "missing"
    system_info: str = ""
    error: str | None = None


@dataclass(frozen=True)
class Hardware:
    os: str
    machine: str
    cpu_count: int
    ram_total_mib: int
    ram_available_mib: int
    gpus: list[Gpu] = field(default_factory=list)
    llama: LlamaBuild = field(default_factory=lambda: LlamaBuild(False, None, False, "missing"))
    notes: list[str] = field(default_factory=list)


def _meminfo() -> tuple[int, int]:
    """(total, available) RAM in MiB; zeros where it cannot be read."""
    try:
        values: dict[str, int] = {}
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                key, _, rest = line.partition(":")
                values[key] = int(rest.split()[0]) // 1024
        return values.get("MemTotal", 0), values.get("MemAvailable", 0)
    except (OSError, ValueError, IndexError):
        pass
    if platform.system() == "Darwin":
        total = _sysctl_int("hw.memsize") // (1024 * 1024)
        return total, total
    return 0, 0


def _sysctl_int(name: str) -> int:
    try:
        out = subprocess.run(["sysctl", "-n", name], capture_output=True, text=True, timeout=5, check=True)
        return int(out.stdout.strip())
    except (OSError, subprocess.SubprocessError, ValueError):
        return 0


def nvidia_gpus(notes: list[str]) -> list[Gpu]:
    """NVIDIA GPUs through nvidia-smi; an empty list where there is none or the driver does not answer."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return []
    query = "--query-gpu=name,memory.total,memory.free,driver_version"
    try:
        out = subprocess.run(
            [smi, query, "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError) as error:
        notes.append(f"nvidia-smi failed: {error}")
        return []
    if out.returncode != 0:
        notes.append(f"nvidia-smi failed: {(out.stderr or out.stdout).strip().splitlines()[:1]}")
        return []
    gpus = []
    for line in out.stdout.strip().splitlines():
        parts = [part.strip() for part in line.split(",")]
        if len(parts) >= 4:
            try:
                gpus.append(Gpu(parts[0], "cuda", int(float(parts[1])), int(float(parts[2])), parts[3]))
            except ValueError:
                notes.append(f"nvidia-smi: unreadable line {line!r}")
    return gpus


def apple_gpus() -> list[Gpu]:
    """Apple Silicon: the GPU shares unified memory; Metal can use roughly 75% of it."""
    if platform.system() != "Darwin" or platform.machine() != "arm64":
        return []
    total = _sysctl_int("hw.memsize") // (1024 * 1024)
    brand = subprocess.run(
        ["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True, check=False
    ).stdout.strip()
    usable = int(total * 0.75)
    return [Gpu(brand or "Apple Silicon", "metal", usable, usable)]


def llama_build() -> LlamaBuild:
    """Which llama-cpp-python is installed and what its compiled llama.cpp can offload to."""
    try:
        import llama_cpp
    except ImportError:
        return LlamaBuild(False, None, False, "missing", error="llama-cpp-python is not installed")
    except OSError as error:  # the shared library failed to load (missing CUDA runtime, ...)
        return LlamaBuild(False, None, False, "missing", error=f"llama-cpp-python failed to load: {error}")
    version = getattr(llama_cpp, "__version__", None)
    try:
        offload = bool(llama_cpp.llama_supports_gpu_offload())
        info = llama_cpp.llama_print_system_info().decode("utf-8", "replace")
    except Exception as error:  # a broken native build must not break `ornith doctor`
        return LlamaBuild(True, version, False, "cpu", error=f"could not query the build: {error}")
    lowered = info.lower()
    backend = "cpu"
    for name in ("cuda", "metal", "vulkan", "hip", "sycl"):
        if name in lowered:
            backend = name
            break
    if offload and backend == "cpu":
        backend = "gpu"
    return LlamaBuild(True, version, offload, backend, system_info=info.strip())


def free_cores() -> int:
    """Cores this process may use; ornith never runs more llama.cpp threads than this."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def detect_hardware() -> Hardware:
    notes: list[str] = []
    total, available = _meminfo()
    gpus = nvidia_gpus(notes) + apple_gpus()
    return Hardware(
        os=f"{platform.system()} {platform.release()}",
        machine=platform.machine(),
        cpu_count=free_cores(),
        ram_total_mib=total,
        ram_available_mib=available,
        gpus=gpus,
        llama=llama_build(),
        notes=notes,
    )
