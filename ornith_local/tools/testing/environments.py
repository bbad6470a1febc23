"""The project's own Python: the interpreter its tests run with, found the way the project is run.

Order: a virtualenv in the project (`.venv`, `venv`, `env`: plain venv, uv, pdm, in-project poetry), the
environment a project tool manages elsewhere (poetry, pdm, hatch), the virtualenv or conda environment the user
has active, tox / nox environments, then `python3` on PATH and ornith's own interpreter, whichever has the
runner. Each answer says where it came from; a project tool whose environment does not exist yet yields
`missing` with the command that creates it, never a silent fallback.

Interpreters inside the workspace are never executed on the host (the repository is untrusted): what they have
installed is read from their site-packages. Interpreters elsewhere (PATH, conda, a tool's cache) are the user's.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

IN_PROJECT = (".venv", "venv", "env")
TOOL_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class PythonEnv:
    python: str
    source: str  # where it came from, for the user: ".venv (uv project)", "python3 on PATH (no project env)"
    tool: str = "pip"  # how packages get into it: pip | uv | poetry | pdm | hatch | conda
    missing: str | None = None  # the environment the project expects does not exist: how to create it
    read_only: tuple[Path, ...] = ()  # folders outside the workspace the sandbox must show for it
    in_project: bool = False  # inside the (untrusted) workspace: inspected on disk, never run on the host


def pyproject_tool(root: Path) -> dict[str, object]:
    path = root / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text(errors="replace")) if path.is_file() else {}
    except tomllib.TOMLDecodeError:
        data = {}
    tool = data.get("tool", {})
    return tool if isinstance(tool, dict) else {}


def project_tool(root: Path) -> str:
    """The tool that manages the project's environment, from its lock file or pyproject table."""
    tool = pyproject_tool(root)
    for name, lockfile in (("uv", "uv.lock"), ("poetry", "poetry.lock"), ("pdm", "pdm.lock")):
        if (root / lockfile).is_file() or name in tool:
            return name
    hatch = tool.get("hatch")
    if (isinstance(hatch, dict) and "envs" in hatch) or (root / "hatch.toml").is_file():
        return "hatch"
    if (root / "environment.yml").is_file() or (root / "environment.yaml").is_file():
        return "conda"
    return "pip"


def interpreter_dirs(python: str) -> tuple[Path, ...]:
    """What an interpreter needs the sandbox to show: its venv and the Python the venv points at."""
    executable = Path(python)
    dirs = [executable.parent.parent, executable.resolve().parent.parent]
    config = executable.parent.parent / "pyvenv.cfg"
    try:
        for line in config.read_text(encoding="utf-8", errors="replace").splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "home" and value.strip():
                dirs.append(Path(value.strip()).parent)
    except OSError:
        pass
    if python == sys.executable:
        dirs += [Path(sys.prefix), Path(sys.base_prefix)]
    # Never the home folder itself (a python in ~/bin): the sandbox refuses to show all of it, rightly. And only
    # folders that hold a Python: a planted `.venv/bin/python` symlink must not make the sandbox show ~/.ssh.
    home = Path.home().resolve()
    return tuple(dict.fromkeys(d for d in dirs if d.resolve() != home and d.resolve() not in home.parents
                               and _holds_python(d)))


def _holds_python(folder: Path) -> bool:
    return (folder / "pyvenv.cfg").is_file() or any(folder.glob("lib/python3*")) or any(folder.glob("bin/python3*"))


def _outside(root: Path, python: str, source: str, tool: str) -> PythonEnv:
    return PythonEnv(python, source, tool, read_only=interpreter_dirs(python))


