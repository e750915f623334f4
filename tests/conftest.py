"""Test configuration: CPU host devices, strict JAX, non-interactive matplotlib.

pyproject.toml turns every warning into an error; here JAX refuses implicit rank
promotion, as the style guide asks.
"""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["COURSE_JAX_CACHE"] = "0"  # hermetic: every compile happens in the test
# hermetic: generated data sets go to a fresh folder, never into the user's cache
os.environ["COURSE_CACHE_DIR"] = tempfile.mkdtemp(prefix="course-test-cache-")
atexit.register(shutil.rmtree, os.environ["COURSE_CACHE_DIR"], ignore_errors=True)

import jax  # noqa: E402  (after the environment above)

import course  # noqa: E402, F401  (configures the host devices before JAX starts)

jax.config.update("jax_numpy_rank_promotion", "raise")


def pytest_terminal_summary(terminalreporter):
    """Print the Run All time of every chapter the JupyterLab browser test ran.

    Each test records it as a property of its report, which reaches this summary from
    every xdist worker too.
    """
    times = sorted(
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", [])
        if name == "run_all_seconds"
    )
    if times:
        cache = "empty" if os.environ.get("COURSE_LAB_EMPTY_CACHE") == "1" else "course's"
        terminalreporter.section(f"JupyterLab Run All ({cache} compilation cache)")
        for stem, seconds in times:
            terminalreporter.write_line(f"{stem:<40} {seconds:6.1f} s")
