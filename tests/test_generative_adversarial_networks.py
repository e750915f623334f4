"""Chapter 09: the measures against references, and the chapter's claims.

The studies are the notebook's own calls (same keys), so `make test` reads the results the
notebook stage kept; each claim also gets a made-up study that makes it fail.
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np
import pytest

from course.chapters import generative_adversarial_networks as chapter

NAMES = ["targets", "saturation", "study", "grid", "exercise"]
KEYS = dict(zip(NAMES, jax.random.split(jax.random.key(0), 5), strict=True))


@pytest.fixture(scope="module")
def saturation():
    return chapter.saturation_study(key=KEYS["saturation"])


@pytest.fixture(scope="module")
def study():
    return chapter.gan_study(key=KEYS["study"], progress=False)


@pytest.fixture(scope="module")
def grid():
    return chapter.grid_study(key=KEYS["grid"])


# ------------------------------------------------------------------- the measures


def test_mmd2_equals_a_numpy_double_loop():
    """The unbiased estimate (diagonals left out) against a plain loop in float64."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 30, 2)).astype(np.float32)
    y = (rng.normal(size=(40, 2)) + 0.5).astype(np.float32)

    def loop(a, b, h=chapter.BANDWIDTH):
        k = lambda p, q: np.exp(-np.sum((p - q) ** 2) / (2 * h * h))  # noqa: E731
        n, m = len(a), len(b)
        xx = sum(k(a[i], a[j]) for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
        yy = sum(k(b[i], b[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
        xy = sum(k(a[i], b[j]) for i in range(n) for j in range(m)) / (n * m)
        return xx + yy - 2 * xy

    ours = chapter.mmd2(x, y)
    expected = [loop(x[i].astype(float), y.astype(float)) for i in range(3)]
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-6)


def test_mmd2_against_a_distribution_of_points_keeps_their_diagonal():
    """y_is_distribution: E k(y, y') over all pairs (loop); samples that reproduce y score ≈ 0,
    while the unbiased form scores them below 0 by (1 − mean off-diagonal k) / m."""
    rng = np.random.default_rng(5)
    y = rng.normal(size=(8, 2)).astype(np.float32)
    x = rng.normal(size=(30, 2)).astype(np.float32)
    h = chapter.BANDWIDTH
    k = lambda a, b: np.exp(-((a[:, None] - b[None]) ** 2).sum(-1) / (2 * h * h))  # noqa: E731
    kxx = k(x, x)
    expected = (kxx.sum() - 30) / (30 * 29) + k(y, y).mean() - 2 * k(x, y).mean()
    assert chapter.mmd2(x, y, y_is_distribution=True) == pytest.approx(expected, rel=1e-4)
    copies = np.repeat(y, 100, axis=0)  # every point of y, 100 times
    assert abs(chapter.mmd2(copies, y, y_is_distribution=True)) < 2e-3
    assert chapter.mmd2(copies, y) < -0.05  # the unbiased form: biased low for y's own points


def test_mmd2_is_unbiased_for_one_distribution_and_grows_with_a_shift():
    """Same distribution: the mean over 20 pairs is within 3 standard errors of 0."""
    rng = np.random.default_rng(1)
    same = np.array([chapter.mmd2(rng.normal(size=(100, 2)).astype(np.float32),
                                  rng.normal(size=(100, 2)).astype(np.float32))
                     for _ in range(20)])  # fmt: skip
    assert abs(same.mean()) < 3 * same.std(ddof=1) / np.sqrt(len(same))
    shifted = chapter.mmd2(rng.normal(size=(100, 2)).astype(np.float32),
                           (rng.normal(size=(100, 2)) + 1.0).astype(np.float32))  # fmt: skip
    assert shifted > same.mean() + 10 * same.std(ddof=1)


def test_mode_stats_count_modes_and_stray_samples():
    c = chapter.centres()
    on_three = np.repeat(c[:3], 10, axis=0).astype(np.float32)  # 10 points on each of 3 modes
    stray = np.zeros((10, 2), np.float32)  # the ring's centre: 2 away from every mode
    stats = chapter.mode_stats(np.concatenate([on_three, stray]))
    assert int(stats.covered) == 3
    assert float(stats.off_target) == pytest.approx(0.25)
    np.testing.assert_allclose(stats.shares[:3], 0.25)
    # the fair-share rule: one point in 40 at a mode (2.5 %) is under ¼ · 1/8 = 3.1 %
    lone = np.concatenate([on_three, c[3:4].astype(np.float32), stray[:9]])
    assert int(chapter.mode_stats(lone).covered) == 3


def test_nearest_mode_labels_points_by_their_closest_centre():
    """Each centre is its own nearest mode; a point just past the midpoint of two neighbouring
    centres belongs to the farther one's side (the label, not the order, is checked)."""
    for kind in ("ring", "grid"):
        c = chapter.centres(kind).astype(np.float32)
        np.testing.assert_array_equal(chapter.nearest_mode(c, kind), np.arange(len(c)))
    c = chapter.centres("ring").astype(np.float32)
    past = (0.45 * c[0] + 0.55 * c[1])[None]
    assert chapter.nearest_mode(past, "ring").tolist() == [1]


def test_grid_centres_are_the_3_by_3_lattice():
    c = chapter.centres("grid")
    assert sorted(map(tuple, c.tolist())) == [(x, y) for x in (-2.0, 0.0, 2.0)
                                              for y in (-2.0, 0.0, 2.0)]  # fmt: skip


def test_the_copying_ratio_tells_copying_from_learning_only_the_modes_seen():
    """Copies score far below 1; fresh draws about 1 — and so do a generator that draws fresh
    points only at the modes holding a training point (partial, not copying) and a sloppy one
    (modes 2.5× too wide): the ratio is not fooled by imprecision either."""
    k_train, k_hold, k_fresh = jax.random.split(jax.random.key(3), 3)
    train = chapter.target(n_train=8, n_test=10, key=k_train).x_train
    held = chapter.target(n_train=2000, n_test=10, key=k_hold).x_train
    fresh = chapter.target(n_train=400, n_test=10, key=k_fresh).x_train
    copies = np.repeat(train, 50, axis=0) + np.float32(0.01)
    assert chapter.copying_ratio(copies, train, held) < 0.2
    assert 0.8 < chapter.copying_ratio(fresh, train, held) < 1.25
    c = chapter.centres()
    seen = np.unique(np.argmin(((train[:, None] - c[None]) ** 2).sum(-1), 1))
    assert 2 <= len(seen) < 8  # some modes have no training point
    rng = np.random.default_rng(4)
    partial = c[rng.choice(seen, 400)] + chapter.SIGMA * rng.normal(size=(400, 2))
    assert 0.8 < chapter.copying_ratio(partial.astype(np.float32), train, held) < 1.25
    sloppy = c[rng.choice(8, 400)] + 2.5 * chapter.SIGMA * rng.normal(size=(400, 2))
    assert 0.8 < chapter.copying_ratio(sloppy.astype(np.float32), train, held) < 1.25
    # copies on the seen modes plus new points on unseen ones: still copies (the distances
    # are taken within each sample's own mode; samples on unseen modes do not count)
    unseen = np.setdiff1d(np.arange(8), seen)
    mixed = np.concatenate([copies, c[rng.choice(unseen, 200)] + 0.1 * rng.normal(size=(200, 2))])
    assert chapter.copying_ratio(mixed.astype(np.float32), train, held) < 0.2
    matched = chapter.matched_held_out(train, held)  # as many held-out points per mode
    cells = lambda p: np.argmin(((p[:, None] - c[None]) ** 2).sum(-1), 1)  # noqa: E731
    np.testing.assert_array_equal(np.bincount(cells(matched), minlength=8),
                                  np.bincount(cells(train), minlength=8))  # fmt: skip
    mode = int(np.argmin(((train[0] - c) ** 2).sum(-1)))  # the one training point's mode
    opposite = np.tile(c[(mode + 4) % 8], (10, 1)).astype(np.float32)  # held out elsewhere
    with pytest.raises(ValueError, match="held_out needs at least 1 points in mode"):
        chapter.copying_ratio(fresh, train[:1], opposite)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: chapter.mmd2(np.zeros((5, 3), np.float32), np.zeros((5, 2), np.float32)),
            ValueError,
            "2-D points",
        ),
        (
            lambda: chapter.mmd2(np.zeros((5, 2), np.float32), np.zeros((5, 2), np.float32), 0.0),
            ValueError,
            "bandwidth",
        ),
        (
            lambda: chapter.mmd2(np.zeros((1, 2), np.float32), np.zeros((5, 2), np.float32)),
            ValueError,
            "at least 2",
        ),
        (lambda: chapter.mode_stats(np.zeros((5, 2), np.int32)), TypeError, "floating"),
        (lambda: chapter.target("star", n_train=4, key=jax.random.key(0)), ValueError, "kind"),
    ],
)
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------- the claims


