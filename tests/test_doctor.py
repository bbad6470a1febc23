"""`ornith doctor` tells the truth about this machine and says what to do about each problem."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ORNITH = Path(sys.executable).with_name("ornith")


def doctor_json(env: dict[str, str] | None = None) -> dict[str, Any]:
    result = subprocess.run(
        [str(ORNITH), "doctor", "--json"], capture_output=True, text=True, timeout=120,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def test_llama_cpp_build_matches_the_installed_library() -> None:
    import llama_cpp

    report = doctor_json()
    assert report["llama_cpp"]["installed"] is True
    assert report["llama_cpp"]["version"] == llama_cpp.__version__
    assert report["llama_cpp"]["gpu_offload"] == bool(llama_cpp.llama_supports_gpu_offload())


def test_gpus_reported_only_when_a_driver_answers() -> None:
    report = doctor_json()
    if shutil.which("nvidia-smi") is None and sys.platform != "darwin":
        assert report["hardware"]["gpus"] == []
        assert any("no GPU" in problem["problem"] for problem in report["problems"])
    assert report["hardware"]["cpu_count"] >= 1
    assert report["hardware"]["ram_total_mib"] > 0


def test_sandbox_tiers_are_tried_and_the_strongest_working_one_is_active() -> None:
    report = doctor_json()
    tiers = {tier["name"]: tier for tier in report["sandbox"]["tiers"]}
    assert {"bwrap", "landlock", "macos", "fallback"} <= set(tiers)
    assert tiers["fallback"]["works"] is True
    if shutil.which("bwrap") is None:
        assert tiers["bwrap"]["works"] is False
        assert "apt-get install bubblewrap" in (tiers["bwrap"]["remedy"] or "")
    if sys.platform != "darwin":
        assert tiers["macos"]["works"] is False
    first_working = next(tier["name"] for tier in report["sandbox"]["tiers"] if tier["works"])
    assert report["sandbox"]["active"] == first_working


def test_doctor_says_who_commands_run_as() -> None:
    from ornith_local.sandbox.owner import SANDBOX_ID, idmap_supported

    runs_as = doctor_json()["sandbox"]["runs_as"]  # run from this root-owned (or your own) checkout
    if os.geteuid() != 0:
        assert runs_as == "as you"
    elif idmap_supported(Path.cwd()):
        assert f"as uid {SANDBOX_ID}" in runs_as and "idmapped" in runs_as
    else:
        assert "as uid 0 with no capabilities" in runs_as and "readable" in runs_as


def test_dirs_and_user_gguf_files_are_listed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "models").mkdir(parents=True)
    (data / "models" / "my-own-model.gguf").write_bytes(b"GGUF" + b"\0" * 60)
    report = doctor_json({"ORNITH_DATA_DIR": str(data)})
    assert report["dirs"]["data"] == str(data)
    assert report["dirs"]["models"] == str(data / "models")
    names = {model["name"]: model for model in report["models"]}
    assert names["my-own-model"]["status"] == "ready"
    assert "gemma3-270m" in names


def test_cpu_only_build_with_an_nvidia_gpu_gets_the_cuda_reinstall_command(tmp_path: Path) -> None:
    # A stand-in nvidia-smi (unit-level fake) that reports one GPU the way the real one does.
    fake = tmp_path / "nvidia-smi"
    fake.write_text("#!/bin/sh\necho 'NVIDIA GeForce RTX 4090, 24564, 23000, 550.54'\n")
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    report = doctor_json({"PATH": f"{tmp_path}{os.pathsep}{os.environ['PATH']}"})
    assert report["hardware"]["gpus"][0]["name"] == "NVIDIA GeForce RTX 4090"
    assert report["hardware"]["gpus"][0]["free_mib"] == 23000
    if not report["llama_cpp"]["gpu_offload"]:
        fixes = [problem["fix"] for problem in report["problems"]]
        assert any('CMAKE_ARGS="-DGGML_CUDA=on"' in fix for fix in fixes)


def test_config_error_is_reported_not_raised(tmp_path: Path) -> None:
    (tmp_path / ".ornith.toml").write_text("[agent]\nmode = 3\n")
    result = subprocess.run(
        [str(ORNITH), "doctor", "--json", "--repo", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert "agent.mode" in report["config"]["error"]


def test_human_report_has_every_section() -> None:
    result = subprocess.run([str(ORNITH), "doctor"], capture_output=True, text=True, timeout=120,
                            env={**os.environ, "COLUMNS": "120"})
    assert result.returncode == 0
    for heading in ["System", "llama-cpp-python", "Directories", "Models", "Sandbox tiers", "(active)"]:
        assert heading in result.stdout


@pytest.mark.parametrize("flag", ["--jsn", "--repo"])
def test_bad_flags_are_usage_errors(flag: str) -> None:
    result = subprocess.run([str(ORNITH), "doctor", flag], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
