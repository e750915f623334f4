"""Chapter 10: the fits against references and known laws, and the chapter's claims.

The study is the notebook's own call (same key), so `make test` reads the result the notebook
stage kept; each claim also gets a made-up study that makes it fail.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest
from scipy.optimize import curve_fit

from course.chapters import scaling_laws as chapter
from course.engine import data as datasets
from course.engine.sweep import SweepResult

KEYS = dict(zip(["study", "exercise"], jax.random.split(jax.random.key(0)), strict=True))


@pytest.fixture(scope="module")
def study():
    return chapter.study(key=KEYS["study"], progress=False)


@pytest.fixture(scope="module")
def flops():
    return chapter.flop_check()


SIZES = np.geomspace(100, 1e5, 8)


def power(x, e, a, alpha):
    return e + a * x ** (-alpha)


# ----------------------------------------------------------------------------- the fits


def test_fit_law_recovers_an_exact_power_law_and_an_exact_exponential():
    """Noise-free data: every parameter back to 1e-4 relative (the variable projection and the
    refinement of the rate between grid points both work)."""
    law = chapter.fit_law(SIZES, power(SIZES, 0.3, 5.0, 0.4))
    np.testing.assert_allclose([law.floor, law.scale, law.rate], [0.3, 5.0, 0.4], rtol=1e-4)
    y = 0.5 + 2.0 * np.exp(-3e-4 * SIZES)
    law = chapter.fit_law(SIZES, y, "exponential")
    np.testing.assert_allclose([law.floor, law.scale, law.rate], [0.5, 2.0, 3e-4], rtol=1e-4)


def test_fit_law_matches_scipy_curve_fit_on_noisy_data():
    """Reference: the same relative least squares by scipy's curve_fit (sigma = y), started at
    the truth; both minimisers must agree to 1e-3 in every parameter."""
    rng = np.random.default_rng(0)
    y = power(SIZES, 0.3, 5.0, 0.4) * (1 + 0.03 * rng.normal(size=SIZES.size))
    ours = chapter.fit_law(SIZES, y)
    ref, _ = curve_fit(power, SIZES, y, p0=[0.3, 5.0, 0.4], sigma=y, maxfev=20000)
    np.testing.assert_allclose([ours.floor, ours.scale, ours.rate], ref, rtol=1e-3)


def test_fit_law_keeps_floor_and_scale_non_negative():
    """Losses that rise with size: no decreasing law fits; the scale is 0, not negative."""
    law = chapter.fit_law(SIZES, np.linspace(1.0, 2.0, SIZES.size))
    assert law.scale >= 0 and law.floor >= 0
    assert law.scale < 1e-9  # a flat line at the best constant
    y = np.linspace(1.0, 2.0, 8)  # the constant c minimising Σ((c − y)/y)²: Σ y⁻¹ / Σ y⁻²
    assert law.floor == pytest.approx(np.sum(1 / y) / np.sum(1 / y**2), rel=1e-6)


def test_bootstrap_has_no_spread_without_seed_noise_and_grows_with_it():
    """Identical seeds: every replicate fits the same exponent. Seed noise of 5 % and of 10 %
    (the same draws, scaled): each 95 % interval holds the exponent fitted to the mean, and
    doubling the noise widens the interval by a factor between 1.5 and 3."""
    clean = np.tile(power(SIZES, 0.3, 5.0, 0.4), (3, 1))
    rates = chapter.bootstrap_rates(SIZES, clean, key=jax.random.key(1), n_boot=20)
    assert np.ptp(rates) < 1e-6
    noise = np.random.default_rng(1).normal(size=clean.shape)
    widths = []
    for scale in (0.05, 0.10):
        noisy = clean * (1 + scale * noise)
        rates = chapter.bootstrap_rates(SIZES, noisy, key=jax.random.key(1), n_boot=200)
        lo, hi = np.quantile(rates, [0.025, 0.975])
        assert lo < chapter.fit_law(SIZES, noisy.mean(axis=0)).rate < hi
        widths.append(hi - lo)
    assert 1.5 < widths[1] / widths[0] < 3


def test_bootstrap_resamples_each_point_on_its_own():
    """Seed noise that scales a seed's whole curve leaves every seed's exponent the same, so
    resampling whole seeds would find no spread; resampling each point's seeds on its own
    (the chapter's choice, which breaks the seeds' correlation across points) does."""
    curve = power(SIZES, 0.3, 5.0, 0.4)
    samples = curve[None] * np.array([0.9, 1.0, 1.1])[:, None]  # (seed, point)
    rates = chapter.bootstrap_rates(SIZES, samples, key=jax.random.key(3), n_boot=50)
    assert np.ptp(rates) > 0.01


def test_the_held_out_comparison_tells_the_forms_apart():
    """Data from a power law: the power law fitted without the last point predicts it to 1e-3,
    the exponential misses by more than 0.05; data from an exponential law: the reverse."""
    samples = np.tile(power(SIZES, 0.3, 5.0, 0.4), (3, 1))
    fit = chapter.fit_curve(SIZES, samples, key=jax.random.key(2), n_boot=10)
    assert abs(fit.held_out_error("power")) < 1e-3
    assert abs(fit.held_out_error("exponential")) > 0.05
    x = np.linspace(1.0, 8.0, 8)
    samples = np.tile(0.5 + 2.0 * np.exp(-0.8 * x), (3, 1))
    fit = chapter.fit_curve(x, samples, key=jax.random.key(2), n_boot=10)
    assert abs(fit.held_out_error("exponential")) < 1e-3
    assert abs(fit.held_out_error("power")) > abs(fit.held_out_error("exponential")) + 0.005


def test_early_stopping_reads_test_loss_where_validation_is_lowest():
    """A made-up run whose validation loss is lowest at log 2 (and at log 1 within 2 logs)."""
    val = np.array([[3.0, 2.0, 1.0, 2.5]])
    test = np.array([[30.0, 20.0, 10.0, 25.0]])
    result = SweepResult(
        axes={"seed": np.arange(1)},
        metrics={"val_loss": val, "test_loss": test},
        steps=np.array([100, 200, 300, 400]),
    )
    np.testing.assert_array_equal(chapter.early_stopped_curve(result), [[30, 20, 10, 10]])
    np.testing.assert_array_equal(chapter.early_stopped(result), [10.0])
    np.testing.assert_array_equal(chapter.early_stopped(result, 200), [20.0])
    with pytest.raises(ValueError, match="steps must be at least"):
        chapter.early_stopped(result, 50)


def _synthetic_curves(alpha: float, beta: float) -> np.ndarray:
    """Loss of every width along training: E + A/N^α + B/D^β with D = steps · batch.

    B puts the optimum at N = 800 for C = 3·10⁸ (where 6·N·D = C and the derivative in N is
    0: α·A·N^−α = β·B·D^−β), inside the grid's widths and logged steps.
    """
    steps = np.arange(1, 33) * 100
    n = np.array([chapter.n_params(w) for w in chapter.WIDTHS], float)[:, None]
    d = steps[None, :] * chapter.BATCH
    a, n_star, d_star = 30.0, 800.0, 3e8 / (6 * 800.0)
    b = alpha * a * n_star**-alpha / (beta * d_star**-beta)
    return 0.2 + a * n**-alpha + b * d**-beta, steps


@pytest.mark.parametrize(("alpha", "beta"), [(0.5, 0.5), (0.3, 0.6), (0.6, 0.3)])
def test_frontier_finds_the_optimum_of_a_known_surface(alpha, beta):
    """For L = E + A/N^α + B/D^β at fixed C = 6·N·D, N_opt ∝ C^(β/(α+β)) (Hoffmann et al.
    2022): the frontier's slope within 0.01 of it (the differences the chapter discusses are
    0.1 and more), from at least 5 budgets inside the grid."""
    curves, steps = _synthetic_curves(alpha, beta)
    front = chapter.frontier(curves, steps)
    assert front.inside.sum() >= 5
    assert front.slope == pytest.approx(beta / (alpha + beta), abs=0.01)


def test_frontier_is_empty_when_size_does_not_matter():
    """Loss independent of N: the best width at each budget is the one with the most steps,
    the smallest, at the grid's edge; no budget has an optimum inside."""
    steps = np.arange(1, 33) * 100
    curves = np.tile(1.0 / np.log(steps + 1.0), (len(chapter.WIDTHS), 1))
    front = chapter.frontier(curves, steps)
    assert front.inside.sum() == 0 and np.isnan(front.slope)


