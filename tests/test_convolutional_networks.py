"""Chapter 07's claims, in the notebook's words and with its tolerances, on the notebook's
own keys; and for every claim a made-up result that makes it fail."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from course.chapters import convolutional_networks as chapter
from course.engine import data as datasets

KEYS = dict(zip(["equi", "study", "digits"], jax.random.split(jax.random.key(0), 3), strict=True))


@pytest.fixture(scope="module")
def mnist():
    return datasets.mnist1d()


@pytest.fixture(scope="module")
def study(mnist):
    """The notebook's call: `make test` reads the result its notebook run kept (memo)."""
    return chapter.efficiency_study(key=KEYS["study"], data=mnist)


def test_our_convolution_and_pooling_equal_lax_on_every_case():
    rows = chapter.reference_check(key=KEYS["equi"])
    assert len(rows) == 2 * 2 * 3 + 2 * 2  # conv 1-D/2-D × paddings × strides; 2 pools × 2
    assert all(row[-1] < 1e-5 for row in rows)


def test_a_shifted_input_shifts_the_features_and_pooling_nearly_forgets_it(mnist):
    """ "equivariant, to float rounding"; pooled: about a tenth (< 20 %); dense > 75 %."""
    equi = chapter.equivariance(jnp.asarray(mnist.x_test[:200]), key=KEYS["equi"])
    assert equi.conv_interior < 1e-5 * equi.conv_scale
    assert equi.pooled_change < 0.2 < 0.75 < equi.dense_change
    # the check can fail: compare a conv map with the *unshifted* one and it is far off
    x = jnp.asarray(mnist.x_test[:200])
    w = jax.random.normal(KEYS["equi"], (5, 1, 16))
    a = chapter.conv.conv1d(x[:, :, None], w)
    b = chapter.conv.conv1d(chapter.shift_signals(x, 3)[:, :, None], w)
    assert float(jnp.abs(b - a).max()) > 1e-2 * float(jnp.abs(a).max())


@pytest.mark.parametrize(("layers", "kernel", "stride"), [(1, 3, 1), (3, 5, 2), (4, 7, 2)])
def test_the_measured_receptive_field_is_the_formula(layers, kernel, stride):
    mask = chapter.receptive_field(layers, kernel, stride)
    assert mask.sum() == chapter.receptive_field_formula(layers, kernel, stride)
    # contiguous, around the middle unit's window
    hits = np.flatnonzero(mask)
    assert hits[-1] - hits[0] + 1 == hits.size


def test_the_formula_is_not_just_depth_times_kernel():
    """Stride grows the field geometrically: the stride-1 field of the same depth is smaller."""
    assert chapter.receptive_field(3, 5, 2).sum() == 29
    assert chapter.receptive_field(3, 5, 1).sum() == 13


def test_the_sources_networks_are_counted_as_keras_counts_them():
    tables = chapter.source_networks()
    net = tables[next(n for n in tables if n.startswith("003"))]
    assert sum(layer.params for layer in net[28]) == 34_826
    assert net[8][-1].shape == (0, 0, 64)  # 'valid' on 8×8: the second pool leaves nothing
    conv64 = tables[next(n for n in tables if n.startswith("001"))][28][0]
    assert (conv64.shape, conv64.params, conv64.flops) == ((28, 28, 64), 640, 2 * 9 * 64 * 784)


def test_003s_network_beats_an_mlp_of_its_size_on_all_the_digits_and_ties_on_150():
    """ "With the whole training set the CNN makes fewer errors than the MLP in both seeds;
    with 150 images the two are level (within 2 points)." """
    duel = chapter.digits_duel(key=KEYS["digits"])
    assert abs(duel.params["MLP"] - duel.params["CNN"]) < 0.05 * duel.params["CNN"]
    assert np.all(duel.errors["CNN"][-1] < duel.errors["MLP"][-1])  # full set: every seed
    assert duel.sizes[-1] == chapter.datasets.digits().n_pool == 1348
    assert abs(duel.errors["CNN"][0].mean() - duel.errors["MLP"][0].mean()) < 0.02  # level


def test_the_mlp_has_about_the_cnns_parameters():
    cnn = chapter.cnn_config(5).model.n_params(max(chapter.CHANNELS))
    mlp = chapter.MLP_CONFIG.model.n_params()
    assert abs(mlp - cnn) < 0.2 * cnn, (mlp, cnn)


# ---- the prior is worth data (the notebook's three claims) --------------------------------


