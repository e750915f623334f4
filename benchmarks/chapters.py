"""Benchmark: what a student waits for when a chapter opens — its main sweep, cold.

Each chapter's main sweep (00: the scale map, 04: double descent, 05: the regularisation
study, 06: the SVM explorer's grid of SMO solves, 07: the CNN-against-MLP study, 08: the
language-model sweep, 09: the GAN sweep, 10: the scaling grid, 11: the distillation study
with its teachers, wall time only) runs in a fresh Python
process with JAX's persistent compilation cache and the kept study results
(``course.engine.memo``) off, so every program is compiled and every run trained as on a
first visit.  The generated data sets are cached as they would be after a first visit.
Chapter 10's grid is an MLP sweep like chapter 00's; ``benchmarks/sweep.py`` measures such
sweeps against a PyTorch batched ensemble.

Prints, per chapter, the time to the first figure's numbers (import excluded): compile
and run as the sweep reports them, and the wall time of the whole call; then one JSON
line.  ``--quick`` times only chapter 00 (for the smoke test).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CHAPTERS = {
    "00": ("course.chapters.scale_map", "run(key=jax.random.key(0))"),
    "04": (
        "course.chapters.model_size_and_double_descent",
        "double_descent(key=jax.random.key(0))",
    ),
    "05": ("course.chapters.regularization", "run(key=jax.random.key(0))"),
    "06": (
        "course.chapters.support_vector_machines",
        "explorer_grid(module.explorer_data(key=jax.random.key(0)))",
    ),
    "07": ("course.chapters.convolutional_networks", "efficiency_study(key=jax.random.key(0))"),
    "08": ("course.chapters.recurrent_networks", "language_study(key=jax.random.key(0)).result"),
    "09": (
        "course.chapters.generative_adversarial_networks",
        "gan_study(key=jax.random.key(0), progress=False)",
    ),
    "10": ("course.chapters.scaling_laws", "grid_study(key=jax.random.key(0), progress=False)"),
    "11": (
        "course.chapters.doing_more_with_less",
        "distillation_study(key=jax.random.key(0), progress=False)",
    ),
}

CHILD = """
import json, time, jax, course, importlib
from course.engine import data
data.mnist1d(); data.digits()  # data cached as after a first visit
module = importlib.import_module({module!r})
getattr(module, "dataset", lambda: None)()  # a chapter's own data set, cached likewise
start = time.perf_counter()
result = eval("module." + {call!r})
wall = time.perf_counter() - start
runs = getattr(result, "results", None)
parts = list(runs.values()) if isinstance(runs, dict) else [result]
nan = float("nan")  # a main computation that is not an engine sweep reports only its wall time
compile_s = sum(getattr(p, "compile_seconds", nan) for p in parts)
run_s = sum(getattr(p, "run_seconds", nan) for p in parts)
print(json.dumps({{"wall_s": wall, "compile_s": compile_s, "run_s": run_s}}))
"""


def cold(chapter: str) -> dict[str, float]:
    module, call = CHAPTERS[chapter]
    # cold: no compiled programs and no kept study results (course.engine.memo)
    env = {
        **os.environ,
        "COURSE_JAX_CACHE": "0",
        "COURSE_RESULTS_CACHE": "0",
        "COURSE_PROGRESS": "0",
    }
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", CHILD.format(module=module, call=call)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["process_s"] = time.perf_counter() - start
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only chapter 00")
    args = parser.parse_args()
    chapters = ["00"] if args.quick else list(CHAPTERS)
    print(f"{'chapter':<9}{'main sweep':<42}{'compile s':>10}{'run s':>8}{'wall s':>9}")
    out = {}
    for ch in chapters:
        f = cold(ch)
        out[ch] = {k: round(v, 2) for k, v in f.items()}
        name = f"{CHAPTERS[ch][0].split('.')[-1]}.{CHAPTERS[ch][1].split('(')[0]}"
        print(f"{ch:<9}{name:<42}{f['compile_s']:>10.1f}{f['run_s']:>8.1f}{f['wall_s']:>9.1f}")
    print(json.dumps({"cold_chapter_sweeps": out}))


if __name__ == "__main__":
    main()