@pytest.mark.slow
def test_the_minimax_gradient_vanishes_once_d_is_confident(saturation):
    assert chapter.claims(saturation=saturation).minimax_gradient_vanishes


@pytest.mark.slow
def test_the_saturation_claim_can_fail(saturation):
    swapped = dataclasses.replace(saturation, grad_norm={
        "minimax": saturation.grad_norm["nonsaturating"],
        "nonsaturating": saturation.grad_norm["minimax"]})  # fmt: skip
    assert not chapter.claims(saturation=swapped).minimax_gradient_vanishes
    never_confident = dataclasses.replace(saturation, d_fake=np.full_like(saturation.d_fake, 0.3))
    assert not chapter.claims(saturation=never_confident).minimax_gradient_vanishes
    apart = saturation.grad_norm["minimax"].copy()
    apart[0] *= 1.2  # the two gradients 20 % apart before D has learned anything
    unequal = dataclasses.replace(saturation, grad_norm={**saturation.grad_norm, "minimax": apart})
    assert not chapter.claims(saturation=unequal).minimax_gradient_vanishes


@pytest.mark.slow
def test_training_lowers_the_distance_and_covers_the_ring(study):
    found = chapter.claims(study=study)
    assert found.mmd_falls
    assert found.the_ring_is_covered