@functools.lru_cache(maxsize=64)
def _run_tool(argv: tuple[str, ...], root: Path) -> str | None:
    """A project tool's one-line answer (an interpreter or env path), or None when it has none."""
    try:
        done = subprocess.run(argv, cwd=root, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S,
                              stdin=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    lines = [line.strip() for line in done.stdout.splitlines() if line.strip()]
    return lines[-1] if done.returncode == 0 and lines else None


def _venv_python(path: Path) -> Path | None:
    candidate = path / "bin" / "python"
    return candidate if candidate.exists() else None


def _tool_env(root: Path, tool: str) -> PythonEnv | None:
    """The environment poetry, pdm or hatch keeps outside the project; `missing` when it does not exist."""
    commands = {"poetry": ["poetry", "env", "info", "--executable"], "pdm": ["pdm", "info", "--python"],
                "hatch": ["hatch", "env", "find", "default"]}
    create = {"poetry": "poetry install", "pdm": "pdm install", "hatch": "hatch env create", "uv": "uv sync"}
    if tool == "uv":  # uv keeps the environment in the project's .venv, which is not there
        return PythonEnv("python3", "uv project with no .venv (uv.lock / [tool.uv])", "uv",
                         missing=f"the project's environment does not exist: run `{create[tool]}` first")
    if tool not in commands:
        return None
    if shutil.which(tool) is None:
        return PythonEnv("python3", f"{tool} project", tool,
                         missing=f"{tool} is not on PATH and the project has no .venv: install {tool}, "
                                 "or set [tests] command in .ornith.toml")
    answer = _run_tool(tuple(commands[tool]), root)
    python = Path(answer) if answer else None
    if python is not None and tool == "hatch":
        python = _venv_python(python)
    if python is None or not python.exists() or (tool == "pdm" and not (python.parent.parent / "pyvenv.cfg").exists()):
        return PythonEnv("python3", f"{tool} project", tool,
                         missing=f"the project's {tool} environment does not exist: run `{create[tool]}` first")
    return _outside(root, str(python), f"{tool} environment {python.parent.parent}", tool)


def _active_env(root: Path) -> PythonEnv | None:
    active = os.environ.get("VIRTUAL_ENV")
    if active and Path(active).resolve() != Path(sys.prefix).resolve():
        python = _venv_python(Path(active))
        if python is not None:
            return _outside(root, str(python), f"the active virtualenv {active}", "pip")
    prefix, name = os.environ.get("CONDA_PREFIX"), os.environ.get("CONDA_DEFAULT_ENV")
    for file in ("environment.yml", "environment.yaml"):
        path = root / file
        if prefix and name and path.is_file() and f"name: {name}" in path.read_text(errors="replace"):
            python = Path(prefix) / "bin" / "python"
            if python.exists():
                return _outside(root, str(python), f"the active conda env '{name}' ({file})", "conda")
    return None


def _base_dirs(root: Path, python: Path) -> tuple[Path, ...]:
    """The Python an in-project venv was made from (the workspace itself is shown anyway, and stays writable)."""
    inside = root.resolve()
    return tuple(d for d in interpreter_dirs(str(python))
                 if d.resolve() != inside and inside not in d.resolve().parents)


def _site_has(env_root: Path, module: str) -> bool:
    patterns = (f"lib/python*/site-packages/{module}", f"lib/python*/site-packages/{module}.py",
                f"Lib/site-packages/{module}")
    return any(next(env_root.glob(pattern), None) is not None for pattern in patterns)


def _in_project_env(root: Path, tool: str) -> PythonEnv | None:
    for name in IN_PROJECT:
        python = _venv_python(root / name)
        if python is not None:
            label = f"{name} ({tool} project)" if tool in {"uv", "poetry", "pdm", "hatch"} else \
                f"{name} (the project's virtualenv)"
            return PythonEnv(str(python), label, tool, read_only=_base_dirs(root, python), in_project=True)
    return None


@functools.lru_cache(maxsize=1)
def _host_python() -> str | None:
    """`python3` on PATH as the real executable (a pyenv shim or a wrapper resolved by running it)."""
    found = shutil.which("python3") or shutil.which("python")
    if found is None:
        return None
    try:
        done = subprocess.run([found, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True,
                              timeout=TOOL_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def has_module(env: PythonEnv, module: str) -> bool:
    """Whether `module` is importable in `env`: read from disk for an in-project env, asked otherwise."""
    if env.in_project:  # never executed on the host
        return _site_has(Path(env.python).parent.parent, module)
    return _importable(env.python, module)


@functools.lru_cache(maxsize=64)
def _importable(python: str, module: str) -> bool:
    if python == sys.executable:
        import importlib.util

        return importlib.util.find_spec(module) is not None
    try:
        probe = f"import importlib.util, sys; sys.exit(importlib.util.find_spec({module!r}) is None)"
        done = subprocess.run([python, "-c", probe], capture_output=True, timeout=TOOL_TIMEOUT_S,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def python_env(root: Path, needs: str = "pytest") -> PythonEnv:
    """The project's interpreter (see the module docstring); `needs` picks between the last-resort ones."""
    tool = project_tool(root)
    found = _in_project_env(root, tool) or _active_env(root)
    if found is None and tool in {"uv", "poetry", "pdm", "hatch"}:
        found = _tool_env(root, tool)
    if found is None:
        for folder in (".tox", ".nox"):
            for env_dir in sorted((root / folder).glob("*")) if (root / folder).is_dir() else []:
                python = _venv_python(env_dir)
                if python is not None and _site_has(env_dir, needs):
                    return PythonEnv(str(python), f"{folder}/{env_dir.name} ({folder[1:]} environment)", "pip",
                                     read_only=_base_dirs(root, python), in_project=True)
    if found is not None:
        return found
    host = _host_python()
    candidates = [(host, "python3 on PATH (the project has no virtualenv)")] if host else []
    candidates.append((sys.executable, "ornith's own interpreter (the project has no virtualenv, and python3 on "
                                       "PATH lacks the test runner)"))
    envs = [_outside(root, python, source, "pip") for python, source in candidates]
    return next((env for env in envs if _importable(env.python, needs)), envs[0])


def install_hint(root: Path, env: PythonEnv, package: str) -> str:
    """How to put `package` into `env`, in the words of the tool that manages it."""
    if env.tool == "uv":
        how = f"`uv add --dev {package}`"
    elif env.tool == "poetry":
        how = f"`poetry add --group dev {package}`"
    elif env.tool == "pdm":
        how = f"`pdm add -dG test {package}`"
    elif env.tool == "hatch":
        how = f"add {package} to the env's dependencies in pyproject.toml"
    elif env.tool == "conda":
        how = f"`conda install {package}`"
    else:
        how = f"`{env.python} -m pip install {package}`"
    return f"install it with {how}, or set [tests] command in .ornith.toml"