def changed(found: chapter.Claims, field: str, index: int, value: float) -> chapter.Claims:
    """The claims with one entry of one per-n array replaced (a made-up result)."""
    values = getattr(found, field).copy()
    values[index] = value
    return dataclasses.replace(found, **{field: values})


def test_the_cnn_wins_from_500_examples_in_every_seed(study):
    """1. "From 500 examples on, in every seed, the CNN's test error is at least 5 points
    below the MLP's; its mean lead grows from a few points (under 10) at 250 examples to
    over 20 at 2000 and 4000." """
    found = chapter.claims(study)
    assert found.cnn_wins and found.lead_grows
    assert not changed(found, "gap", -1, 0.19).lead_grows  # only 19 points at 4000
    assert not changed(found, "worst_gap", 2, 0.04).cnn_wins  # one seed 4 points at 1000


def test_the_cnn_matches_the_mlps_best_with_less_than_half_the_data(study):
    """2. "The CNN reaches the MLP's error at 4000 examples with far fewer examples." """
    found = chapter.claims(study)
    assert found.n_to_match < chapter.N_TRAINS[-1] / 2
    # and the interpolation can say "never": a CNN curve that stays above the target
    fake = dataclasses.replace(study, cnn={**study.cnn})
    bad = study.cnn[(5, False)]
    worse = {k: (np.zeros_like(v) if k.endswith("acc") else v) for k, v in bad.metrics.items()}
    fake.cnn[(5, False)] = dataclasses.replace(bad, metrics=worse)
    assert chapter.claims(fake).n_to_match == float("inf")


def test_shuffling_the_positions_costs_the_cnn_and_not_the_mlp(study):
    """3. "The shuffled CNN loses at least 10 points at 4000 examples and its lead over the
    MLP is gone: at no n is it more than 2 points better than the MLP, and from 1000
    examples on it is worse. The MLP's mean error moves by less than 3 points." """
    found = chapter.claims(study)
    assert found.permutation_hurts_only_the_cnn
    # each part can fail on its own
    assert not changed(found, "cnn_penalty", -1, 0.09).permutation_hurts_only_the_cnn
    assert not changed(found, "perm_gap", 0, 0.021).permutation_hurts_only_the_cnn
    assert not changed(found, "perm_gap", 2, 0.001).permutation_hurts_only_the_cnn  # n=1000
    moved = dataclasses.replace(found, mlp_change=0.031)
    assert not moved.permutation_hurts_only_the_cnn


def test_the_permutation_is_fixed_and_loses_nothing(mnist):
    shuffled = chapter.permute_positions(mnist, key=KEYS["study"])
    assert not np.allclose(shuffled.x_train, mnist.x_train)
    again = chapter.permute_positions(mnist, key=KEYS["study"])
    np.testing.assert_array_equal(again.x_test, shuffled.x_test)
    # the same permutation for train and test, and undoable
    perm = np.asarray(jax.random.permutation(KEYS["study"], 40))
    np.testing.assert_array_equal(shuffled.x_train[:, np.argsort(perm)], mnist.x_train)
    np.testing.assert_array_equal(shuffled.x_test[:, np.argsort(perm)], mnist.x_test)


def test_the_explorer_answers_every_control_and_retrains_live(study):
    explorer = chapter.explorer(study)  # its default point is in the reduced study
    assert [c.name for c in explorer.controls] == ["n_train", "channels", "kernel", "permuted"]
    timings = explorer.set(n_train=700, channels=10, permuted=True)  # off the grid: live
    assert timings["live"]
    assert "n = 700" in explorer.last_spec.title and "shuffled" in explorer.last_spec.title
    with pytest.raises(ValueError, match="kernel"):
        explorer.set(kernel=4.5)


def test_the_sources_code_reads_names_it_never_defines():
    """The 001 §4.2–4.4 / 003 §5 box: what each snippet uses without defining."""
    found = {k: chapter.undefined_names(v) for k, v in chapter.SOURCE_CODE.items()}
    assert found == {"001 §4.3": {"sess"}, "001 §4.4": {"sess"},
                     "003 §5": {"x_train", "y_train", "x_test", "y_test"}}  # fmt: skip
    assert chapter.undefined_names("import numpy as np\nx = np.ones(3)\nprint(x)") == set()
    assert chapter.tf1_calls(chapter.SOURCE_CODE["001 §4.3"]) == {"placeholder"}
