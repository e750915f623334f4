"""Benchmark: slider-to-redrawn-figure latency of chapter 00's explorer.

Builds the chapter's sweep and explorer, then

1. moves the sliders to 50 random grid values through the widgets themselves (the
   path a drag takes: observe → lookup → view → blitted redraw → PNG into the image)
   and reports p50/p95 of that update;
2. sets 10 random off-grid values, each retrained live through the engine
   (4 seeds × 500 steps), and reports their p95;
3. counts XLA compilations after warm-up (should be 0).

Ends with one line of JSON: p50_ms, p95_ms, live_p95_ms, compiles_after_warmup, …
"""

from __future__ import annotations

import json
import time

import jax
import numpy as np

import course  # noqa: F401  (host devices)
from course.chapters import scale_map
from course.engine import data
from course.engine.runtime import CompileCounter


def main() -> None:
    mnist = data.mnist1d()
    start = time.perf_counter()
    result = scale_map.run(key=jax.random.key(0), data=mnist, progress=False)
    explorer = scale_map.explorer(result, key=jax.random.key(0), data=mnist)
    warmup_s = time.perf_counter() - start
    rng = np.random.default_rng(0)
    lookups, live = [], []
    with CompileCounter() as compiles:
        for _ in range(50):
            n, w = int(rng.choice(scale_map.SIZES)), int(rng.choice(scale_map.WIDTHS))
            t = time.perf_counter()
            with explorer._quiet():
                explorer.inputs["width"].value = w
            explorer.inputs["n_train"].value = n  # the observed change redraws
            if explorer.values() != {"n_train": n, "width": w}:  # same n: no event fired
                explorer.refresh()
            lookups.append(1e3 * (time.perf_counter() - t))
        for _ in range(10):
            t = time.perf_counter()
            timings = explorer.set(
                n_train=int(rng.integers(126, 3999)), width=int(rng.integers(3, 255))
            )
            assert timings.get("live"), timings
            live.append(1e3 * (time.perf_counter() - t))
    p50, p95 = np.percentile(lookups, 50), np.percentile(lookups, 95)
    live_p95 = np.percentile(live, 95)
    print(f"warm-up (sweep of {np.prod(result.shape)} runs + explorer): {warmup_s:.1f} s")
    print(
        f"slider → redrawn figure (50 grid values): p50 {p50:.1f} ms, p95 {p95:.1f} ms "
        f"(target p95 ≤ 100 ms)"
    )
    print(
        f"live off-grid retrain (10 values, {scale_map.SEEDS} seeds × "
        f"{scale_map.CONFIG.steps} steps): p50 {np.percentile(live, 50):.0f} ms, "
        f"p95 {live_p95:.0f} ms (target ≤ 500 ms)"
    )
    print(
        f"XLA compilations after warm-up: {compiles.count}; full redraws: "
        f"{explorer.renderer.full_redraws}"
    )
    print(
        json.dumps(
            {
                "p50_ms": round(p50, 1),
                "p95_ms": round(p95, 1),
                "live_p50_ms": round(float(np.percentile(live, 50)), 1),
                "live_p95_ms": round(float(live_p95), 1),
                "compiles_after_warmup": compiles.count,
                "warmup_s": round(warmup_s, 1),
                "full_redraws": explorer.renderer.full_redraws,
            }
        )
    )


if __name__ == "__main__":
    main()
