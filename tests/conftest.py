"""Test configuration: CPU host devices, strict JAX, non-interactive matplotlib.

pyproject.toml turns every warning into an error; here JAX refuses implicit rank
promotion, as the style guide asks.
"""

import os

os.environ.setdefault("MPLBACKEND", "Agg")
os.environ["COURSE_JAX_CACHE"] = "0"  # hermetic: every compile happens in the test

import jax

import course  # noqa: F401  (configures the host devices before JAX starts)

jax.config.update("jax_numpy_rank_promotion", "raise")