def test_loss_at_compute_is_exact_at_logged_steps_and_undefined_outside_a_run():
    curves, steps = _synthetic_curves(0.5, 0.5)
    w = 3
    budgets = chapter.training_flops(chapter.WIDTHS[w], np.array([50, 100, 800, 3200, 6400]))
    out = chapter.loss_at_compute(curves, steps, budgets)[w]
    np.testing.assert_allclose(out[1:4], curves[w, [0, 7, 31]], rtol=1e-9)
    assert np.isnan(out[0]) and np.isnan(out[4])


def test_fit_surface_recovers_a_known_surface():
    """Exact data from Kaplan's form with a floor: back within 1e-3 RMS relative error."""
    truth = chapter.Surface(0.4, 2e3, 5e3, 0.3, 0.35)
    n, d = np.meshgrid([chapter.n_params(w) for w in chapter.WIDTHS], chapter.N_TRAINS)
    surface, error = chapter.fit_surface(truth(n, d))
    assert error < 1e-3
    assert surface.alpha_n == pytest.approx(0.3, rel=0.05)


def test_exponential_in_compute_recovers_its_law():
    c = np.linspace(1e9, 1e10, 10)
    a, b = chapter.exponential_in_compute(0.4 * np.exp(5e-11 * c), c)
    assert a == pytest.approx(0.4, rel=1e-9) and b == pytest.approx(5e-11, rel=1e-9)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: chapter.fit_law(SIZES, SIZES, "linear"), ValueError, "form"),
        (lambda: chapter.fit_law([1, 2, 3], [1, 2, 3]), TypeError, "x must be an array"),
        (lambda: chapter.fit_law(SIZES[:2], SIZES[:2]), ValueError, "at least 3 points"),
        (lambda: chapter.fit_law(SIZES, SIZES[:5]), ValueError, "same length"),
        (lambda: chapter.fit_law(SIZES - 100, SIZES), ValueError, "x must be finite and pos"),
        (lambda: chapter.fit_law(SIZES, -SIZES), ValueError, "y must be finite and positive"),
        (lambda: chapter.fit_law(SIZES.astype(str), SIZES), TypeError, "x must hold numbers"),
        (
            lambda: chapter.bootstrap_rates(
                SIZES, np.ones((3, 8)), key=jax.random.key(0), n_boot=5
            ),
            ValueError,
            "n_boot",
        ),
        (lambda: chapter.bootstrap_rates(SIZES, np.ones((3, 8)), key=0), TypeError, "key"),
        (lambda: chapter.n_params(0), ValueError, "width"),
        (lambda: chapter.fit_surface(np.ones((3, 3))), ValueError, "losses must be"),
        (lambda: chapter.flop_check(batch=0), ValueError, "batch"),
        (lambda: chapter.study(key=1), TypeError, "key"),
    ],
)
def test_bad_input_is_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------------------ the claims


