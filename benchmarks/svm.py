"""Benchmark: our SMO dual solver (JAX) against LIBSVM through scikit-learn's SVC.

Two workloads, each timed in this run, compilation excluded (reported apart):

* **one large problem** — RBF SVM (C = 1, γ = 1) on noisy moons at n = 4000 and 16 000:
  ``course.engine.svm.fit`` against ``SVC`` (LIBSVM, the exact solver a practitioner
  uses on a CPU; its kernel cache at the default 200 MB and at 1 GB).
* **many small problems** — chapter 06's explorer grid (288 problems, n ≤ 200): one
  vmapped solve per (kernel, C) group against a loop of ``SVC`` fits, and against the
  same loop spread over every core with joblib (the strongest CPU peer for many small
  fits).

Prints a table and the ratios (peer time / our time, above 1 means we are faster), then one
JSON line.  ``--quick`` uses n = 2000 and a quarter of the grid (for the smoke test).
"""

from __future__ import annotations

import argparse
import json
import os

import jax
import numpy as np

import course  # noqa: F401  (host devices, compile cache)
from course.chapters import support_vector_machines as chapter
from course.engine import data, svm
from course.engine.runtime import stopwatch, timeit


def best_of(fn, repeats: int = 3) -> float:
    """Fastest of ``repeats`` calls (the caller has compiled what needs compiling)."""
    return min(timeit(fn, repeat=repeats, warmup=0))


def large(sizes: list[int]) -> dict[str, dict[str, float]]:
    from sklearn.svm import SVC

    d = data.two_d("moons", n_train=max(sizes), n_test=10, noise=0.3, key=jax.random.key(0))
    x, y = np.asarray(d.x_train), np.asarray(d.y_train)
    out = {}
    for n in sizes:
        with stopwatch() as first:
            svm.fit(x[:n], y[:n], C=1.0, kernel="rbf", gamma=1.0)  # compiles for this n
        compile_s = first["s"]
        ours = best_of(lambda n=n: svm.fit(x[:n], y[:n], C=1.0, kernel="rbf", gamma=1.0))
        svc = best_of(lambda n=n: SVC(C=1.0, gamma=1.0).fit(x[:n], y[:n]))
        svc_1g = best_of(lambda n=n: SVC(C=1.0, gamma=1.0, cache_size=1000).fit(x[:n], y[:n]))
        out[str(n)] = {
            "ours_s": ours, "first_call_s": compile_s, "svc_s": svc, "svc_1gb_cache_s": svc_1g,
            "ratio_svc": svc / ours, "ratio_svc_1gb": svc_1g / ours,
        }  # fmt: skip
    return out


def many(fraction: float) -> dict[str, float]:
    from joblib import Parallel, delayed
    from sklearn.svm import SVC

    pools = chapter.explorer_data(key=jax.random.key(0))
    settings = chapter.explorer_settings()[:: round(1 / fraction)]
    size = max(chapter.EXPLORER_SIZES)
    problems = [(*chapter.problem(v), pools[v["noise"]], v["n_train"]) for v in settings]
    x = np.stack([np.asarray(d.x_train)[:size] for *_, d, _ in problems])
    y = np.stack([np.asarray(d.y_train)[:size] for *_, d, _ in problems])
    valid = np.arange(size)[None, :] < np.asarray([n for *_, n in problems])[:, None]
    kind, C, gamma = (np.asarray(col) for col in list(zip(*problems, strict=True))[:3])

    def ours():
        return svm.fit_many(x, y, valid, C=C, kind=kind, gamma=gamma)

    with stopwatch() as clock:
        ours()  # compile one program per kernel
    first = clock["s"]

    def sk(k, c, g, d, n):
        return SVC(C=c, kernel=svm.KERNELS[k], gamma=g, degree=svm.DEGREE, coef0=svm.COEF0).fit(
            np.asarray(d.x_train)[:n], np.asarray(d.y_train)[:n]
        )

    cores = os.cpu_count() or 1
    t_ours = best_of(ours, repeats=2)
    loop = best_of(lambda: [sk(*p) for p in problems], repeats=2)
    parallel = best_of(lambda: Parallel(n_jobs=cores)(delayed(sk)(*p) for p in problems), 2)
    return {
        "problems": len(problems), "ours_s": t_ours, "first_call_s": first,
        "svc_loop_s": loop, "svc_joblib_s": parallel, "cores": cores,
        "ratio_loop": loop / t_ours, "ratio_joblib": parallel / t_ours,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="n = 2000 and a quarter of the grid")
    args = parser.parse_args()
    big = large([2000] if args.quick else [4000, 16000])
    head = ("n", "ours s", "(1st call)", "SVC s", "SVC 1 GB", "SVC/ours", "1 GB/ours")
    print("".join(f"{h:>11}" for h in head))
    for n, r in big.items():
        cells = [r[k] for k in ("ours_s", "first_call_s", "svc_s", "svc_1gb_cache_s",
                                "ratio_svc", "ratio_svc_1gb")]  # fmt: skip
        print(f"{n:>11}" + "".join(f"{c:>11.3f}" for c in cells))
    small = many(0.25 if args.quick else 1.0)
    print(
        f"\nexplorer grid, {small['problems']} problems: ours {small['ours_s']:.2f} s, "
        f"SVC loop {small['svc_loop_s']:.2f} s ({small['ratio_loop']:.2f}×), "
        f"SVC joblib on {small['cores']} cores {small['svc_joblib_s']:.2f} s "
        f"({small['ratio_joblib']:.2f}×)"
    )
    print(json.dumps({"svm_large": big, "svm_grid": small}))


if __name__ == "__main__":
    main()
