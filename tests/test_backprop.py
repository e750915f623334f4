"""Chapter 03: the hand-written backward pass, its cost, and vanishing gradients."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course.chapters import backpropagation_from_scratch as backprop
from course.engine import models

from .test_widgets import twin_frames


def float64_problem(sizes, activation, seed=0):
    net = models.MLP(sizes[0], tuple(sizes[1:-1]), sizes[-1], activation)
    params = jax.tree.map(lambda a: a.astype(jnp.float64), net.init(key=jax.random.key(seed)))
    kx, ky = jax.random.split(jax.random.key(seed + 1))
    x = jax.random.normal(kx, (32, sizes[0]), jnp.float64)
    y = jax.random.randint(ky, (32,), 0, sizes[-1])
    return params, x, y


@pytest.mark.parametrize("activation", backprop.ACTIVATIONS)
@pytest.mark.parametrize("sizes", [(5, 3), (6, 8, 4), (7, 16, 9, 12, 3)])
def test_hand_written_gradients_equal_jax_grad_in_float64(activation, sizes):
    with jax.enable_x64(True):
        params, x, y = float64_problem(sizes, activation)
        _, grads, deltas = backprop.loss_and_grads(params, x, y, activation)
        reference = backprop.autodiff_grads(params, x, y, activation)
        for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(reference), strict=True):
            assert g.dtype == jnp.float64
            np.testing.assert_allclose(g, r, atol=1e-12, rtol=1e-9)  # float64 rounding
        for d, r in zip(deltas, backprop.deltas_by_autodiff(params, x, y, activation), strict=True):
            np.testing.assert_allclose(d, r, atol=1e-12)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
def test_finite_differences_agree(activation):
    with jax.enable_x64(True):
        params, x, y = float64_problem((6, 10, 10, 4), activation, seed=3)
        numeric, analytic = backprop.finite_difference(
            params, x, y, activation, key=jax.random.key(9)
        )
    assert numeric == pytest.approx(analytic, rel=1e-6, abs=1e-9)


def test_a_wrong_derivative_is_caught():
    """Replace tanh' by 1: the check must fail."""
    with jax.enable_x64(True):
        params, x, y = float64_problem((6, 10, 4), "tanh")
        saved = backprop.DERIVATIVES["tanh"]
        backprop.DERIVATIVES["tanh"] = lambda z: jnp.ones_like(z)
        try:
            _, grads, _ = backprop.loss_and_grads(params, x, y, "tanh")
        finally:
            backprop.DERIVATIVES["tanh"] = saved
        reference = backprop.autodiff_grads(params, x, y, "tanh")
        assert float(jnp.max(jnp.abs(grads[0]["w"] - reference[0]["w"]))) > 1e-3


def test_backward_costs_about_twice_forward():
    """The hand count of matmul FLOPs against XLA's cost analysis of the compiled passes.

    XLA also counts the elementwise work (activations, softmax), under 1 % here; a hand
    count that forgot a product (e.g. the weight gradient) would be off by a third.
    """
    fwd, bwd = backprop.matmul_flops((40, 256, 256, 10), 1000)
    xla_fwd, xla_bwd = backprop.xla_flops((40, 256, 256, 10), 1000)
    assert xla_fwd == pytest.approx(fwd, rel=0.05)
    assert xla_bwd == pytest.approx(bwd, rel=0.05)
    assert 1.7 < xla_bwd / xla_fwd < 2.2


def test_the_gradient_program_keeps_activations_that_inference_drops():
    """Scratch memory of loss+grad grows by 1–3 activations per layer; loss alone does not."""
    mem = backprop.working_memory([2, 4, 8], width=128, batch=500)
    per_layer = np.diff(mem["gradient"]) / np.diff(mem["depths"]) / mem["activation"]
    assert np.all((per_layer >= 1) & (per_layer <= 3)), per_layer
    assert np.all(mem["forward"] <= 4 * mem["activation"])
    assert mem["activation"] == 500 * 128 * 4


def test_the_variance_argument_he_keeps_relu_signals_and_1_over_n_halves_them():
    key = jax.random.key(2)
    he = backprop.signal_variance(12, "he", key=key)
    lecun = backprop.signal_variance(12, "lecun", key=key)  # same key: same inputs and weights
    assert 0.5 < he[-1] / he[0] < 2
    assert 0.5 < (lecun[-1] / lecun[0]) / 2.0**-11 < 2


@pytest.fixture(scope="module")
def grid():
    return backprop.norm_grid(key=jax.random.key(0))


def test_sigmoid_gradients_vanish_with_depth_and_relu_ones_do_not(grid):
    for width in backprop.WIDTHS:
        assert np.all(grid.ratio("sigmoid", 16, width) < 1e-6)
        assert np.all((grid.ratio("relu", 16, width) > 0.05) & (grid.ratio("relu", 16, width) < 20))
    sig = [np.exp(np.log(grid.ratio("sigmoid", d, 64)).mean()) for d in backprop.DEPTHS]
    assert np.all(np.diff(np.log(sig)) < 0), sig


def test_norms_match_jax_grad():
    """The grid's norms come from the hand-written pass; jax.grad gives the same."""
    net = models.MLP(40, (16,) * 4, 10, "sigmoid")
    norms = backprop.gradient_norms(4, 16, "sigmoid", key=jax.random.key(0))
    from course.engine import data

    d = data.mnist1d()
    x, y = jnp.asarray(d.x_train[:256]), jnp.asarray(d.y_train[:256])
    params = net.init(key=jax.random.split(jax.random.key(0), backprop.NORM_SEEDS)[0])
    ref = backprop.autodiff_grads(params, x, y, "sigmoid")
    np.testing.assert_allclose(norms[0], [float(jnp.linalg.norm(g["w"])) for g in ref], rtol=1e-4)


def test_norms_explorer_twin(grid):
    ex = backprop.norms_explorer(grid)
    frames = twin_frames(ex.twin())["frames"]
    ex.set(activation="relu", depth=16, width=256)
    assert frames["2,4,2"] == ex.last_spec.to_json()
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        backprop.gradient_norms(4, 16, "gelu", key=jax.random.key(0))