def test_flop_claims_and_their_failures(flops):
    """The claims as the notebook states them; halving XLA's count for an MLP, or a CNN whose
    weights are used once per example, makes each fail."""
    found = chapter.Claims(flops=flops)
    assert found.six_nd_counts_dense_networks
    assert found.six_nd_undercounts_convolutions
    halved = [dataclasses.replace(f, xla=f.xla / 2) if f.first_layer else f for f in flops]
    assert not chapter.Claims(flops=halved).six_nd_counts_dense_networks
    dense_cnn = [dataclasses.replace(f, xla=f.six_nd) if not f.first_layer else f for f in flops]
    assert not chapter.Claims(flops=dense_cnn).six_nd_undercounts_convolutions


def test_the_rule_of_thumb_is_what_the_engine_reports():
    """Consistency, not correctness (XLA's count is the reference above):
    course.engine.sweep.gflop, which the benchmarks print, counts 6·N·D like the chapter."""
    from course.engine.sweep import gflop

    steps = chapter.CONFIG.steps
    assert gflop(chapter.CONFIG, datasets.mnist1d(), 1, 64) * 1e9 == pytest.approx(
        float(chapter.training_flops(64, steps)), rel=1e-12
    )


@pytest.mark.slow
def test_the_claims_hold_on_the_study(study, flops):
    found = chapter.Claims(flops=flops, study=study)
    assert found.the_grid_shows_both_resources
    assert found.loss_falls_with_n_and_d
    assert found.power_law_predicts_held_out_points
    assert found.the_largest_data_set_is_compute_bound
    assert found.optimal_size_grows_with_compute
    assert found.surface_fits_the_grid
    assert found.source_law_exceeds_certainty


