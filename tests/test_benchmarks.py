"""The benchmark scripts keep running and keep printing their JSON line (not a timing test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def last_json_line(script: str, *args: str):
    """Run ``benchmarks/<script>.py`` with ``args``; return its last line, read as JSON."""
    proc = subprocess.run(
        [sys.executable, f"benchmarks/{script}.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_sweep_benchmark_prints_its_figures():
    figures = last_json_line("sweep", "--quick", "--skip-torch")
    for key in (
        "engine_s",
        "loop_s",
        "torch_s",
        "sklearn_s",
        "ratio_torch",
        "torch_batched_s",
        "ratio_torch_batched",
        "ratio_sklearn",
        "gflops",
        "peak_gflops",
        "single_run_p95_ms",
        "rss_mb",
        "accuracy",
        "max_accuracy_gap",
    ):
        assert key in figures, key
    assert figures["engine_s"] > 0 and figures["gflops"] > 0
    assert set(figures["accuracy"]["engine"]) == {"125", "4000"}


@pytest.mark.slow
def test_svm_benchmark_prints_its_figures():
    figures = last_json_line("svm", "--quick")
    assert figures["svm_large"]["2000"]["ours_s"] > 0
    assert figures["svm_grid"]["problems"] > 0 and figures["svm_grid"]["ratio_joblib"] > 0


@pytest.mark.slow
def test_gan_benchmark_prints_its_figures():
    figures = last_json_line("gan", "--quick", "--skip-torch")
    assert figures["engine_s"] > 0 and figures["compile_s"] > 0
    assert len(figures["covered"]["engine (scan + vmap + mesh)"]) == 2  # one per size


def test_chapter_benchmark_names_functions_that_exist():
    """benchmarks/chapters.py times each chapter's main sweep by name: the names must resolve."""
    import importlib

    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        chapters = importlib.import_module("chapters")
    finally:
        sys.path.pop(0)
    for module, call in chapters.CHAPTERS.values():
        assert callable(getattr(importlib.import_module(module), call.split("(")[0]))


@pytest.mark.slow
def test_parallel_benchmark_prints_its_figures():
    rows = last_json_line("parallel", "--quick", "--skip-torch")
    assert [(r["width"], r["batch"]) for r in rows] == [(64, 100)]
    assert rows[0]["engine_1"] > 0 and rows[0]["engine_2"] > 0
