"""Chapter 00's claims, explorer and twin, on the chapter's own sweep."""

from __future__ import annotations

import jax
import numpy as np
import pytest

from course.chapters import scale_map
from course.engine import data
from course.engine.runtime import CompileCounter

from .test_widgets import twin_frames

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mnist():
    return data.mnist1d()


@pytest.fixture(scope="module")
def result():
    # the notebook's own call: `make test` reads the result its notebook run kept (memo)
    return scale_map.run(key=jax.random.key(0), progress=False)


@pytest.fixture(scope="module")
def explorer(result, mnist):
    return scale_map.explorer(result, key=jax.random.key(0), data=mnist)


def test_test_error_falls_with_data_at_every_width(result):
    found = scale_map.claims(result)
    assert found.falls_with_data, str(found)
    assert np.all(found.total_fall > 0)
    assert np.all(found.worst_rise <= found.rise_allowed.max())


def test_the_benefit_of_width_grows_with_data(result):
    found = scale_map.claims(result)
    assert found.width_pays_off_with_data, str(found)
    assert found.benefit[0] < 0.10
    assert found.benefit[-1] > found.benefit[0] + 0.10


def test_claims_can_fail():
    """The checks are not tautologies: a map where width never helps fails the second claim."""

    class Flat:
        dims = ("seed", "n_train", "width")
        shape = (4, 8, 8)

        def final(self, _):
            acc = np.linspace(0.3, 0.6, 8)[None, :, None] * np.ones((4, 8, 8))
            return acc + np.random.default_rng(0).normal(0, 0.001, (4, 8, 8))

    found = scale_map.claims(Flat())
    assert found.falls_with_data
    assert not found.width_pays_off_with_data


def test_slider_moves_and_live_retrains_never_recompile(explorer):
    """After the first live retrain (which compiles the live path), nothing compiles."""
    explorer.set(n_train=300, width=50)  # off the grid: the first live retrain
    rng = np.random.default_rng(1)
    with CompileCounter() as compiles:
        for i in range(20):
            if i % 4 == 3:  # off the grid: retrained live through the engine
                values = {
                    "n_train": int(rng.integers(126, 3999)),
                    "width": int(rng.integers(3, 255)),
                }
            else:
                values = {
                    "n_train": int(rng.choice(scale_map.SIZES)),
                    "width": int(rng.choice(scale_map.WIDTHS)),
                }
            timings = explorer.set(**values)
            assert "error" not in timings, timings
    assert compiles.count == 0


def test_live_retrain_reproduces_the_grid_point(explorer, result, mnist):
    values = {"n_train": scale_map.SIZES[2], "width": scale_map.WIDTHS[5]}
    live = scale_map.live_point(values, key=jax.random.key(0), data=mnist)
    grid = result.sel(**values)
    # The live run pads to another width than the grid's bucket, so float sums round
    # differently and 500 steps amplify that into a handful of flipped test predictions
    # (1000 test examples: 0.001 each). The curves agree to a few examples, on average
    # to within two.
    live_acc, grid_acc = live.metrics["test_acc"], grid.metrics["test_acc"]
    np.testing.assert_allclose(live_acc, grid_acc, atol=1e-2)
    np.testing.assert_allclose(live_acc.mean(0), grid_acc.mean(0), atol=2e-3)


def test_twin_matches_the_explorer_and_fits_the_page_budget(explorer):
    html = explorer.twin()
    assert len(html.encode()) < 2_000_000
    frames = twin_frames(html)["frames"]
    assert len(frames) == len(scale_map.SIZES) * len(scale_map.WIDTHS)
    for i, j in [(0, 0), (3, 4), (7, 7)]:
        explorer.set(n_train=scale_map.SIZES[i], width=scale_map.WIDTHS[j])
        assert frames[f"{i},{j}"] == explorer.last_spec.to_json()