@pytest.mark.slow
def test_a_slow_discriminator_fails_and_few_examples_are_learned_not_copied(study):
    found = chapter.claims(study=study)
    assert found.slow_discriminator_fails
    assert found.few_examples_are_learned_not_the_target
    assert found.few_examples_are_not_copied
    assert found.data_bring_the_target_closer


@pytest.mark.slow
def test_the_ring_remedy_does_worse_on_the_grid(grid):
    assert chapter.claims(grid=grid).faster_is_not_better_on_the_grid


@pytest.mark.slow
def test_the_study_claims_can_fail(study):
    i, j, _ = study.at(chapter.N_POOL, chapter.WIDTH, chapter.FAST_D)
    slow, fast = (chapter.LR_RATIOS.index(r) for r in (chapter.SLOW_D, chapter.FAST_D))

    def altered(name, index, value):
        a = getattr(study, name).copy()
        a[index] = value
        return chapter.claims(study=dataclasses.replace(study, **{name: a}))

    assert not altered("mmd2", (i, j, fast, 0, -1), study.mmd2[i, j, fast, 0, 0] * 0.06).mmd_falls
    assert not altered("covered", (i, j, fast, slice(None), -1), 6).the_ring_is_covered
    # a slow discriminator that covers 4 of 8 modes: no longer a collapse
    assert not altered("covered", (i, j, slow), 4).slow_discriminator_fails
    # one seed where the fast discriminator does no better than the slow one (the slow mean
    # and off-target share unchanged: only the per-seed comparison can fail)
    tie = study.covered[i, j, slow, 0]
    assert not altered("covered", (i, j, fast, 0), tie).slow_discriminator_fails
    r = chapter.LR_RATIOS.index(chapter.BALANCED)
    assert not altered("copying", (0, j, r, 0), 0.3).few_examples_are_not_copied  # a copy
    fresh = float(study.fresh_copying[0])  # one seed no nearer the examples than new points
    assert not altered("copying", (0, j, r, 0), fresh + 0.05).few_examples_are_not_copied
    assert not altered("copying", (-1, j, r), 1.3).few_examples_are_not_copied
    # with 8 examples, samples on a mode without one: the target's modes, not the examples'
    assert not altered("unseen", (0, j, r, 0), 0.2).few_examples_are_learned_not_the_target
    near_target = 0.6 * study.mmd2[0, j, r, 0, -1]  # over half the MMD² to the target
    assert not altered(
        "mmd2_examples", (0, j, r, 0), near_target
    ).few_examples_are_learned_not_the_target
    baseline = dataclasses.replace(study, fresh_mmd2_examples=study.fresh_mmd2_examples * 0 + 1e-3)
    assert not chapter.claims(study=baseline).few_examples_are_learned_not_the_target
    assert not altered("mmd2_examples", (-1, j, r, 0), 0.05).few_examples_are_learned_not_the_target
    found = altered("mmd2", (-1, j, r, slice(None), -1), study.mmd2[-2, j, r, :, -1] * 1.5)
    assert not found.data_bring_the_target_closer
    # a slow discriminator whose samples land on target: a collapse onto modes, not a failure
    assert not altered("off_target", (i, j, slow, slice(None), -1), 0.2).slow_discriminator_fails


@pytest.mark.slow
def test_the_grid_claim_can_fail(grid):
    fast = chapter.GRID_RATIOS.index(chapter.FAST_D)
    covered = grid.covered.copy()
    covered[fast, :, -1] = grid.covered[1 - fast, :, -1]  # the fast D as good as equal rates
    assert not chapter.claims(
        grid=dataclasses.replace(grid, covered=covered)
    ).faster_is_not_better_on_the_grid
    covered = grid.covered.copy()
    covered[fast, :, -1] = 6  # fewer than equal rates (8–9), but more than 5 of 9
    assert not chapter.claims(
        grid=dataclasses.replace(grid, covered=covered)
    ).faster_is_not_better_on_the_grid


@pytest.mark.slow
def test_the_explorer_replays_frames_and_its_twin_fits_the_budget(study):
    explorer = chapter.gan_explorer(study, key=KEYS["study"])
    values = explorer.values()
    point = explorer.lookup(values)
    spec = explorer.view(values, point)
    assert "of 8 modes covered" in spec.title
    n_frames = (
        len(chapter.N_TRAINS) * len(chapter.LR_RATIOS) * len(chapter.WIDTHS) * len(study.steps)
    )
    twin = explorer.twin()
    assert twin.count('"panels"') == n_frames
    assert len(twin.encode()) < 1_500_000  # the book page stays light
    explorer.set(step=int(study.steps[2]), n_train=64)  # a lookup, redrawn
    assert explorer.timings["live"] is False