@pytest.mark.slow
def test_each_claim_fails_on_a_made_up_study(study):
    def claims(**changes):
        return chapter.Claims(study=dataclasses.replace(study, **changes))

    flat = dataclasses.replace(study.by_d, rates=np.linspace(-0.1, 0.5, 300))
    assert not claims(by_d=flat).loss_falls_with_n_and_d
    losses = study.losses.copy()
    losses[:, -1, 3] = losses[:, -1, 2] + 0.01  # one doubling of width that does not pay
    assert not claims(losses=losses).the_grid_shows_both_resources
    losses = study.losses.copy()
    losses[:, 2, -1] = losses[:, 1, -1] + 0.01  # one doubling of data that does not pay
    assert not claims(losses=losses).the_grid_shows_both_resources
    losses = study.losses.copy()
    losses[:, 0, -1] += 0.2  # the widths' losses spread at 500 examples
    assert not claims(losses=losses).the_grid_shows_both_resources
    over = dict(study.by_d.held_out)
    over["power"] = dataclasses.replace(over["power"], floor=over["power"].floor + 0.2)
    assert not claims(
        by_d=dataclasses.replace(study.by_d, held_out=over)
    ).the_largest_data_set_is_compute_bound
    metrics = dict(study.result.metrics)
    metrics["val_loss"] = metrics["val_loss"].copy()
    metrics["val_loss"][..., 5] = -1.0  # every run's best validation step early
    early = dataclasses.replace(study.result, metrics=metrics)
    assert not claims(result=early).the_largest_data_set_is_compute_bound
    swapped = dict(study.by_n.held_out)
    swapped["exponential"] = swapped["power"]  # an exponential that predicts as well
    assert not claims(
        by_n=dataclasses.replace(study.by_n, held_out=swapped)
    ).power_law_predicts_held_out_points
    assert not claims(slopes=study.slopes - study.slopes.mean()).optimal_size_grows_with_compute
    few = dataclasses.replace(study.frontier, n_opt=np.full_like(study.frontier.n_opt, np.nan))
    assert not claims(frontier=few).optimal_size_grows_with_compute
    assert not claims(surface_error=0.07).surface_fits_the_grid
    metrics = dict(study.result.metrics)
    metrics["test_acc"] = metrics["test_acc"][..., ::-1]  # accuracy falling with compute
    falling = dataclasses.replace(study.result, metrics=metrics)
    assert not claims(result=falling).source_law_exceeds_certainty
    compute = chapter.training_flops(max(chapter.WIDTHS), study.result.steps)
    slow = 0.5 * np.exp(1e-12 * compute)  # growing (b > 0), but 0.64 at ten times the compute
    metrics["test_acc"] = np.broadcast_to(slow, metrics["test_acc"].shape)
    growing = dataclasses.replace(study.result, metrics=metrics)
    assert not claims(result=growing).source_law_exceeds_certainty


@pytest.mark.slow
def test_the_explorer_moves_and_its_twin_fits_the_budget(study):
    explorer = chapter.explorer(study, key=jax.random.split(KEYS["study"])[0])
    values = explorer.values()
    spec = explorer.view(values, explorer.lookup(values))
    assert "surface" in spec.title and len(spec.panels) == 4
    twin = explorer.twin()
    n_frames = len(chapter.N_TRAINS) * len(chapter.WIDTHS) * len(chapter.BUDGETS)
    assert twin.count('"panels"') == n_frames
    assert len(twin.encode()) < 1_800_000  # the book page stays light
    explorer.set(steps=chapter.BUDGETS[0], width=chapter.WIDTHS[-1])  # a lookup, redrawn
    assert explorer.timings["live"] is False
