"""The benchmark scripts keep running and keep printing their JSON line (not a timing test)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_sweep_benchmark_prints_its_figures():
    proc = subprocess.run(
        [sys.executable, "benchmarks/sweep.py", "--quick", "--skip-torch"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in (
        "engine_s",
        "loop_s",
        "torch_s",
        "sklearn_s",
        "ratio_torch",
        "ratio_sklearn",
        "gflops",
        "peak_gflops",
        "single_run_p95_ms",
        "rss_mb",
        "accuracy",
    ):
        assert key in figures, key
    assert figures["engine_s"] > 0 and figures["gflops"] > 0
    assert set(figures["accuracy"]["engine"]) == {"125", "4000"}
